"""An ISAKMP message as the engine reads and writes it: the fixed header
(RFC 2408 3.1) and the chain of generic payload headers (RFC 2408 3.2),
with :mod:`struct`.

The engine needs most payloads only as bodies (KE, Nonce, HASH, NAT-D,
Vendor ID, ID).  Those whose fields it reads (SA, Notify, Delete) are
dissected by their Scapy layer, one payload at a time, and the messages
it sends embed the bytes of Scapy-built SA, Notify and Delete payloads.
Dissecting every message whole with Scapy would cost more than the
cryptography of a handshake; the layers stay the one description of each
payload's fields, and captures and logs show whole messages with them.
"""

import struct
from dataclasses import dataclass
from typing import List, Tuple

from scapy_ike.constants import Flags
from scapy_ike.layers.isakmp import MAX_PAYLOADS, PAYLOAD_CLASSES

HEADER = struct.Struct("!8s8sBBBBII")
GENERIC = struct.Struct("!BBH")


class MessageError(ValueError):
    """The bytes are not a well-formed ISAKMP message."""


@dataclass
class Message:
    """One ISAKMP message: header fields, and the payloads as
    ``(type, bytes with generic header)`` once the body is clear."""

    cky_i: bytes
    cky_r: bytes
    next_payload: int
    version: int
    exch_type: int
    flags: int
    message_id: int
    body: bytes
    payloads: Tuple[Tuple[int, bytes], ...] = ()

    @classmethod
    def parse(cls, data):
        """The message in *data*; a clear body's payload chain is walked
        (bytes after the header's length are ignored, as RFC 2408 3.1's
        length says where the message ends)."""
        if len(data) < HEADER.size:
            raise MessageError("%d bytes: shorter than the ISAKMP header" % len(data))
        fields = HEADER.unpack_from(data)
        length = fields[-1]
        if not HEADER.size <= length <= len(data):
            raise MessageError("header length %d, datagram %d bytes" % (length, len(data)))
        msg = cls(*fields[:-1], body=data[HEADER.size:length])
        if not msg.flags & Flags.ENCRYPTION:
            msg.payloads = chain(msg.next_payload, msg.body)
        return msg

    def opened(self, plain):
        """This message with its decrypted body *plain* (padding and all)."""
        return Message(self.cky_i, self.cky_r, self.next_payload, self.version,
                       self.exch_type, self.flags & ~Flags.ENCRYPTION, self.message_id,
                       plain, chain(self.next_payload, plain))

    def all(self, ptype):
        """Every payload of type *ptype*, with its generic header."""
        return [raw for t, raw in self.payloads if t == ptype]

    def bodies(self, ptype):
        """The bodies (after the generic header) of every *ptype* payload."""
        return [raw[GENERIC.size:] for raw in self.all(ptype)]

    def layers(self, ptype):
        """Every *ptype* payload dissected by its Scapy layer."""
        cls = PAYLOAD_CLASSES[ptype]
        return [cls(raw) for raw in self.all(ptype)]


def chain(first, data) -> Tuple[Tuple[int, bytes], ...]:
    """``(type, payload bytes)`` of the payload chain that starts with
    type *first* in *data*; what follows the last payload (a decrypted
    body's padding) is left out."""
    out: List[Tuple[int, bytes]] = []
    ptype, offset = first, 0
    while ptype:
        if len(out) == MAX_PAYLOADS:
            raise MessageError("more than %d payloads" % MAX_PAYLOADS)
        if offset + GENERIC.size > len(data):
            raise MessageError("payload %d: truncated generic header" % ptype)
        following, _, length = GENERIC.unpack_from(data, offset)
        if length < GENERIC.size or offset + length > len(data):
            raise MessageError("payload %d: length %d with %d bytes left"
                               % (ptype, length, len(data) - offset))
        out.append((ptype, data[offset:offset + length]))
        ptype, offset = following, offset + length
    return tuple(out)


def encode_payloads(payloads):
    """The chain of ``(type, body)`` *payloads*, each behind its generic
    header naming the next."""
    out = []
    for i, (_, body) in enumerate(payloads):
        following = payloads[i + 1][0] if i + 1 < len(payloads) else 0
        out.append(GENERIC.pack(following, 0, GENERIC.size + len(body)) + body)
    return b"".join(out)


def encode_header(cky_i, cky_r, first, exch_type, flags, message_id, length):
    """The ISAKMP header, version 1.0 (RFC 2408 3.1)."""
    return HEADER.pack(cky_i, cky_r, first, 0x10, exch_type, flags, message_id, length)


def body_of(layer):
    """The body of a payload built with its Scapy layer.  Every layer,
    nested ones too, is marked explicit first: ``bytes()`` then skips the
    clone Scapy makes to resolve random values (there are none here)."""
    _explicit(layer)
    return bytes(layer)[GENERIC.size:]


def _explicit(pkt):
    layer = pkt
    while layer:
        layer.explicit = 1
        for f in layer.fields_desc:
            if f.holds_packets and layer.getfieldval(f.name) is not None:
                _explicit(layer.getfieldval(f.name))
        layer = layer.payload
