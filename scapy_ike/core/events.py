"""What the engine tells its user, as frozen dataclasses (sans-IO: the
shell reads them with ``Endpoint.next_event()``)."""

from dataclasses import dataclass, field
from typing import Optional, Tuple


@dataclass(frozen=True)
class Event:
    """What every event is (h11's one base class)."""


@dataclass(frozen=True)
class StateChanged(Event):
    """A per-SA state machine moved, named as a Cisco debug log names it
    (``IKE_I_MM1`` ... ``IKE_P1_COMPLETE``, ``IKE_QM_I_QM1`` ...)."""

    cookies: bytes
    message_id: int
    old: str
    new: str


@dataclass(frozen=True)
class Phase1Established(Event):
    """The IKE SA is up (RFC 2409 5)."""

    cookies: bytes
    peer: Tuple[str, int]
    natted: bool
    local_id: bytes
    remote_id: bytes


@dataclass(frozen=True)
class QuickModeEstablished(Event):
    """A pair of ESP SAs is up, with the KEYMAT of both (RFC 2409 5.5)."""

    cookies: bytes
    message_id: int
    spi_in: bytes
    spi_out: bytes
    keymat_in: bytes = field(repr=False)       # secrets: never in a log line
    keymat_out: bytes = field(repr=False)
    proposal: object          # core.proposals.EspProposal
    udp_encap: bool
    local_ts: str
    remote_ts: str
    replaces: bytes = b""     # the inbound SPI of the pair this one succeeds (a rekey)
    current: bool = True      # outbound traffic goes on it (False: a rekey collision's loser)


@dataclass(frozen=True)
class XAuthRequested(Event):
    """XAuth's REQUEST (draft-beaulieu-ike-xauth-02 4.1) went to the client
    (the server's event) or came from the server (the client's), for the
    *attempt*-th time, with the server's XAUTH-MESSAGE if it sent one."""

    cookies: bytes
    attempt: int
    message: str = ""


@dataclass(frozen=True)
class XAuthStatus(Event):
    """XAuth said whether *user* is who it claims: *ok*, and *final* False
    when the server asks again (draft-beaulieu-ike-xauth-02 4.2)."""

    cookies: bytes
    ok: bool
    user: str
    final: bool = True


@dataclass(frozen=True)
class ModeConfigReceived(Event):
    """The client got its Mode Config attributes (draft-dukes-ike-mode-cfg-02
    3.2: the server's REPLY to its pull, or its SET), each as ``(name,
    value)`` with the value decoded (:func:`scapy_ike.core.modecfg.named`)."""

    cookies: bytes
    attributes: Tuple = ()

    def get(self, name, default=None):
        """The first value of the attribute called *name*."""
        return next((v for n, v in self.attributes if n == name), default)


@dataclass(frozen=True)
class AddressAssigned(Event):
    """Mode Config gave an inner address: the server to the client *user*
    (the user name, or the peer's address without XAuth), or the server to
    us (the client's event)."""

    cookies: bytes
    address: str
    user: str = ""


@dataclass(frozen=True)
class NotifyReceived(Event):
    cookies: bytes
    notify_type: int
    data: bytes


@dataclass(frozen=True)
class DeleteReceived(Event):
    """The peer's Delete (RFC 2408 3.15): of ESP SAs by the SPIs it
    receives on (our outbound ones), or of the IKE SA; *removed* names
    the pairs it removed as ``(spi_in, spi_out)``, or the IKE SA's
    cookies."""

    cookies: bytes
    protocol: int
    spis: Tuple[bytes, ...]
    removed: Tuple = ()


@dataclass(frozen=True)
class DeleteSent(Event):
    """Our Delete: of ESP SAs by our inbound SPIs, or of the IKE SA."""

    cookies: bytes
    protocol: int
    spis: Tuple[bytes, ...]


@dataclass(frozen=True)
class Rekeyed(Event):
    """A successor is up: an ESP SA pair (*old* and *new* as ``(spi_in,
    spi_out)``, under the IKE SA *cookies*) or, with protocol ISAKMP, the
    IKE SA itself (*old* and *new* the cookies)."""

    cookies: bytes
    protocol: int
    old: Tuple[bytes, ...]
    new: Tuple[bytes, ...]


@dataclass(frozen=True)
class PeerDead(Event):
    """Dead Peer Detection (RFC 3706): R-U-THERE unanswered for
    ``dpd_timeout``, the peer silent for *silent_for* seconds; every SA
    with it is gone."""

    cookies: bytes
    peer: Tuple[str, int]
    silent_for: float


@dataclass(frozen=True)
class ChildSaClosed(Event):
    """A pair of ESP SAs is gone, and why ("deleted by the peer",
    "expired", "rekeyed", "peer dead", "closed", ...): the one event a
    shell needs to drop its tunnel."""

    cookies: bytes
    spi_in: bytes
    spi_out: bytes
    reason: str


@dataclass(frozen=True)
class IkeSaClosed(Event):
    """An established IKE SA is gone, and why."""

    cookies: bytes
    reason: str


@dataclass(frozen=True)
class _Message(Event):
    """A message of the IKE SA *cookies*, with the endpoint's ``debug`` on:
    our *role* in that SA, the peer's address and port, our address and
    port, and what its payloads hold (:func:`scapy_ike.core.facts.facts`)."""

    cookies: bytes
    message_id: int
    exch_type: int
    role: str
    peer: Tuple[str, int]
    local: str
    local_port: int
    payloads: Tuple = ()


@dataclass(frozen=True)
class MessageSent(_Message):
    """A message left for the peer (the facts of IOS's ``sending packet
    to`` line and of what comes before it)."""


@dataclass(frozen=True)
class MessageReceived(_Message):
    """A message of the peer opened (decrypted when it was encrypted;
    whether it authenticates is told by what follows: a Dropped event or
    the exchange's next state)."""


@dataclass(frozen=True)
class TransformChecked(Event):
    """One offered transform checked against one of our proposals, with
    the endpoint's ``debug`` on (IOS's ``Checking ISAKMP transform 1
    against priority 10 policy``, or ``Checking IPSec proposal 1``):
    *phase* 1 or 2, the proposal and transform numbers, the transform ID,
    its attributes as ``(name, value)`` (as the layers name them), our
    proposal's position (*policy*, from 1), and whether they matched."""

    cookies: bytes
    message_id: int
    phase: int
    proposal: int
    transform: int
    transform_id: int
    attributes: Tuple
    policy: int
    accepted: bool


@dataclass(frozen=True)
class Retransmitted(Event):
    cookies: bytes
    message_id: int
    attempt: int


@dataclass(frozen=True)
class Expired(Event):
    """A Quick Mode's ESP SAs reached their lifetime (RFC 2407 4.5), or
    with message ID 0 the IKE SA did (RFC 2409 Appendix A): the soft one
    (a rekey begins) or the hard one (they are gone)."""

    cookies: bytes
    message_id: int
    spi_in: bytes
    spi_out: bytes
    hard: bool = True


@dataclass(frozen=True)
class Failed(Event):
    """A negotiation failed; *reason* says how ("authentication failed",
    "no proposal chosen", "invalid id", "timeout", "peer notify N")."""

    cookies: bytes
    message_id: int
    reason: str
    notify_type: Optional[int] = None


@dataclass(frozen=True)
class Dropped(Event):
    """A datagram the engine ignored, and why (malformed, unexpected,
    unauthenticated): never fatal."""

    peer: Tuple[str, int]
    reason: str
