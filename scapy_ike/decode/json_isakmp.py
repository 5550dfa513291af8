"""The JSON layers of an IKEv1 message (:mod:`~scapy_ike.decode.json_fields`'
schema) read with :mod:`struct`, the same as Scapy's dissection with
:mod:`scapy_ike.layers.isakmp` gives, without dissecting the message.

The header (RFC 2408 3.1) and the payload chain (RFC 2408 3.2) are walked
as :func:`~scapy_ike.core.message.chain` walks them, each payload's class
being the one Scapy picks for its type.  What is read of a class comes from
its ``fields_desc``: names, wire sizes, enum names (each value named by the
field once) and the length rules of its byte strings.  Payloads with fields
of other kinds (the SA's proposals and transforms, ID data, attributes,
NAT-OA, Delete's SPI list) are dissected by Scapy alone, each set of bytes
once (an SA's SPIs and a payload's next-payload type zeroed in the key, and
put back in the result).

Where Scapy would flag anything (lengths that do not add up, bytes after a
payload's fields, a nested payload that is not a proposal or transform) or
pick a class not handled here (unknown types, fragments, proposals and
transforms outside an SA, the oldest NAT-T drafts' numbers), the message is
left to Scapy: :func:`message_layers` returns None.
"""

import struct
from types import SimpleNamespace

from scapy import fields as f
from scapy.config import conf
from scapy.packet import NoPayload, Packet

from scapy_ike.constants import Flags, PayloadType
from scapy_ike.core.message import GENERIC, HEADER, PROPOSAL, SA_HEAD
from scapy_ike.decode.json_fields import enum_json, layer_json, vendor_id_json
from scapy_ike.layers import fields as ours
from scapy_ike.layers.isakmp import (
    ISAKMP, ISAKMP_Encrypted, ISAKMP_payload, ISAKMP_payload_Proposal, ISAKMP_payload_SA,
    ISAKMP_payload_Transform, ISAKMP_payload_VendorID, MAX_PAYLOADS, VendorIDField,
)

_ENCRYPTION = int(Flags.ENCRYPTION)
_LIMIT = 4096
"""Entries a cache holds before it is emptied."""
_LEFT_TO_SCAPY = frozenset({PayloadType.PROPOSAL, PayloadType.TRANSFORM, PayloadType.FRAGMENT,
                            PayloadType.NAT_D_OLD_DRAFT, PayloadType.NAT_OA_OLD_DRAFT})
"""Payload types left to Scapy: proposals and transforms outside an SA
(their attributes' meaning comes from what surrounds them), fragments,
and the numbers whose class depends on the exchange (15 and 16)."""

_LAYOUTS = {}
"""class -> its :class:`_Layout`, or None where a field is of a kind it
does not read."""
_CLASSES = {}
"""(class, next payload type) -> the class Scapy dissects the next payload
with."""
_DISSECTED = {}
"""(class, payload bytes as keyed, show_secrets) -> (its JSON object, the
payloads nested in it) or None, for the payloads Scapy dissects."""
_ENUMS = {}
"""id(field) -> what names its values."""
_VENDOR_IDS = {}


def message_layers(data, show_secrets=False):
    """The JSON layers of the ISAKMP message *data* (header first, then
    its payloads or encrypted body, then padding), or None where the
    message is left to Scapy's dissection."""
    if len(data) < HEADER.size:
        return None
    _, _, next_payload, _, _, flags, _, length = HEADER.unpack_from(data)
    if not HEADER.size <= length <= len(data):
        return None
    layers = [{"layer": ISAKMP.__name__, "fields": _layout(ISAKMP).read(data, 0, HEADER.size)}]
    if length == HEADER.size:
        if next_payload:
            return None             # announced, no bytes: Scapy flags the header
    elif flags & _ENCRYPTION:
        layers.append({"layer": ISAKMP_Encrypted.__name__,
                       "fields": {"load": data[HEADER.size:length].hex()}})
    else:
        payloads = _chain(data, next_payload, length, show_secrets)
        if payloads is None:
            return None
        layers += payloads
    if length < len(data) and conf.padding:
        layers.append(_padding(data[length:]))
    return layers


