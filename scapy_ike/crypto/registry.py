"""The algorithm table: one frozen record per algorithm, carrying every
name other tools give it and every size, so that proposals, ESP SAs, key
logs and interop configurations all look up the same rows.

Numbers come from :mod:`scapy_ike.constants`.  Names: ``name`` is our
own (strongSwan's keyword stem: ``aes`` for aes128/aes256), ``keywords``
strongSwan's proposal keywords (src/libstrongswan/crypto/proposal/
proposal_keywords_static.txt), ``scapy`` the name in
``scapy.layers.ipsec``, ``wireshark`` the label of Wireshark's ``esp_sa``
table (4.0 has none for ChaCha20 and GMAC), ``tcpdump`` the algorithm stem
of ``tcpdump -E``.  Weak algorithms carry ``decrepit=True``: kept
for interop and old captures, never offered by default.
"""

import functools
from dataclasses import dataclass
from typing import Optional, Tuple

from scapy_ike.constants import (
    EncryptionAlgorithm, EspTransformId, HashAlgorithm, IpsecAuthAlgorithm,
)


@dataclass(frozen=True)
class Cipher:
    """An ESP encryption algorithm (RFC 4303 3.2); AEAD ones integrity too."""

    name: str                     # strongSwan keyword stem: "aes" -> aes128/aes256
    esp_id: Optional[int]         # IPsec ESP transform identifier (RFC 2407 4.4.4)
    scapy: Optional[str]
    wireshark: Optional[str]
    tcpdump: Optional[str]        # stem: "aes" -> aes128-cbc ... see tcpdump_names
    key_sizes: Tuple[int, ...]    # bytes, without the salt
    block_size: int               # CBC block, or 4 for stream and AEAD modes (RFC 4303 2.4)
    iv_size: int
    salt_size: int = 0            # RFC 3686 / 4106 / 4309 / 7634 nonce salt
    icv_size: int = 0             # AEAD tag; 0 for plain ciphers
    aead: bool = False
    decrepit: bool = False
    ike_id: Optional[int] = None  # Oakley encryption algorithm (RFC 2409 Appendix A)
    charon: Optional[str] = None  # charon's log name, without the key size
    keywords: Tuple[str, ...] = ()  # strongSwan's; "%d" = key bits; we write the first

    def keyword(self, key_size):
        """strongSwan's keyword for this cipher with a *key_size*-byte key
        (``aes256``, ``aes128gcm16``, ``3des``)."""
        template = self.keywords[0]
        return template % (key_size * 8) if "%d" in template else template


@dataclass(frozen=True)
class Integrity:
    """An ESP/AH integrity algorithm (RFC 4303 3.2)."""

    name: str                     # strongSwan keyword
    auth_id: Optional[int]        # IPsec authentication algorithm (RFC 2407 4.5)
    scapy: Optional[str]
    wireshark: Optional[str]
    tcpdump: Optional[str]
    key_size: int
    icv_size: int
    mac: str                      # "hmac-<hash>", "xcbc", "cmac"
    decrepit: bool = False
    charon: Optional[str] = None  # charon's log name


@dataclass(frozen=True)
class Hash:
    """A Phase 1 hash, whose HMAC is the prf (RFC 2409 4, Appendix A)."""

    name: str                     # strongSwan keyword and hashlib name
    ike_id: int                   # Oakley hash algorithm
    scapy: str                    # Scapy's Oakley attribute value name
    digest_size: int
    decrepit: bool = False


E = EspTransformId
A = IpsecAuthAlgorithm
O = EncryptionAlgorithm

HASHES = (
    Hash("md5", HashAlgorithm.MD5, "MD5", 16, decrepit=True),
    Hash("sha1", HashAlgorithm.SHA, "SHA", 20),
    Hash("sha256", HashAlgorithm.SHA2_256, "SHA2-256", 32),
    Hash("sha384", HashAlgorithm.SHA2_384, "SHA2-384", 48),
    Hash("sha512", HashAlgorithm.SHA2_512, "SHA2-512", 64),
)

