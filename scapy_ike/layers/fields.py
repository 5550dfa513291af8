"""Scapy fields for IKEv1 wire structures that Scapy's own fields cannot
describe losslessly: data attributes (RFC 2408 3.3, read and written by
:mod:`scapy_ike.attributes`) and identification data (RFC 2407 4.6.2).

A field that meets bytes it cannot interpret keeps them as they are and
records why on the packet (``pkt.malformed``), so that ``bytes(pkt)`` still
gives back the input.
"""

import ipaddress

from scapy import fields as _scapy_fields
from scapy.fields import StrLenField

from scapy_ike.attributes import flag_malformed, unknown
from scapy_ike.constants import IdType


class AttributesField(StrLenField):
    """A list of data attributes, in TV or TLV format (RFC 2408 3.3),
    named by the :class:`~scapy_ike.attributes.AttributeSpace` that
    *space_of(pkt)* returns.

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
            flag_malformed(pkt, "%s data has %d bytes, expected %d" % (
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

