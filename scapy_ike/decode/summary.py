"""One-line descriptions of packets, like tshark's Info column, made two
ways that give the same text: from the bytes with :mod:`struct` (the fast
path, :func:`ip_summary`, :func:`isakmp_summary`), and from a Scapy packet
(:func:`describe`), which also covers what the fast path leaves out
(it answers None there): malformed messages, other protocols.

ICMP (RFC 792), ICMPv6 (RFC 4443), UDP (RFC 768) and TCP (RFC 9293) over
IPv4 or IPv6; ISAKMP messages with every payload named, the proposals and
transforms inside an SA included (RFC 2408 3.1-3.6); ESP by SPI and
sequence number (RFC 4303 2).
"""

import struct

from scapy_ike.constants import PAYLOAD_MIN_LENGTHS
from scapy_ike.names import EXCHANGE_NAMES, PAYLOAD_NAMES

ICMP_NAMES = {0: "echo-reply", 3: "dest-unreach", 4: "source-quench", 5: "redirect",
              8: "echo-request", 9: "router-advertisement", 10: "router-solicitation",
              11: "time-exceeded", 12: "parameter-problem", 13: "timestamp-request",
              14: "timestamp-reply"}
ICMPV6_NAMES = {1: "dest-unreach", 2: "packet-too-big", 3: "time-exceeded",
                4: "parameter-problem", 128: "echo-request", 129: "echo-reply",
                133: "router-solicitation", 134: "router-advertisement",
                135: "neighbor-solicitation", 136: "neighbor-advertisement"}
ECHO = {1: (0, 8), 58: (128, 129)}
TCP_FLAGS = "FSRPAUECN"
PROPOSAL, TRANSFORM, SA = 2, 3, 1
GENERIC = struct.Struct("!BBH")


def tcp_flags(bits):
    """TCP's flag bits as letters, as Scapy writes them (``SA``)."""
    return "".join(c for i, c in enumerate(TCP_FLAGS) if bits >> i & 1)


def _icmp(name, table, proto, src, dst, kind, code, ident, seq):
    text = "%s %s > %s %s" % (name, src, dst, table.get(kind, "type=%d" % kind))
    if code:
        text += " code=%d" % code
    if kind in ECHO[proto]:
        text += " id=%d seq=%d" % (ident, seq)
    return text


def transport_line(proto, src, dst, fields):
    """The text for ICMP, ICMPv6, UDP or TCP from their header *fields*:
    ICMP ``(type, code, id, seq)``, UDP ``(sport, dport, length)``, TCP
    ``(sport, dport, seq, ack, flags, payload length)``."""
    if proto == 1:
        return _icmp("ICMP", ICMP_NAMES, 1, src, dst, *fields)
    if proto == 58:
        return _icmp("ICMPv6", ICMPV6_NAMES, 58, src, dst, *fields)
    if proto == 17:
        sport, dport, length = fields
        return "UDP %s:%d > %s:%d len=%d" % (src, sport, dst, dport, length - 8)
    sport, dport, seq, ack, flags, length = fields
    return "TCP %s:%d > %s:%d [%s] seq=%d ack=%d len=%d" % (
        src, sport, dst, dport, tcp_flags(flags), seq, ack, length)


def ip_summary(ip, ike_port=500, natt_port=4500):
    """The description of a :class:`~scapy_ike.decode.wire.Ip` carrying
    ICMP, ICMPv6, UDP or TCP, or None (anything else, or a header cut
    short)."""
    return transport_summary(ip.version, ip.proto, ip.src, ip.dst, ip.data, ip.start, ip.end,
                             ike_port, natt_port)


def transport_summary(version, proto, src, dst, data, start, end, ike_port=500, natt_port=4500):
    """As :func:`ip_summary`, for the payload ``data[start:end]`` of an IP
    packet of *version* and protocol *proto* from *src* to *dst*."""
    if proto in (1, 58) and (proto == 1) == (version == 4) and end - start >= 8:
        kind, code, _, ident, seq = struct.unpack_from("!BBHHH", data, start)
        return transport_line(proto, src, dst, (kind, code, ident, seq))
    if proto == 17 and end - start >= 8:
        sport, dport, length = struct.unpack_from("!HHH", data, start)
        if 8 <= length <= end - start and sport not in (ike_port, natt_port) \
                and dport not in (ike_port, natt_port):
            return transport_line(17, src, dst, (sport, dport, length))
    if proto == 6 and end - start >= 20:
        sport, dport, seq, ack, offset, flags = struct.unpack_from("!HHIIBB", data, start)
        size = (offset >> 4) * 4
        if 20 <= size <= end - start:
            bits = flags | (offset & 1) << 8
            return transport_line(6, src, dst, (sport, dport, seq, ack, bits, end - start - size))
    return None


def esp_line(addresses, spi, seq):
    return "ESP %sSPI=0x%08x seq=%d" % (addresses, spi, seq)


def addresses(src, dst, sport=None, dport=None):
    """``src:sport > dst:dport `` (ports over UDP only)."""
    if sport is None:
        return "%s > %s " % (src, dst)
    return "%s:%d > %s:%d " % (src, sport, dst, dport)


