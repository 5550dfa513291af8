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

import socket

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
        payloads(lines, head, show_secrets, depth)


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
