"""ESP keys in the files users have, the format recognised from the content.

Wireshark's ``esp_sa`` table (a UAT, Wireshark 4.0, as read by
``epan/dissectors/packet-ipsec.c``) holds one CSV row per SA: protocol
(``IPv4``/``IPv6``), source, destination, SPI, encryption, key,
authentication, key.  An address may be ``*`` or a prefix (``10.0.0.0/8``)
and the SPI ``*``.  The algorithms carry the registry's ``wireshark``
labels, plus "ANY n bit authentication [no checking]": an ICV of n bits
skipped unchecked, its key ignored.  For counter and AEAD modes the key
ends with the salt (RFC 3686 5.1, RFC 4106 8.1, RFC 4543, RFC 7634).

tcpdump's ``-E`` (tcpdump(1), ``print-esp.c``) takes ``spi@dst algo:secret``
entries, one per line of a file or separated by commas on the command line;
an entry without ``spi@dst`` applies to any SA.  The algorithm is a cipher
(``3des-cbc``, ``aes256-cbc``, ... the registry's ``tcpdump`` stems), with
``-hmac96`` when the packets end in a 96-bit ICV, which tcpdump skips
unchecked.

Both tools read a key as hex after ``0x``, and as the text itself
otherwise.

IKE keys come in Wireshark's ``ikev1_decryption_table`` (``initiator
cookie,Ka`` in hex, one SA a line) and in this project's key log, whose
lines are those charon's secrets give: ``ike icookie= rcookie= g_xy=
skeyid= skeyid_d= skeyid_a= skeyid_e= ka= iv=``, ``esp spi= src= dst= enc=
encr_key= integ= integ_key=`` (charon's algorithm names, hex values) and,
with PFS, ``qm msgid= g_xy=``.
charon's own debug log (ike and chd at level 4) is read too
(:mod:`~scapy_ike.decode.charon_log`).  Both are written too, so that tshark decrypts what was decrypted here:
:func:`write_key_files` writes the three files, readable by their owner
only.
"""

import csv
import functools
import ipaddress
import os
import re
from dataclasses import dataclass, field
from typing import Optional

from scapy_ike.crypto import registry
from scapy_ike.esp import SecurityAssociation

_PROTOCOLS = {"IPv4": 4, "IPv6": 6, "*": None}
_WIRESHARK_CIPHERS = {c.wireshark: c for c in registry.CIPHERS if c.wireshark}
_WIRESHARK_INTEGRITIES = {i.wireshark: i for i in registry.INTEGRITIES if i.wireshark}
_NO_CHECKING = re.compile(r"ANY (64|96|128|192|256) bit authentication \[no checking\]")
# tcpdump names a cipher by its stem and key size: "aes256" (-cbc), "3des" (-cbc), "none"
_TCPDUMP_CIPHERS = {
    c.tcpdump + (str(size * 8) if len(c.key_sizes) > 1 else ""): (c, size)
    for c in registry.CIPHERS if c.tcpdump for size in c.key_sizes}
_TCPDUMP_NAMES = ", ".join(stem + "-cbc" if size else stem
                           for stem, (_, size) in _TCPDUMP_CIPHERS.items())
_TCPDUMP_ICVS = {i.tcpdump: i.icv_size for i in registry.INTEGRITIES if i.tcpdump}
_TCPDUMP_ENTRY = re.compile(r"(\S+@\S+\s+)?[\w-]+:")
_NULL = registry.integrity("NULL")


_IKE_TABLE_ROW = re.compile(r"[0-9a-fA-F]{16},[0-9a-fA-F]*$")
_KEY_LOG_ROW = re.compile(r"(ike|esp|qm) \S+=")


class KeyFileError(ValueError):
    """A key line that cannot be read; ``line`` is its number, from 1."""

    def __init__(self, line, message):
        super().__init__("line %d: %s" % (line, message))
        self.line = line


