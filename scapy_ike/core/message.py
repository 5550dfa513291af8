"""An ISAKMP message as the engine reads and writes it: the fixed header
(RFC 2408 3.1) and the chain of generic payload headers (RFC 2408 3.2),
with :mod:`struct`.

The engine needs most payloads only as bodies (KE, Nonce, HASH, NAT-D,
Vendor ID, ID).  The SA payloads of a peer's offer are read here too
(:func:`parse_sa`), and a responder's answer is the transform it chose,
echoed (:func:`encode_sa`), their attributes read by the layers' codecs;
so are Notify and Delete payloads, both ways; the offers we make are
built with the Scapy layers, once per exchange we start.  Dissecting every message whole
with Scapy would cost more than the cryptography of a handshake; the
layers stay the one description of each payload's fields, and captures
and logs show whole messages with them.
"""

import struct
from dataclasses import dataclass
from typing import List, Tuple

from scapy_ike.attributes import CONFIG_ATTRIBUTES, IPSEC_ATTRIBUTES, OAKLEY_ATTRIBUTES
from scapy_ike.constants import DOI, MAX_PAYLOADS, Flags, PayloadType, ProtocolId
from scapy_ike.names import NOTIFY_NAMES

HEADER = struct.Struct("!8s8sBBBBII")
GENERIC = struct.Struct("!BBH")
SA_HEAD = struct.Struct("!II")          # DOI, Situation (RFC 2408 3.4)
PROPOSAL = struct.Struct("!BBBB")       # number, protocol, SPI size, transforms (3.5)
TRANSFORM = struct.Struct("!BBH")       # number, transform ID, reserved (3.6)
SIT_IDENTITY_ONLY = 1
NOTICE = struct.Struct("!IBBH")         # DOI, protocol, SPI size, then a Notify's type
                                        # (3.14) or a Delete's number of SPIs (3.15)


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


def chain(first, data, most=MAX_PAYLOADS) -> Tuple[Tuple[int, bytes], ...]:
    """``(type, payload bytes)`` of the payload chain that starts with
    type *first* in *data*, at *most* payloads; what follows the last
    payload (a decrypted body's padding) is left out."""
    out: List[Tuple[int, bytes]] = []
    ptype, offset = first, 0
    while ptype:
        if len(out) == most:
            raise MessageError("more than %d payloads" % most)
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


@dataclass(frozen=True)
class Transform:
    """One Transform payload of an offer, named as its Scapy layer names
    its fields, with *raw* its bytes (generic header included)."""

    transform_count: int        # the transform's number
    transform_id: int
    transforms: tuple           # the attributes, as the layers' codec reads them
    raw: bytes


@dataclass(frozen=True)
class Proposal:
    """One Proposal payload of an offer, with its transforms."""

    proposal: int
    proto: int
    SPI: bytes
    trans: Tuple[Transform, ...]


@dataclass(frozen=True)
class SaPayload:
    """An SA payload's body as the engine reads it (RFC 2408 3.4-3.6)."""

    doi: int
    situation: int
    proposals: Tuple[Proposal, ...]


def parse_sa(body):
    """The proposals and transforms of an SA payload *body*, with
    :mod:`struct`; a chain that does not add up is a MessageError."""
    if len(body) < SA_HEAD.size:
        raise MessageError("SA payload: %d bytes" % len(body))
    doi, situation = SA_HEAD.unpack_from(body)
    if situation != SIT_IDENTITY_ONLY:         # the only one IKE uses (RFC 2407 4.2)
        raise MessageError("SA payload: situation %#x" % situation)
    proposals = []
    for _, raw in chain(PayloadType.PROPOSAL, body[SA_HEAD.size:]):
        if len(raw) < GENERIC.size + PROPOSAL.size:
            raise MessageError("proposal payload: %d bytes" % len(raw))
        number, proto, spi_size, count = PROPOSAL.unpack_from(raw, GENERIC.size)
        start = GENERIC.size + PROPOSAL.size
        if start + spi_size > len(raw):
            raise MessageError("proposal payload: SPI of %d bytes in %d" % (spi_size, len(raw)))
        space = OAKLEY_ATTRIBUTES if proto == ProtocolId.ISAKMP else IPSEC_ATTRIBUTES
        transforms = []
        for _, t in chain(PayloadType.TRANSFORM if count else 0, raw[start + spi_size:], 255):
            if len(t) < GENERIC.size + TRANSFORM.size:
                raise MessageError("transform payload: %d bytes" % len(t))
            t_number, t_id, _ = TRANSFORM.unpack_from(t, GENERIC.size)
            attributes = space.decode(None, t[GENERIC.size + TRANSFORM.size:])
            transforms.append(Transform(t_number, t_id, tuple(attributes), t))
        proposals.append(Proposal(number, proto, raw[start:start + spi_size], tuple(transforms)))
    return SaPayload(doi, situation, tuple(proposals))


