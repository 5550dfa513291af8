"""A frame as a tree of named fields, like ``tshark -V``: Ethernet,
IPv4/IPv6, UDP, TCP, ICMP, ESP (and what it decrypted to) read from the
bytes, and, from Scapy's dissection, every ISAKMP payload (RFC 2408 3.1-3.16): proposals and
transforms with their attributes named and valued (RFC 2409 Appendix A,
RFC 2407 4.5), identities as text (RFC 2407 4.6.2), KE, nonce and hash
values with their lengths, notifies by name with SPI and data, Delete
SPIs, vendor IDs by name, and XAuth and Mode Config attributes
(draft-beaulieu-ike-xauth-02, draft-dukes-ike-mode-cfg-02) by name with
values.  Field labels are tshark's where it has the field, so that the two
can be read side by side.

XAuth passwords, passcodes and PINs are shown as ``<hidden N bytes>`` unless
*show_secrets*.
"""

import socket
import struct

from scapy_ike.constants import ProtocolId, vendor_id_name
from scapy_ike.decode import wire
from scapy_ike.decode.attributes import read_attribute
from scapy_ike.decode.summary import tcp_flags

INDENT = "    "
ATTRIBUTE_LABELS = {ProtocolId.ISAKMP: "IKE Attribute"}


def tree(record, show_secrets=False, ports=(500, 4500)):
    """The lines of *record*'s tree (a :class:`~scapy_ike.decode.session.Record`);
    *ports* are the IKE and NAT-T ports.  Link, IP, UDP, TCP, ICMP and ESP
    headers are read from the bytes; Scapy dissects the ISAKMP messages,
    and the whole frame when its link type or IP header is one the bytes
    path leaves out (:mod:`~scapy_ike.decode.wire`)."""
    lines = ["Frame %d: %d bytes" % (record.frame, len(record.data))]
    ip = _link(lines, record.linktype, record.data, ports)
    if ip is None:
        del lines[1:]
        _packet(lines, record.packet, show_secrets)
    else:
        _ip(lines, ip, show_secrets)
    opened = iter(record.opened)
    for spi, result, verified in record.esp:
        lines.append("ESP decrypted: SPI 0x%08x, ICV %s" % (
            spi, "verified" if verified else "not checked"))
        lines.append(INDENT + "ESP Pad Length: %d" % result.pad_length)
        lines.append(INDENT + "Next header: %d" % result.next_header)
        layer = next(opened, None)
        if layer is not None:
            inner = wire.parse_ip(layer[1], 0, *ports)
            if inner is not None:
                _ip(lines, inner, show_secrets)
            else:
                _packet(lines, record.inner[record.opened.index(layer)], show_secrets)
    for _, data, _ in opened:
        from scapy_ike.layers.isakmp import ISAKMP
        lines.append("Decrypted payloads")
        _payloads(lines, ISAKMP(data), show_secrets, 1)
    for note in record.notes:
        lines.append("[%s]" % note)
    if record.error:
        lines.append("[error: %s]" % record.error)
    return lines


def _link(lines, linktype, data, ports):
    """The link layer's lines, and the IP packet it carries (None: Scapy
    shows the frame)."""
    if linktype == wire.ETHERNET and data[12:14] in (b"\x08\x00", b"\x86\xdd"):
        lines.append("Ethernet II, Src: %s, Dst: %s" % (_mac(data[6:12]), _mac(data[0:6])))
        lines.append(INDENT + "Type: 0x%04x" % struct.unpack_from("!H", data, 12))
        return wire.parse_ip(data, 14, *ports)
    if linktype in (wire.RAW, wire.RAW_BSD, wire.RAW_OPENBSD, wire.IPV4, wire.IPV6):
        return wire.parse_ip(data, 0, *ports)
    return None


def _mac(raw):
    return ":".join("%02x" % b for b in raw)


