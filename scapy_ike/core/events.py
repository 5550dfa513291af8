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


@dataclass(frozen=True)
class NotifyReceived(Event):
    cookies: bytes
    notify_type: int
    data: bytes


@dataclass(frozen=True)
class DeleteReceived(Event):
    cookies: bytes
    protocol: int
    spis: Tuple[bytes, ...]


@dataclass(frozen=True)
class Retransmitted(Event):
    cookies: bytes
    message_id: int
    attempt: int


@dataclass(frozen=True)
class Expired(Event):
    """A Quick Mode's ESP SAs reached their lifetime (RFC 2407 4.5), or
    with message ID 0 the IKE SA did (RFC 2409 Appendix A)."""

    cookies: bytes
    message_id: int
    spi_in: bytes
    spi_out: bytes


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
