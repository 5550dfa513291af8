"""Following IKEv1 in a capture: each IKE SA tracked by its initiator
cookie, its transcript gathered from the clear Phase 1 messages, its keys
taken from a key file or derived from the PSK and g^xy, every encrypted
message decrypted with the right IV chain and dissected, and each Quick
Mode's KEYMAT turned into ESP keys for the same capture.

Which of several candidate secrets (``--gxy`` may repeat) belongs to an SA
is settled by its first encrypted message: the one whose plaintext
dissects cleanly and whose HASH_I or HASH_R verifies (RFC 2409 5).
"""

from dataclasses import dataclass, field, replace
from typing import Dict, Optional

from scapy_ike.constants import ExchangeType, ProtocolId
from scapy_ike.core.proposals import ike_from_transform
from scapy_ike.core.sa import PSK_METHODS, IkeSa, KeysMissing
from scapy_ike.crypto import keys as schedule
from scapy_ike.decode.keylog import EspKey
from scapy_ike.esp import EspTransform
from scapy_ike.layers.isakmp import (
    ISAKMP, ISAKMP_Encrypted, ISAKMP_payload_Hash, ISAKMP_payload_ID, ISAKMP_payload_KE,
    ISAKMP_payload_Nonce, ISAKMP_payload_SA, malformed, payload_body,
    payloads_of,
)

PHASE1 = (ExchangeType.IDENTITY_PROTECTION, ExchangeType.AGGRESSIVE)


@dataclass
class QuickMode:
    """One Quick Mode exchange as seen so far."""

    ni_b: bytes = b""
    nr_b: bytes = b""
    spi_i: Optional[bytes] = None
    spi_r: Optional[bytes] = None
    transform: Optional[EspTransform] = None
    pfs: bool = False
    keyed: bool = False


@dataclass
class Tracked:
    """An IKE SA of the capture: its state and who initiated it."""

    sa: IkeSa
    initiator: str
    quick: Dict[int, QuickMode] = field(default_factory=dict)
    settled: bool = False


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

    def message(self, head, src):
        """``(decrypted message or None, error or None)`` for one ISAKMP
        header *head* sent by *src*."""
        tracked = self.sas.get(head.init_cookie)
        if tracked is None:
            tracked = self.sas[head.init_cookie] = Tracked(IkeSa(head.init_cookie), src)
        sa = tracked.sa
        if head.resp_cookie != bytes(8):
            sa.cky_r = head.resp_cookie
        from_initiator = src == tracked.initiator
        if not head.flags & 1:
            self._observe(tracked, head, from_initiator)
            return None, None
        body = head[ISAKMP_Encrypted].load if head.haslayer(ISAKMP_Encrypted) else b""
        if not tracked.settled:
            tried = self._settle(tracked, head, body, from_initiator)
            if not tracked.settled:
                return None, ("no key fits: %d candidate(s) fail to decrypt or to verify "
                              "the hash (wrong PSK or g^xy?)" % tried if tried else None)
        try:
            clear = _decrypt(tracked.sa, head, body)
        except (KeysMissing, ValueError) as exc:
            return None, "cannot decrypt: %s" % exc
        problems = malformed(clear)
        if problems:
            return clear, "decrypted payloads are malformed (wrong keys?): %s: %s" % problems[0]
        self._observe(tracked, clear, from_initiator)
        return clear, None

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

    def _settle(self, tracked, head, body, from_initiator):
        """Pick the first candidate that decrypts the first encrypted
        message cleanly (and verifies its HASH_I/HASH_R in Phase 1); the
        number of candidates tried."""
        if tracked.sa.cipher is None or tracked.sa.hash is None:
            return 0
        tried = 0
        for candidate in self._candidates(tracked.sa):
            tried += 1
            try:
                clear = _decrypt(replace(candidate, _last={}, _seen={}), head, body)
            except (KeysMissing, ValueError):
                continue
            if malformed(clear) or not _hash_ok(candidate, clear, from_initiator):
                continue
            tracked.sa, tracked.settled = candidate, True
            break
        return tried

    # -- what messages tell ---------------------------------------------------

    def _observe(self, tracked, msg, from_initiator):
        sa = tracked.sa
        if msg.exch_type in PHASE1 and msg.id == 0:
            _phase1(sa, msg, from_initiator)
        elif msg.exch_type == ExchangeType.QUICK_MODE:
            quick = tracked.quick.setdefault(msg.id, QuickMode())
            _quick(quick, msg, from_initiator)
            if not quick.keyed and quick.transform and quick.spi_i and quick.nr_b and sa.skeyid_d:
                self._keymat(sa, quick)

    def _keymat(self, sa, quick):
        """ESP keys of both SPIs (RFC 2409 5.5); with PFS, each candidate
        Quick Mode secret gives a pair, the wrong ones fail on the ICV."""
        secrets = self.qm_gxy if quick.pfs else [b""]
        size = quick.transform.keymat_size
        for gxy_qm in secrets:
            for spi in (quick.spi_i, quick.spi_r):
                km = sa.keymat(ProtocolId.IPSEC_ESP, spi, quick.ni_b, quick.nr_b, size, gxy_qm)
                self.esp_keys.append(_esp_key(quick.transform, spi, km))
        quick.keyed = True


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


