"""The state of one IKEv1 SA: cookies, the negotiated algorithms, the
transcript values the key schedule needs, the SKEYID family and the IV
chains per message ID (RFC 2409 5 and Appendix B).

Built once and shared: the capture decoder fills it from what it sees, the
engine from what it negotiates.  No I/O, no clock.
"""

import hmac
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

from scapy_ike.constants import AuthMethod
from scapy_ike.crypto import keys, registry
from scapy_ike.crypto.cipher import block_cipher


class KeysMissing(ValueError):
    """The SA lacks the secrets an operation needs."""


@dataclass
class IkeSa:
    """One IKE SA, as far as it is known."""

    cky_i: bytes
    cky_r: bytes = bytes(8)
    # negotiated (the responder's chosen transform)
    hash: Optional[str] = None                 # strongSwan name: "sha1", ...
    cipher: Optional[registry.Cipher] = None
    key_size: int = 0
    auth_method: int = AuthMethod.PSK
    group: Optional[int] = None
    proposal: Optional[object] = None          # the IkeProposal chosen
    # transcript: payload bodies without their generic headers
    sai_b: bytes = b""
    gxi: bytes = b""
    gxr: bytes = b""
    ni_b: bytes = b""
    nr_b: bytes = b""
    idii_b: bytes = b""
    idir_b: bytes = b""
    # secrets
    gxy: Optional[bytes] = None
    skeyid: Optional[bytes] = None
    skeyid_d: Optional[bytes] = None
    skeyid_a: Optional[bytes] = None
    skeyid_e: Optional[bytes] = None
    ka: Optional[bytes] = None
    # IV chains: message ID -> last CBC block; (message ID, ciphertext) -> IV
    _last: Dict[int, bytes] = field(default_factory=dict, repr=False)
    _seen: Dict[Tuple[int, bytes], bytes] = field(default_factory=dict, repr=False)
    _engine: object = field(default=None, repr=False)

    def choose(self, proposal):
        """Take the negotiated Phase 1 transform, an
        :class:`~scapy_ike.core.proposals.IkeProposal` (the responder's
        choice, RFC 2409 5)."""
        self.cipher, self.key_size = proposal.cipher, proposal.key_size
        self.hash, self.group, self.auth_method = proposal.hash.name, proposal.group, proposal.auth
        self.proposal = proposal

    # -- the key schedule ---------------------------------------------------

    def derive(self, psk=None, gxy=None, skeyid=None):
        """SKEYID (from the PSK and nonces unless given), SKEYID_d/a/e and
        Ka (RFC 2409 5, Appendix B)."""
        if gxy is not None:
            self.gxy = gxy
        if self.gxy is None or self.hash is None:
            raise KeysMissing("g^xy and the negotiated hash are needed")
        if skeyid is None:
            if self.auth_method in PSK_METHODS:
                if psk is None:
                    raise KeysMissing("a pre-shared key is needed")
                skeyid = keys.skeyid_psk(self.hash, psk, self.ni_b, self.nr_b)
            else:
                skeyid = keys.skeyid_sig(self.hash, self.ni_b, self.nr_b, self.gxy)
        self.skeyid = skeyid
        self.skeyid_d, self.skeyid_a, self.skeyid_e = keys.skeyid_dae(
            self.hash, skeyid, self.gxy, self.cky_i, self.cky_r)
        self.set_ka(keys.encryption_key(self.hash, self.skeyid_e, self.key_size))

    def set_ka(self, ka):
        """Use the encryption key *ka* (Wireshark's table gives only Ka)."""
        self.ka = ka
        self._engine = block_cipher(self.cipher.name, ka)

    @property
    def phase1_iv(self):
        return keys.phase1_iv(self.hash, self.gxi, self.gxr, self.cipher.block_size)

    def verify_hash_i(self, received, idii_b=None):
        """Whether *received* is HASH_I (RFC 2409 5), for the initiator's
        identity *idii_b* (the SA's own when not given)."""
        want = keys.hash_i(self.hash, self.skeyid, self.gxi, self.gxr, self.cky_i,
                           self.cky_r, self.sai_b, self.idii_b if idii_b is None else idii_b)
        return hmac.compare_digest(want, received)

    def verify_hash_r(self, received, idir_b=None):
        """Whether *received* is HASH_R (RFC 2409 5), for the responder's
        identity *idir_b* (the SA's own when not given)."""
        want = keys.hash_r(self.hash, self.skeyid, self.gxi, self.gxr, self.cky_i,
                           self.cky_r, self.sai_b, self.idir_b if idir_b is None else idir_b)
        return hmac.compare_digest(want, received)

    def keymat(self, protocol, spi, ni_b, nr_b, size, gxy_qm=b""):
        """KEYMAT of one SPI of a Quick Mode (RFC 2409 5.5)."""
        if self.skeyid_d is None:
            raise KeysMissing("SKEYID_d is needed")
        return keys.keymat(self.hash, self.skeyid_d, protocol, spi, ni_b, nr_b, size, gxy_qm)

    # -- encrypted messages -------------------------------------------------

    def iv(self, message_id):
        """The IV for the next message of exchange *message_id*: the last
        CBC block of its previous message, or for its first message the
        Phase 1 IV (M-ID 0) or hash(last Phase 1 block | M-ID)."""
        if message_id in self._last:
            return self._last[message_id]
        phase1 = self._last.get(0) or self.phase1_iv
        if message_id == 0:
            return phase1
        return keys.phase2_iv(self.hash, phase1, message_id, self.cipher.block_size)

    def decrypt(self, message_id, ciphertext, confirm=True):
        """The plaintext of an encrypted message body (padding included).
        A byte-identical retransmission is decrypted with the IV its first
        copy used, and leaves the chain as it was.  With *confirm* False
        the chain does not move: the engine confirms a message only once
        it has authenticated (charon, too, confirms an IV only once the
        message's HASH verifies), so that a forgery changes nothing."""
        if self._engine is None:
            raise KeysMissing("the encryption key is needed")
        seen = self._seen.get((message_id, ciphertext))
        iv = seen if seen is not None else self.iv(message_id)
        plain = self._engine.decrypt(iv, ciphertext)
        if confirm and seen is None:
            self.confirm(message_id, ciphertext, iv)
        return plain

    def confirm(self, message_id, ciphertext, iv=None):
        """Move the chain of *message_id* past *ciphertext*, decrypted
        with *iv* (the chain's current IV when not given)."""
        if (message_id, ciphertext) in self._seen:
            return
        self._seen[(message_id, ciphertext)] = self.iv(message_id) if iv is None else iv
        self._last[message_id] = ciphertext[-self.cipher.block_size:]

    def forget(self, message_id):
        """Drop the IV chain of a finished exchange (its messages are
        answered from the exchange's own record afterwards)."""
        self._last.pop(message_id, None)
        for key in [k for k in self._seen if k[0] == message_id]:
            del self._seen[key]

    def encrypt(self, message_id, plaintext):
        """The encrypted body of *plaintext* padded with zeros to whole
        blocks (RFC 2408 3.1), advancing the exchange's IV chain."""
        if self._engine is None:
            raise KeysMissing("the encryption key is needed")
        block = self.cipher.block_size
        plaintext += bytes(-len(plaintext) % block)
        iv = self.iv(message_id)
        ciphertext = self._engine.encrypt(iv, plaintext)
        self._seen[(message_id, ciphertext)] = iv
        self._last[message_id] = ciphertext[-block:]
        return ciphertext


PSK_METHODS = {AuthMethod.PSK, AuthMethod.XAUTH_INIT_PSK, AuthMethod.XAUTH_RESP_PSK}
"""Methods whose SKEYID comes from the pre-shared key (RFC 2409 5)."""
