"""Cipher and MAC engines for one security association.

Each engine is built once per SA and key: the ``cryptography`` contexts
it holds live as long as the SA, and each packet costs one ``update``.
CBC keeps a single context by folding each packet's IV into its first
block (RFC 3602 2.4: the output is exactly CBC with that IV); CTR draws its
keystream from one ECB context (RFC 3686 4)."""

import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.cmac import CMAC

from scapy_ike.crypto import decrepit


def xor(a, b):
    """a XOR b, for equal lengths."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


class CbcChain:
    """CBC encryption and decryption with one context each for a whole SA.

    The contexts chain on from the previous packet's last ciphertext block
    *x*; XORing the first block with ``iv ^ x`` turns that into this
    packet's IV, so that each packet is plain CBC under its own IV."""

    __slots__ = ("block_size", "_enc", "_dec", "_enc_last", "_dec_last")

    def __init__(self, algorithm):
        self.block_size = bs = algorithm.block_size // 8
        zero = bytes(bs)
        self._enc = Cipher(algorithm, modes.CBC(zero)).encryptor()
        self._dec = Cipher(algorithm, modes.CBC(zero)).decryptor()
        self._enc_last = self._dec_last = zero

    def encrypt(self, iv, data):
        """CBC(iv) of *data*, a whole number of blocks."""
        bs = self.block_size
        if not data or len(data) % bs:
            raise ValueError("CBC input of %d bytes is not whole %d-byte blocks" % (len(data), bs))
        out = self._enc.update(xor(data[:bs], xor(iv, self._enc_last)) + data[bs:])
        self._enc_last = out[-bs:]
        return out

    def decrypt(self, iv, data):
        bs = self.block_size
        if not data or len(data) % bs:
            raise ValueError("CBC input of %d bytes is not whole %d-byte blocks" % (len(data), bs))
        out = self._dec.update(data)
        first = xor(out[:bs], xor(iv, self._dec_last))
        self._dec_last = data[-bs:]
        return first + out[bs:]


class AesCtr:
    """AES-CTR as ESP uses it (RFC 3686 4): counter block = nonce (the
    4-byte salt) | 8-byte IV | 32-bit block counter starting at 1."""

    __slots__ = ("_ecb", "salt")
    _COUNTERS = b"".join(i.to_bytes(4, "big") for i in range(1, 4097))

    def __init__(self, key, salt):
        self._ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
        self.salt = salt

    def crypt(self, iv, data):
        blocks = (len(data) + 15) // 16
        prefix = self.salt + iv
        counters = self._COUNTERS
        stream = self._ecb.update(b"".join(
            prefix + counters[4 * i:4 * i + 4] for i in range(blocks)))
        return xor(data, stream[:len(data)])

    encrypt = decrypt = crypt


def block_cipher(name, key):
    """The CBC chain or CTR engine of a plain ESP cipher."""
    if name == "aes":
        return CbcChain(algorithms.AES(key))
    return CbcChain(decrepit.block_algorithm(name, key))


class Aead:
    """An AEAD of RFC 4106 (GCM), 4309 (CCM), 7634 (ChaCha20-Poly1305) or
    RFC 4543 (GMAC: no encryption, all authenticated): nonce = salt | IV."""

    __slots__ = ("_aead", "salt", "gmac")

    def __init__(self, name, key, salt, icv_size):
        self.salt = salt
        self.gmac = name == "null_aes_gmac"
        if name.startswith("aesgcm") or self.gmac:
            self._aead = AESGCM(key) if icv_size == 16 else _TruncatedGcm(key, icv_size)
        elif name.startswith("aesccm"):
            self._aead = AESCCM(key, tag_length=icv_size)
        elif name == "chacha20poly1305":
            self._aead = ChaCha20Poly1305(key)
        else:
            raise KeyError("no AEAD %r" % name)

    def seal(self, iv, data, aad):
        """Ciphertext | ICV (for GMAC: data | ICV, with data authenticated)."""
        if self.gmac:
            return data + self._aead.encrypt(self.salt + iv, b"", aad + iv + data)
        return self._aead.encrypt(self.salt + iv, data, aad)

    def open(self, iv, data, aad):
        """The plaintext; raises ``cryptography.exceptions.InvalidTag``."""
        if self.gmac:
            icv = len(data) - 16
            self._aead.decrypt(self.salt + iv, data[icv:], aad + iv + data[:icv])
            return data[:icv]
        return self._aead.decrypt(self.salt + iv, data, aad)


class _TruncatedGcm:
    """AES-GCM with an 8- or 12-byte ICV (RFC 4106 8.1).  ``AESGCM`` makes
    only 16-byte tags: sealing truncates its tag, opening needs a GCM
    context per packet, since the tag to check is part of the mode."""

    __slots__ = ("_gcm", "_key", "_icv")

    def __init__(self, key, icv_size):
        self._gcm = AESGCM(key)
        self._key = algorithms.AES(key)
        self._icv = icv_size

    def encrypt(self, nonce, data, aad):
        out = self._gcm.encrypt(nonce, data, aad)
        return out[:len(data) + self._icv]

    def decrypt(self, nonce, data, aad):
        body, icv = data[:-self._icv], data[-self._icv:]
        ctx = Cipher(self._key, modes.GCM(nonce, icv, min_tag_length=self._icv)).decryptor()
        ctx.authenticate_additional_data(aad)
        return ctx.update(body) + ctx.finalize()


class Mac:
    """An ESP integrity algorithm: HMAC (RFC 2403/2404/4868), AES-XCBC-MAC
    (RFC 3566) or AES-CMAC (RFC 4494), truncated to the ICV size."""

    __slots__ = ("_base", "_kind", "icv_size", "_xcbc")

    def __init__(self, kind, key, icv_size):
        self._kind = kind
        self.icv_size = icv_size
        if kind.startswith("hmac-"):
            self._base = hmac.new(key, digestmod=getattr(hashlib, kind[5:]))
        elif kind == "cmac":
            self._base = CMAC(algorithms.AES(key))
        elif kind == "xcbc":
            ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
            k1, k2, k3 = (ecb.update(bytes([i]) * 16) for i in (1, 2, 3))
            self._xcbc = (CbcChain(algorithms.AES(k1)), k2, k3)
        else:
            raise KeyError("no MAC %r" % kind)

    def compute(self, data):
        if self._kind == "xcbc":
            chain, k2, k3 = self._xcbc
            if data and len(data) % 16 == 0:
                last = xor(data[-16:], k2)
            else:
                tail = len(data) % 16
                padded = data[len(data) - tail:] + b"\x80" + bytes(15 - tail)
                last = xor(padded, k3)
                data = data[:len(data) - tail] + b"\x00" * 16
            message = data[:-16] + last if data else last
            return chain.encrypt(bytes(16), message)[-16:][:self.icv_size]
        mac = self._base.copy()
        mac.update(data)
        return (mac.digest() if self._kind != "cmac" else mac.finalize())[:self.icv_size]