def _chain(data, next_payload, end, show_secrets):
    """The payloads from the header's end to *end*, then their padding."""
    layers, offset, cls, count = [], HEADER.size, ISAKMP, 0
    while next_payload:
        if next_payload in _LEFT_TO_SCAPY or end - offset < GENERIC.size:
            return None
        cls = _next_class(cls, next_payload)
        following, _, length = GENERIC.unpack_from(data, offset)
        if cls is None or not cls.min_length <= length <= end - offset:
            return None
        shown = _payload(cls, data[offset:offset + length], show_secrets)
        if shown is None:
            return None
        layer, nested = shown
        count += 1 + nested
        if count > MAX_PAYLOADS // 2:    # Scapy's depth limit stays far away
            return None
        layers.append(layer)
        offset, next_payload = offset + length, following
    if offset < end:
        layers.append(_padding(data[offset:end]))
    return layers


def _next_class(cls, next_payload):
    """The class Scapy gives the payload of type *next_payload* after a
    layer of *cls*; None for the generic payload (an unknown type)."""
    key = (cls, next_payload)
    if key not in _CLASSES:
        picked = Packet.guess_payload_class(cls(next_payload=next_payload), b"")
        known = issubclass(picked, ISAKMP_payload) and picked is not ISAKMP_payload
        _CLASSES[key] = picked if known else None
    return _CLASSES[key]


def _payload(cls, payload, show_secrets):
    """``(JSON object, number of payloads nested in it)`` of one payload
    of *cls* (*payload* its bytes, generic header included), or None."""
    layout = _layout(cls)
    if layout is not None:
        fields = layout.read(payload, 0, len(payload))
        return None if fields is None else ({"layer": cls.__name__, "fields": fields}, 0)
    return _dissected(cls, payload, show_secrets)


def _dissected(cls, payload, show_secrets):
    """A payload as Scapy dissects it alone, with its next payload type and
    (in an SA) SPIs zeroed; the JSON object has them put back."""
    spis = _proposal_spis(payload) if issubclass(cls, ISAKMP_payload_SA) else []
    if spis is None:
        return None
    keyed = bytearray(payload)
    keyed[0] = 0
    for at, size in spis:
        keyed[at:at + size] = bytes(size)
    key = (cls, bytes(keyed), show_secrets)
    if key not in _DISSECTED:
        if len(_DISSECTED) > _LIMIT:
            _DISSECTED.clear()
        _DISSECTED[key] = _dissect_alone(cls, key[1], len(spis), show_secrets)
    known = _DISSECTED[key]
    if known is None:
        return None
    shown, nested = known
    fields = dict(shown["fields"])
    fields["next_payload"] = _enum(cls.fields_desc[0])(payload[0])     # RFC 2408 3.2
    if any(size for _, size in spis):
        fields["prop"] = [
            {"layer": p["layer"], "fields": dict(p["fields"], SPI=payload[at:at + size].hex())}
            for p, (at, size) in zip(shown["fields"]["prop"], spis)]
    return {"layer": shown["layer"], "fields": fields}, nested


def _dissect_alone(cls, payload, proposals, show_secrets):
    """``(JSON object, nested payloads)`` of *payload* dissected by Scapy
    as *cls*, or None where Scapy flags it or, in an SA, anything but
    *proposals* proposals of transforms is nested (what is nested deeper
    could depend on the payloads around the SA)."""
    layer = cls(payload)
    if type(layer) is not cls or layer.malformed is not None \
            or not isinstance(layer.payload, NoPayload):
        return None
    nested = 0
    if isinstance(layer, ISAKMP_payload_SA):
        chain = _layers_of(layer.prop)
        if len(chain) != proposals:
            return None
        for proposal in chain:
            transforms = _layers_of(proposal.trans)
            if type(proposal) is not ISAKMP_payload_Proposal or any(
                    type(t) is not ISAKMP_payload_Transform for t in transforms) \
                    or any(p.malformed is not None for p in [proposal] + transforms):
                return None
            nested += 1 + len(transforms)
    return layer_json(layer, show_secrets), nested


def _layers_of(pkt):
    """The layers of a nested packet field's value (None: none)."""
    return [] if pkt is None else list(pkt.iterpayloads())


