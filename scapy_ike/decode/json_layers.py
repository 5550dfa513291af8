"""The JSON layers of a decoded frame (:mod:`~scapy_ike.decode.json_fields`'
schema), without Scapy dissecting every packet where the layers are plain
headers.

Ethernet, IPv4 without options (RFC 791 3.1), UDP (RFC 768), ESP
(RFC 4303 2: SPI, sequence number, the rest as data), the non-ESP marker
(RFC 3948 2.2) and Raw are built from the header's bytes: a header is
dissected by Scapy once per set of values that do not change from packet
to packet (IPv4's total length, identification and checksum and UDP's
length and checksum do, and are put in), and Scapy is asked which layer
comes next (``guess_payload_class``, then ``dispatch_hook``), as it would
in dissecting the whole packet.  IKEv1 messages, in the frame or
decrypted, are read by :mod:`~scapy_ike.decode.json_isakmp`.
Anything else (IPv6, options, padding, TCP, ISAKMP that module leaves
alone...) is dissected by Scapy from the start of that packet, so that
the output is the same.
"""

import struct

from scapy.config import conf
from scapy.layers.inet import IP, UDP
from scapy.layers.ipsec import ESP, NON_ESP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from scapy_ike.decode import json_isakmp
from scapy_ike.decode.json_fields import layer_json
from scapy_ike.decode.session import IP_LAYER, ISAKMP_LAYER, _dissect
from scapy_ike.layers.isakmp import ISAKMP

_HEADERS = {}
"""(class, header bytes with the changing fields zeroed) -> (a Scapy
packet of the header, its JSON fields)."""
_LIMIT = 65536


def record_layers(record, show_secrets=False):
    """The JSON layers of *record*'s frame, then of what decryption revealed."""
    layers = _headers(conf.l2types.num2layer.get(record.linktype, Raw), record.data,
                      show_secrets)
    if layers is None:
        layers = _scapy(record.packet, show_secrets)
    for kind, data, _ in record.opened:
        fast = None
        if kind == IP_LAYER and data[:1] and data[0] >> 4 == 4:
            fast = _headers(IP, data, show_secrets)
        elif kind == ISAKMP_LAYER:
            fast = _headers(_dispatched(ISAKMP, data), data, show_secrets)
        layers += fast if fast is not None else _scapy(_dissect(kind, data), show_secrets)
    return layers


def _scapy(pkt, show_secrets):
    return [layer_json(layer, show_secrets) for layer in pkt.iterpayloads()]


def _headers(cls, data, show_secrets=False):
    """The JSON layers of *data* as Scapy dissects it with *cls*, or None
    where a layer is not one built here."""
    layers, offset, end = [], 0, len(data)
    while offset < end:
        if cls is Raw:
            layers.append({"layer": "Raw", "fields": {"load": data[offset:].hex()}})
            return layers
        if cls is ESP:
            if end - offset < 8:
                return None
            spi, seq = struct.unpack_from("!II", data, offset)
            layers.append({"layer": "ESP", "fields": {"spi": spi, "seq": seq,
                                                      "data": data[offset + 8:].hex()}})
            return layers
        if cls is ISAKMP:
            message = json_isakmp.message_layers(data[offset:], show_secrets)
            return None if message is None else layers + message
        if cls is Ether:
            size, changing = 14, ()
        elif cls is IP:
            if data[offset] != 0x45 or end - offset < 20:
                return None
            size, changing = 20, (("len", 2), ("id", 4), ("chksum", 10))
            if struct.unpack_from("!H", data, offset + 2)[0] != end - offset:
                return None             # padding, or cut: Scapy's layers differ
        elif cls is UDP:
            size, changing = 8, (("len", 4), ("chksum", 6))
            if end - offset < 8 or struct.unpack_from("!H", data, offset + 4)[0] != end - offset:
                return None
        elif cls is NON_ESP:
            size, changing = 4, ()
        else:
            return None
        if end - offset < size:
            return None
        pkt, fields, following = _header(cls, data, offset, size, changing)
        layers.append({"layer": cls.__name__, "fields": fields})
        offset += size
        rest = data[offset:]
        cls = _dispatched(following or pkt.guess_payload_class(rest), rest)
    return layers or None


def _dispatched(cls, data):
    """The class Scapy dissects *data* with when asked for *cls*."""
    if "dispatch_hook" in cls.__dict__:     # as Scapy's Packet_metaclass does
        try:
            return cls.dispatch_hook(data)
        except Exception:
            return Raw
    return cls


def _header(cls, data, offset, size, changing):
    """The Scapy packet of a header, its JSON fields, with the changing
    16-bit fields (*changing*: name and offset) put in, and the class of
    the layer that follows where the header alone tells it (else None)."""
    header = bytearray(data[offset:offset + size])
    for _, at in changing:
        header[at:at + 2] = b"\x00\x00"
    key = (cls, bytes(header))
    known = _HEADERS.get(key)
    if known is None:
        if len(_HEADERS) > _LIMIT:
            _HEADERS.clear()
        pkt = cls(key[1])
        # Packet's own guess reads only the header's fields: it is kept
        plain = type(pkt).guess_payload_class is Packet.guess_payload_class
        known = _HEADERS[key] = (pkt, layer_json(pkt)["fields"],
                                 pkt.guess_payload_class(b"") if plain else None)
    pkt, fields, following = known
    if changing:
        fields = dict(fields)
        for name, at in changing:
            fields[name] = struct.unpack_from("!H", data, offset + at)[0]
    return pkt, fields, following
