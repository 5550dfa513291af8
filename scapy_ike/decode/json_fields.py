"""Scapy layers as JSON: ``{"layer": class name, "fields": {...}}``, bytes
as lowercase hex, with ``"malformed"`` when the layer carries a reason."""


def layer_json(layer):
    """The JSON object of one layer (its nested packets as lists)."""
    out = {"layer": type(layer).__name__,
           "fields": {f.name: _json_value(layer.getfieldval(f.name)) for f in layer.fields_desc}}
    reason = getattr(layer, "malformed", None)
    if reason is not None:
        out["malformed"] = reason
    return out


def _json_value(value):
    from scapy.fields import FlagValue
    from scapy.packet import NoPayload, Packet
    if isinstance(value, Packet):
        return [layer_json(layer) for layer in value.iterpayloads()]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, FlagValue):
        return int(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, NoPayload):
        return None
    return str(value)