def isakmp_line(addr, exch_type, cky_i, cky_r, message_id, kinds):
    """The text of an ISAKMP message; *kinds* are its payloads' names."""
    name = str(EXCHANGE_NAMES.get(exch_type, exch_type)).lower()
    return "ISAKMP %s%s %s>%s id=%08x [%s]" % (addr, name, cky_i.hex(), cky_r.hex(),
                                             message_id, " ".join(kinds))


def isakmp_summary(data, addr="", padded=False):
    """The description of the ISAKMP message *data*, or None when it is
    malformed in any way (Scapy says how).  *padded*: a decrypted body,
    whose padding follows the last payload (RFC 2408 3.5)."""
    if len(data) < 28 or data[17] >> 4 != 1:
        return None
    cky_i, cky_r, first, _, exch, flags, mid, length = struct.unpack_from("!8s8sBBBBII", data)
    if not 28 <= length <= len(data):
        return None
    body = data[28:length]
    if flags & 1:
        return isakmp_line(addr, exch, cky_i, cky_r, mid, ["<encrypted %d bytes>" % len(body)])
    kinds = []
    if not _walk(first, body, kinds, padded, 0):
        return None
    return isakmp_line(addr, exch, cky_i, cky_r, mid, kinds)


def _walk(ptype, data, kinds, padded, depth):
    """Append the names of the chain from *ptype* in *data*; False when a
    payload is shorter than its class needs, or bytes are left over."""
    offset = 0
    while ptype:
        if offset + 4 > len(data) or len(kinds) >= 100:
            return False
        following, _, length = GENERIC.unpack_from(data, offset)
        if length < PAYLOAD_MIN_LENGTHS.get(ptype, GENERIC.size) or offset + length > len(data):
            return False
        kinds.append(PAYLOAD_NAMES.get(ptype, str(ptype)))
        payload = data[offset + 4:offset + length]
        if ptype == SA:
            if not _walk(PROPOSAL, payload[8:], kinds, False, depth + 1):
                return False
        elif ptype == PROPOSAL:
            spi_size, count = payload[2], payload[3]
            if not _walk(TRANSFORM if count else 0, payload[4 + spi_size:], kinds, False,
                         depth + 1):
                return False
        ptype, offset = following, offset + length
    return padded or offset == len(data)


def describe(pkt):
    """The description of a Scapy packet, as the fast path gives it where
    both apply; for other protocols, Scapy's own summary."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.ipsec import ESP, NAT_KEEPALIVE
    from scapy_ike.layers.isakmp import (
        ISAKMP, ISAKMP_Encrypted, ISAKMP_Truncated, iter_payloads, malformed,
    )
    ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
    udp = pkt.getlayer(UDP)
    addr = "" if ip is None else addresses(ip.src, ip.dst, *((udp.sport, udp.dport) if udp else ()))
    head = pkt.getlayer(ISAKMP) or pkt.getlayer(ISAKMP_Truncated)
    if isinstance(head, ISAKMP_Truncated):
        return "ISAKMP [malformed: %s]" % head.malformed
    if head is not None:
        kinds = [PAYLOAD_NAMES.get(t, str(t)) for t, _ in iter_payloads(head)]
        if head.haslayer(ISAKMP_Encrypted):
            kinds.append("<encrypted %d bytes>" % len(head[ISAKMP_Encrypted].load))
        info = isakmp_line(addr, head.exch_type, head.init_cookie, head.resp_cookie, head.id,
                           kinds)
        problems = malformed(head)
        if problems:
            info += " [malformed: %s]" % "; ".join("%s: %s" % p for p in problems)
        return info
    if pkt.haslayer(NAT_KEEPALIVE):
        return "UDPENCAP %sNAT-keepalive" % addr
    if pkt.haslayer(ESP):
        return esp_line(addr, pkt[ESP].spi, pkt[ESP].seq)
    if ip is not None:
        line = _transport(ip)
        if line is not None:
            return line
    return pkt.summary()


def _transport(ip):
    """The fast path's text from Scapy's fields of *ip*'s ICMP, ICMPv6,
    UDP or TCP header, or None where the fast path gives none."""
    from scapy.layers.inet import TCP, UDP
    v4 = ip.version == 4
    proto = ip.proto if v4 else ip.nh
    size = (ip.len - ip.ihl * 4) if v4 else ip.plen
    layer = ip.payload
    raw = bytes(layer)
    if len(raw) < size:
        return None
    if proto in (1, 58) and (proto == 1) == v4 and size >= 8:
        kind, code, _, ident, seq = struct.unpack_from("!BBHHH", raw)
        return transport_line(proto, ip.src, ip.dst, (kind, code, ident, seq))
    if proto == 17 and isinstance(layer, UDP):
        if {layer.sport, layer.dport} & {500, 4500} or not 8 <= layer.len <= size:
            return None
        return transport_line(17, ip.src, ip.dst, (layer.sport, layer.dport, layer.len))
    if proto == 6 and isinstance(layer, TCP) and 20 <= layer.dataofs * 4 <= size:
        return transport_line(6, ip.src, ip.dst, (layer.sport, layer.dport, layer.seq, layer.ack,
                                                  int(layer.flags), size - layer.dataofs * 4))
    return None
