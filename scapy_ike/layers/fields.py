"""Scapy fields for IKEv1 wire structures that Scapy's own fields cannot
describe losslessly: data attributes (RFC 2408 3.3) and identification data
(RFC 2407 4.6.2).

A field that meets bytes it cannot interpret keeps them as they are and
records why on the packet (``pkt.malformed``), so that ``bytes(pkt)`` still
gives back the input.
"""

import ipaddress
import struct

from scapy import fields as _scapy_fields
from scapy.fields import StrLenField

from scapy_ike.constants import IdType


def unknown(what, name, valid):
    """The one-line message for a name that is not among *valid*."""
    valid = list(valid)
    return "%s %r; valid: %s" % (what, name, ", ".join(valid) if valid else "a number")


def _flag(pkt, reason):
    """Record the first reason why *pkt* is malformed."""
    if pkt is not None and getattr(pkt, "malformed", None) is None:
        pkt.malformed = reason


class Attribute(tuple):
    """One data attribute as Scapy's ``(type, value)`` pair.

    ``tlv`` keeps the wire form: ``None`` for the basic (TV) format, else
    the length of the TLV value, so that a dissected attribute builds back
    to the same bytes.  It compares equal to a plain ``(type, value)`` tuple.
    """

    def __new__(cls, type_, value, tlv=None):
        self = super().__new__(cls, (type_, value))
        self.tlv = tlv
        return self


