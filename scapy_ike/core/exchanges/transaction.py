"""The Transaction exchange (exchange type 6), the ISAKMP Configuration
Method of draft-dukes-ike-mode-cfg-02 3 that XAuth rides on
(draft-beaulieu-ike-xauth-02): HDR*, HASH, ATTR one way and HDR*, HASH,
ATTR back, under a message ID and IV chain of its own, each HASH =
prf(SKEYID_a, M-ID | ATTR) (3.4).  A REQUEST is answered by a REPLY, a
SET by an ACK with the same identifier (3.2).

What the attributes mean (XAuth's credentials and status, Mode Config's
addresses) is :mod:`scapy_ike.core.remote_access`'s (``conn.remote``);
here they are only carried, checked and retransmitted."""

from scapy_ike.constants import (
    ConfigAttribute, ConfigType, ExchangeType, PayloadType as T,
)
from scapy_ike.core.errors import RemoteProtocolError
from scapy_ike.core.exchanges import Exchange
from scapy_ike.core.exchanges.quick import _hash_rest, check_hash
from scapy_ike.core.message import (
    MessageError, encode_attributes, encode_payloads, parse_attributes,
)
from scapy_ike.crypto import keys

TRANSACTION = ExchangeType.TRANSACTION
XAUTH = (ConfigAttribute.XAUTH_TYPE, ConfigAttribute.XAUTH_USER_NAME,
         ConfigAttribute.XAUTH_USER_PASSWORD)
"""The attributes of XAuth's REQUEST (draft-beaulieu-ike-xauth-02 6.2)."""
ANSWERS = {ConfigType.CFG_REQUEST: ConfigType.CFG_REPLY, ConfigType.CFG_SET: ConfigType.CFG_ACK}
"""What each message that asks is answered with (3.2)."""


class Transaction(Exchange):
    """One Transaction exchange: what we sent or were sent, and its
    purpose for the Phase 1.5 logic (``"xauth"``, ``"status"``,
    ``"pull"``, ``"push"``: the keys of ``state.TX_SENT``)."""

    kind = "transaction"

    def __init__(self, conn, role, message_id, state):
        super().__init__(conn, role, message_id, state)
        self.asked = None           # the ConfigMessage that opened it
        self.purpose = None
        self.reply_to = None        # the peer's request as it came, which our answer repeats


def _payloads(cfg_type, identifier, attributes):
    return [(T.ATTRIBUTES, encode_attributes(cfg_type, identifier, attributes))]


def _hashed(ex, payloads):
    sa = ex.conn.sa
    digest = keys.message_hash(sa.hash, sa.skeyid_a, ex.message_id, encode_payloads(payloads))
    return [(T.HASH, digest)] + payloads


def ask(ex, cfg_type, attributes, purpose, now, identifier=None):
    """Open the exchange with a REQUEST or a SET, retransmitted until its
    answer comes."""
    if identifier is None:
        identifier = int.from_bytes(ex.conn.endpoint.random(2), "big")
    ex.purpose = purpose
    payloads = _payloads(cfg_type, identifier, attributes)
    ex.asked = parse_attributes(payloads[0][1])
    ex.send(ex.encrypted(TRANSACTION, _hashed(ex, payloads)), now)


def _read(ex, msg):
    """The message's HASH checked (before anything else), then its
    Attributes payload."""
    sa = ex.conn.sa
    received, rest = _hash_rest(msg)
    check_hash(keys.message_hash(sa.hash, sa.skeyid_a, msg.message_id, rest), received,
               "Transaction HASH")
    bodies = msg.bodies(T.ATTRIBUTES)
    if not bodies:
        raise RemoteProtocolError("a Transaction message without an Attributes payload")
    try:
        return parse_attributes(bodies[0])
    except MessageError as exc:
        raise RemoteProtocolError(str(exc)) from None


def received(ex, msg, now):
    """The peer opens an exchange with a REQUEST or a SET: checked, then
    the Phase 1.5 logic answers it through :func:`answer`."""
    cfg = _read(ex, msg)
    msg.accept()
    if cfg.cfg_type not in ANSWERS:
        raise RemoteProtocolError("a Transaction exchange opened by %s"
                                  % _name(cfg.cfg_type))
    ex.asked = cfg
    ex.reply_to = msg.wire
    ex.purpose = purpose_of(cfg)
    ex.conn.remote.asked(ex, cfg, now)


def purpose_of(cfg):
    """What a REQUEST or SET opened by the peer is for: XAuth's credentials
    (a REQUEST of XAuth attributes) or status (a SET of XAUTH-STATUS), or
    Mode Config, pulled (any other REQUEST) or pushed (any other SET)."""
    if cfg.cfg_type == ConfigType.CFG_REQUEST:
        return "xauth" if any(t in XAUTH for t, _ in cfg.attributes) else "pull"
    return "status" if cfg.first(ConfigAttribute.XAUTH_STATUS) is not None else "push"


def answer(ex, attributes, now):
    """Our REPLY or ACK to what the peer asked (kept for its
    retransmission)."""
    cfg = ex.asked
    payloads = _payloads(ANSWERS[cfg.cfg_type], cfg.identifier, attributes)
    ex.send(ex.encrypted(TRANSACTION, _hashed(ex, payloads)), now, request=False,
            reply_to=ex.reply_to)
    ex.ended = now


def answered(ex, msg, now):
    """The answer to our REQUEST or SET: checked, then the Phase 1.5 logic
    goes on."""
    cfg = _read(ex, msg)
    want = ANSWERS[ex.asked.cfg_type]
    if cfg.cfg_type != want:        # the identifier is not checked: charon's is 0, and
        raise RemoteProtocolError(  # the message ID already binds the answer to the question
            "%s does not answer our %s" % (_name(cfg.cfg_type), _name(ex.asked.cfg_type)))
    msg.accept()
    ex.pending = None
    ex.ended = now
    ex.conn.remote.answered(ex, cfg, now)


def ended(ex, msg, now):
    """The exchange reached its last state: Phase 1.5 takes its next step."""
    ex.conn.remote.proceed(now)


def timeout(ex, msg, now):
    """No authentic answer to our REQUEST or SET."""
    what = "no answer to our %s" % _name(ex.asked.cfg_type)
    if ex.unauthenticated:
        what += "; " + ex.dropped_text()
    ex.conn.remote.failed(ex, "timeout: " + what, now)


def _name(cfg_type):
    try:
        return ConfigType(cfg_type).name
    except ValueError:
        return "Attributes type %d" % cfg_type
