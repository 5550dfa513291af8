"""ISAKMP messages as trees of named fields, like ``tshark -V``, from
Scapy's dissection: the header (RFC 2408 3.1) and every payload
(3.2-3.16): proposals and transforms with their attributes named and
valued (RFC 2409 Appendix A, RFC 2407 4.5), identities as text (RFC 2407
4.6.2), KE, nonce and hash values with their lengths, notifies by name
with SPI and data, Delete SPIs, vendor IDs by name, and XAuth and Mode
Config attributes (draft-beaulieu-ike-xauth-02, draft-dukes-ike-mode-cfg-02)
by name with values (:mod:`~scapy_ike.decode.attributes`: secrets hidden
unless asked).  Labels are tshark's where it has the field.
"""

import ipaddress
import socket
import struct

from scapy_ike.constants import ProtocolId, vendor_id_name
from scapy_ike.decode.attributes import read_attribute

INDENT = "    "
ATTRIBUTE_LABELS = {ProtocolId.ISAKMP: "IKE Attribute"}


def fields(lines, title, values, depth=0):
    """*title*, then each ``(label, value)`` of *values* one level in."""
    lines.append(INDENT * depth + title)
    lines += ["%s%s: %s" % (INDENT * (depth + 1), label, value) for label, value in values]


def _named(table, number):
    return "%s (%d)" % (table.get(number, "Unknown"), number)


def isakmp(lines, head, show_secrets, depth):
    """The header fields and every payload of an ISAKMP message (a Scapy
    ``ISAKMP``)."""
    from scapy_ike.layers.isakmp import ISAKMP_Encrypted
    header(lines, head.init_cookie, head.resp_cookie, head.next_payload, head.version,
           head.exch_type, int(head.flags), head.id, head.length, depth)
    if isinstance(head.payload, ISAKMP_Encrypted):
        lines.append(INDENT * depth + "Encrypted Data (%d bytes)" % len(head.payload.load))
    else:
        payloads(lines, head, show_secrets, depth)


def header(lines, cky_i, cky_r, first, version, exch_type, flags, message_id, length, depth):
    """The header's lines (RFC 2408 3.1)."""
    from scapy_ike.layers.isakmp import EXCHANGE_NAMES, PAYLOAD_NAMES
    pad = INDENT * depth
    lines += [pad + "Initiator SPI: %s" % cky_i.hex(),
              pad + "Responder SPI: %s" % cky_r.hex(),
              pad + "Next payload: %s" % _named(PAYLOAD_NAMES, first),
              pad + "Version: %d.%d" % (version >> 4, version & 15),
              pad + "Exchange type: %s" % _named(
                  {k: str(v).lower() for k, v in EXCHANGE_NAMES.items()}, exch_type),
              pad + "Flags: 0x%02x (%s)" % (flags, ", ".join(
                  name for bit, name in ((1, "encryption"), (2, "commit"), (4, "authentication"))
                  if flags & bit) or "none"),
              pad + "Message ID: 0x%08x" % message_id,
              pad + "Length: %d" % length]


def payloads(lines, head, show_secrets, depth):
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
    """One payload of Scapy's dissection and what it holds."""
    from scapy_ike.layers import isakmp as L
    kind = _kind(type(layer))
    values = {f.name: layer.getfieldval(f.name) for f in layer.fields_desc}
    if kind == 5:
        values["IdentData"] = bytes(L.payload_body(layer))[4:]
    if kind is None:                    # a payload read generically
        body = [(f.name, values[f.name]) for f in layer.fields_desc[3:]]
    else:
        body = payload_fields(kind, values, proposal)
    payload_head(lines, ptype, layer.next_payload, layer.length, kind, values, depth)
    reason = getattr(layer, "malformed", None)
    if reason:
        lines.append(INDENT * (depth + 1) + "[malformed: %s]" % reason)
    lines += ["%s%s: %s" % (INDENT * (depth + 1), label, value) for label, value in body]
    if kind == 1:
        _chain(lines, layer.prop, 2, show_secrets, depth + 1, None)
    elif kind == 2:
        _chain(lines, layer.trans, 3, show_secrets, depth + 1, layer.proto)
    elif kind == 3:
        attributes(lines, layer.transforms, L.attribute_space(layer),
                   ATTRIBUTE_LABELS.get(proposal, "IPsec Attribute"), show_secrets, depth + 1)
    elif kind == 14:
        attributes(lines, layer.attributes, L.CONFIG_ATTRIBUTES, "Config Attribute",
                   show_secrets, depth + 1)