class AttributeSpace:
    """Names and encodings of one attribute registry.

    *types* is an IntEnum of attribute types, *values* maps a type to an
    IntEnum of its values, *variable* lists the variable-length (TLV)
    types, *legacy* gives Scapy's spellings ``{name: (type, {value name:
    value}, tlv)}`` which win over the derived ones, so that names that Scapy
    code uses keep working, and *addresses* lists types whose 4-byte values
    read as IPv4 addresses.
    """

    def __init__(self, types, values=None, variable=(), legacy=None,
                 addresses=(), type_style=None):
        legacy = legacy or {}
        style = type_style or (lambda n: n)
        self.type_names = {int(t): style(t.name) for t in types}
        self.value_names = {int(t): {int(v): v.name.replace("_", "-")
                                     for v in enum}
                            for t, enum in (values or {}).items()}
        for name, (num, names, _tlv) in legacy.items():
            self.type_names[num] = name
            table = self.value_names.setdefault(num, {})
            for vname, v in names.items():
                table[v] = vname
        self.type_numbers = {v: k for k, v in self.type_names.items()}
        self.type_numbers.update({t.name: int(t) for t in types})
        self.value_numbers = {}
        for t, table in self.value_names.items():
            rev = {v: k for k, v in table.items()}
            enum = (values or {}).get(t)
            if enum is not None:
                rev.update({v.name: int(v) for v in enum})
                rev.update({v.name.replace("_", "-"): int(v) for v in enum})
            self.value_numbers[t] = rev
        self.variable = frozenset(int(t) for t in variable)
        self.addresses = frozenset(int(t) for t in addresses)

    def type_number(self, t):
        if isinstance(t, str):
            try:
                return self.type_numbers[t]
            except KeyError:
                raise ValueError(unknown("unknown attribute type", t,
                                         self.type_names.values())) from None
        return int(t)

    def knows(self, t):
        """Whether *t* (a number or a name) is a type of this space."""
        return not isinstance(t, str) or t in self.type_numbers

    def value_number(self, t, v):
        if isinstance(v, str) and t not in self.variable:
            try:
                return self.value_numbers.get(t, {})[v]
            except KeyError:
                if t in self.addresses:
                    return ipaddress.IPv4Address(v).packed
                raise ValueError(unknown(
                    "unknown value for attribute %s:" % self.type_names.get(t, t),
                    v, self.value_names.get(t, {}).values())) from None
        if isinstance(v, str):
            return v.encode()
        return v

    def numbers(self, attributes):
        """``{type: value}`` of decoded attributes, as numbers; ValueError
        when one is not of this space or is malformed (RFC 2408 3.3)."""
        values = {}
        for name, value in attributes:
            if name is None:
                raise ValueError("malformed attribute bytes %s" % bytes(value).hex())
            number = self.type_number(name)
            values[number] = self.value_number(number, value)
        return values

    def encode(self, attr):
        """Wire bytes of one ``(type, value)`` pair or :class:`Attribute`."""
        t, v = attr
        if t is None:                       # bytes kept from a malformed tail
            return v
        t = self.type_number(t)
        v = self.value_number(t, v)
        tlv = getattr(attr, "tlv", None)
        if isinstance(v, str):
            v = v.encode()
        if isinstance(v, (bytes, bytearray)):
            size = len(v) if tlv is None else tlv
            return struct.pack("!HH", t & 0x7FFF, size) + bytes(v)
        v = int(v)
        if tlv is None and v <= 0xFFFF:
            return struct.pack("!HH", t | 0x8000, v)
        if tlv is None:
            tlv = max(4, (v.bit_length() + 7) // 8)
        return struct.pack("!HH", t & 0x7FFF, tlv) + v.to_bytes(tlv, "big")

    def decode(self, pkt, data):
        """Attributes of *data*, each an :class:`Attribute` (RFC 2408 3.3)."""
        out = []
        while len(data) >= 4:
            t, v = struct.unpack("!HH", data[:4])
            basic = bool(t & 0x8000)
            t &= 0x7FFF
            name = self.type_names.get(t, t)
            if basic:
                out.append(Attribute(name, self.value_names.get(t, {}).get(v, v)))
                data = data[4:]
                continue
            raw = data[4:4 + v]
            if len(raw) < v:
                _flag(pkt, "attribute %s: length %d exceeds the %d bytes left"
                      % (name, v, len(raw)))
                out.append(Attribute(name, raw, tlv=v))
                data = b""
                break
            out.append(Attribute(name, self._value(t, raw), tlv=v))
            data = data[4 + v:]
        if data:
            _flag(pkt, "%d bytes after the last attribute" % len(data))
            out.append(Attribute(None, data))
        return out

    def _value(self, t, raw):
        if t in self.addresses and len(raw) == 4:
            return str(ipaddress.IPv4Address(raw))
        if t in self.variable and raw:
            return int.from_bytes(raw, "big")
        return raw


class AttributesField(StrLenField):
    """A list of data attributes, in TV or TLV format (RFC 2408 3.3),
    named by the :class:`AttributeSpace` that *space_of(pkt)* returns.

    Names are checked when set, against every space in *spaces* (a
    transform does not know its proposal yet), so that a misspelt one is
    refused at once with the names that are valid."""

    __slots__ = ["space_of", "spaces"]
    islist = 1

    def __init__(self, name, default, space_of, length_from, spaces=()):
        super().__init__(name, default, length_from=length_from)
        self.space_of = space_of
        self.spaces = tuple(spaces)

    def i2m(self, pkt, x):
        space = self.space_of(pkt)
        return b"".join(space.encode(a) for a in x or [])

    def m2i(self, pkt, m):
        return self.space_of(pkt).decode(pkt, m)

    def any2i(self, pkt, x):
        if x is None:
            return None
        x = list(x)
        for attr in x:
            self._check(pkt, *attr)
        return x

    def _check(self, pkt, t, v):
        if t is None:
            return
        here = self.space_of(pkt)
        spaces = [s for s in (here,) + self.spaces if s.knows(t)]
        if not spaces:
            names = dict.fromkeys(n for s in (here,) + self.spaces for n in s.type_names.values())
            raise ValueError(unknown("unknown attribute type", t, names))
        errors = []
        for space in spaces:
            try:
                space.value_number(space.type_number(t), v)
                return
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(errors[0])

    def i2len(self, pkt, x):
        return len(self.i2m(pkt, x))

    def i2repr(self, pkt, x):
        return repr([tuple(a) for a in x or []])


class _NamedEnum:
    """Scapy's enum fields, with more spellings (*aliases*, ``{name:
    number}``) and a name that is not one of them refused in one line that
    lists the valid ones."""

    __slots__ = ()

    def __init__(self, name, default, enum, aliases=None):
        super().__init__(name, default, enum)
        self.s2i.update(aliases or {})

    def any2i_one(self, pkt, x):
        if isinstance(x, str) and x not in self.s2i:
            raise ValueError(unknown("%s: unknown name" % self.name, x, self.i2s.values()))
        return super().any2i_one(pkt, x)


class ByteEnumField(_NamedEnum, _scapy_fields.ByteEnumField):
    """Scapy's ``ByteEnumField`` with :class:`_NamedEnum`'s names."""


class ShortEnumField(_NamedEnum, _scapy_fields.ShortEnumField):
    """Scapy's ``ShortEnumField`` with :class:`_NamedEnum`'s names."""


class IntEnumField(_NamedEnum, _scapy_fields.IntEnumField):
    """Scapy's ``IntEnumField`` with :class:`_NamedEnum`'s names."""


class ContextEnumField(_scapy_fields.ByteEnumField):
    """A byte enum whose names depend on another field of the packet, like a
    transform ID whose meaning depends on the proposal's protocol.  Names
    given when building may come from any of the tables (a transform does
    not know its proposal yet), so they must be unique across them."""

    __slots__ = ["tables_of", "numbers"]

    def __init__(self, name, default, tables_of, all_tables):
        super().__init__(name, default, {})
        self.tables_of = tables_of
        self.numbers = {n: v for table in all_tables for v, n in table.items()}

    def i2repr(self, pkt, x):
        name = self.tables_of(pkt).get(x)
        return repr(x) if name is None else name

    def any2i(self, pkt, x):
        if isinstance(x, str):
            try:
                return self.numbers[x]
            except KeyError:
                raise ValueError(unknown("%s: unknown name" % self.name, x, self.numbers)) from None
        return x


def _mask_text(mask):
    """``24`` for a contiguous mask, else the mask in address form."""
    bits = len(mask) * 8
    value = int.from_bytes(mask, "big")
    ones = bin(value).count("1")
    if value == ((1 << bits) - 1) ^ ((1 << (bits - ones)) - 1):
        return str(ones)
    return str(ipaddress.ip_address(mask))


_ADDRESS_FORMS = {
    # ID type: (address class, address size, number of addresses, joiner)
    IdType.IPV4_ADDR: (ipaddress.IPv4Address, 4, 1, None),
    IdType.IPV6_ADDR: (ipaddress.IPv6Address, 16, 1, None),
    IdType.IPV4_ADDR_SUBNET: (ipaddress.IPv4Address, 4, 2, "/"),
    IdType.IPV6_ADDR_SUBNET: (ipaddress.IPv6Address, 16, 2, "/"),
    IdType.IPV4_ADDR_RANGE: (ipaddress.IPv4Address, 4, 2, "-"),
    IdType.IPV6_ADDR_RANGE: (ipaddress.IPv6Address, 16, 2, "-"),
}


class IdentDataField(StrLenField):
    """Identification data (RFC 2407 4.6.2): addresses as text
    (``"192.0.2.1"``, ``"10.0.0.0/24"``, ``"10.0.0.1-10.0.0.9"``), names and
    DER data as bytes.  Data whose length does not fit its type stays bytes
    and marks the packet malformed."""

    __slots__ = ["type_field"]

    def __init__(self, name, default, type_field, length_from):
        super().__init__(name, default, length_from=length_from)
        self.type_field = type_field

    def _form(self, pkt):
        return _ADDRESS_FORMS.get(pkt.getfieldval(self.type_field))

    def m2i(self, pkt, m):
        form = self._form(pkt)
        if form is None:
            return m
        family, size, count, joiner = form
        if len(m) != size * count:
            _flag(pkt, "%s data has %d bytes, expected %d" % (
                IdType(pkt.getfieldval(self.type_field)).name, len(m), size * count))
            return m
        first = str(family(m[:size]))
        if count == 1:
            return first
        second = m[size:]
        if joiner == "/":
            return first + "/" + _mask_text(second)
        return first + "-" + str(family(second))

    def i2m(self, pkt, x):
        if x is None:
            return b""
        if isinstance(x, bytes):
            return x
        form = self._form(pkt)
        if form is None:
            return x.encode()
        family, _, count, joiner = form
        if count == 1:
            return family(x).packed
        first, second = x.split(joiner)
        if joiner == "/":
            if "." in second or ":" in second:
                return family(first).packed + family(second).packed
            net = ipaddress.ip_network("%s/%s" % (first, second), strict=False)
            return family(first).packed + net.netmask.packed
        return family(first).packed + family(second).packed

    def any2i(self, pkt, x):
        return x

    def i2len(self, pkt, x):
        return len(self.i2m(pkt, x))

