"""The ESP SA pairs of an IKE SA (RFC 2407 4.5), with their lifetimes in
seconds and kilobytes: soft (a rekey begins) and hard (the pair is gone).

Pairs that succeed one another for the same traffic selectors with the
same peer form a *family*, across the peer's IKE SAs (charon, renewing an
IKE SA it did not start, makes new Quick Modes on the new one); its
*current* pair carries the outbound traffic (the endpoint knows it), the
others still decrypt what arrives on them until they are deleted.  When both
peers rekey one pair at once (IKEv1 has no way to say which pair a Quick
Mode replaces), the redundant new pair is the one whose Quick Mode used
the lowest of the four nonces, and the peer that made it deletes it: the
rule of RFC 7296 2.8.1, which both sides reach alone."""

from dataclasses import dataclass
from typing import Optional


@dataclass(eq=False)
class Child:
    """An established pair of ESP SAs."""

    message_id: int             # of the Quick Mode that made it
    spi_in: bytes
    spi_out: bytes
    proposal: object            # proposals.EspProposal, lifetimes as negotiated
    family: tuple               # (our ID body, the peer's), or () without IDs
    initiated: bool             # we sent its Quick Mode's first message
    nonces: tuple               # (Ni, Nr) of its Quick Mode
    established: float
    expires: float              # the hard lifetime, as a time
    rekey_at: Optional[float]   # the soft one; None once it is rekeyed or replaced
    soft_octets: Optional[int] = None
    hard_octets: Optional[int] = None
    octets_in: int = 0
    octets_out: int = 0
    replaced_by: Optional["Child"] = None
    delete_at: Optional[float] = None   # the end of a rekey's overlap
    rekeying: Optional[int] = None      # the message ID of our Quick Mode replacing it
    removed: bool = False

    @property
    def spis(self):
        return self.spi_in, self.spi_out

    def timer(self):
        times = [self.expires]
        if self.delete_at is not None:
            times.append(self.delete_at)
        if self.rekey_at is not None and self.rekeying is None:
            times.append(self.rekey_at)
        return min(times)

    def count(self, inbound, outbound):
        """Account ESP payload octets; ``"hard"`` or ``"soft"`` when a
        kilobyte lifetime is reached in either direction, else None."""
        self.octets_in += inbound
        self.octets_out += outbound
        if self.hard_octets is None:
            return None
        most = max(self.octets_in, self.octets_out)
        if most >= self.hard_octets:
            return "hard"
        if self.soft_octets is not None and most >= self.soft_octets:
            self.soft_octets = None
            return "soft"
        return None


class Children:
    """The pairs of one IKE SA by inbound SPI."""

    def __init__(self):
        self.by_spi = {}

    def __iter__(self):
        return iter(list(self.by_spi.values()))

    def __len__(self):
        return len(self.by_spi)

    def get(self, spi_in):
        return self.by_spi.get(spi_in)

    def by_outbound(self, spis):
        return [c for c in self.by_spi.values() if c.spi_out in spis]

    def add(self, child, predecessor, current):
        """Add *child*, whose Quick Mode began while *predecessor* (or None)
        was its family's current pair; *current* is that pair now.  Returns
        ``(replaced, winner, redundant)``: the pair it succeeds (or None),
        the family's current pair from now on, and after a rekey collision
        the redundant pair (*child* or its rival; else None)."""
        self.by_spi[child.spi_in] = child
        replaced = predecessor if predecessor is not None and not predecessor.removed \
            else current
        if replaced is not None and replaced.replaced_by is not None \
                and not replaced.replaced_by.removed:
            rival = replaced.replaced_by            # both peers rekeyed it at once
            loser = min((rival, child), key=lambda c: min(c.nonces))
            winner = child if loser is rival else rival
            loser.replaced_by, loser.rekey_at = winner, None
            return rival, winner, loser
        if replaced is not None:
            replaced.replaced_by, replaced.rekey_at = child, None
        return replaced, child, None

    def remove(self, child):
        del self.by_spi[child.spi_in]
        child.removed = True

    def adopt(self, other):
        """Take the pairs of another IKE SA of the same peer (it ended and
        this one renewed it)."""
        self.by_spi.update(other.by_spi)
        other.by_spi.clear()

    def timer(self):
        return min((c.timer() for c in self.by_spi.values()), default=None)