def _chain(lines, layer, ptype, show_secrets, depth, proposal):
    from scapy_ike.layers.isakmp import ISAKMP_payload
    while isinstance(layer, ISAKMP_payload):
        _payload(lines, layer, ptype, show_secrets, depth, proposal)
        ptype, layer = layer.next_payload, layer.payload


def payload_head(lines, ptype, following, length, kind, values, depth):
    """A payload's title and generic header lines (RFC 2408 3.2)."""
    from scapy_ike.layers.isakmp import PAYLOAD_NAMES
    title = "Payload: %s" % _named(PAYLOAD_NAMES, ptype)
    if kind == 2:
        title += " # %d" % values["proposal"]
    elif kind == 3:
        title += " # %d" % values["transform_count"]
    elif kind == 13:
        title += " : %s" % (vendor_id_name(values["VendorID"]) or "Unknown Vendor ID")
    pad = INDENT * (depth + 1)
    lines += [INDENT * depth + title, pad + "Next payload: %s" % _named(PAYLOAD_NAMES, following),
              pad + "Payload length: %s" % length]


def _hex(data):
    data = bytes(data or b"")
    return "%s (%d bytes)" % (data.hex(), len(data)) if data else "(0 bytes)"


def payload_fields(kind, v, proposal):
    """``(label, value)`` of a payload's own fields, *v* holding them by
    the names its Scapy layer gives them; *kind* is the payload type its
    layer reads (NAT-D's drafts as NAT-D)."""
    from scapy_ike.layers import isakmp as L
    if kind == 1:
        return [("Domain of interpretation", _named(L.DOI_NAMES, v["doi"])),
                ("Situation", "%08x" % int(v["situation"]))]
    if kind == 2:
        out = [("Proposal number", v["proposal"]),
               ("Protocol ID", _named(L.PROTOCOL_NAMES, v["proto"])),
               ("SPI Size", v["SPIsize"]), ("Proposal transforms", v["trans_nb"])]
        return out + ([("SPI", v["SPI"].hex())] if v["SPI"] else [])
    if kind == 3:
        return [("Transform number", v["transform_count"]),
                ("Transform ID", _named(L.TRANSFORM_ID_NAMES.get(proposal, {}), v["transform_id"]))]
    if kind in _DATA:
        label, name = _DATA[kind]
        return [(label, _hex(v[name]))]
    if kind == 5:
        return [("ID type", _named(L.ID_NAMES, v["IDtype"])), ("Protocol ID", v["ProtoID"]),
                ("Port", v["Port"]), ("Identification Data", identity(v["IDtype"], v["IdentData"]))]
    if kind in (11, 12):
        out = [("Domain of interpretation", _named(L.DOI_NAMES, v["doi"])),
               ("Protocol ID", _named(L.PROTOCOL_NAMES, v["proto"])), ("SPI Size", v["SPIsize"])]
        if kind == 11:
            return out + [("Notify Message Type", _named(L.NOTIFY_NAMES, v["notify_msg_type"])),
                          ("SPI", bytes(v["SPI"] or b"").hex()),
                          ("Notification DATA", _hex(v["notify_data"]))]
        return out + [("Number of SPIs", v["SPIcount"])] + [
            ("Delete SPI", bytes(spi).hex()) for spi in v["SPIs"] or []]
    if kind == 13:
        return [("Vendor ID", bytes(v["VendorID"]).hex()),
                ("Vendor ID name", vendor_id_name(v["VendorID"]) or "unknown")]
    if kind == 14:
        return [("Type", _named(L.CONFIG_TYPE_NAMES, v["type"])), ("Identifier", v["identifier"])]
    if kind == 6:
        return [("Certificate Encoding", _named(L.CERT_NAMES, v["cert_encoding"])),
                ("Certificate Data", _hex(v["cert_data"]))]
    return [("Certificate Type", _named(L.CERT_NAMES, v["cert_type"])),
            ("Certificate Authority", _hex(v["cert_authority"]))]


_DATA = {4: ("Key Exchange Data", "ke"), 10: ("Nonce DATA", "nonce"), 8: ("Hash DATA", "hash"),
         9: ("Signature DATA", "sig"), 20: ("HASH of the address and port", "hash")}


