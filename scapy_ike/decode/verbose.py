"""A frame as a tree of named fields, like ``tshark -V``: Ethernet,
IPv4/IPv6, UDP, TCP, ICMP (RFC 792, 4443, 768, 9293) and ESP (RFC 4303)
headers read from the bytes, what ESP decrypted to, and the ISAKMP
messages (:mod:`~scapy_ike.decode.isakmp_tree`), decrypted ones
included.  Field labels are tshark's where it has the field, so that the
two can be read side by side.  XAuth passwords, passcodes and PINs are
shown as ``<hidden N bytes>`` unless *show_secrets*.
"""

import struct

from scapy_ike.decode import wire
from scapy_ike.decode.isakmp_tree import INDENT, fields, isakmp, message_lines, payloads
from scapy_ike.decode.summary import tcp_flags


def tree(record, show_secrets=False, ports=(500, 4500), scapy=False):
    """The lines of *record*'s tree (a :class:`~scapy_ike.decode.session.Record`);
    *ports* are the IKE and NAT-T ports.  Link, IP, UDP, TCP, ICMP, ESP and
    well-formed ISAKMP headers are read from the bytes (with *scapy*,
    ISAKMP messages are dissected by Scapy, which gives the same lines);
    Scapy dissects malformed ISAKMP messages, and the whole frame when its
    link type or IP header is one the bytes path leaves out
    (:mod:`~scapy_ike.decode.wire`)."""
    lines = ["Frame %d: %d bytes" % (record.frame, len(record.data))]
    ip = _link(lines, record, ports)
    if ip is None:
        del lines[1:]
        _packet(lines, record.packet, show_secrets)
    else:
        _ip(lines, ip, show_secrets, scapy)
    opened = iter(record.opened)
    for spi, result, verified in record.esp:
        lines.append("ESP decrypted: SPI 0x%08x, ICV %s" % (
            spi, "verified" if verified else "not checked"))
        lines.append(INDENT + "ESP Pad Length: %d" % result.pad_length)
        lines.append(INDENT + "Next header: %d" % result.next_header)
        layer = next(opened, None)
        if layer is not None:
            at = record.opened.index(layer)
            inner = record.inner_ips[at] if record.inner_ips else wire.parse_ip(layer[1], 0, *ports)
            if inner is not None:
                _ip(lines, inner, show_secrets, scapy)
            else:
                _packet(lines, record.inner[at], show_secrets)
    for _, data, _ in opened:
        lines.append("Decrypted payloads")
        if scapy or not message_lines(lines, data, show_secrets, 1, with_header=False):
            from scapy_ike.layers.isakmp import ISAKMP
            payloads(lines, ISAKMP(data), show_secrets, 1)
    for note in record.notes:
        lines.append("[%s]" % note)
    if record.error:
        lines.append("[error: %s]" % record.error)
    return lines


def _link(lines, record, ports):
    """The link layer's lines, and the IP packet it carries (None: Scapy
    shows the frame)."""
    linktype, data = record.linktype, record.data
    if linktype == wire.ETHERNET and data[12:14] in (b"\x08\x00", b"\x86\xdd"):
        lines.append("Ethernet II, Src: %s, Dst: %s" % (data[6:12].hex(":"), data[0:6].hex(":")))
        lines.append(INDENT + "Type: 0x%04x" % struct.unpack_from("!H", data, 12))
        offset = 14
    elif linktype in (wire.RAW, wire.RAW_BSD, wire.RAW_OPENBSD, wire.IPV4, wire.IPV6):
        offset = 0
    else:
        return None
    if record.ip is not None and record.ip.start - len(record.ip.header) == offset:
        return record.ip
    return wire.parse_ip(data, offset, *ports)


