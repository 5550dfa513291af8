"""Link, IP and UDP headers of a frame read with :mod:`struct`, to find the
ISAKMP message or ESP packet it carries without dissecting it with Scapy.

Link types (tcpdump's LINKTYPE_ registry): Ethernet with 802.1Q/802.1ad
tags, BSD loopback (NULL and LOOP), raw IP, IPv4, IPv6, Linux cooked
capture v1 and v2.  IPv4 (RFC 791) with options, IPv6 (RFC 8200) without
extension headers; fragments, extension headers and other link types are
left to Scapy (:attr:`Frame.ip` is None).  UDP port 500 carries ISAKMP,
port 4500 the non-ESP marker and ISAKMP, a NAT keep-alive, or ESP
(RFC 3948 2).
"""

import socket
import struct

ETHERNET, NULL, RAW, RAW_BSD, RAW_OPENBSD, IPV4, IPV6, SLL, LOOP, SLL2 = \
    1, 0, 101, 12, 14, 228, 229, 113, 108, 276
ETH_IPV4, ETH_IPV6, ETH_VLAN, ETH_QINQ = 0x0800, 0x86DD, 0x8100, 0x88A8
PROTO_ICMP, PROTO_TCP, PROTO_UDP, PROTO_ESP, PROTO_ICMPV6 = 1, 6, 17, 50, 58
IPV6_EXTENSIONS = frozenset((0, 43, 44, 51, 60, 135, 139, 140))
AF_INET6_BSD = frozenset((10, 24, 28, 30))      # Linux, NetBSD/OpenBSD, FreeBSD, Darwin

ISAKMP, ESP, KEEPALIVE = "isakmp", "esp", "keepalive"


class Ip:
    """One IPv4 or IPv6 packet's header fields and where its payload is."""

    __slots__ = ("version", "src", "dst", "proto", "header", "data", "start", "end",
                 "sport", "dport", "kind", "body")

    def __init__(self, version, src, dst, proto, header, data, start, end):
        self.version, self.src, self.dst, self.proto = version, src, dst, proto
        self.header = header          # the IP header's bytes (IPv4 options included)
        self.data, self.start, self.end = data, start, end   # the payload: data[start:end]
        self.sport = self.dport = self.kind = self.body = None
        # kind: ISAKMP, ESP, KEEPALIVE or None (anything else); body: the
        # ISAKMP message or the ESP packet (SPI .. ICV)


def link_payload(linktype, data):
    """The offset of the IP header in a frame, or None."""
    if linktype == ETHERNET:
        offset, ethertype = 14, data[12:14]
        while ethertype in (b"\x81\x00", b"\x88\xa8") and len(data) >= offset + 4:
            ethertype, offset = data[offset + 2:offset + 4], offset + 4
        return offset if ethertype in (b"\x08\x00", b"\x86\xdd") else None
    if linktype in (RAW, RAW_BSD, RAW_OPENBSD, IPV4, IPV6):
        return 0
    if linktype in (NULL, LOOP):
        if len(data) < 4:
            return None
        family = struct.unpack("<I" if linktype == NULL and data[0] else "!I", data[:4])[0]
        return 4 if family == 2 or family in AF_INET6_BSD else None
    if linktype == SLL:
        return 16 if data[14:16] in (b"\x08\x00", b"\x86\xdd") else None
    if linktype == SLL2:
        return 20 if data[0:2] in (b"\x08\x00", b"\x86\xdd") else None
    return None


IPV4_HEADER = struct.Struct("!BxHxxHxB2x8s")     # version and IHL, length, fragment, proto, addresses
ETHER_IPV4 = struct.Struct("!12x2sBxHxxHxB2x8s")  # Ethernet type, then IPV4_HEADER
UDP_HEADER = struct.Struct("!HHH")                # ports, length (RFC 768)
_NAMES = {}


def address_texts(raw):
    """Source and destination addresses (both halves of *raw*) as text;
    the same few pairs recur, so they are kept."""
    pair = _NAMES.get(raw)
    if pair is None:
        if len(_NAMES) > 65536:
            _NAMES.clear()
        half = len(raw) // 2
        family = socket.AF_INET if half == 4 else socket.AF_INET6
        pair = _NAMES[raw] = (socket.inet_ntop(family, raw[:half]),
                              socket.inet_ntop(family, raw[half:]))
    return pair