def _kinds():
    """Payload type by the Scapy class that reads it (NAT-D's drafts as 20);
    classes not listed are described field by field."""
    from scapy_ike.layers import isakmp as L
    kinds = {cls: int(t) for t, cls in L.PAYLOAD_CLASSES.items()
             if int(t) in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 20)}
    for cls in (L.ISAKMP_payload_NAT_D_Draft, L.ISAKMP_payload_NAT_D_OldDraft):
        kinds[cls] = 20
    return kinds


_KINDS = {}


def _kind(cls):
    if not _KINDS:
        _KINDS.update(_kinds())
    return _KINDS.get(cls)


def identity(id_type, data):
    """An ID payload's data as text (RFC 2407 4.6.2.1): an address, a
    subnet as address/mask, a range as first-last, a name as text."""
    from scapy_ike.constants import IdType
    half = len(data) // 2
    if id_type in (IdType.IPV4_ADDR_SUBNET, IdType.IPV6_ADDR_SUBNET,
                   IdType.IPV4_ADDR_RANGE, IdType.IPV6_ADDR_RANGE) and half in (4, 16) \
            and len(data) == 2 * half:
        family = socket.AF_INET if half == 4 else socket.AF_INET6
        joint = "/" if id_type in (IdType.IPV4_ADDR_SUBNET, IdType.IPV6_ADDR_SUBNET) else "-"
        return socket.inet_ntop(family, data[:half]) + joint + socket.inet_ntop(family, data[half:])
    if (id_type, len(data)) in ((IdType.IPV4_ADDR, 4), (IdType.IPV6_ADDR, 16)):
        return str(ipaddress.ip_address(data))
    text = data.decode("utf-8", "replace")
    return "".join(c if c.isprintable() else "\\x%02x" % ord(c) for c in text)


def attributes(lines, values, space, label, show_secrets, depth):
    """Each data attribute (RFC 2408 3.3): its wire form, type and value
    by name (an address as text, text as text)."""
    pad = INDENT * depth
    for attribute in values or []:
        shown = read_attribute(space, attribute, show_secrets)
        if shown is None:
            lines.append(pad + "[malformed attribute bytes: %s]" % bytes(attribute[1]).hex())
            continue
        lines.append(pad + "%s (t=%d,l=%d): %s: %s" % (label, shown.number, shown.length,
                                                     shown.name, shown.value))
        lines += [pad + INDENT + "Type: %s (%d)" % (shown.name, shown.number),
                  pad + INDENT + "Value: %s" % shown.wire]


# -- the same lines from the bytes, where the message is well formed -----------

GENERIC = struct.Struct("!BBH")
NOTICE = struct.Struct("!IBBH")
ID_SIZES = {1: 4, 5: 16, 4: 8, 6: 32, 7: 8, 8: 32}     # RFC 2407 4.6.2.1
MOST_PAYLOADS = 50


def message_lines(lines, data, show_secrets, depth, with_header=True):
    """The lines :func:`isakmp` (or, without the header, :func:`payloads`)
    gives for the message *data*, read with :mod:`struct`; False, adding
    nothing, where Scapy must say it: a malformed message, payload types
    15 and 16 (their meaning depends on the exchange), NAT-OA, fragments."""
    if len(data) < 28 or data[17] >> 4 != 1:
        return False
    cky_i, cky_r, first, version, exch, flags, mid, length = struct.unpack_from("!8s8sBBBBII", data)
    if length != len(data):
        return False
    out, body = [], data[28:]
    if with_header:
        header(out, cky_i, cky_r, first, version, exch, flags, mid, length, depth)
    if flags & 1 and with_header:
        out.append(INDENT * depth + "Encrypted Data (%d bytes)" % len(body))
    else:
        end = _chain_bytes(out, first, body, show_secrets, depth, None, [0])
        if end is None or (end < len(body) and with_header):
            return False
        if end < len(body):
            out.append(INDENT * depth + "Extra data: %s" % body[end:].hex())
    lines += out
    return True


