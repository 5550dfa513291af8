"""What a debug log says of a message's payloads (RFC 2408 3), read from
its ``(type, body)`` list: the payload types in order, each with the one
fact a Cisco ``debug crypto isakmp`` log prints of it.  Secrets stay out:
Mode Config's passwords come as their length (:mod:`scapy_ike.core.modecfg`),
keying material as its length only."""

from typing import NamedTuple

from scapy_ike.constants import PayloadType as T
from scapy_ike.core import modecfg
from scapy_ike.core.message import MessageError, parse_attributes, parse_delete, parse_notify


class Fact(NamedTuple):
    """One payload: its *type* and what is told of it, by type: the body
    of an ID or a Vendor ID; ``(notify type, protocol, SPI, data)`` of a
    notify; ``(protocol, SPIs)`` of a Delete; ``(Attributes type,
    identifier, (name, value) pairs)`` of an Attributes payload; the
    length of any other (None when it could not be read)."""

    type: int
    value: object


def facts(payloads, with_headers=False):
    """The :class:`Fact` of each ``(type, body)`` payload; *with_headers*
    when each body still has its 4-byte generic header (a received
    message's, as :class:`~scapy_ike.core.message.Message` keeps them)."""
    out = []
    for ptype, body in payloads:
        body = bytes(body[4:] if with_headers else body)
        out.append(Fact(ptype, _fact(ptype, body)))
    return tuple(out)


def _fact(ptype, body):
    try:
        if ptype in (T.ID, T.VENDOR_ID):
            return body
        if ptype == T.NOTIFICATION:
            n = parse_notify(body)
            return n.notify_msg_type, n.proto, n.SPI, n.notify_data
        if ptype == T.DELETE:
            d = parse_delete(body)
            return d.proto, d.SPIs
        if ptype == T.ATTRIBUTES:
            cfg = parse_attributes(body)
            return cfg.cfg_type, cfg.identifier, modecfg.named(cfg.attributes)
    except MessageError:
        return None
    return len(body)