def _ip(lines, ip, show_secrets):
    """An IP packet's lines from its bytes, down to its transport header,
    ESP header or ISAKMP message."""
    header, data, start, end = ip.header, ip.data, ip.start, ip.end
    if ip.version == 4:
        total, ident, ttl = struct.unpack_from("!2xHH2xB", header)
        _fields(lines, "Internet Protocol Version 4, Src: %s, Dst: %s" % (ip.src, ip.dst),
                [("Total Length", total), ("Identification", "0x%04x (%d)" % (ident, ident)),
                 ("Time to Live", ttl), ("Protocol", ip.proto), ("Source Address", ip.src),
                 ("Destination Address", ip.dst)])
    else:
        plen, _, hlim = struct.unpack_from("!4xHBB", header)
        _fields(lines, "Internet Protocol Version 6, Src: %s, Dst: %s" % (ip.src, ip.dst),
                [("Payload Length", plen), ("Next Header", ip.proto), ("Hop Limit", hlim),
                 ("Source Address", ip.src), ("Destination Address", ip.dst)])
    size, length = end - start, None
    if ip.sport is not None:
        length = struct.unpack_from("!H", data, start + 4)[0]
        _fields(lines, "User Datagram Protocol, Src Port: %d, Dst Port: %d" % (ip.sport, ip.dport),
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
        message = ISAKMP(ip.body)
        if isinstance(message, ISAKMP_Truncated):
            lines.append(INDENT + "[malformed: %s]" % message.malformed)
        else:
            _isakmp(lines, message, show_secrets, 1)
    elif ip.sport is None:
        _transport(lines, ip, size)


def _esp(lines, body):
    if len(body) < 8:
        lines.append("Encapsulating Security Payload")
        lines.append(INDENT + "[truncated: %d bytes]" % len(body))
        return
    spi, seq = struct.unpack_from("!II", body)
    _fields(lines, "Encapsulating Security Payload",
            [("ESP SPI", "0x%08x (%d)" % (spi, spi)), ("ESP Sequence", seq),
             ("ESP Data", "%d bytes" % (len(body) - 8))])


def _transport(lines, ip, size):
    """ICMP, ICMPv6 or TCP from the bytes; another protocol by number."""
    data, start, proto = ip.data, ip.start, ip.proto
    if proto in (1, 58) and (proto == 1) == (ip.version == 4) and size >= 8:
        kind, code, _, ident, seq = struct.unpack_from("!BBHHH", data, start)
        _fields(lines, "Internet Control Message Protocol" + (" v6" if proto == 58 else ""),
                [("Type", kind), ("Code", code),
                 ("Identifier (BE)", "%d (0x%04x)" % (ident, ident)),
                 ("Sequence Number (BE)", "%d (0x%04x)" % (seq, seq)),
                 ("Data", "%d bytes" % (size - 8))])
    elif proto == 6 and size >= 20:
        sport, dport, seq, ack, offset, flags = struct.unpack_from("!HHIIBB", data, start)
        bits = flags | (offset & 1) << 8
        _fields(lines, "Transmission Control Protocol, Src Port: %d, Dst Port: %d" % (sport, dport),
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
            _fields(lines, "Internet Protocol Version 4, Src: %s, Dst: %s" % (layer.src, layer.dst),
                    [("Total Length", layer.len),
                     ("Identification", "0x%04x (%d)" % (layer.id, layer.id)),
                     ("Time to Live", layer.ttl), ("Protocol", layer.proto),
                     ("Source Address", layer.src), ("Destination Address", layer.dst)])
        elif isinstance(layer, IPv6):
            _fields(lines, "Internet Protocol Version 6, Src: %s, Dst: %s" % (layer.src, layer.dst),
                    [("Payload Length", layer.plen), ("Next Header", layer.nh),
                     ("Hop Limit", layer.hlim), ("Source Address", layer.src),
                     ("Destination Address", layer.dst)])
        elif isinstance(layer, UDP):
            _fields(lines, "User Datagram Protocol, Src Port: %d, Dst Port: %d"
                    % (layer.sport, layer.dport),
                    [("Source Port", layer.sport), ("Destination Port", layer.dport),
                     ("Length", layer.len)])
            if isinstance(layer.payload, Raw):
                lines.append(INDENT + "Data: %d bytes" % len(layer.payload.load))
        elif isinstance(layer, TCP):
            _fields(lines, "Transmission Control Protocol, Src Port: %d, Dst Port: %d"
                    % (layer.sport, layer.dport),
                    [("Source Port", layer.sport), ("Destination Port", layer.dport),
                     ("Sequence Number (raw)", layer.seq),
                     ("Acknowledgment number (raw)", layer.ack),
                     ("Flags", "0x%03x (%s)" % (int(layer.flags), layer.flags))])
        elif isinstance(layer, ICMP):
            raw = bytes(layer)[:8].ljust(8, b"\0")
            kind, code, _, ident, seq = struct.unpack("!BBHHH", raw)
            _fields(lines, "Internet Control Message Protocol",
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
            _fields(lines, "Encapsulating Security Payload",
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
            _isakmp(lines, layer, show_secrets, 1)
            return
        elif isinstance(layer, (Raw, Padding)):
            return
        else:
            lines.append(layer.name)
            lines += ["%s%s: %s" % (INDENT, f.name, f.i2repr(layer, layer.getfieldval(f.name)))
                      for f in layer.fields_desc]
        layer = layer.payload


def _fields(lines, title, fields, depth=0):
    lines.append(INDENT * depth + title)
    lines += ["%s%s: %s" % (INDENT * (depth + 1), label, value) for label, value in fields]


def _named(table, number):
    return "%s (%d)" % (table.get(number, "Unknown"), number)


def _isakmp(lines, head, show_secrets, depth):
    """The header fields and every payload of an ISAKMP message."""
    from scapy_ike.layers.isakmp import EXCHANGE_NAMES, ISAKMP_Encrypted, PAYLOAD_NAMES
    pad = INDENT * depth
    flags = int(head.flags)
    lines += [pad + "Initiator SPI: %s" % head.init_cookie.hex(),
              pad + "Responder SPI: %s" % head.resp_cookie.hex(),
              pad + "Next payload: %s" % _named(PAYLOAD_NAMES, head.next_payload),
              pad + "Version: %d.%d" % (head.version >> 4, head.version & 15),
              pad + "Exchange type: %s" % _named(
                  {k: str(v).lower() for k, v in EXCHANGE_NAMES.items()}, head.exch_type),
              pad + "Flags: 0x%02x (%s)" % (flags, ", ".join(
                  name for bit, name in ((1, "encryption"), (2, "commit"), (4, "authentication"))
                  if flags & bit) or "none"),
              pad + "Message ID: 0x%08x" % head.id,
              pad + "Length: %d" % head.length]
    if isinstance(head.payload, ISAKMP_Encrypted):
        lines.append(pad + "Encrypted Data (%d bytes)" % len(head.payload.load))
    else:
        _payloads(lines, head, show_secrets, depth)


def _payloads(lines, head, show_secrets, depth):
    """The payloads after the header *head* (and what follows them)."""
    from scapy_ike.layers.isakmp import ISAKMP_payload
    pad = INDENT * depth
    reason = getattr(head, "malformed", None)
    if reason:
        lines.append(pad + "[malformed: %s]" % reason)
    layer, ptype = head.payload, head.next_payload
    while isinstance(layer, ISAKMP_payload):
        _payload(lines, layer, ptype, show_secrets, depth, None)
        ptype, layer = layer.next_payload, layer.payload
    if layer is not None and bytes(layer):
        lines.append(pad + "Extra data: %s" % bytes(layer).hex())


def _payload(lines, layer, ptype, show_secrets, depth, proposal):
    """One payload and what it holds (proposals and transforms nested)."""
    from scapy_ike.layers import isakmp as L
    pad = INDENT * (depth + 1)
    title = "Payload: %s" % _named(L.PAYLOAD_NAMES, ptype)
    if isinstance(layer, L.ISAKMP_payload_Proposal):
        title += " # %d" % layer.proposal
    elif isinstance(layer, L.ISAKMP_payload_Transform):
        title += " # %d" % layer.transform_count
    elif isinstance(layer, L.ISAKMP_payload_VendorID):
        title += " : %s" % (vendor_id_name(layer.VendorID) or "Unknown Vendor ID")
    lines.append(INDENT * depth + title)
    lines += [pad + "Next payload: %s" % _named(L.PAYLOAD_NAMES, layer.next_payload),
              pad + "Payload length: %s" % layer.length]
    reason = getattr(layer, "malformed", None)
    if reason:
        lines.append(pad + "[malformed: %s]" % reason)
    for label, value in _body(layer, L, proposal):
        lines.append(pad + "%s: %s" % (label, value))
    if isinstance(layer, L.ISAKMP_payload_SA):
        _chain(lines, layer.prop, 2, show_secrets, depth + 1, None)
    elif isinstance(layer, L.ISAKMP_payload_Proposal):
        _chain(lines, layer.trans, 3, show_secrets, depth + 1, layer.proto)
    elif isinstance(layer, L.ISAKMP_payload_Transform):
        _attributes(lines, layer.transforms, L.attribute_space(layer),
                    ATTRIBUTE_LABELS.get(proposal, "IPsec Attribute"), show_secrets, depth + 1)
    elif isinstance(layer, L.ISAKMP_payload_Attributes):
        _attributes(lines, layer.attributes, L.CONFIG_ATTRIBUTES, "Config Attribute",
                    show_secrets, depth + 1)


def _chain(lines, layer, ptype, show_secrets, depth, proposal):
    from scapy_ike.layers.isakmp import ISAKMP_payload
    while isinstance(layer, ISAKMP_payload):
        _payload(lines, layer, ptype, show_secrets, depth, proposal)
        ptype, layer = layer.next_payload, layer.payload


def _hex(data):
    data = bytes(data or b"")
    return "%s (%d bytes)" % (data.hex(), len(data)) if data else "(0 bytes)"


def _body(layer, L, proposal):
    """``(label, value)`` of a payload's own fields."""
    if isinstance(layer, L.ISAKMP_payload_SA):
        return [("Domain of interpretation", _named(L.DOI_NAMES, layer.doi)),
                ("Situation", "%08x" % int(layer.situation))]
    if isinstance(layer, L.ISAKMP_payload_Proposal):
        out = [("Proposal number", layer.proposal),
               ("Protocol ID", _named(L.PROTOCOL_NAMES, layer.proto)),
               ("SPI Size", layer.SPIsize), ("Proposal transforms", layer.trans_nb)]
        if layer.SPI:
            out.append(("SPI", layer.SPI.hex()))
        return out
    if isinstance(layer, L.ISAKMP_payload_Transform):
        names = L.TRANSFORM_ID_NAMES.get(proposal, {})
        return [("Transform number", layer.transform_count),
                ("Transform ID", _named(names, layer.transform_id))]
    if isinstance(layer, L.ISAKMP_payload_KE):
        return [("Key Exchange Data", _hex(layer.ke))]
    if isinstance(layer, L.ISAKMP_payload_Nonce):
        return [("Nonce DATA", _hex(layer.nonce))]
    if isinstance(layer, (L.ISAKMP_payload_Hash, L.ISAKMP_payload_NAT_D,
                          L.ISAKMP_payload_NAT_D_Draft, L.ISAKMP_payload_NAT_D_OldDraft)):
        label = "Hash DATA" if isinstance(layer, L.ISAKMP_payload_Hash) else "HASH of the address and port"
        return [(label, _hex(layer.hash))]
    if isinstance(layer, L.ISAKMP_payload_SIG):
        return [("Signature DATA", _hex(layer.sig))]
    if isinstance(layer, L.ISAKMP_payload_ID):
        return [("ID type", _named(L.ID_NAMES, layer.IDtype)),
                ("Protocol ID", layer.ProtoID), ("Port", layer.Port),
                ("Identification Data", identity(layer))]
    if isinstance(layer, L.ISAKMP_payload_Notify):
        return [("Domain of interpretation", _named(L.DOI_NAMES, layer.doi)),
                ("Protocol ID", _named(L.PROTOCOL_NAMES, layer.proto)),
                ("SPI Size", layer.SPIsize),
                ("Notify Message Type", _named(L.NOTIFY_NAMES, layer.notify_msg_type)),
                ("SPI", bytes(layer.SPI or b"").hex()),
                ("Notification DATA", _hex(layer.notify_data))]
    if isinstance(layer, L.ISAKMP_payload_Delete):
        return [("Domain of interpretation", _named(L.DOI_NAMES, layer.doi)),
                ("Protocol ID", _named(L.PROTOCOL_NAMES, layer.proto)),
                ("SPI Size", layer.SPIsize), ("Number of SPIs", layer.SPIcount)] + [
                    ("Delete SPI", bytes(spi).hex()) for spi in layer.SPIs or []]
    if isinstance(layer, L.ISAKMP_payload_VendorID):
        return [("Vendor ID", bytes(layer.VendorID).hex()),
                ("Vendor ID name", vendor_id_name(layer.VendorID) or "unknown")]
    if isinstance(layer, L.ISAKMP_payload_Attributes):
        return [("Type", _named(L.CONFIG_TYPE_NAMES, layer.type)),
                ("Identifier", layer.identifier)]
    if isinstance(layer, L.ISAKMP_payload_CERT):
        return [("Certificate Encoding", _named(L.CERT_NAMES, layer.cert_encoding)),
                ("Certificate Data", _hex(layer.cert_data))]
    if isinstance(layer, L.ISAKMP_payload_CR):
        return [("Certificate Type", _named(L.CERT_NAMES, layer.cert_type)),
                ("Certificate Authority", _hex(layer.cert_authority))]
    return [(f.name, layer.getfieldval(f.name)) for f in layer.fields_desc[3:]]


def identity(layer):
    """An ID payload's data as text (RFC 2407 4.6.2.1): an address, a
    subnet as address/mask, a range as first-last, a name as text."""
    from scapy_ike.constants import IdType
    from scapy_ike.layers.isakmp import payload_body
    data = bytes(payload_body(layer))[4:]
    half = len(data) // 2
    if layer.IDtype in (IdType.IPV4_ADDR_SUBNET, IdType.IPV6_ADDR_SUBNET,
                        IdType.IPV4_ADDR_RANGE, IdType.IPV6_ADDR_RANGE) and half in (4, 16):
        family = socket.AF_INET if half == 4 else socket.AF_INET6
        joint = "/" if layer.IDtype in (IdType.IPV4_ADDR_SUBNET, IdType.IPV6_ADDR_SUBNET) else "-"
        return socket.inet_ntop(family, data[:half]) + joint + socket.inet_ntop(family, data[half:])
    ident = layer.IdentData
    text = ident.decode("utf-8", "replace") if isinstance(ident, bytes) else str(ident)
    return "".join(c if c.isprintable() else "\\x%02x" % ord(c) for c in text)


def _attributes(lines, attributes, space, label, show_secrets, depth):
    """Each data attribute (RFC 2408 3.3): its wire form, type and value
    by name (an address as text, text as text)."""
    pad = INDENT * depth
    for attribute in attributes or []:
        shown = read_attribute(space, attribute, show_secrets)
        if shown is None:
            lines.append(pad + "[malformed attribute bytes: %s]" % bytes(attribute[1]).hex())
            continue
        lines.append(pad + "%s (t=%d,l=%d): %s: %s" % (label, shown.number, shown.length,
                                                     shown.name, shown.value))
        lines += [pad + INDENT + "Type: %s (%d)" % (shown.name, shown.number),
                  pad + INDENT + "Value: %s" % shown.wire]