def _chain_bytes(out, ptype, data, show_secrets, depth, proposal, count):
    """The payloads of the chain from *ptype* in *data*: where the chain
    ends, or None."""
    from scapy_ike.layers import isakmp as L
    offset = 0
    while ptype:
        count[0] += 1
        cls = L.PAYLOAD_CLASSES.get(ptype)
        if count[0] > MOST_PAYLOADS or cls is None or ptype in (15, 16) \
                or offset + GENERIC.size > len(data):
            return None
        following, _, length = GENERIC.unpack_from(data, offset)
        kind = _kind(cls)
        if kind is None or length < cls.min_length or offset + length > len(data):
            return None
        body = data[offset + GENERIC.size:offset + length]
        values = _values(kind, body, proposal)
        if values is None:
            return None
        payload_head(out, ptype, following, length, kind, values, depth)
        out += ["%s%s: %s" % (INDENT * (depth + 1), label, value)
                for label, value in payload_fields(kind, values, proposal)]
        if kind in (1, 2):
            inner = body[8:] if kind == 1 else body[4 + values["SPIsize"]:]
            first = 2 if kind == 1 else 3 if values["trans_nb"] else 0
            end = _chain_bytes(out, first, inner, show_secrets, depth + 1,
                               None if kind == 1 else values["proto"], count)
            if end != len(inner):
                return None
        elif kind in (3, 14):
            out += _attribute_lines(kind, body, values, proposal, show_secrets, depth + 1)
        ptype, offset = following, offset + length
    return offset


_KNOWN = {}
"""Transform and Mode Config payloads recur (the same proposals, SA after
SA): their fields, and their attributes' lines, by body."""


def _remembered(key, make):
    known = _KNOWN.get(key)
    if known is None:
        if len(_KNOWN) > 4096:
            _KNOWN.clear()
        known = _KNOWN[key] = (make(),)
    return known[0]


def _attribute_lines(kind, body, values, proposal, show_secrets, depth):
    """The lines of a Transform's (*kind* 3) or Mode Config payload's (14)
    attributes."""
    def make():
        lines = []
        if kind == 3:
            attributes(lines, values["transforms"], values["space"],
                       ATTRIBUTE_LABELS.get(proposal, "IPsec Attribute"), show_secrets, depth)
        else:
            attributes(lines, values["attributes"], values["space"], "Config Attribute",
                       show_secrets, depth)
        return lines
    return _remembered(("lines", kind, body, proposal, show_secrets, depth), make)


def _values(kind, body, proposal):
    """A payload body's fields by their Scapy names, or None when Scapy
    would flag it (left as they are: Transform and Mode Config payloads'
    are remembered)."""
    if kind in (3, 14):
        return _remembered(("values", kind, body, proposal),
                           lambda: _read_values(kind, body, proposal))
    return _read_values(kind, body, proposal)


def _read_values(kind, body, proposal):
    from scapy_ike.layers import isakmp as L
    if kind in _DATA:
        return {_DATA[kind][1]: body}
    if kind == 13:
        return {"VendorID": body}
    if kind == 1:
        doi, situation = struct.unpack_from("!II", body)
        return {"doi": doi, "situation": situation}
    if kind == 2:
        number, proto, size, count = body[:4]
        return None if 4 + size > len(body) else {
            "proposal": number, "proto": proto, "SPIsize": size, "trans_nb": count,
            "SPI": body[4:4 + size]}
    if kind in (3, 14):
        space = L.CONFIG_ATTRIBUTES if kind == 14 else \
            L.OAKLEY_ATTRIBUTES if proposal in (None, ProtocolId.ISAKMP) else L.IPSEC_ATTRIBUTES
        decoded = space.decode(None, body[4:])
        if b"".join(space.encode(a) for a in decoded) != body[4:] \
                or any(a[0] is None for a in decoded):
            return None
        if kind == 3:
            return {"transform_count": body[0], "transform_id": body[1], "transforms": decoded,
                    "space": space}
        return {"type": body[0], "identifier": struct.unpack_from("!H", body, 2)[0],
                "attributes": decoded, "space": space}
    if kind == 5:
        id_type, proto, port = struct.unpack_from("!BBH", body)
        if ID_SIZES.get(id_type, len(body) - 4) != len(body) - 4:
            return None
        return {"IDtype": id_type, "ProtoID": proto, "Port": port, "IdentData": body[4:]}
    if kind in (11, 12):
        doi, proto, size, fourth = NOTICE.unpack_from(body)
        spis = body[NOTICE.size:]
        if kind == 11:
            return None if size > len(spis) else {
                "doi": doi, "proto": proto, "SPIsize": size, "notify_msg_type": fourth,
                "SPI": spis[:size], "notify_data": spis[size:]}
        if not size or size * fourth != len(spis):
            return None
        return {"doi": doi, "proto": proto, "SPIsize": size, "SPIcount": fourth,
                "SPIs": [spis[n:n + size] for n in range(0, len(spis), size)]}
    if kind == 6:
        return {"cert_encoding": body[0], "cert_data": body[1:]}
    return {"cert_type": body[0], "cert_authority": body[1:]}