def _ip(lines, ip, show_secrets, scapy):
    """An IP packet's lines from its bytes, down to its transport header,
    ESP header or ISAKMP message."""
    header, data, start, end = ip.header, ip.data, ip.start, ip.end
    if ip.version == 4:
        total, ident, ttl = struct.unpack_from("!2xHH2xB", header)
        fields(lines, "Internet Protocol Version 4, Src: %s, Dst: %s" % (ip.src, ip.dst),
                [("Total Length", total), ("Identification", "0x%04x (%d)" % (ident, ident)),
                 ("Time to Live", ttl), ("Protocol", ip.proto), ("Source Address", ip.src),
                 ("Destination Address", ip.dst)])
    else:
        plen, _, hlim = struct.unpack_from("!4xHBB", header)
        fields(lines, "Internet Protocol Version 6, Src: %s, Dst: %s" % (ip.src, ip.dst),
                [("Payload Length", plen), ("Next Header", ip.proto), ("Hop Limit", hlim),
                 ("Source Address", ip.src), ("Destination Address", ip.dst)])
    size, length = end - start, None
    if ip.sport is not None:
        length = struct.unpack_from("!H", data, start + 4)[0]
        fields(lines, "User Datagram Protocol, Src Port: %d, Dst Port: %d" % (ip.sport, ip.dport),
                [("Source Port", ip.sport), ("Destination Port", ip.dport), ("Length", length)])
        if ip.kind is None:
            lines.append(INDENT + "Data: %d bytes" % max(0, min(length, size) - 8))
    if ip.kind == wire.ESP:
        _esp(lines, ip.body)
    elif ip.kind == wire.KEEPALIVE:
        lines.append("UDP Encapsulation of IPsec Packets: NAT-keepalive")
    elif ip.kind == wire.ISAKMP:
        from scapy_ike.layers.isakmp import ISAKMP, ISAKMP_Truncated
        if len(ip.body) == length - 12:          # behind the non-ESP marker (RFC 3948 2.2)
            lines.append("UDP Encapsulation of IPsec Packets")
            lines.append(INDENT + "Non-ESP Marker: 0x00000000")
        lines.append("Internet Security Association and Key Management Protocol")
        if not scapy and message_lines(lines, ip.body, show_secrets, 1):
            return
        message = ISAKMP(ip.body)
        if isinstance(message, ISAKMP_Truncated):
            lines.append(INDENT + "[malformed: %s]" % message.malformed)
        else:
            isakmp(lines, message, show_secrets, 1)
    elif ip.sport is None:
        _transport(lines, ip, size)


def _esp(lines, body):
    if len(body) < 8:
        lines.append("Encapsulating Security Payload")
        lines.append(INDENT + "[truncated: %d bytes]" % len(body))
        return
    spi, seq = struct.unpack_from("!II", body)
    fields(lines, "Encapsulating Security Payload",
            [("ESP SPI", "0x%08x (%d)" % (spi, spi)), ("ESP Sequence", seq),
             ("ESP Data", "%d bytes" % (len(body) - 8))])


def _transport(lines, ip, size):
    """ICMP, ICMPv6 or TCP from the bytes; another protocol by number."""
    data, start, proto = ip.data, ip.start, ip.proto
    if proto in (1, 58) and (proto == 1) == (ip.version == 4) and size >= 8:
        kind, code, _, ident, seq = struct.unpack_from("!BBHHH", data, start)
        fields(lines, "Internet Control Message Protocol" + (" v6" if proto == 58 else ""),
                [("Type", kind), ("Code", code),
                 ("Identifier (BE)", "%d (0x%04x)" % (ident, ident)),
                 ("Sequence Number (BE)", "%d (0x%04x)" % (seq, seq)),
                 ("Data", "%d bytes" % (size - 8))])
    elif proto == 6 and size >= 20:
        sport, dport, seq, ack, offset, flags = struct.unpack_from("!HHIIBB", data, start)
        bits = flags | (offset & 1) << 8
        fields(lines, "Transmission Control Protocol, Src Port: %d, Dst Port: %d" % (sport, dport),
                [("Source Port", sport), ("Destination Port", dport),
                 ("Sequence Number (raw)", seq), ("Acknowledgment number (raw)", ack),
                 ("Flags", "0x%03x (%s)" % (bits, tcp_flags(bits))),
                 ("Data", "%d bytes" % max(0, size - (offset >> 4) * 4))])
    else:
        lines.append("Data: protocol %d, %d bytes" % (proto, size))