def _decrypt(sa, head, body):
    """The message with its body decrypted and dissected (E flag cleared)."""
    plain = sa.decrypt(head.id, body)
    raw = bytearray(bytes(head)[:28])
    raw[19] &= 0xFE
    return ISAKMP(bytes(raw) + plain)


def _hash_ok(sa, clear, from_initiator):
    """HASH_I/HASH_R of the identity message verifies, where there is one."""
    ids = payloads_of(clear, ISAKMP_payload_ID)
    hashes = payloads_of(clear, ISAKMP_payload_Hash)
    if clear.id != 0 or clear.exch_type not in PHASE1 or not hashes or sa.skeyid is None:
        return True          # nothing to verify, or only Ka is known
    if from_initiator:
        if ids:
            sa.idii_b = payload_body(ids[0])
        return sa.verify_hash_i(hashes[0].hash)
    if ids:
        sa.idir_b = payload_body(ids[0])
    return sa.verify_hash_r(hashes[0].hash)


def _phase1(sa, msg, from_initiator):
    """Transcript values and the chosen transform (RFC 2409 5)."""
    for proposal_sa in payloads_of(msg, ISAKMP_payload_SA):
        if from_initiator:
            sa.sai_b = payload_body(proposal_sa)
        elif proposal_sa.prop is not None and proposal_sa.prop.trans is not None:
            chosen = ike_from_transform(proposal_sa.prop.trans)
            if chosen is not None:          # else an algorithm we lack: left opaque
                sa.choose(chosen)
    for ke in payloads_of(msg, ISAKMP_payload_KE):
        if from_initiator:
            sa.gxi = ke.ke
        else:
            sa.gxr = ke.ke
    for nonce in payloads_of(msg, ISAKMP_payload_Nonce):
        if from_initiator:
            sa.ni_b = nonce.nonce
        else:
            sa.nr_b = nonce.nonce
    for ident in payloads_of(msg, ISAKMP_payload_ID):
        if from_initiator:
            sa.idii_b = payload_body(ident)
        else:
            sa.idir_b = payload_body(ident)


def _quick(quick, msg, from_initiator):
    """Nonces, SPIs, the chosen ESP transform and PFS (RFC 2409 5.5)."""
    for nonce in payloads_of(msg, ISAKMP_payload_Nonce):
        if from_initiator:
            quick.ni_b = nonce.nonce
        else:
            quick.nr_b = nonce.nonce
    for proposal_sa in payloads_of(msg, ISAKMP_payload_SA):
        prop = proposal_sa.prop
        if prop is None or prop.proto != ProtocolId.IPSEC_ESP:
            continue
        if from_initiator:
            quick.spi_i = prop.SPI
        else:
            quick.spi_r = prop.SPI
            quick.transform = EspTransform.from_payload(prop.trans)
    if payloads_of(msg, ISAKMP_payload_KE):
        quick.pfs = True


def _esp_key(transform, spi, keymat):
    split = transform.key_size + transform.cipher.salt_size
    return EspKey(spi=int.from_bytes(spi, "big"), src=None, dst=None,
                  crypt_algo=transform.cipher.name, crypt_key=keymat[:split], crypt_icv_size=None,
                  auth_algo=transform.integrity.name,
                  auth_key=keymat[split:transform.keymat_size], skip_icv=None)
