"""Data attributes (RFC 2408 3.3) as a reader wants them: type and value
by name, an address as text, text as text, and the wire value; secrets
(XAuth passwords, passcodes and PINs, draft-beaulieu-ike-xauth-02 6) as
their length only unless asked."""

import struct
from typing import NamedTuple

from scapy_ike.attributes import CONFIG_ATTRIBUTES
from scapy_ike.core import modecfg
from scapy_ike.core.modecfg import SECRETS as SECRET_ATTRIBUTES



class Shown(NamedTuple):
    number: int
    name: str
    length: int        # 2 for the basic (TV) format, else the TLV length
    wire: str          # the value's bytes in hex, or <hidden N bytes>
    value: object      # a name with its number, a number, an address or text


def read_attribute(space, attribute, show_secrets=False):
    """The :class:`Shown` form of one decoded attribute of *space* (an
    :class:`~scapy_ike.attributes.AttributeSpace`), None for the bytes
    of a malformed tail.  *show_secrets* applies to Mode Config's secret
    attributes (*space* being CONFIG_ATTRIBUTES)."""
    if attribute[0] is None:
        return None
    wire = space.encode(attribute)
    kind, size = struct.unpack("!HH", wire[:4])
    number, tv = kind & 0x7FFF, bool(kind & 0x8000)
    raw = wire[2:4] if tv else wire[4:]
    name = space.type_names.get(number, str(number))
    length = 2 if tv else size
    if number in SECRET_ATTRIBUTES and not show_secrets and _is_config(space):
        hidden = "<hidden %d bytes>" % len(raw)
        return Shown(number, name, length, hidden, hidden)
    return Shown(number, name, length, raw.hex(), _value(space, number, tv, raw))


def _is_config(space):
    return space is CONFIG_ATTRIBUTES


def _value(space, number, tv, raw):
    if not raw:
        return "(empty)"
    value = int.from_bytes(raw, "big")
    names = space.value_names.get(number)
    if names:
        return "%s (%d)" % (names.get(value, "Unknown"), value)
    if tv or number in space.variable:
        return value
    if number in modecfg.KINDS and _is_config(space):
        shown = modecfg.value(number, raw)
        return ", ".join(shown) if isinstance(shown, list) else shown
    if number in space.addresses and len(raw) == 4:
        return ".".join(map(str, raw))
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return raw.hex()
    return text if text.isprintable() else raw.hex()
