"""Following IKEv1 in a capture: each IKE SA tracked by its initiator
cookie, its transcript gathered from the clear Phase 1 messages, its keys
taken from a key file or derived from the PSK and g^xy, every encrypted
message decrypted with the right IV chain, and each Quick Mode's KEYMAT
turned into ESP keys for the same capture.  Messages are read with
:mod:`struct` (:mod:`scapy_ike.core.message`), as the engine reads them.

Which of several candidate secrets (``--gxy`` may repeat) belongs to an SA
is settled by its first encrypted message: the one whose plaintext
chains cleanly and whose HASH_I or HASH_R verifies (RFC 2409 5).  A Quick
Mode with PFS takes its own g^xy (RFC 2409 5.5): candidates are the
key log's ``qm`` secrets and the ``--gxy`` values no Phase 1 took, each
giving ESP keys that an SA's first packet must open (the session says
once per SA when none does); without any its ESP SAs are left opaque and
say so (:attr:`IkeTracker.opaque`).

What could not be keyed is said once per SA: :attr:`IkeTracker.failed`
(keys given that do not fit) and :attr:`IkeTracker.unkeyed` (keys that
were never there).
"""

from dataclasses import dataclass, field, replace
from typing import Dict, Optional

from scapy_ike.attributes import IPSEC_ATTRIBUTES
from scapy_ike.constants import ExchangeType, IpsecAttribute, PayloadType, ProtocolId
from scapy_ike.core.message import Message, MessageError, parse_sa
from scapy_ike.core.proposals import describe_offered, ike_from_transform
from scapy_ike.core.sa import PSK_METHODS, IkeSa, KeysMissing
from scapy_ike.crypto import keys as schedule
from scapy_ike.decode.keylog import EspKey
from scapy_ike.esp import EspTransform
from scapy_ike.names import TRANSFORM_ID_NAMES

PHASE1 = (ExchangeType.IDENTITY_PROTECTION, ExchangeType.AGGRESSIVE)
PSK_ALONE = "keys unknown: --psk needs --gxy or a key log (--keys)"
PFS_UNKNOWN = "keys unknown: Quick Mode used PFS (group %s); give its g^xy with --gxy"
QM_GXY = "g^xy for Quick Mode %08x, PFS group %s"


@dataclass
class QuickMode:
    """One Quick Mode exchange as seen so far."""

    ni_b: bytes = b""
    nr_b: bytes = b""
    spi_i: Optional[bytes] = None
    spi_r: Optional[bytes] = None
    transform: Optional[EspTransform] = None
    unsupported: Optional[str] = None
    pfs: bool = False
    group: Optional[int] = None
    keyed: bool = False


@dataclass
class Tracked:
    """An IKE SA of the capture: its state and who initiated it."""

    sa: IkeSa
    initiator: str
    quick: Dict[int, QuickMode] = field(default_factory=dict)
    settled: bool = False
    unsupported: Optional[str] = None
    """Why Phase 1's chosen transform cannot be used, if it cannot."""