@dataclass(frozen=True)
class EspKey:
    """One ESP SA's keys as a key file gives them."""

    spi: Optional[int]              # None = wildcard "*"
    src: Optional[str]              # None = wildcard; an address or prefix, normalised
    dst: Optional[str]              # None = wildcard
    crypt_algo: str                 # Scapy's name, as SecurityAssociation takes it
    crypt_key: bytes                # key || salt for CTR, GCM, GMAC and ChaCha20
    crypt_icv_size: Optional[int]   # the AEAD tag, else None
    auth_algo: str                  # "NULL", Scapy's name, or else strongSwan's
    auth_key: bytes
    skip_icv: Optional[int]         # bytes of ICV to skip unchecked ("no checking", -hmac96)
    guess: Optional[str] = None
    """What the key was made from when that is only a candidate (a g^xy
    given for a Quick Mode with PFS): it is used only if it opens its SA's
    first packet, and a wrong one is said once for the SA."""

    def matches(self, src, dst, spi):
        """Whether this key is for packets from *src* to *dst* with *spi*."""
        return self.spi in (None, spi) and _within(src, self.src) and _within(dst, self.dst)

    def security_association(self, **kwargs):
        """A fresh SA to decrypt with; *kwargs* go to
        :class:`~scapy_ike.esp.SecurityAssociation` (``replay_window``...,
        and ``spi`` for a key of any SPI)."""
        params = dict(spi=self.spi, crypt_algo=self.crypt_algo, crypt_key=self.crypt_key,
                      crypt_icv_size=self.crypt_icv_size, auth_algo=self.auth_algo,
                      auth_key=self.auth_key, skip_icv=self.skip_icv)
        params.update(kwargs)
        if params["spi"] is None:
            raise ValueError("this key is for any SPI: give spi=")
        return SecurityAssociation(**params)


@dataclass(frozen=True)
class IkeKey:
    """One IKE SA's secrets as a key file gives them; None where unknown."""

    cky_i: bytes
    cky_r: Optional[bytes] = None
    ka: Optional[bytes] = None
    gxy: Optional[bytes] = None
    skeyid: Optional[bytes] = None
    skeyid_d: Optional[bytes] = None
    skeyid_a: Optional[bytes] = None
    skeyid_e: Optional[bytes] = None


@dataclass
class Keys:
    """What key files hold: IKE SAs' secrets, ESP SAs' keys, and Quick
    Modes' own DH secrets (with PFS)."""

    ike: list
    esp: list
    qm_gxy: list = field(default_factory=list)

    def __iadd__(self, other):
        self.ike += other.ike
        self.esp += other.esp
        self.qm_gxy += other.qm_gxy
        return self


def read_keys(text: str) -> Keys:
    """IKE and ESP keys of any format above, told apart by the first line
    that is not blank or a comment."""
    from scapy_ike.decode.charon_log import is_charon_log, parse_charon_log
    for number, line in _lines(text):
        if _IKE_TABLE_ROW.match(line):
            return Keys(parse_ikev1_decryption_table(text), [])
        if _KEY_LOG_ROW.match(line):
            return parse_key_log(text)
        if is_charon_log(line):
            return parse_charon_log(text)
        break
    return Keys([], read_esp_keys(text))


def parse_ikev1_decryption_table(text: str) -> list:
    """Wireshark's ``ikev1_decryption_table``: initiator cookie and Ka."""
    keys = []
    for number, line in _lines(text):
        cookie, _, ka = line.partition(",")
        try:
            keys.append(IkeKey(bytes.fromhex(cookie), ka=bytes.fromhex(ka.strip().strip('"'))))
        except ValueError:
            raise KeyFileError(number, "expected initiator cookie,Ka in hex") from None
    return keys


def parse_key_log(text: str) -> Keys:
    """This project's key log (charon's secrets, one SA a line)."""
    keys = Keys([], [])
    for number, line in _lines(text):
        kind, *items = line.split()
        fields = dict(item.partition("=")[::2] for item in items)
        try:
            if kind == "ike":
                keys.ike.append(IkeKey(
                    bytes.fromhex(fields["icookie"]), bytes.fromhex(fields["rcookie"]),
                    **{name: bytes.fromhex(fields[key]) for name, key in _IKE_LOG_FIELDS.items()
                       if fields.get(key)}))
            elif kind == "esp":
                keys.esp.append(logged_esp_key(number, fields))
            elif kind == "qm":
                keys.qm_gxy.append(bytes.fromhex(fields["g_xy"]))
        except (KeyError, ValueError) as error:
            raise KeyFileError(number, "bad %s line: %s" % (kind, error)) from None
    return keys


_IKE_LOG_FIELDS = {"ka": "ka", "gxy": "g_xy", "skeyid": "skeyid", "skeyid_d": "skeyid_d",
                   "skeyid_a": "skeyid_a", "skeyid_e": "skeyid_e"}


def logged_esp_key(number, fields):
    """The ESP key of a key log's ``esp`` line *fields* (charon's
    algorithm names, hex values), line *number*."""
    cipher, size = registry.by_charon(fields["enc"])
    integrity, _ = registry.by_charon(fields["integ"])
    crypt_key = bytes.fromhex(fields["encr_key"])
    if len(crypt_key) != size + cipher.salt_size:
        raise KeyFileError(number, "%s takes %d key bytes" % (fields["enc"], size + cipher.salt_size))
    return _esp_key(number, cipher, integrity, spi=int(fields["spi"], 16),
                    src=fields.get("src"), dst=fields.get("dst"), crypt_key=crypt_key,
                    auth_key=bytes.fromhex(fields["integ_key"]) if integrity.icv_size else b"",
                    skip_icv=None)