def _proposal_spis(sa):
    """``(offset, size)`` of each proposal's SPI in the SA payload *sa*
    (RFC 2408 3.4, 3.5), or None where the proposals do not fill it."""
    spis, offset, end, next_payload = [], GENERIC.size + SA_HEAD.size, len(sa), PayloadType.PROPOSAL
    while next_payload:
        if next_payload != PayloadType.PROPOSAL or end - offset < GENERIC.size + PROPOSAL.size:
            return None
        next_payload, _, length = GENERIC.unpack_from(sa, offset)
        _, _, size, _ = PROPOSAL.unpack_from(sa, offset + GENERIC.size)
        if not GENERIC.size + PROPOSAL.size + size <= length <= end - offset:
            return None
        spis.append((offset + GENERIC.size + PROPOSAL.size, size))
        offset += length
    return spis if offset == end else None


def _padding(data):
    """The layer of bytes after a message's payloads or its length."""
    return {"layer": conf.padding_layer.__name__, "fields": {"load": data.hex()}}


class _Layout:
    """How the fields of one layer class are read: the fixed-size ones with
    one :class:`struct.Struct`, then its byte strings by their length rules
    (``length_from``), as Scapy's ``do_dissect`` reads them."""

    def __init__(self, fixed, shown, strings):
        self.fixed, self.size = struct.Struct(fixed), struct.calcsize(fixed)
        self.shown = shown
        """(name, None or what turns the wire value into its JSON value)"""
        self.strings = strings
        """(name, length_from, what turns the bytes into JSON)"""

    def read(self, data, offset, end):
        """The JSON fields of the layer at *offset* (its bytes end at
        *end*), or None where Scapy would not read them all alike."""
        if end - offset < self.size:
            return None
        values = self.fixed.unpack_from(data, offset)
        fields = {name: value if shown is None else shown(value)
                  for (name, shown), value in zip(self.shown, values)}
        if self.strings:
            pkt = SimpleNamespace(**{name: value for (name, _), value in zip(self.shown, values)})
            offset += self.size
            for name, length_from, shown in self.strings:
                size = length_from(pkt)
                if not 0 <= size <= end - offset:
                    return None
                fields[name] = shown(data[offset:offset + size])
                offset += size
            if offset != end:
                return None         # bytes after the last field: malformed
        return fields


def _layout(cls):
    """The :class:`_Layout` of *cls*, or None where one of its fields is
    not a number, an enum, a flag set or a byte string."""
    if cls not in _LAYOUTS:
        _LAYOUTS[cls] = _make_layout(cls)
    return _LAYOUTS[cls]


def _make_layout(cls):
    """What :func:`_layout` gives, made from *cls*'s ``fields_desc``."""
    numbers = (f.ByteField, f.XByteField, f.ShortField, f.IntField, f.XIntField, f.FieldLenField)
    enums = (ours.ByteEnumField, ours.ShortEnumField, ours.IntEnumField)
    fixed, shown, strings = "!", [], []
    for field in cls.fields_desc:
        kind = type(field)
        if kind in (f.XStrLenField, VendorIDField) and field.max_length is None:
            vendor = issubclass(cls, ISAKMP_payload_VendorID) and field.name == "VendorID"
            strings.append((field.name, field.length_from, _vendor_id if vendor else bytes.hex))
            continue
        if strings:
            return None             # a fixed field after a variable one
        if kind in numbers:
            fixed, how = fixed + field.fmt[-1], None
        elif kind in enums:
            fixed, how = fixed + field.fmt[-1], _enum(field)
        elif kind is f.FlagsField and field.size in (8, 16, 32):
            fixed, how = fixed + {8: "B", 16: "H", 32: "I"}[field.size], None
        elif kind is f.XStrFixedLenField:
            fixed, how = fixed + "%ds" % field.sz, bytes.hex
        else:
            return None
        shown.append((field.name, how))
    layout = _Layout(fixed, shown, strings)
    if layout.size > getattr(cls, "min_length", layout.size):
        return None
    return layout


def _enum(field):
    """What gives the JSON object of *field*'s values (each named once)."""
    if id(field) not in _ENUMS:
        names = {}

        def shown(value):
            known = names.get(value)
            if known is None:
                if len(names) > _LIMIT:
                    names.clear()
                known = names[value] = enum_json(field, None, value)
            return known
        _ENUMS[id(field)] = shown
    return _ENUMS[id(field)]


def _vendor_id(vid):
    """The JSON value of a Vendor ID payload's bytes, each named once."""
    known = _VENDOR_IDS.get(vid)
    if known is None:
        if len(_VENDOR_IDS) > _LIMIT:
            _VENDOR_IDS.clear()
        known = _VENDOR_IDS[vid] = vendor_id_json(vid)
    return known