def encode_sa(proposal, transform, spi=None):
    """The body of an SA payload answering with one *transform* of
    *proposal* (RFC 2408 4.2: the responder returns the transform it
    chose), under our *spi* when given (a Quick Mode's inbound SPI)."""
    spi = proposal.SPI if spi is None else spi
    echoed = bytes([0]) + transform.raw[1:]
    body = PROPOSAL.pack(proposal.proposal, proposal.proto, len(spi), 1) + spi + echoed
    return SA_HEAD.pack(DOI.IPSEC, SIT_IDENTITY_ONLY) + GENERIC.pack(0, 0, GENERIC.size + len(body)) \
        + body


@dataclass(frozen=True)
class Notify:
    """A Notification payload's body (RFC 2408 3.14), its fields named as
    its Scapy layer names them."""

    doi: int
    proto: int
    notify_msg_type: int
    SPI: bytes
    notify_data: bytes

    @property
    def name(self):
        """The notify type as the layers name it: ``NO-PROPOSAL-CHOSEN``."""
        return NOTIFY_NAMES.get(self.notify_msg_type, str(self.notify_msg_type))


@dataclass(frozen=True)
class Delete:
    """A Delete payload's body (RFC 2408 3.15)."""

    doi: int
    proto: int
    SPIs: Tuple[bytes, ...]


def _notice(body, what, spis):
    """DOI, protocol, SPI size, the fourth field and the SPI bytes of a
    Notify or Delete body holding *spis* SPIs (None: the fourth field)."""
    if len(body) < NOTICE.size:
        raise MessageError("%s payload: %d bytes" % (what, len(body)))
    doi, proto, spi_size, fourth = NOTICE.unpack_from(body)
    count = fourth if spis is None else spis
    if NOTICE.size + spi_size * count > len(body):
        raise MessageError("%s payload: %d SPIs of %d bytes in %d"
                           % (what, count, spi_size, len(body)))
    return doi, proto, spi_size, fourth, body[NOTICE.size:NOTICE.size + spi_size * count]


def parse_notify(body):
    """A Notification payload's body (RFC 2408 3.14)."""
    doi, proto, size, kind, spi = _notice(body, "notify", 1)
    return Notify(doi, proto, kind, spi, body[NOTICE.size + size:])


def encode_notify(proto, spi, notify_type, data=b""):
    """A Notification payload's body, in the IPsec DOI."""
    return NOTICE.pack(DOI.IPSEC, proto, len(spi), notify_type) + spi + data


def parse_delete(body):
    """A Delete payload's body (RFC 2408 3.15)."""
    doi, proto, size, _, spis = _notice(body, "delete", None)
    return Delete(doi, proto, tuple(spis[n:n + size] for n in range(0, len(spis), size or 1)))


def encode_delete(proto, spis):
    """A Delete payload's body for *spis*, all of one size, in the IPsec DOI."""
    size = len(spis[0]) if spis else 0
    return NOTICE.pack(DOI.IPSEC, proto, size, len(spis)) + b"".join(spis)


ATTRIBUTES_HEAD = struct.Struct("!BBH")     # type, reserved, identifier


@dataclass
class ConfigMessage:
    """An Attributes payload (draft-dukes-ike-mode-cfg-02 3.2): its type
    (REQUEST, REPLY, SET, ACK), identifier, and ``(type number, value)``
    attributes in their order (a type may repeat: several DNS servers)."""

    cfg_type: int
    identifier: int
    attributes: List[Tuple[int, object]]

    def values(self, attr):
        """Every value of attribute type *attr*."""
        return [v for t, v in self.attributes if t == attr]

    def first(self, attr, default=None):
        found = self.values(attr)
        return found[0] if found else default


def parse_attributes(body):
    """The Attributes payload body (after its generic header); a malformed
    attribute is a MessageError."""
    if len(body) < ATTRIBUTES_HEAD.size:
        raise MessageError("Attributes payload of %d bytes" % len(body))
    cfg_type, _, identifier = ATTRIBUTES_HEAD.unpack_from(body)
    attributes = []
    for name, value in CONFIG_ATTRIBUTES.decode(None, bytes(body[ATTRIBUTES_HEAD.size:])):
        if name is None:
            raise MessageError("malformed attribute bytes %s" % bytes(value).hex())
        number = CONFIG_ATTRIBUTES.type_number(name)
        if isinstance(value, str):                  # an address the codec shows as text
            value = CONFIG_ATTRIBUTES.value_number(number, value)
        elif not isinstance(value, (bytes, bytearray)):
            value = int(CONFIG_ATTRIBUTES.value_number(number, value))
        attributes.append((number, bytes(value) if isinstance(value, bytearray) else value))
    return ConfigMessage(cfg_type, identifier, attributes)


def encode_attributes(cfg_type, identifier, attributes):
    """An Attributes payload body: *attributes* as ``(type, value)``, an
    int for the basic ones, bytes for the variable ones (empty to ask)."""
    return ATTRIBUTES_HEAD.pack(cfg_type, 0, identifier) + b"".join(
        CONFIG_ATTRIBUTES.encode(a) for a in attributes)
