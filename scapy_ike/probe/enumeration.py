"""Which Phase 1 transforms a gateway accepts, in far fewer probes than
one per candidate.

A responder picks one transform of the proposal it is offered and echoes
it (RFC 2408 4.2; RFC 2409 5: one proposal of many transforms in Phase 1),
or refuses them all with NO-PROPOSAL-CHOSEN (RFC 2408 3.14.1).  So the
candidates are offered in groups of up to :data:`GROUP_SIZE`: a handshake
names one accepted transform, which leaves the group, and the rest is
offered again; NO-PROPOSAL-CHOSEN refuses the whole group.  A gateway that
answers a group with silence or another notify, but would answer fewer
transforms (some take one per proposal, some drop large datagrams or call
them malformed: :data:`SPLITTING`), gets the group split in halves; once a
smaller offer has been answered where a larger one was not, groups are cut
to the largest size answered.

Silence is not a refusal (half-open limits, rate limits): the caller has
retried before it reports one, and waited more when an offer as large was
answered before (:meth:`Enumeration.explains`); what stays silent then is
*uncertain*, never refused, and is not split.  Every call is bounded: each answer takes
at least one candidate out of play or splits a group, so there are at most
``3 * len(candidates)`` probes.
"""

from collections import deque

from scapy_ike.probe.replies import HANDSHAKE, NOTIFY

GROUP_SIZE = 64
"""Transforms per probe: about 2.4 KB of SA payload, under charon's
10,000-byte ``max_packet`` and few enough fragments."""

REFUSAL = "NO-PROPOSAL-CHOSEN"

SPLITTING = frozenset(("PAYLOAD-MALFORMED", "BAD-PROPOSAL-SYNTAX", "INVALID-TRANSFORM-ID",
                       "ATTRIBUTES-NOT-SUPPORTED", "INVALID-PAYLOAD-TYPE",
                       "UNEQUAL-PAYLOAD-LENGTHS"))
"""Notifies about the form of an offer (RFC 2408 3.14.1): its size may be
the cause, so the group is split.  Any other notify (AUTHENTICATION-FAILED,
INVALID-ID-INFORMATION ...) is about the exchange, not the transforms: the
group is refused as a whole, and the notify kept in :attr:`notes`."""


def _same(a, b):
    """The same transform, the lifetime aside (a gateway may echo its own)."""
    return a.key() == b.key()


class Enumeration:
    """The search over *candidates* (IkeProposals), each group of one
    *partition* (Aggressive Mode: the DH group, as the KE is for one).

    :meth:`next_offer` gives the transforms to offer next (None when done);
    :meth:`record` takes what came back: a
    :class:`~scapy_ike.probe.replies.Reply`, or None for silence."""

    def __init__(self, candidates, group_size=GROUP_SIZE, partition=lambda c: None):
        self.group_size = group_size
        self.partition = partition
        self.accepted = []         # in the order the gateway chose them
        self.refused = []
        self.uncertain = []
        self.notes = []            # what else was seen: notifies other than a refusal
        self.probes = 0
        self.answered_sizes = set()   # sizes of offers that got a handshake or a refusal
        self.unanswered_sizes = set()
        self.queue = deque(self._groups(list(candidates), group_size))

    def _groups(self, candidates, size):
        parts = {}
        for c in candidates:
            parts.setdefault(self.partition(c), []).append(c)
        return [part[i:i + size] for part in parts.values() for i in range(0, len(part), size)]

    def next_offer(self):
        """The transforms of the next probe, or None when all are known."""
        if not self.queue:
            return None
        self.probes += 1
        return self.queue.popleft()

    @property
    def done(self):
        return not self.queue

    def record(self, offer, reply):
        """The answer *reply* (None: silence after retries) to *offer*."""
        if reply is not None and reply.kind == HANDSHAKE:
            self._chosen(offer, reply.chosen)
        elif reply is not None and reply.kind == NOTIFY and reply.notify not in SPLITTING:
            self.answered_sizes.add(len(offer))
            self.refused += offer
            if reply.notify != REFUSAL:
                self.notes.append((tuple(offer), reply.describe()))
        else:
            if reply is not None:
                self.notes.append((tuple(offer), reply.describe()))
            self._unanswered(offer, reply)

    def _chosen(self, offer, chosen):
        self.answered_sizes.add(len(offer))
        match = next((c for c in offer if _same(c, chosen)), None)
        if match is None and len({c.auth for c in offer}) == 1:
            match = next((c for c in offer if c.suite() == chosen.suite()), None)
            if match is not None:    # the gateway answered with its own method
                self.notes.append((tuple(offer), "answered %s with auth %d"
                                   % (match.describe(), chosen.auth)))
        if match is None:            # a transform we did not offer: nothing is learnt
            self.notes.append((tuple(offer), "chose %s, which was not offered"
                               % chosen.describe()))
            self.uncertain += offer
            return
        self.accepted.append(match)
        rest = [c for c in offer if c is not match]
        if rest:
            self.queue.appendleft(rest)
        self._regroup()

    def explains(self, offer):
        """Whether silence to *offer* may be its size: no offer as large
        has been answered.  Otherwise the gateway is out of room or pacing
        us, and the caller should wait before it asks again."""
        return not any(size >= len(offer) for size in self.answered_sizes)

    def _unanswered(self, offer, reply):
        if reply is None and not self.explains(offer):
            self.uncertain += offer
            return
        if len(offer) == 1:
            (self.uncertain if reply is None else self.refused).extend(offer)
            return
        self.unanswered_sizes.add(len(offer))
        half = len(offer) // 2
        self.queue.extendleft([offer[half:], offer[:half]])
        self._regroup()

    def _regroup(self):
        """Once a smaller offer was answered where larger ones were not,
        cut every waiting group to the largest size answered."""
        if not self.unanswered_sizes or not self.answered_sizes:
            return
        smaller = [s for s in self.answered_sizes if s < min(self.unanswered_sizes)]
        largest = max(smaller, default=None)
        if largest is None or largest >= self.group_size:
            return
        self.group_size = largest
        self.queue = deque(g[i:i + largest] for g in self.queue
                           for i in range(0, len(g), largest))
