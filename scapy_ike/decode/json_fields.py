"""Scapy layers as JSON: ``{"layer": class name, "fields": {...}}``, with
``"malformed"`` when the layer carries a reason.

Values: bytes as lowercase hex; an enumerated field as ``{"number": N,
"name": "..."}``; data attributes (RFC 2408 3.3) as ``{"type", "number",
"value", "wire"}`` with the value decoded (a name with its number, a
number, an address or text; XAuth secrets hidden unless asked); a vendor
ID as ``{"bytes": hex, "name": name or null}``; an ID payload's data as
text (RFC 2407 4.6.2); nested packets as lists of layers.
"""


def layer_json(layer, show_secrets=False):
    """The JSON object of one layer."""
    from scapy.fields import EnumField
    from scapy_ike.layers import isakmp as L
    from scapy_ike.layers.fields import AttributesField
    fields = {}
    for f in layer.fields_desc:
        value = layer.getfieldval(f.name)
        if isinstance(f, AttributesField):
            fields[f.name] = _attributes(f.space_of(layer), value, show_secrets)
        elif isinstance(f, EnumField) and isinstance(value, int) and not isinstance(value, bool):
            fields[f.name] = enum_json(f, layer, value)
        else:
            fields[f.name] = _json_value(value, show_secrets)
    if isinstance(layer, L.ISAKMP_payload_VendorID):
        fields["VendorID"] = vendor_id_json(bytes(layer.VendorID or b""))
    elif isinstance(layer, L.ISAKMP_payload_ID):
        from scapy_ike.decode.isakmp_tree import identity
        fields["IdentData"] = identity(layer.IDtype, bytes(L.payload_body(layer))[4:])
    out = {"layer": type(layer).__name__, "fields": fields}
    reason = getattr(layer, "malformed", None)
    if reason is not None:
        out["malformed"] = reason
    return out


def enum_json(field, layer, value):
    """``{"number", "name"}`` of an enumerated field's *value* (the name
    None where the field has none for it)."""
    name = field.i2repr(layer, value)
    if field.name == "exch_type":
        name = name.lower()
    return {"number": int(value), "name": None if name in (str(value), repr(value)) else name}


def vendor_id_json(vid):
    """``{"bytes", "name"}`` of a vendor ID's bytes (RFC 2408 3.16)."""
    from scapy_ike.constants import vendor_id_name
    return {"bytes": vid.hex(), "name": vendor_id_name(vid)}


def _attributes(space, attributes, show_secrets):
    from scapy_ike.decode.attributes import read_attribute
    out = []
    for attribute in attributes or []:
        shown = read_attribute(space, attribute, show_secrets)
        if shown is None:
            out.append({"malformed": bytes(attribute[1]).hex()})
        else:
            out.append({"type": shown.name, "number": shown.number, "value": shown.value,
                        "wire": shown.wire})
    return out


def _json_value(value, show_secrets):
    from scapy.fields import FlagValue
    from scapy.packet import NoPayload, Packet
    if isinstance(value, Packet):
        return [layer_json(layer, show_secrets) for layer in value.iterpayloads()]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_json_value(v, show_secrets) for v in value]
    if isinstance(value, FlagValue):
        return int(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, NoPayload):
        return None
    return str(value)