class IkeTracker:
    """IKE SAs of one capture.  *ike_keys* are key-file entries
    (:class:`~scapy_ike.decode.keylog.IkeKey`), *psk* the pre-shared key,
    *gxy* candidate DH secrets, *qm_gxy* Quick Mode secrets (PFS)."""

    def __init__(self, ike_keys=(), psk=None, gxy=(), qm_gxy=()):
        self.ike_keys = {k.cky_i: k for k in ike_keys}
        self.psk = psk
        self.gxy = list(gxy)
        self.qm_gxy = list(qm_gxy)
        self.sas: Dict[bytes, Tracked] = {}
        self.esp_keys = []
        """ESP keys derived from Quick Mode KEYMAT, in the order made."""
        self.opaque: Dict[int, str] = {}
        """SPI -> why the ESP SA of a Quick Mode seen has no keys."""
        self.failed: Dict[bytes, str] = {}
        """Initiator cookie -> why the keys given do not open the IKE SA."""
        self.unkeyed: Dict[bytes, str] = {}
        """Initiator cookie -> why the IKE SA has no keys."""

    def fresh(self):
        """A tracker with the same keys that has seen nothing."""
        return IkeTracker(self.ike_keys.values(), self.psk, self.gxy, self.qm_gxy)

    def message(self, data, src):
        """``(clear message or None, error or None, note or None)`` for the
        ISAKMP message *data* sent by *src*: the clear message is its
        header (E flag cleared) and decrypted body; a note says, on an
        SA's first message only, why it has no keys."""
        try:
            msg = Message.parse(data)
        except MessageError:
            return None, None, None         # the summary says what is wrong
        tracked = self.sas.get(msg.cky_i)
        if tracked is None:
            tracked = self.sas[msg.cky_i] = Tracked(IkeSa(msg.cky_i), src)
        sa = tracked.sa
        if msg.cky_r != bytes(8):
            sa.cky_r = msg.cky_r
        from_initiator = src == tracked.initiator
        if not msg.flags & 1:
            self._observe(tracked, msg, from_initiator)
            return None, None, None
        if not tracked.settled:
            tried = self._settle(tracked, msg, from_initiator)
            if not tracked.settled:
                return None, *self._unsettled(tracked, tried)
        try:
            clear = _decrypt(tracked.sa, msg)
        except (KeysMissing, ValueError) as exc:
            self.failed.setdefault(msg.cky_i, "cannot decrypt: %s" % exc)
            return None, "cannot decrypt: %s" % exc, None
        wire = _clear_bytes(data, clear)
        if isinstance(clear, MessageError):
            error = "decrypted payloads are malformed (wrong keys?): %s" % clear
            self.failed.setdefault(msg.cky_i, error)
            return wire, error, None
        self._observe(tracked, clear, from_initiator)
        return wire, None, None

    def _unsettled(self, tracked, tried):
        """``(error, note)`` for an encrypted message of an SA no key opens."""
        cky_i = tracked.sa.cky_i
        if tracked.unsupported is not None:
            if cky_i in self.unkeyed:
                return None, None
            self.unkeyed[cky_i] = tracked.unsupported
            return None, tracked.unsupported
        if tried:
            error = ("no key fits: %d candidate(s) fail to decrypt or to verify "
                     "the hash (wrong PSK or g^xy?)" % tried)
            self.failed.setdefault(cky_i, error)
            return error, None
        if self.psk is not None and not self.gxy and cky_i not in self.unkeyed:
            self.unkeyed[cky_i] = PSK_ALONE
            return None, PSK_ALONE
        return None, None

    # -- keys --------------------------------------------------------------

    def _candidates(self, sa):
        """SAs with keys, one per way of getting them, best first."""
        logged = self.ike_keys.get(sa.cky_i)
        if logged is not None and sa.cipher is not None:
            if logged.skeyid_e is not None:
                yield _with_logged(sa, logged)
            elif logged.gxy is not None and self.psk is not None:
                yield from _derived(sa, self.psk, [logged.gxy])
            elif logged.ka is not None:
                candidate = _fresh(sa)
                candidate.set_ka(logged.ka)
                yield candidate
        if self.psk is not None or sa.auth_method not in PSK_METHODS:
            yield from _derived(sa, self.psk, self.gxy)

    def _settle(self, tracked, msg, from_initiator):
        """Pick the first candidate that decrypts the first encrypted
        message cleanly (and verifies its HASH_I/HASH_R in Phase 1); the
        number of candidates tried."""
        if tracked.sa.cipher is None or tracked.sa.hash is None:
            return 0
        tried = 0
        for candidate in self._candidates(tracked.sa):
            tried += 1
            try:
                clear = _decrypt(replace(candidate, _last={}, _seen={}), msg)
            except (KeysMissing, ValueError):
                continue
            if isinstance(clear, MessageError) or not _hash_ok(candidate, clear, from_initiator):
                continue
            tracked.sa, tracked.settled = candidate, True
            break
        return tried

    # -- what messages tell ---------------------------------------------------

    def _observe(self, tracked, msg, from_initiator):
        sa = tracked.sa
        if msg.exch_type in PHASE1 and msg.message_id == 0:
            tracked.unsupported = _phase1(sa, msg, from_initiator) or tracked.unsupported
        elif msg.exch_type == ExchangeType.QUICK_MODE:
            quick = tracked.quick.setdefault(msg.message_id, QuickMode())
            _quick(quick, msg, from_initiator)
            if not quick.keyed and quick.spi_i and quick.nr_b and sa.skeyid_d:
                if quick.transform is not None or quick.unsupported is not None:
                    self._keymat(sa, quick, msg.message_id)

    def _keymat(self, sa, quick, message_id):
        """ESP keys of both SPIs (RFC 2409 5.5); with PFS, each candidate
        Quick Mode secret gives a pair, each a guess (of Quick Mode
        *message_id*) that must open its SA's first packet.
        A transform we lack, or PFS without a candidate, leaves both SPIs
        opaque with the reason."""
        quick.keyed = True
        spis = [int.from_bytes(s, "big") for s in (quick.spi_i, quick.spi_r) if s]
        if quick.unsupported is not None:
            self.opaque.update(dict.fromkeys(spis, quick.unsupported))
            return
        secrets = [b""]
        if quick.pfs:
            phase1 = {t.sa.gxy for t in self.sas.values()}
            secrets = [g for g in self.qm_gxy if g not in phase1]
        if not secrets:
            self.opaque.update(dict.fromkeys(spis, PFS_UNKNOWN % quick.group))
            return
        size = quick.transform.keymat_size
        guess = QM_GXY % (message_id, quick.group) if quick.pfs else None
        for gxy_qm in secrets:
            for spi in (quick.spi_i, quick.spi_r):
                km = sa.keymat(ProtocolId.IPSEC_ESP, spi, quick.ni_b, quick.nr_b, size, gxy_qm)
                self.esp_keys.append(_esp_key(quick.transform, spi, km, guess))


def _fresh(sa):
    return replace(sa, _last={}, _seen={}, _engine=None)