CIPHERS = (
    Cipher("null", E.ESP_NULL, "NULL", "NULL", "none", (0,), 4, 0, charon="NULL",
           keywords=("null",)),
    Cipher("aes", E.ESP_AES_CBC, "AES-CBC", "AES-CBC [RFC3602]", "aes", (16, 24, 32), 16, 16,
           ike_id=O.AES_CBC, charon="AES_CBC",
           keywords=("aes%d", "aes")),
    Cipher("aesctr", E.ESP_AES_CTR, "AES-CTR", "AES-CTR [RFC3686]", None, (16, 24, 32), 4, 8,
           salt_size=4, charon="AES_CTR",
           keywords=("aes%dctr",)),
    Cipher("aesgcm8", E.ESP_AES_GCM_8, "AES-GCM", "AES-GCM with 8 octet ICV [RFC4106]", None,
           (16, 24, 32), 4, 8, salt_size=4, icv_size=8, aead=True, charon="AES_GCM_8",
           keywords=("aes%dgcm8", "aes%dgcm64")),
    Cipher("aesgcm12", E.ESP_AES_GCM_12, "AES-GCM", "AES-GCM with 12 octet ICV [RFC4106]", None,
           (16, 24, 32), 4, 8, salt_size=4, icv_size=12, aead=True, charon="AES_GCM_12",
           keywords=("aes%dgcm12", "aes%dgcm96")),
    Cipher("aesgcm16", E.ESP_AES_GCM_16, "AES-GCM", "AES-GCM with 16 octet ICV [RFC4106]", None,
           (16, 24, 32), 4, 8, salt_size=4, icv_size=16, aead=True, charon="AES_GCM_16",
           keywords=("aes%dgcm16", "aes%dgcm128", "aes%dgcm")),
    Cipher("aesccm8", E.ESP_AES_CCM_8, "AES-CCM", None, None, (16, 24, 32), 4, 8,
           salt_size=3, icv_size=8, aead=True, charon="AES_CCM_8",
           keywords=("aes%dccm8", "aes%dccm64")),
    Cipher("aesccm12", E.ESP_AES_CCM_12, "AES-CCM", None, None, (16, 24, 32), 4, 8,
           salt_size=3, icv_size=12, aead=True, charon="AES_CCM_12",
           keywords=("aes%dccm12", "aes%dccm96")),
    Cipher("aesccm16", E.ESP_AES_CCM_16, "AES-CCM", None, None, (16, 24, 32), 4, 8,
           salt_size=3, icv_size=16, aead=True, charon="AES_CCM_16",
           keywords=("aes%dccm16", "aes%dccm128", "aes%dccm")),
    Cipher("chacha20poly1305", None, "CHACHA20-POLY1305", None, None, (32,), 4, 8,
           salt_size=4, icv_size=16, aead=True, charon="CHACHA20_POLY1305",
           keywords=("chacha20poly1305",)),
    Cipher("null_aes_gmac", E.ESP_NULL_AUTH_AES_GMAC, "AES-NULL-GMAC", None, None,
           (16, 24, 32), 4, 8, salt_size=4, icv_size=16, aead=True, charon="NULL_AES_GMAC",
           keywords=("aes%dgmac",)),
    Cipher("des", E.ESP_DES, "DES", "DES-CBC [RFC2405]", "des", (8,), 8, 8, decrepit=True,
           ike_id=O.DES_CBC, charon="DES_CBC",
           keywords=("des",)),
    Cipher("3des", E.ESP_3DES, "3DES", "TripleDES-CBC [RFC2451]", "3des", (24,), 8, 8,
           decrepit=True, ike_id=O.TRIPLE_DES_CBC, charon="3DES_CBC",
           keywords=("3des",)),
    Cipher("blowfish", E.ESP_BLOWFISH, "Blowfish", "BLOWFISH-CBC [RFC2451]", "blowfish",
           (16,), 8, 8, decrepit=True, ike_id=O.BLOWFISH_CBC, charon="BLOWFISH_CBC",
           keywords=("blowfish", "blowfish128")),
    Cipher("cast128", E.ESP_CAST, "CAST", "CAST5-CBC [RFC2144]", "cast128", (16,), 8, 8,
           decrepit=True, ike_id=O.CAST_CBC, charon="CAST_CBC",
           keywords=("cast128",)),
    Cipher("camellia", E.ESP_CAMELLIA, None, None, None, (16, 24, 32), 16, 16,
           decrepit=True, ike_id=O.CAMELLIA_CBC, charon="CAMELLIA_CBC",
           keywords=("camellia%d", "camellia")),
)

INTEGRITIES = (
    Integrity("null", None, "NULL", "NULL", None, 0, 0, "none", charon="none"),
    Integrity("md5", A.HMAC_MD5, "HMAC-MD5-96", "HMAC-MD5-96 [RFC2403]", "hmac96",
              16, 12, "hmac-md5", decrepit=True, charon="HMAC_MD5_96"),
    Integrity("sha1", A.HMAC_SHA, "HMAC-SHA1-96", "HMAC-SHA-1-96 [RFC2404]", "hmac96",
              20, 12, "hmac-sha1", charon="HMAC_SHA1_96"),
    Integrity("sha256", A.HMAC_SHA2_256, "SHA2-256-128", "HMAC-SHA-256-128 [RFC4868]", None,
              32, 16, "hmac-sha256", charon="HMAC_SHA2_256_128"),
    Integrity("sha256_96", None, None, "HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]",
              None, 32, 12, "hmac-sha256", charon="HMAC_SHA2_256_96"),
    Integrity("sha384", A.HMAC_SHA2_384, "SHA2-384-192", "HMAC-SHA-384-192 [RFC4868]", None,
              48, 24, "hmac-sha384", charon="HMAC_SHA2_384_192"),
    Integrity("sha512", A.HMAC_SHA2_512, "SHA2-512-256", "HMAC-SHA-512-256 [RFC4868]", None,
              64, 32, "hmac-sha512", charon="HMAC_SHA2_512_256"),
    Integrity("aesxcbc", A.AES_XCBC_MAC, None, None, None, 16, 12, "xcbc", charon="AES_XCBC_96"),
    Integrity("aescmac", None, "AES-CMAC-96", None, None, 16, 12, "cmac", charon="AES_CMAC_96"),
)


