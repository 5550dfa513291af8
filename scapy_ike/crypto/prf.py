"""The pseudo-random function and hash of IKEv1: the HMAC of the
negotiated hash (RFC 2409 4: "prf ... HMAC version of the negotiated hash
algorithm", RFC 2104), and the hash itself for IVs (RFC 2409 Appendix B)."""

import hashlib
import hmac

HASHES = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256,
          "sha384": hashlib.sha384, "sha512": hashlib.sha512}
"""strongSwan's names of the hashes that IKEv1 negotiates."""


def prf(hash_name, key, data):
    """prf(key, data) = HMAC-hash(key, data)."""
    return hmac.new(key, data, HASHES[hash_name]).digest()


def digest(hash_name, data):
    """hash(data), for the Phase 1 and Phase 2 IVs."""
    return HASHES[hash_name](data).digest()


def expand(hash_name, key, seed, size, chain_seed=True):
    """prf output stretched to *size* bytes by feedback (RFC 2409 5.5 for
    KEYMAT: Kn = prf(key, K(n-1) | seed); Appendix B for the encryption
    key: Kn = prf(key, K(n-1)) with K1 = prf(key, 0), i.e. *chain_seed*
    False and seed ``b"\\x00"`` for the first block only)."""
    out = block = prf(hash_name, key, seed)
    while len(out) < size:
        block = prf(hash_name, key, block + seed if chain_seed else block)
        out += block
    return out[:size]