def parse_ip(data, offset=0, ike_port=500, natt_port=4500):
    """The :class:`Ip` at *offset* in *data*, its UDP ports and what it
    carries, or None when it is not a whole unfragmented IPv4 packet or an
    IPv6 packet without extension headers."""
    size = len(data)
    if size < offset + 20:
        return None
    version = data[offset] >> 4
    if version == 4:
        vihl, total, frag, proto, pair = IPV4_HEADER.unpack_from(data, offset)
        ihl = (vihl & 15) * 4
        if ihl < 20 or total < ihl or offset + total > size or frag & 0x3FFF:
            return None
        ip = Ip(4, *address_texts(pair), proto, data[offset:offset + ihl], data,
                offset + ihl, offset + total)
    elif version == 6:
        if size < offset + 40:
            return None
        plen, proto = struct.unpack_from("!HB", data, offset + 4)
        if proto in IPV6_EXTENSIONS or offset + 40 + plen > size:
            return None
        ip = Ip(6, *address_texts(data[offset + 8:offset + 40]), proto,
                data[offset:offset + 40], data, offset + 40, offset + 40 + plen)
    else:
        return None
    start, end = ip.start, ip.end
    if proto == PROTO_ESP:
        ip.kind, ip.body = ESP, data[start:end]
    elif proto == PROTO_UDP and end - start >= 8:
        sport, dport, length = struct.unpack_from("!HHH", data, start)
        ip.sport, ip.dport = sport, dport
        if length < 8 or start + length > end:
            return ip                      # a bad UDP length: Scapy says what it makes of it
        kind, start, end = udp_payload(data, start + 8, start + length, (sport, dport),
                                       ike_port, natt_port)
        if kind is not None:
            ip.kind, ip.body = kind, None if kind == KEEPALIVE else data[start:end]
    return ip


def udp_payload(data, start, end, ports, ike_port=500, natt_port=4500):
    """``(ISAKMP, ESP, KEEPALIVE or None, start, end)``: what the UDP
    payload ``data[start:end]`` between *ports* carries, and where: port
    4500 the non-ESP marker and ISAKMP, a NAT keep-alive, or ESP (RFC 3948
    2), port 500 ISAKMP."""
    if natt_port in ports and ike_port not in ports:
        if end - start >= 4 and data[start:start + 4] == b"\x00\x00\x00\x00":
            return ISAKMP, start + 4, end
        if end - start == 1 and data[start] == 0xFF:
            return KEEPALIVE, start, end
        return (ESP if end > start else None), start, end
    if ike_port in ports and natt_port not in ports:
        return ISAKMP, start, end
    return None, start, end


NOTHING = (None, None, None, 0, 0)
"""What :func:`ether_ipv4` gives for a frame that carries neither ISAKMP nor ESP."""


def ether_ipv4(data, start, end, ike_port=500, natt_port=4500):
    """What the Ethernet frame ``data[start:end]`` carries, read in place
    where it is IPv4 without options (RFC 791), as :func:`parse_ip` tells
    it: ``(ISAKMP or ESP, addresses, UDP ports or None, start, end)`` of
    the message or the ESP packet (alone, RFC 4303, or in UDP, RFC 3948
    2), :data:`NOTHING` for anything else, and None for a frame that is
    not such IPv4 (:func:`parse_ip` must read it)."""
    if end - start < 42:
        return None
    ethertype, vihl, total, frag, proto, pair = ETHER_IPV4.unpack_from(data, start)
    if ethertype != b"\x08\x00" or vihl != 0x45:
        return None
    if total < 20 or 14 + total > end - start or frag & 0x3FFF:
        return NOTHING
    ip = start + 14
    if proto == PROTO_ESP:
        return ESP, pair, None, ip + 20, ip + total
    if proto != PROTO_UDP or total < 28:
        return NOTHING
    sport, dport, length = UDP_HEADER.unpack_from(data, ip + 20)
    if length < 8 or 20 + length > total:
        return NOTHING
    ports = (sport, dport)
    kind, start, end = udp_payload(data, ip + 28, ip + 20 + length, ports, ike_port, natt_port)
    return NOTHING if kind in (None, KEEPALIVE) else (kind, pair, ports, start, end)


def transport_header(ip, next_header, length):
    """*ip*'s header for a transport-mode payload of *length* bytes with
    protocol *next_header* (RFC 4303 3.1.1): IPv4 with its total length and
    checksum recomputed, IPv6 with its payload length."""
    header = bytearray(ip.header)
    if ip.version == 6:
        struct.pack_into("!HB", header, 4, length, next_header)
        return bytes(header)
    struct.pack_into("!H", header, 2, len(header) + length)
    header[9], header[10:12] = next_header, b"\x00\x00"
    total = sum(struct.unpack("!%dH" % (len(header) // 2), header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    struct.pack_into("!H", header, 10, ~total & 0xFFFF)
    return bytes(header)
