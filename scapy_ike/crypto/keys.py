"""The IKEv1 key schedule, as pure functions: bytes in, bytes out
(RFC 2409 5 and Appendix B).  *h* is the negotiated hash's name
(``"sha1"``, ...); nonces and identities are payload bodies ("_b": without
the generic payload header), cookies 8 bytes, ``g^xy`` the DH secret."""

import struct

from scapy_ike.crypto.prf import digest, expand, prf


def skeyid_psk(h, psk, ni_b, nr_b):
    """SKEYID for pre-shared keys: prf(pre-shared-key, Ni_b | Nr_b)."""
    return prf(h, psk, ni_b + nr_b)


def skeyid_sig(h, ni_b, nr_b, gxy):
    """SKEYID for signatures: prf(Ni_b | Nr_b, g^xy)."""
    return prf(h, ni_b + nr_b, gxy)


def skeyid_pke(h, ni_b, nr_b, cky_i, cky_r):
    """SKEYID for public key encryption: prf(hash(Ni_b | Nr_b), CKY-I | CKY-R)."""
    return prf(h, digest(h, ni_b + nr_b), cky_i + cky_r)


def skeyid_dae(h, skeyid, gxy, cky_i, cky_r):
    """(SKEYID_d, SKEYID_a, SKEYID_e) (RFC 2409 5):
    SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0),
    SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1),
    SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)."""
    tail = gxy + cky_i + cky_r
    d = prf(h, skeyid, tail + b"\x00")
    a = prf(h, skeyid, d + tail + b"\x01")
    e = prf(h, skeyid, a + tail + b"\x02")
    return d, a, e


def encryption_key(h, skeyid_e, size):
    """Ka: the first *size* bytes of SKEYID_e, or when it is too short the
    expansion K1 = prf(SKEYID_e, 0), K2 = prf(SKEYID_e, K1), ...
    (RFC 2409 Appendix B)."""
    if len(skeyid_e) >= size:
        return skeyid_e[:size]
    return expand(h, skeyid_e, b"\x00", size, chain_seed=False)


def phase1_iv(h, gxi, gxr, block_size):
    """The IV of the first encrypted Phase 1 message: hash(g^xi | g^xr)
    (RFC 2409 Appendix B)."""
    return digest(h, gxi + gxr)[:block_size]


def phase2_iv(h, last_phase1_block, message_id, block_size):
    """The IV of the first message of an exchange with message ID
    *message_id*: hash(last Phase 1 CBC output block | M-ID)
    (RFC 2409 Appendix B)."""
    return digest(h, last_phase1_block + struct.pack("!I", message_id))[:block_size]


def hash_i(h, skeyid, gxi, gxr, cky_i, cky_r, sai_b, idii_b):
    """HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b)
    (RFC 2409 5)."""
    return prf(h, skeyid, gxi + gxr + cky_i + cky_r + sai_b + idii_b)


def hash_r(h, skeyid, gxi, gxr, cky_i, cky_r, sai_b, idir_b):
    """HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)
    (RFC 2409 5)."""
    return prf(h, skeyid, gxr + gxi + cky_r + cky_i + sai_b + idir_b)


def message_hash(h, skeyid_a, message_id, payloads):
    """prf(SKEYID_a, M-ID | payloads after the HASH payload): Quick Mode's
    HASH(1) (RFC 2409 5.5), an Informational exchange's HASH(1)
    (RFC 2409 5.7) and a Transaction exchange's HASH
    (draft-dukes-ike-mode-cfg-02 3.4)."""
    return prf(h, skeyid_a, struct.pack("!I", message_id) + payloads)


def qm_hash2(h, skeyid_a, message_id, ni_b, payloads):
    """Quick Mode HASH(2) = prf(SKEYID_a, M-ID | Ni_b | SA | Nr [| KE]
    [| IDci | IDcr]) (RFC 2409 5.5)."""
    return prf(h, skeyid_a, struct.pack("!I", message_id) + ni_b + payloads)


def qm_hash3(h, skeyid_a, message_id, ni_b, nr_b):
    """Quick Mode HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b)
    (RFC 2409 5.5)."""
    return prf(h, skeyid_a, b"\x00" + struct.pack("!I", message_id) + ni_b + nr_b)


def keymat(h, skeyid_d, protocol, spi, ni_b, nr_b, size, gxy_qm=b""):
    """KEYMAT for one SPI, *size* bytes: prf(SKEYID_d, [g(qm)^xy |]
    protocol | SPI | Ni_b | Nr_b), expanded as K1 | K2 | ... with
    Kn = prf(SKEYID_d, K(n-1) | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)
    (RFC 2409 5.5); *gxy_qm* is Quick Mode's own secret with PFS."""
    seed = gxy_qm + bytes([protocol]) + spi + ni_b + nr_b
    return expand(h, skeyid_d, seed, size)


def nat_d(h, cky_i, cky_r, address, port):
    """NAT-D = HASH(CKY-I | CKY-R | IP | Port) with the negotiated hash
    (RFC 3947 3.2); *address* packed (4 or 16 bytes)."""
    return digest(h, cky_i + cky_r + address + struct.pack("!H", port))