def _packet(lines, pkt, show_secrets):
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.ipsec import ESP, NAT_KEEPALIVE, NON_ESP
    from scapy.layers.l2 import Ether
    from scapy.packet import Padding, Raw
    from scapy_ike.layers.isakmp import ISAKMP, ISAKMP_Truncated
    layer = pkt
    while layer is not None and layer.name != "NoPayload" and type(layer).__name__ != "NoPayload":
        if isinstance(layer, Ether):
            lines.append("Ethernet II, Src: %s, Dst: %s" % (layer.src, layer.dst))
            lines.append(INDENT + "Type: 0x%04x" % layer.type)
        elif isinstance(layer, IP):
            fields(lines, "Internet Protocol Version 4, Src: %s, Dst: %s" % (layer.src, layer.dst),
                    [("Total Length", layer.len),
                     ("Identification", "0x%04x (%d)" % (layer.id, layer.id)),
                     ("Time to Live", layer.ttl), ("Protocol", layer.proto),
                     ("Source Address", layer.src), ("Destination Address", layer.dst)])
        elif isinstance(layer, IPv6):
            fields(lines, "Internet Protocol Version 6, Src: %s, Dst: %s" % (layer.src, layer.dst),
                    [("Payload Length", layer.plen), ("Next Header", layer.nh),
                     ("Hop Limit", layer.hlim), ("Source Address", layer.src),
                     ("Destination Address", layer.dst)])
        elif isinstance(layer, UDP):
            fields(lines, "User Datagram Protocol, Src Port: %d, Dst Port: %d"
                    % (layer.sport, layer.dport),
                    [("Source Port", layer.sport), ("Destination Port", layer.dport),
                     ("Length", layer.len)])
            if isinstance(layer.payload, Raw):
                lines.append(INDENT + "Data: %d bytes" % len(layer.payload.load))
        elif isinstance(layer, TCP):
            fields(lines, "Transmission Control Protocol, Src Port: %d, Dst Port: %d"
                    % (layer.sport, layer.dport),
                    [("Source Port", layer.sport), ("Destination Port", layer.dport),
                     ("Sequence Number (raw)", layer.seq),
                     ("Acknowledgment number (raw)", layer.ack),
                     ("Flags", "0x%03x (%s)" % (int(layer.flags), layer.flags))])
        elif isinstance(layer, ICMP):
            raw = bytes(layer)[:8].ljust(8, b"\0")
            kind, code, _, ident, seq = struct.unpack("!BBHHH", raw)
            fields(lines, "Internet Control Message Protocol",
                    [("Type", kind), ("Code", code),
                     ("Identifier (BE)", "%d (0x%04x)" % (ident, ident)),
                     ("Sequence Number (BE)", "%d (0x%04x)" % (seq, seq)),
                     ("Data", "%d bytes" % max(0, len(raw) and len(bytes(layer)) - 8))])
        elif isinstance(layer, NAT_KEEPALIVE):
            lines.append("UDP Encapsulation of IPsec Packets: NAT-keepalive")
        elif isinstance(layer, NON_ESP):
            lines.append("UDP Encapsulation of IPsec Packets")
            lines.append(INDENT + "Non-ESP Marker: 0x%08x" % layer.non_esp)
        elif isinstance(layer, ESP):
            fields(lines, "Encapsulating Security Payload",
                    [("ESP SPI", "0x%08x (%d)" % (layer.spi, layer.spi)),
                     ("ESP Sequence", layer.seq),
                     ("ESP Data", "%d bytes" % len(layer.data or b""))])
            return
        elif isinstance(layer, ISAKMP_Truncated):
            lines.append("Internet Security Association and Key Management Protocol")
            lines.append(INDENT + "[malformed: %s]" % layer.malformed)
            return
        elif isinstance(layer, ISAKMP):
            lines.append("Internet Security Association and Key Management Protocol")
            isakmp(lines, layer, show_secrets, 1)
            return
        elif isinstance(layer, (Raw, Padding)):
            return
        else:
            lines.append(layer.name)
            lines += ["%s%s: %s" % (INDENT, f.name, f.i2repr(layer, layer.getfieldval(f.name)))
                      for f in layer.fields_desc]
        layer = layer.payload
