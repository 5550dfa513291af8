"""What a gateway's answer to a probe says: a handshake (its SA payload
names the one transform it chose, RFC 2408 4.2), a notify with its type
(NO-PROPOSAL-CHOSEN, RFC 2408 3.14.1, and the others), or something else;
IKEv2 answers (RFC 7296 3.1, version 2.0) are told apart by the version
byte and read with ``scapy.contrib.ikev2``.  An Aggressive Mode handshake
also carries what an offline search for the pre-shared key needs
(:func:`crack_target`)."""

from dataclasses import dataclass
from typing import Optional

from scapy_ike.constants import ExchangeType, Flags, PayloadType as T
from scapy_ike.core import proposals as P
from scapy_ike.core.message import Message, MessageError, parse_notify, parse_sa
from scapy_ike.probe.crack import Target

HANDSHAKE, NOTIFY, OTHER = "handshake", "notify", "other"


@dataclass(frozen=True)
class Reply:
    """One answer to one probe."""

    kind: str                        # HANDSHAKE, NOTIFY or OTHER
    version: int                     # 1 or 2 (IKEv2)
    exch_type: int
    cky_r: bytes
    chosen: Optional[P.IkeProposal] = None   # the transform of a handshake
    notify: Optional[str] = None     # the notify's name (NO-PROPOSAL-CHOSEN)
    notify_type: Optional[int] = None
    vendor_ids: tuple = ()
    ke: bytes = b""                  # Aggressive Mode: g^xr, Nr_b, IDir_b, HASH_R
    nonce: bytes = b""
    ident: bytes = b""
    hash: bytes = b""

    def describe(self):
        """``handshake``, ``notify NO-PROPOSAL-CHOSEN`` or ``other``."""
        return "notify " + self.notify if self.kind == NOTIFY else self.kind


def classify(data, probe):
    """The :class:`Reply` that *data* is to *probe* (a
    :class:`~scapy_ike.probe.messages.FirstMessage`), or None when it is
    not an answer to it (another cookie, not ISAKMP)."""
    try:
        msg = Message.parse(data)
    except MessageError:
        return None
    if msg.cky_i != probe.cky_i:
        return None
    if msg.version >> 4 == 2:
        return _ikev2(data, msg)
    if msg.version >> 4 != 1 or msg.flags & Flags.ENCRYPTION:
        return Reply(OTHER, msg.version >> 4, msg.exch_type, msg.cky_r)
    vids = tuple(msg.bodies(T.VENDOR_ID))
    notifies = msg.bodies(T.NOTIFICATION)
    if notifies:
        try:
            notify = parse_notify(notifies[0])
        except MessageError:
            return Reply(OTHER, 1, msg.exch_type, msg.cky_r, vendor_ids=vids)
        return Reply(NOTIFY, 1, msg.exch_type, msg.cky_r, notify=notify.name,
                     notify_type=notify.notify_msg_type, vendor_ids=vids)
    sa = msg.bodies(T.SA)
    if msg.exch_type not in (ExchangeType.MAIN_MODE, ExchangeType.AGGRESSIVE) or not sa:
        return Reply(OTHER, 1, msg.exch_type, msg.cky_r, vendor_ids=vids)
    try:
        offered = list(P.offered_transforms(parse_sa(sa[0])))
    except MessageError:
        offered = []
    chosen = P.ike_from_transform(offered[0][1]) if len(offered) == 1 else None
    if chosen is None:
        return Reply(OTHER, 1, msg.exch_type, msg.cky_r, vendor_ids=vids)
    first = {ptype: raw[4:] for ptype, raw in reversed(msg.payloads)}
    return Reply(HANDSHAKE, 1, msg.exch_type, msg.cky_r, chosen, vendor_ids=vids,
                 ke=first.get(T.KE, b""), nonce=first.get(T.NONCE, b""),
                 ident=first.get(T.ID, b""), hash=first.get(T.HASH, b""))


def _ikev2(data, msg):
    """An IKEv2 answer: IKE_SA_INIT with an SA payload, or a Notify
    (RFC 7296 3.10.1: NO_PROPOSAL_CHOSEN, INVALID_KE_PAYLOAD ...)."""
    from scapy.contrib.ikev2 import IKEv2, IKEv2_Notify, IKEv2_SA, IKEv2NotifyMessageTypes
    packet = IKEv2(data)
    notify = packet.getlayer(IKEv2_Notify)
    if notify is not None and notify.type < 16384:        # an error type (RFC 7296 3.10.1)
        return Reply(NOTIFY, 2, msg.exch_type, msg.cky_r, notify_type=notify.type,
                     notify=IKEv2NotifyMessageTypes.get(notify.type, str(notify.type)))
    kind = HANDSHAKE if packet.haslayer(IKEv2_SA) else OTHER
    return Reply(kind, 2, msg.exch_type, msg.cky_r)


def crack_target(probe, reply):
    """What the offline search needs from an Aggressive Mode probe and
    its handshake answer (RFC 2409 5.4), or None when the answer lacks a
    piece (a HASH_R, a KE ...)."""
    if reply.kind != HANDSHAKE or probe.mode != "aggressive" \
            or not (reply.ke and reply.nonce and reply.ident and reply.hash):
        return None
    if len(reply.hash) != reply.chosen.hash.digest_size:
        return None
    return Target(reply.chosen.hash.name, reply.ke, probe.gxi, reply.cky_r, probe.cky_i,
                  probe.sai_b, reply.ident, probe.ni_b, reply.nonce, reply.hash)
