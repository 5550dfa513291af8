"""The exchanges of an IKE SA (RFC 2408 4, RFC 2409 5): each owns its
message ID, role, state, IV chain and retransmission, so that several run
side by side (a Quick Mode during another, an Informational any time).

The handlers of every kind are plain functions ``handler(exchange, msg,
now)`` named by the one transition table, :mod:`scapy_ike.core.state`.
A handler first checks the message (its HASH, its payloads) and only then
calls ``msg.accept()``, which confirms the IV chain; after that it may
change state and answer.  An error raised before ``accept()`` came from a
message that did not authenticate, and the connection drops it with no
trace but an event.
"""

from dataclasses import dataclass

from scapy_ike.constants import NotifyType, PayloadType
from scapy_ike.core.errors import RemoteProtocolError
from scapy_ike.core.message import MessageError, parse_delete, parse_notify, parse_sa
from scapy_ike.crypto import dh


@dataclass(frozen=True)
class Datagram:
    """What to send: *data* (with the non-ESP marker on the NAT-T port)
    from our *local_port* to *addr*."""

    data: bytes
    addr: tuple
    local_port: int


class Incoming:
    """A received message as a handler sees it: the parsed
    :class:`~scapy_ike.core.message.Message` (decrypted when it was
    encrypted), the datagram as it came, and :meth:`accept`."""

    __slots__ = ("msg", "wire", "encrypted", "accepted", "_confirm")

    def __init__(self, msg, wire, encrypted, confirm):
        self.msg, self.wire, self.encrypted = msg, wire, encrypted
        self.accepted = False
        self._confirm = confirm

    @property
    def message_id(self):
        return self.msg.message_id

    @property
    def payloads(self):
        return self.msg.payloads

    def bodies(self, ptype):
        return self.msg.bodies(ptype)

    def notifies(self):
        """The Notification payloads, read with struct (a malformed one is
        an error: it came under the message's HASH or in clear)."""
        return [_read(parse_notify, body) for body in self.msg.bodies(PayloadType.NOTIFICATION)]

    def deletes(self):
        """The Delete payloads, read with struct."""
        return [_read(parse_delete, body) for body in self.msg.bodies(PayloadType.DELETE)]

    def body(self, ptype):
        """The body of the first *ptype* payload."""
        found = self.msg.bodies(ptype)
        if not found:
            raise RemoteProtocolError("no %s payload" % PayloadType(ptype).name)
        return found[0]

    def sa(self):
        """The first SA payload, read with struct."""
        try:
            return parse_sa(self.body(PayloadType.SA))
        except MessageError as exc:
            raise RemoteProtocolError(str(exc)) from None

    def accept(self):
        """The message authenticated (or, in clear before the key exchange,
        is well formed): its IV chain moves, and state may change now."""
        if not self.accepted:
            self.accepted = True
            self._confirm()


class Exchange:
    """One exchange of an IKE SA: *kind* names its rows in the table."""

    kind = None

    def __init__(self, conn, role, message_id, state):
        self.conn = conn
        self.role = role
        self.message_id = message_id
        self.state = state
        self.pending = None          # (datagram, [deadlines]) of our outstanding request
        self.replies = {}            # request as received -> our answer
        self.seen = set()            # answers already taken
        self.unauthenticated = 0     # messages dropped because they did not authenticate
        self.ended = None            # when it completed or failed

    # -- sending ---------------------------------------------------------------

    def send(self, message, now, request=True, reply_to=None):
        """Queue *message*; a *request* is retransmitted until answered
        (RFC 2408 5.1 leaves the schedule to us: charon's), a reply is
        remembered for the request *reply_to* so that its retransmission
        gets the same answer."""
        datagram = self.conn.datagram(message)
        self.conn.endpoint.outgoing.append(datagram)
        if reply_to is not None:
            self.replies[reply_to] = datagram
        if request:
            deadlines, t = [], now
            for delay in self.conn.config.retransmission.delays():
                t += delay
                deadlines.append(t)
            self.pending = (datagram, deadlines)
        else:
            self.pending = None

    def timer(self):
        """When the pending request is next retransmitted, or None."""
        return self.pending[1][0] if self.pending else None

    def dropped_text(self):
        """How many messages of this exchange did not authenticate."""
        n = self.unauthenticated
        return "%d message%s did not authenticate" % (n, "s" * (n > 1))

    def retransmit(self, now):
        """Resend the pending request if its time has come; True when the
        last try has gone unanswered (the exchange's TIMEOUT input)."""
        if self.pending is None or now < self.pending[1][0]:
            return False
        datagram, deadlines = self.pending
        deadlines.pop(0)
        if not deadlines:
            self.pending = None
            return True
        self.conn.endpoint.outgoing.append(datagram)
        attempt = self.conn.config.retransmission.tries - len(deadlines)
        self.conn.retransmitted(self.message_id, attempt)
        return False

    def encrypted(self, exchange, payloads):
        return self.conn.encrypted(exchange, payloads, self.message_id)


def shared_secret(group, dh_key, peer_ke, what="key exchange"):
    """g^xy with the peer's public value, or the peer's error: an invalid
    value is answered with INVALID-KEY-INFORMATION (RFC 2408 3.14.1)."""
    try:
        return dh.shared_secret(group, dh_key, peer_ke)
    except ValueError as exc:
        raise RemoteProtocolError("invalid %s: %s" % (what, exc),
                                  NotifyType.INVALID_KEY_INFORMATION) from None


def _read(parse, body):
    try:
        return parse(body)
    except MessageError as exc:
        raise RemoteProtocolError(str(exc)) from None
