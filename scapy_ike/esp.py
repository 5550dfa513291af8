"""ESP security associations (RFC 4303): ``seal``/``open`` on bytes, the
fast path, and ``encrypt``/``decrypt`` on Scapy packets at the edges.

One :class:`SecurityAssociation` is one direction of traffic.  Its cipher
and MAC contexts are made once; it tracks the sequence number (with the
high half of an extended sequence number, RFC 4303 2.2.1), the anti-replay
window of RFC 4303 3.4.3 and Appendix A, and soft and hard lifetimes.
Parameter names follow ``scapy.layers.ipsec.SecurityAssociation`` so that
the two can be checked against each other.

Every rejected packet raises a subclass of :class:`EspError` and is counted
in :attr:`SecurityAssociation.stats`; ICVs are compared in constant time.
"""

import hmac
import os
import socket
import struct
from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple, Optional

from cryptography.exceptions import InvalidTag

from scapy_ike.crypto import registry
from scapy_ike.crypto.cipher import Aead, AesCtr, Mac, block_cipher

IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_NONE = 4, 41, 59
PADDINGS = tuple(bytes(range(1, n + 1)) for n in range(256))
"""The padding bytes 1, 2, 3, ... of each length (RFC 4303 2.4)."""
IPPROTO_ESP, IPPROTO_UDP = 50, 17
NATT_PORT = 4500


class EspError(ValueError):
    """A packet this SA rejects."""

    reason = "error"


class IntegrityError(EspError):
    """The ICV (or AEAD tag) does not verify: tampered, or wrong keys."""

    reason = "integrity"


class ReplayError(EspError):
    """A sequence number already received (RFC 4303 3.4.3)."""

    reason = "replay"


class WindowError(ReplayError):
    """A sequence number left of the anti-replay window."""

    reason = "window"


class PaddingError(EspError):
    """Padding that is not 1, 2, 3, ... or a pad length past the payload
    (RFC 4303 2.4): tampered, or wrong keys."""

    reason = "padding"


class MalformedError(EspError):
    """Too short, or not a whole number of cipher blocks."""

    reason = "malformed"


class LifetimeExpired(EspError):
    """The hard lifetime is reached, or the sequence number would cycle
    (RFC 4303 3.3.3): the SA must be replaced."""

    reason = "lifetime"


@dataclass(frozen=True)
class Lifetime:
    """Soft and hard limits in bytes (of payload) and packets; None is no
    limit.  Reaching a soft limit sets ``soft_expired``, a hard one
    refuses packets."""

    soft_bytes: Optional[int] = None
    hard_bytes: Optional[int] = None
    soft_packets: Optional[int] = None
    hard_packets: Optional[int] = None


_SPI_SEQ = struct.Struct("!II")


class Opened(NamedTuple):
    """What :meth:`SecurityAssociation.open` gives: the 64-bit sequence
    number, the next header, the payload (without ESP padding), and the
    pad length."""

    seq: int
    next_header: int
    payload: bytes
    pad_length: int = 0


class EspTransform(NamedTuple):
    """A negotiated ESP transform: the algorithms KEYMAT is cut for
    (RFC 2407 4.4.4 and 4.5)."""

    cipher: registry.Cipher
    key_size: int
    integrity: registry.Integrity = registry.integrity("null")
    tunnel: bool = True
    udp_encap: bool = False

    @property
    def keymat_size(self):
        """Encryption key, salt, then integrity key (RFC 2409 5.5)."""
        return self.key_size + self.cipher.salt_size + self.integrity.key_size

    @classmethod
    def from_payload(cls, transform):
        """The transform of a Quick Mode ESP proposal's Transform payload."""
        from scapy_ike.constants import EncapsulationMode as Mode, IpsecAttribute as Attr
        from scapy_ike.attributes import IPSEC_ATTRIBUTES
        values = IPSEC_ATTRIBUTES.numbers(transform.transforms)
        cipher = registry.cipher_by_esp_id(transform.transform_id)
        bits = values.get(Attr.KEY_LENGTH)
        if bits is None and len(cipher.key_sizes) > 1:
            raise ValueError("%s needs a key length attribute" % cipher.name)
        auth = values.get(Attr.AUTHENTICATION_ALGORITHM)
        mode = values.get(Attr.ENCAPSULATION_MODE, Mode.TUNNEL)
        return cls(cipher, bits // 8 if bits else cipher.key_sizes[0],
                   registry.integrity_by_auth_id(auth) if auth else registry.integrity("null"),
                   tunnel=mode in (Mode.TUNNEL, Mode.UDP_TUNNEL, Mode.UDP_TUNNEL_DRAFT),
                   udp_encap=mode >= Mode.UDP_TUNNEL)

    def security_association(self, spi, keymat, **kwargs):
        """The SA for one direction from its KEYMAT (RFC 2409 5.5)."""
        if len(keymat) < self.keymat_size:
            raise ValueError("KEYMAT of %d bytes, %s needs %d"
                             % (len(keymat), self, self.keymat_size))
        split = self.key_size + self.cipher.salt_size
        return SecurityAssociation(spi, crypt_algo=self.cipher.name, crypt_key=keymat[:split],
                                   auth_algo=self.integrity.name,
                                   auth_key=keymat[split:self.keymat_size], **kwargs)