def _with_logged(sa, logged):
    candidate = _fresh(sa)
    candidate.gxy, candidate.skeyid = logged.gxy, logged.skeyid
    candidate.skeyid_d, candidate.skeyid_a = logged.skeyid_d, logged.skeyid_a
    candidate.skeyid_e = logged.skeyid_e
    candidate.set_ka(logged.ka or schedule.encryption_key(sa.hash, logged.skeyid_e, sa.key_size))
    return candidate


def _derived(sa, psk, secrets):
    for gxy in secrets:
        candidate = _fresh(sa)
        try:
            candidate.derive(psk=psk, gxy=gxy)
        except KeysMissing:
            return
        yield candidate


def _decrypt(sa, msg):
    """The message with its body decrypted (E flag cleared), or the
    MessageError its payload chain raises."""
    plain = sa.decrypt(msg.message_id, msg.body)
    try:
        return msg.opened(plain)
    except MessageError as exc:
        return exc


def _clear_bytes(data, clear):
    """The header of *data*, E flag cleared, and the decrypted body."""
    head = bytearray(data[:28])
    head[19] &= 0xFE
    body = clear.body if isinstance(clear, Message) else b""
    return bytes(head) + body if body else None


def _hash_ok(sa, clear, from_initiator):
    """HASH_I/HASH_R of the identity message verifies, where there is one."""
    ids = clear.bodies(PayloadType.ID)
    hashes = clear.bodies(PayloadType.HASH)
    if clear.message_id != 0 or clear.exch_type not in PHASE1 or not hashes or sa.skeyid is None:
        return True          # nothing to verify, or only Ka is known
    if from_initiator:
        if ids:
            sa.idii_b = ids[0]
        return sa.verify_hash_i(hashes[0])
    if ids:
        sa.idir_b = ids[0]
    return sa.verify_hash_r(hashes[0])


def _sa_payloads(msg):
    """The SA payloads of *msg* as ``(body, SaPayload)``; those that do not
    parse are left out (the summary flags them)."""
    out = []
    for body in msg.bodies(PayloadType.SA):
        try:
            out.append((body, parse_sa(body)))
        except MessageError:
            continue
    return out


def _phase1(sa, msg, from_initiator):
    """Transcript values and the chosen transform (RFC 2409 5); why the
    chosen transform cannot be used, if it cannot (the SA stays opaque)."""
    unsupported = None
    for body, payload in _sa_payloads(msg):
        if from_initiator:
            sa.sai_b = body
        elif payload.proposals and payload.proposals[0].trans:
            chosen = ike_from_transform(payload.proposals[0].trans[0])
            if chosen is not None:
                sa.choose(chosen)
            else:
                unsupported = "keys unknown: Phase 1 chose %s" % describe_offered(payload)
    for ke in msg.bodies(PayloadType.KE):
        if from_initiator:
            sa.gxi = ke
        else:
            sa.gxr = ke
    for nonce in msg.bodies(PayloadType.NONCE):
        if from_initiator:
            sa.ni_b = nonce
        else:
            sa.nr_b = nonce
    for ident in msg.bodies(PayloadType.ID):
        if from_initiator:
            sa.idii_b = ident
        else:
            sa.idir_b = ident
    return unsupported


def _quick(quick, msg, from_initiator):
    """Nonces, SPIs, the chosen ESP transform and PFS (RFC 2409 5.5)."""
    for nonce in msg.bodies(PayloadType.NONCE):
        if from_initiator:
            quick.ni_b = nonce
        else:
            quick.nr_b = nonce
    for _, payload in _sa_payloads(msg):
        for prop in payload.proposals:
            if prop.proto != ProtocolId.IPSEC_ESP:
                continue
            if from_initiator:
                quick.spi_i = prop.SPI
            elif prop.trans:
                quick.spi_r = prop.SPI
                _choose_esp(quick, prop.trans[0])
            break
    if msg.bodies(PayloadType.KE):
        quick.pfs = True


def _choose_esp(quick, transform):
    """The responder's ESP transform, or why we cannot use it."""
    try:
        quick.transform = EspTransform.from_payload(transform)
    except (KeyError, ValueError) as exc:
        name = TRANSFORM_ID_NAMES[ProtocolId.IPSEC_ESP].get(transform.transform_id, "unknown")
        why = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
        quick.unsupported = "keys unknown: Quick Mode chose ESP transform %d (%s): %s" % (
            transform.transform_id, name, why)
    try:
        group = IPSEC_ATTRIBUTES.numbers(transform.transforms).get(IpsecAttribute.GROUP_DESCRIPTION)
    except ValueError:
        group = None
    quick.group = None if group is None else int(group)


def _esp_key(transform, spi, keymat, guess):
    split = transform.key_size + transform.cipher.salt_size
    return EspKey(spi=int.from_bytes(spi, "big"), src=None, dst=None,
                  crypt_algo=transform.cipher.name, crypt_key=keymat[:split], crypt_icv_size=None,
                  auth_algo=transform.integrity.name,
                  auth_key=keymat[split:transform.keymat_size], skip_icv=None, guess=guess)