@functools.lru_cache(maxsize=None)
def _index(records, attr):
    """*records* (a table of this module) by *attr*, made once."""
    return {getattr(r, attr): r for r in records if getattr(r, attr) is not None}


def cipher(name):
    """The cipher called *name* by strongSwan (stem), Scapy or Wireshark."""
    for table in (_index(CIPHERS, "name"), _index(CIPHERS, "wireshark")):
        if name in table:
            return table[name]
    scapy = [c for c in CIPHERS if c.scapy == name]
    if len(scapy) == 1:
        return scapy[0]
    raise KeyError("unknown cipher %r" % name)


def _keyword_table():
    table = {}
    for c in CIPHERS:
        for template in c.keywords:
            if "%d" in template:
                table.update({template % (size * 8): (c, size) for size in c.key_sizes})
            else:   # strongSwan: a keyword without a size names the smallest (aes = aes128)
                table[template] = (c, c.key_sizes[0])
    return table


_KEYWORDS = _keyword_table()


def cipher_by_keyword(keyword):
    """``(cipher, key size in bytes)`` of a strongSwan encryption keyword
    (``aes256``, ``aes128gcm16``, ``aes192gcm128``, ``3des``)."""
    try:
        return _KEYWORDS[keyword]
    except KeyError:
        raise KeyError("unknown cipher %r" % keyword) from None


DH_ALIASES = {"x25519": "curve25519", "x448": "curve448"}
"""strongSwan's other keywords for Diffie-Hellman groups
(proposal_keywords_static.txt); :mod:`~scapy_ike.crypto.dh` knows each
group by its main keyword."""


def dh_group(name_or_number):
    """The Diffie-Hellman group of a Group Description value or of any
    strongSwan keyword for it (``modp2048``, ``x25519``)."""
    from scapy_ike.crypto import dh     # loaded where a group is asked for, not to decode
    if isinstance(name_or_number, str):
        name_or_number = DH_ALIASES.get(name_or_number.lower(), name_or_number)
    try:
        return dh.group(name_or_number)
    except KeyError:
        raise KeyError("unknown DH group %r" % (name_or_number,)) from None


def integrity(name):
    """The integrity algorithm called *name* by strongSwan, Scapy or
    Wireshark."""
    for attr in ("name", "scapy", "wireshark"):
        table = _index(INTEGRITIES, attr)
        if name in table:
            return table[name]
    raise KeyError("unknown integrity algorithm %r" % name)


def hash_algorithm(name_or_id):
    """A Phase 1 hash by strongSwan name, Scapy name or Oakley value."""
    for h in HASHES:
        if name_or_id in (h.name, h.scapy, h.ike_id):
            return h
    raise KeyError("unknown hash %r" % (name_or_id,))


def cipher_by_ike_id(ike_id):
    """A Phase 1 cipher by its Oakley value."""
    for c in CIPHERS:
        if c.ike_id == ike_id:
            return c
    raise KeyError("unknown cipher %r" % (ike_id,))


def by_charon(name):
    """The cipher and key size, or the integrity algorithm, that charon's
    log calls *name* (``AES_CBC_256``, ``AES_GCM_16_128``, ``HMAC_SHA1_96``)."""
    for i in INTEGRITIES:
        if i.charon == name:
            return i, None
    stem, _, bits = name.rpartition("_")
    for c in CIPHERS:
        if c.charon == name:
            return c, c.key_sizes[0]
        if c.charon == stem and bits.isdigit() and int(bits) // 8 in c.key_sizes:
            return c, int(bits) // 8
    raise KeyError("unknown charon algorithm %r" % name)


def cipher_by_esp_id(esp_id):
    for c in CIPHERS:
        if c.esp_id == esp_id:
            return c
    raise KeyError("unknown cipher %r" % (esp_id,))


def integrity_by_auth_id(auth_id):
    for i in INTEGRITIES:
        if i.auth_id == auth_id:
            return i
    raise KeyError("unknown integrity algorithm %r" % (auth_id,))


def aead_by_scapy(name, icv_size):
    """Scapy names AEAD ciphers without their ICV size (``AES-GCM`` with
    ``icv_size=16``)."""
    for c in CIPHERS:
        if c.scapy == name and c.icv_size == icv_size:
            return c
    raise KeyError("unknown AEAD %r with a %d-byte ICV" % (name, icv_size))