def ikev1_decryption_table_row(sa):
    """Wireshark's ``ikev1_decryption_table`` line of an IKE SA."""
    return "%s,%s" % (sa.cky_i.hex(), sa.ka.hex())


def key_log_line(sa):
    """This project's key log line of an IKE SA (the secrets it knows)."""
    values = [("icookie", sa.cky_i), ("rcookie", sa.cky_r), ("g_xy", sa.gxy),
              ("skeyid", sa.skeyid), ("skeyid_d", sa.skeyid_d), ("skeyid_a", sa.skeyid_a),
              ("skeyid_e", sa.skeyid_e), ("ka", sa.ka)]
    return "ike " + " ".join("%s=%s" % (k, v.hex()) for k, v in values if v is not None)


def write_private(path, text: str, append=False):
    """Write *text* to *path* (after what it holds, with *append*),
    created or truncated with mode 0600, and made 0600 if it existed with
    another mode, before any byte is written: a key file holds the secrets
    of every SA it names."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC),
                 0o600)
    with open(fd, "w") as f:
        os.fchmod(fd, 0o600)
        f.write(text)


def write_key_files(path, key_log, ikev1_decryption_table, esp_sa, append=False):
    """This project's key log at *path*, with Wireshark's tables beside it
    at *path*.ikev1_decryption_table and *path*.esp_sa, each mode 0600
    (:func:`write_private`), or with *append* these lines added to them.
    Each argument after *path* is the lines of its file, without line
    ends: :func:`key_log_line`, :func:`ikev1_decryption_table_row` and
    :func:`esp_sa_row` give them."""
    for name, lines in ((path, key_log),
                        (path + ".ikev1_decryption_table", ikev1_decryption_table),
                        (path + ".esp_sa", esp_sa)):
        write_private(name, "".join(line + "\n" for line in lines), append)


def read_esp_keys(text: str) -> list[EspKey]:
    """The keys of a Wireshark ``esp_sa`` table or of tcpdump ``-E``
    secrets, told apart by the first line that is not blank or a comment;
    raises :class:`KeyFileError` for a line it cannot read."""
    for number, line in _lines(text):
        if line.startswith('"'):
            return parse_esp_sa(text)
        if _TCPDUMP_ENTRY.match(line):
            return parse_tcpdump_secrets(text)
        raise KeyFileError(number, "neither a Wireshark esp_sa row nor a tcpdump -E secret")
    return []


def parse_esp_sa(text: str) -> list[EspKey]:
    """The rows of a Wireshark ``esp_sa`` table."""
    keys = []
    for number, line in _lines(text):
        fields = next(csv.reader([line]))
        if len(fields) != 8:
            raise KeyFileError(number, "an esp_sa row has 8 fields, not %d" % len(fields))
        protocol, src, dst, spi, encryption, crypt_key, authentication, auth_key = fields
        if protocol not in _PROTOCOLS:
            raise KeyFileError(number, "unknown protocol %r (IPv4 or IPv6)" % protocol)
        cipher = _WIRESHARK_CIPHERS.get(encryption)
        if cipher is None:
            raise KeyFileError(number, "unknown encryption %r" % encryption)
        unchecked = _NO_CHECKING.fullmatch(authentication)
        integrity = _NULL if unchecked else _WIRESHARK_INTEGRITIES.get(authentication)
        if integrity is None:
            raise KeyFileError(number, "unknown authentication %r" % authentication)
        version = _PROTOCOLS[protocol]
        keys.append(_esp_key(
            number, cipher, integrity,
            spi=None if spi == "*" else _spi(spi, number),
            src=_address(src, version, number), dst=_address(dst, version, number),
            crypt_key=_secret(crypt_key, "encryption", number),
            auth_key=b"" if unchecked else _secret(auth_key, "authentication", number),
            skip_icv=int(unchecked.group(1)) // 8 if unchecked else None))
    return keys


def esp_sa_row(sa, src, dst):
    """The Wireshark ``esp_sa`` row of *sa* for packets from *src* to
    *dst*, so that tshark decrypts what we encrypted."""
    family = "IPv6" if ":" in src else "IPv4"
    if sa.cipher.wireshark is None or sa.integrity.wireshark is None:
        raise ValueError("Wireshark has no label for %s/%s" % (sa.cipher.name, sa.integrity.name))
    fields = [family, src, dst, "0x%08x" % sa.spi, sa.cipher.wireshark,
              "0x" + sa.crypt_key.hex(), sa.integrity.wireshark,
              "0x" + sa.auth_key.hex() if sa.auth_key else ""]
    return ",".join('"%s"' % f for f in fields)


def parse_tcpdump_secrets(text: str) -> list[EspKey]:
    """The SAs of tcpdump ``-E``: a file of lines, or the command-line
    argument with its entries separated by commas."""
    return [_tcpdump_entry(entry, number)
            for number, line in _lines(text) for entry in line.split(",") if entry.strip()]


def _tcpdump_entry(entry, number):
    """One ``[spi@dst] algo:secret`` entry."""
    parts = entry.split(None, 1)
    target, algo_secret = parts if len(parts) == 2 else (None, entry)
    spi = dst = None
    if target is not None:
        spi_text, at, address = target.partition("@")
        if not at:
            raise KeyFileError(number, "expected spi@address, not %r" % target)
        spi = _spi(spi_text, number)
        try:
            dst = str(ipaddress.ip_address(address))
        except ValueError:
            raise KeyFileError(number, "bad address %r" % address) from None
    algo, colon, secret = algo_secret.strip().partition(":")
    if not colon:
        raise KeyFileError(number, "expected algorithm:secret")
    name = algo.lower()
    stem, _, auth = name.rpartition("-")
    skip_icv = _TCPDUMP_ICVS.get(auth)
    name = (stem if skip_icv else name).removesuffix("-cbc")
    if name not in _TCPDUMP_CIPHERS:
        raise KeyFileError(number, "unknown algorithm %r; tcpdump -E takes %s, each with an "
                           "optional -hmac96" % (algo, _TCPDUMP_NAMES))
    cipher, size = _TCPDUMP_CIPHERS[name]
    crypt_key = _secret(secret, "encryption", number)
    if len(crypt_key) != size:
        raise KeyFileError(number, "%s takes a %d-byte key, not %d" % (algo, size, len(crypt_key)))
    return _esp_key(number, cipher, _NULL, spi=spi, src=None, dst=dst, crypt_key=crypt_key,
                    auth_key=b"", skip_icv=skip_icv)


def _lines(text):
    """``(number, line)`` for each line that is not blank or a comment."""
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            yield number, line


def _esp_key(number, cipher, integrity, **fields):
    """The key, once a SecurityAssociation takes its algorithms and key
    sizes (tried once for each of them)."""
    key = EspKey(crypt_algo=cipher.scapy, crypt_icv_size=cipher.icv_size if cipher.aead else None,
                 auth_algo=integrity.scapy or integrity.name, **fields)
    shape = (key.crypt_algo, key.crypt_icv_size, key.auth_algo, len(key.crypt_key),
             len(key.auth_key), key.skip_icv)
    if shape not in _TAKEN:
        try:
            key.security_association(spi=0)
        except ValueError as error:
            raise KeyFileError(number, str(error)) from None
        _TAKEN.add(shape)
    return key


_TAKEN = set()
"""Algorithms and key sizes a SecurityAssociation has taken."""


def _spi(text, number):
    """An SPI in decimal or 0x-hex, as both tools read it."""
    try:
        spi = int(text, 16) if text[:2].lower() == "0x" else int(text, 10)
    except ValueError:
        raise KeyFileError(number, "bad SPI %r (decimal or 0x-hex)" % text) from None
    if not 0 <= spi < 1 << 32:
        raise KeyFileError(number, "SPI %r is not 32 bits" % text)
    return spi


def _address(text, version, number):
    """None for ``*``, else the address or prefix in normal form."""
    if text == "*":
        return None
    network = _network(text)
    if network is None:
        raise KeyFileError(number, "bad address %r (an address, a prefix or *)" % text)
    if version and network.version != version:
        raise KeyFileError(number, "%s is not an IPv%d address" % (text, version))
    return str(network) if "/" in text else str(network.network_address)


@functools.lru_cache(maxsize=4096)
def _network(text):
    """The address or prefix *text* as a network, or None; a table of many
    SAs names the same few addresses."""
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _secret(text, what, number):
    """A key: hex after ``0x``, else the text itself."""
    if text[:2].lower() != "0x":
        return text.encode()
    try:
        return bytes.fromhex(text[2:])
    except ValueError:
        raise KeyFileError(number, "the %s key is not whole bytes of hex" % what) from None


def _within(address, pattern):
    return pattern is None or ipaddress.ip_address(address) in ipaddress.ip_network(pattern)