def sa_pair(transform, spi_out, keymat_out, spi_in, keymat_in, **kwargs):
    """The outbound and inbound SAs that one Quick Mode made: each SPI with
    the KEYMAT derived for it (RFC 2409 5.5)."""
    return (transform.security_association(spi_out, keymat_out, **kwargs),
            transform.security_association(spi_in, keymat_in, **kwargs))


def _algorithms(crypt_algo, crypt_icv_size, auth_algo):
    if crypt_algo in ("AES-GCM", "AES-CCM"):
        cipher = registry.aead_by_scapy(crypt_algo, crypt_icv_size or 16)
    else:
        cipher = registry.cipher(crypt_algo or "NULL")
    integ = registry.integrity(auth_algo or "NULL")
    if cipher.aead and integ.icv_size:
        raise ValueError("%s already authenticates; no %s" % (cipher.name, integ.name))
    return cipher, integ


class SecurityAssociation:
    """One direction of an ESP SA.

    *crypt_algo* and *auth_algo* are Scapy's names (``"AES-CBC"``,
    ``"HMAC-SHA1-96"``), strongSwan's keywords or Wireshark's labels;
    *crypt_key* includes the salt for CTR, GCM, CCM and ChaCha20 as in
    Scapy; HMAC keys may have any length (RFC 2104), though IKE makes them
    the size the registry gives.  *tunnel_header* (a Scapy ``IP``/``IPv6``) selects tunnel mode
    for :meth:`encrypt`; *nat_t_header* (a Scapy ``UDP``) adds RFC 3948 UDP
    encapsulation.  *skip_icv* makes a decrypt-only SA for captures whose
    integrity key is unknown: that many ICV bytes are skipped unchecked and
    counted in ``stats["unverified"]``.  Its repr names the SPI, the
    algorithms (Scapy's names) and the encapsulation, never the keys:

    >>> from scapy.layers.inet import IP, UDP, ICMP
    >>> sa = SecurityAssociation(0x1001, crypt_algo="AES-GCM", crypt_key=bytes(16 + 4),
    ...                          tunnel_header=IP(src="192.0.2.2", dst="192.0.2.1"),
    ...                          nat_t_header=UDP(sport=4500, dport=4500))
    >>> sa
    <SecurityAssociation spi=0x00001001 AES-GCM (ICV 16) tunnel 192.0.2.2 > 192.0.2.1 UDP 4500 > 4500 seq=1>
    >>> sa.decrypt(sa.encrypt(IP(dst="198.51.100.1") / ICMP())).dst
    '198.51.100.1'
    """

    def __init__(self, spi, seq_num=1, crypt_algo="NULL", crypt_key=b"",
                 crypt_icv_size=None, auth_algo="NULL", auth_key=b"",
                 tunnel_header=None, nat_t_header=None, esn_en=False, esn=0,
                 replay_window=64, lifetime=Lifetime(), skip_icv=None):
        self.spi = spi
        self.cipher, self.integrity = _algorithms(crypt_algo, crypt_icv_size, auth_algo)
        salt = self.cipher.salt_size
        key, self.salt = (crypt_key[:-salt], crypt_key[-salt:]) if salt else (crypt_key, b"")
        if self.cipher.key_sizes != (0,) and len(key) not in self.cipher.key_sizes:
            raise ValueError("%s takes a key of %s bytes%s, not %d" % (
                self.cipher.name, "/".join(map(str, self.cipher.key_sizes)),
                " plus a %d-byte salt" % salt if salt else "", len(crypt_key)))
        if len(auth_key) != self.integrity.key_size and not self.integrity.mac.startswith("hmac"):
            raise ValueError("%s takes a %d-byte key, not %d" % (
                self.integrity.name, self.integrity.key_size, len(auth_key)))
        self.crypt_key, self.auth_key = crypt_key, auth_key   # for key logs
        name = self.cipher.name
        if self.cipher.aead:
            self._aead = Aead(name, key, self.salt, self.cipher.icv_size)
        elif name == "aesctr":
            self._crypt = AesCtr(key, self.salt)
        elif name != "null":
            self._crypt = block_cipher(name, key)
        self._mac = Mac(self.integrity.mac, auth_key, self.integrity.icv_size) \
            if self.integrity.icv_size else None
        self.icv_size = self.cipher.icv_size or self.integrity.icv_size
        self.skip_icv = skip_icv
        self.tunnel_header = tunnel_header
        self.nat_t_header = nat_t_header
        self.esn_en = esn_en
        self.seq_num = (esn << 32) | seq_num if esn_en else seq_num
        self.replay_window = replay_window
        self._top = esn << 32 if esn_en else 0   # highest sequence number received
        self._bitmap = 0         # bit i: top - i was received
        self.lifetime = lifetime
        self.soft_expired = False
        self._bytes = self._packets_in = self._packets_out = 0
        self._counts = Counter()

    def __repr__(self):
        algorithms = self.cipher.scapy or self.cipher.name
        if self.cipher.aead:
            algorithms += " (ICV %d)" % self.cipher.icv_size
        if self.integrity.icv_size or not self.cipher.aead:
            algorithms += " " + (self.integrity.scapy or self.integrity.name)
        if self.tunnel_header is not None:
            mode = "tunnel %s > %s" % (self.tunnel_header.src, self.tunnel_header.dst)
        else:
            mode = "transport"
        if self.nat_t_header is not None:
            mode += " UDP %d > %d" % (self.nat_t_header.sport, self.nat_t_header.dport)
        return "<SecurityAssociation spi=0x%08x %s %s seq=%d>" % (
            self.spi, algorithms, mode, self.seq_num)

    # -- the fast path -----------------------------------------------------

    def seal(self, payload, next_header=IPPROTO_IPIP, tfc_padding=0, iv=None):
        """The ESP packet (SPI .. ICV) carrying *payload* (RFC 4303 2).
        The IV is random for CBC and the sequence number for counter modes,
        unless given (known-answer tests)."""
        self._account(len(payload), False)
        seq = self.seq_num
        if seq >= (1 << (64 if self.esn_en else 32)):
            raise self._reject(LifetimeExpired("sequence number would cycle; rekey"))
        self.seq_num = seq + 1
        header = struct.pack("!II", self.spi, seq & 0xFFFFFFFF)
        cipher = self.cipher
        if tfc_padding:
            payload += bytes(tfc_padding)
        block = cipher.block_size
        pad = -(len(payload) + 2) % block
        plain = payload + PADDINGS[pad] + bytes((pad, next_header))
        if cipher.aead:
            iv = iv or struct.pack("!Q", seq)
            aad = header if not self.esn_en else header[:4] + struct.pack("!Q", seq)
            return header + iv + self._aead.seal(iv, plain, aad)
        if cipher.iv_size:
            iv = iv or (os.urandom(cipher.iv_size) if block > 4 else struct.pack("!Q", seq))
            body = header + iv + self._crypt.encrypt(iv, plain)
        else:
            body = header + plain
        if self._mac is None:
            return body
        return body + self._mac.compute(body + self._esn_high(seq))

    def open(self, data):
        """Check and decrypt one ESP packet (SPI .. ICV): an :class:`Opened`,
        or an :class:`EspError` subclass."""
        cipher = self.cipher
        icv = self.skip_icv if self.skip_icv is not None else self.icv_size
        if len(data) < 8 + cipher.iv_size + icv + 2:
            raise self._reject(MalformedError("%d bytes are too short for this SA" % len(data)))
        spi, seq_lo = _SPI_SEQ.unpack_from(data)
        if spi != self.spi:
            raise self._reject(MalformedError("SPI 0x%08x is not this SA's 0x%08x" % (spi, self.spi)))
        seq = self._check_replay(seq_lo)
        iv_end = 8 + cipher.iv_size
        iv = data[8:iv_end]
        if cipher.aead:
            aad = data[:8] if not self.esn_en else data[:4] + struct.pack("!Q", seq)
            try:
                plain = self._aead.open(iv, data[iv_end:], aad)
            except InvalidTag:
                raise self._reject(IntegrityError("ICV does not verify (seq %d)" % seq)) from None
        else:
            end = len(data) - icv
            if self.skip_icv is not None:
                self._counts["unverified"] += 1
            elif self._mac is not None:
                want = self._mac.compute(data[:end] + self._esn_high(seq))
                if not hmac.compare_digest(want, data[end:]):
                    raise self._reject(IntegrityError("ICV does not verify (seq %d)" % seq))
            body = data[iv_end:end]
            if cipher.iv_size or cipher.name != "null":
                if len(body) % cipher.block_size:
                    raise self._reject(MalformedError(
                        "%d bytes of ciphertext are not whole %d-byte blocks"
                        % (len(body), cipher.block_size)))
                plain = self._crypt.decrypt(iv, body)
            else:
                plain = body
        pad, next_header = plain[-2], plain[-1]
        if pad + 2 > len(plain) or plain[-2 - pad:-2] != PADDINGS[pad]:
            raise self._reject(PaddingError("bad padding (pad length %d): wrong key?" % pad))
        self._accept(seq)
        payload = plain[:-2 - pad]
        self._account(len(payload), True)
        return Opened(seq, next_header, payload, pad)

    # -- sequence numbers, replay window, lifetimes -------------------------

    def _esn_high(self, seq):
        """The high half of an ESN, appended for the ICV (RFC 4303 2.2.1)."""
        return struct.pack("!I", seq >> 32) if self.esn_en else b""

    def _check_replay(self, seq_lo):
        """The full sequence number of *seq_lo*, or a rejection
        (RFC 4303 3.4.3; high half inferred as in Appendix A2.2)."""
        window, top = self.replay_window, self._top
        if self.esn_en:
            top_lo, top_hi = top & 0xFFFFFFFF, top >> 32
            if top_lo >= window - 1:
                high = top_hi if seq_lo >= top_lo - window + 1 else top_hi + 1
            else:
                high = top_hi - 1 if seq_lo >= (top_lo - window + 1) % (1 << 32) else top_hi
            seq = (max(high, 0) << 32) | seq_lo
        else:
            seq = seq_lo
        if seq == 0:
            raise self._reject(WindowError("sequence number 0 is never sent"))
        if seq > top or not window:
            return seq
        if top - seq >= window:
            raise self._reject(WindowError("sequence number %d is left of the window (top %d)"
                                           % (seq, top)))
        if self._bitmap >> (top - seq) & 1:
            raise self._reject(ReplayError("sequence number %d replayed" % seq))
        return seq

    def _accept(self, seq):
        """Mark *seq* received (RFC 4303 3.4.3, Appendix A).  A number
        right of the window slides it: by shifting the bitmap, or, for a
        jump of the whole window or more, by starting it afresh, so that
        no jump costs more than the window.  Without a window only the
        top is kept (for the ESN high half)."""
        window, ahead = self.replay_window, seq - self._top
        if ahead > 0:
            self._bitmap = 1 if ahead >= window else \
                ((self._bitmap << ahead) | 1) & ((1 << window) - 1)
            self._top = seq
        elif window:
            self._bitmap |= 1 << -ahead

    def _account(self, size, incoming):
        life = self.lifetime
        total, packets = self._bytes + size, self._packets_in + self._packets_out + 1
        if (life.hard_bytes is not None and total > life.hard_bytes) or \
                (life.hard_packets is not None and packets > life.hard_packets):
            raise self._reject(LifetimeExpired("hard lifetime reached"))
        self._bytes = total
        if incoming:
            self._packets_in += 1
        else:
            self._packets_out += 1
        if (life.soft_bytes is not None and total >= life.soft_bytes) or \
                (life.soft_packets is not None and packets >= life.soft_packets):
            self.soft_expired = True

    def _reject(self, error):
        self._counts[error.reason] += 1
        return error

    @property
    def stats(self):
        """Payload bytes and packets accounted (``bytes``, ``packets``,
        ``packets_in``, ``packets_out``), packets opened without an ICV
        check (``unverified``) and rejections by reason (``integrity``,
        ``replay``, ...), as a fresh ``Counter``."""
        return Counter(bytes=self._bytes, packets=self._packets_in + self._packets_out,
                       packets_in=self._packets_in, packets_out=self._packets_out,
                       **self._counts)

    # -- Scapy packets at the edges ------------------------------------------

    def encrypt(self, pkt, tfc_padding=0):
        """ESP-protect an IP/IPv6 packet: wrapped in :attr:`tunnel_header`
        in tunnel mode, its payload replaced in transport mode.  The result
        is dissected when first used, like :meth:`decrypt`'s."""
        from scapy.layers.inet import IP
        from scapy.layers.inet6 import IPv6
        from scapy_ike.layers.lazy import dissect_later
        if self.tunnel_header is not None:
            inner = bytes(pkt)
            next_header = IPPROTO_IPV6 if inner[0] >> 4 == 6 else IPPROTO_IPIP
            outer = self.tunnel_header
            src, dst = outer.src, outer.dst
            esp = self.seal(inner, next_header, tfc_padding)
        else:
            wire = bytes(pkt)
            if wire[0] >> 4 == 6:
                if pkt.nh in (0, 43, 44, 60):
                    raise ValueError("transport mode over IPv6 extension headers is not supported")
                next_header, payload = wire[6], wire[40:40 + struct.unpack("!H", wire[4:6])[0]]
            else:
                ihl = (wire[0] & 15) * 4
                next_header, payload = wire[9], wire[ihl:struct.unpack("!H", wire[2:4])[0]]
            esp = self.seal(payload, next_header, tfc_padding)
            outer = pkt
            src, dst = pkt.src, pkt.dst
        if self.nat_t_header is not None:
            udp = self.nat_t_header
            sport = udp.sport if udp.sport is not None else NATT_PORT
            dport = udp.dport if udp.dport is not None else NATT_PORT
            esp = struct.pack("!HHHH", sport, dport, 8 + len(esp), 0) + esp
            proto = IPPROTO_UDP
        else:
            proto = IPPROTO_ESP
        if isinstance(outer, IPv6) or ":" in str(src):
            return dissect_later(IPv6, _ipv6_header(outer, src, dst, proto, esp) + esp)
        return dissect_later(IP, _ipv4_header(outer, src, dst, proto, esp) + esp)

    def decrypt(self, pkt):
        """The packet an ESP packet carries: the inner packet in tunnel
        mode, the rebuilt one in transport mode; None for a dummy packet
        (next header 59, RFC 4303 2.6).  It is dissected when first used
        (:func:`~scapy_ike.layers.lazy.dissect_later`): forwarding it or
        writing it out costs no dissection."""
        from scapy.layers.inet import IP, UDP
        from scapy.layers.inet6 import IPv6
        from scapy_ike.layers.lazy import dissect_later
        udp = pkt.getlayer(UDP)
        if udp is not None:                  # RFC 3948 encapsulation
            data = bytes(udp.payload)
        else:
            ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
            data = bytes(ip.payload)
        opened = self.open(data)
        if opened.next_header == IPPROTO_NONE:
            return None
        if opened.next_header == IPPROTO_IPIP:
            return dissect_later(IP, opened.payload)
        if opened.next_header == IPPROTO_IPV6:
            return dissect_later(IPv6, opened.payload)
        ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
        if isinstance(ip, IPv6):
            return dissect_later(IPv6, _ipv6_header(ip, ip.src, ip.dst, opened.next_header,
                                                    opened.payload) + opened.payload)
        return dissect_later(IP, _ipv4_header(ip, ip.src, ip.dst, opened.next_header,
                                              opened.payload) + opened.payload)


def _checksum(header):
    total = sum(struct.unpack("!10H", header))
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _ipv4_header(template, src, dst, proto, payload):
    """A 20-byte IPv4 header (RFC 791) for *payload*, with the template's
    TOS, ID, flags and TTL."""
    tos = template.tos or 0
    ident = template.id if template.id is not None else 1
    flags = int(template.flags) if template.flags is not None else 0
    ttl = template.ttl if template.ttl is not None else 64
    header = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(payload), ident, flags << 13,
                         ttl, proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return header[:10] + struct.pack("!H", _checksum(header)) + header[12:]


def _ipv6_header(template, src, dst, proto, payload):
    """A 40-byte IPv6 header (RFC 8200) for *payload*."""
    tc = getattr(template, "tc", 0) or 0
    fl = getattr(template, "fl", 0) or 0
    hlim = getattr(template, "hlim", 64) or 64
    return struct.pack("!IHBB16s16s", (6 << 28) | (tc << 20) | fl, len(payload), proto, hlim,
                       socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst))
