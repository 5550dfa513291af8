"""The sans-IO IKEv1 endpoint (RFC 2409): datagrams, time and calls in;
datagrams, events and a timer out.  It never opens a socket, reads a
clock or sleeps.

The :class:`Endpoint` dispatches datagrams by initiator cookie to
:class:`~scapy_ike.core.connection.IkeConnection` objects, one per IKE SA.
It bounds half-open state as charon does (a half-open timeout, a limit
per source address like ``block_threshold``, and a global limit past
which the oldest half-open SA makes room), prunes ended SAs after a short
linger, and keeps one heap of timers: what one datagram or timer costs
does not grow with the number of SAs.  A peer's input never raises out
of it; a bug of ours on a peer's input is a ``Dropped`` event saying
"internal error" (tests fail on it).
"""

import heapq
import itertools
import os
from collections import Counter, OrderedDict, deque

from scapy_ike.constants import NON_ESP_MARKER, Flags
from scapy_ike.core import events as ev, state as S
from scapy_ike.core.config import Configuration
from scapy_ike.core.connection import IkeConnection
from scapy_ike.core.errors import LocalProtocolError
from scapy_ike.core.message import Message, MessageError
from scapy_ike.core.pool import AddressPool
from scapy_ike.core.sa import IkeSa


class Endpoint:
    """One local address with its IKE and NAT-T ports, and every IKE SA
    on it by initiator cookie."""

    def __init__(self, config, local_address, ike_port=500, natt_port=4500,
                 peer_natt_port=4500, random=os.urandom):
        if not isinstance(config, Configuration):
            raise LocalProtocolError("config must be a Configuration, not %s"
                                     % type(config).__name__)
        self.config = config
        self.local_address = local_address
        self.ike_port = ike_port
        self.natt_port = natt_port
        self.peer_natt_port = peer_natt_port
        self.random = random
        self.outgoing = deque()
        self.events = deque()
        self.debug = False      # also the facts of IOS's debug log (MessageSent, ...)
        self.connections = {}
        self._half_open = OrderedDict()     # initiator cookie -> connection, oldest first
        self._per_source = {}               # peer address -> half-open SAs from it
        self._timers = []                   # (when, sequence, connection)
        self._sequence = itertools.count()
        self.conn_ids = itertools.count(1001)   # each IKE SA's, in order, as IOS numbers them
        self._peers = {}                    # peer key -> {cookie: its established IKE SAs}
        self._orphans = {}                  # peer key -> {cookie: ended IKE SAs with ESP pairs}
        self._contacts = Counter()          # peer address -> its live established IKE SAs
        self._children = {}                 # inbound SPI -> the IKE SA holding that ESP pair
        self._families = {}                 # (peer key, family) -> its current ESP pair
        self.pool = AddressPool(config.pool) if config.pool else None   # Mode Config's

    # -- the API ---------------------------------------------------------------

    def event(self, e):
        self.events.append(e)

    def next_event(self):
        return self.events.popleft() if self.events else None

    def datagrams_to_send(self, now=None):
        out = list(self.outgoing)
        self.outgoing.clear()
        return out

    def initiate(self, peer, now, renews=None):
        """Start Phase 1 (then Quick Mode) with *peer* = (address, port);
        or, with *renews*, a new IKE SA to replace that one, which takes
        over its ESP pairs."""
        sa = IkeSa(self.random(8))
        conn = self.connections[sa.cky_i] = IkeConnection(self, "initiator", sa, peer, now)
        conn.renews = renews
        conn.start(now)
        self.reschedule(conn)
        return conn

    def esp_counted(self, spi_in, now, inbound=0, outbound=0):
        """ESP payload octets that the pair whose inbound SPI is *spi_in*
        carried: kilobyte lifetimes count them (RFC 2407 4.5), and inbound
        ones tell Dead Peer Detection that the peer lives (RFC 3706 5)."""
        conn = self._children.get(spi_in)
        if conn is not None and conn.esp_counted(conn.children.get(spi_in), inbound,
                                                 outbound, now):
            self.reschedule(conn)

    def child(self, spi_in):
        """The IKE SA holding the ESP pair whose inbound SPI is *spi_in*,
        and that pair, or None."""
        conn = self._children.get(spi_in)
        return None if conn is None else (conn, conn.children.get(spi_in))

    def get_timer(self):
        """When :meth:`handle_timer` is next needed, or None."""
        timers = self._timers
        while timers and not self._current(timers[0]):
            heapq.heappop(timers)
        return timers[0][0] if timers else None

    def handle_timer(self, now):
        """Run every timer due by *now*."""
        timers = self._timers
        while timers and timers[0][0] <= now:
            entry = heapq.heappop(timers)
            if not self._current(entry):
                continue
            conn = entry[2]
            conn.scheduled = None
            if conn.ended is not None and now >= conn.ended + self.config.linger \
                    and not len(conn.children):
                self._remove(conn)
                continue
            conn.handle_timer(now)
            self.reschedule(conn)

    def close(self, now):
        """Delete every SA (the peers are told where an IKE SA can carry
        it) and forget all."""
        for conn in list(self.connections.values()):
            conn.delete(now)
            for child in conn.children:           # an ended IKE SA's pairs
                conn.remove_child(child, "closed", now, tell=False)
        self.connections.clear()
        self._peers.clear()
        self._orphans.clear()
        self._contacts.clear()
        self._children.clear()
        self._families.clear()
        self._half_open.clear()
        self._per_source.clear()
        self._timers.clear()

    def receive_datagram(self, data, addr, now, local_port=None, local_address=None):
        """One UDP datagram from *addr* to our *local_port* (and, when the
        socket knows it, *local_address*): on the NAT-T port an IKE message
        follows the non-ESP marker (others are ESP or keep-alives: not
        ours)."""
        natt = local_port == self.natt_port
        if natt:
            if data[:4] != NON_ESP_MARKER:
                return
            data = data[4:]
        try:
            head = Message.parse(data)
        except MessageError as exc:
            self.event(ev.Dropped(addr, "not a well-formed IKEv1 message: %s" % exc))
            return
        if head.version >> 4 != 1:
            self.event(ev.Dropped(addr, "not IKEv1: version %#x" % head.version))
            return
        conn = self.connections.get(head.cky_i)
        if conn is None:
            conn = self._new_responder(head, addr, now, local_address)
            if conn is None:
                return
        try:
            conn.receive(head, data, addr, natt, now, local_address)
        except Exception as exc:        # our bug: the endpoint serves on
            self.event(ev.Dropped(addr, "internal error on this message: %s: %s"
                                  % (type(exc).__name__, exc)))
        self.reschedule(conn)

    # -- half-open SAs, pruning and timers ---------------------------------------

    def _new_responder(self, head, addr, now, local_address):
        if head.cky_r != bytes(8) or head.exch_type not in (S.MAIN, S.AGGRESSIVE) \
                or head.message_id != 0 or head.flags & Flags.ENCRYPTION:
            self.event(ev.Dropped(addr, "unknown cookies"))
            return None
        source = addr[0]
        if self._per_source.get(source, 0) >= self.config.half_open_per_source:
            self.event(ev.Dropped(addr, "too many half-open SAs from %s" % source))
            return None
        if len(self._half_open) >= self.config.max_half_open:
            _, oldest = self._half_open.popitem(last=False)
            self._per_source_done(oldest.peer[0])
            self.event(ev.Dropped(oldest.peer, "too many half-open SAs: the oldest made room"))
            self._remove(oldest)
        sa = IkeSa(head.cky_i, self.random(8))
        conn = IkeConnection(self, "responder", sa, addr, now, local_address)
        self.connections[sa.cky_i] = conn
        self._half_open[sa.cky_i] = conn
        self._per_source[source] = self._per_source.get(source, 0) + 1
        conn.half_open_source = source
        return conn

    # -- peers and their ESP pairs ---------------------------------------------

    def peer_established(self, conn):
        """*conn* completed Phase 1 with its peer (address, NAT port,
        identity): the ended IKE SAs of that peer whose ESP pairs it
        adopts."""
        self._peers.setdefault(conn.peer_key, {})[conn.sa.cky_i] = conn
        self._contacts[conn.peer[0]] += 1
        return list(self._orphans.pop(conn.peer_key, {}).values())

    def peer_ended(self, conn):
        """*conn*, established, ended: its ESP pairs go to the newest live
        IKE SA with the peer, or wait for the next one."""
        self._contacts[conn.peer[0]] -= 1
        if self._contacts[conn.peer[0]] <= 0:
            del self._contacts[conn.peer[0]]
        if not len(conn.children):
            return
        for other in reversed(self._peers.get(conn.peer_key, {}).values()):
            if other is not conn and other.ended is None:
                other.adopt(conn)
                return
        self._orphans.setdefault(conn.peer_key, {})[conn.sa.cky_i] = conn

    def older(self, conn):
        """The other live IKE SAs with *conn*'s peer (for INITIAL-CONTACT)."""
        return [c for c in self._peers.get(conn.peer_key, {}).values()
                if c is not conn and c.ended is None]

    def in_contact(self, address):
        """Whether an IKE SA with the peer at *address* is established."""
        return address in self._contacts

    def orphans(self, conn):
        """The ended IKE SAs of *conn*'s peer still holding ESP pairs."""
        return list(self._orphans.get(conn.peer_key, {}).values())

    def holder(self, child):
        """The IKE SA that holds *child*."""
        return self._children.get(child.spi_in)

    def child_added(self, conn, child):
        self._children[child.spi_in] = conn

    def child_removed(self, conn, child):
        """*child* is gone: a family it carried passes to its successor."""
        self._children.pop(child.spi_in, None)
        key = (conn.peer_key, child.family)
        if self._families.get(key) is child:
            successor = child.replaced_by
            if successor is not None and not successor.removed:
                self._families[key] = successor
            else:
                del self._families[key]

    def current_pair(self, conn, family):
        """The pair that carries *family*'s traffic with *conn*'s peer, under
        any of its IKE SAs, or None."""
        return self._families.get((conn.peer_key, family))

    def set_current(self, conn, child):
        self._families[(conn.peer_key, child.family)] = child

    def ended(self, conn):
        """*conn*'s IKE SA is over.  One that never completed Phase 1 goes
        at once (nothing of it can be wanted, and a flood's timed-out SAs
        must not outnumber the bound); an established one lingers."""
        self.half_open_done(conn)
        if conn.established_at is None:
            self._remove(conn)

    def half_open_done(self, conn):
        """*conn* is no longer half-open (established, or ended)."""
        if self._half_open.pop(conn.sa.cky_i, None) is not None:
            self._per_source_done(conn.half_open_source)

    def _per_source_done(self, source):
        left = self._per_source.get(source, 0) - 1
        if left > 0:
            self._per_source[source] = left
        else:
            self._per_source.pop(source, None)

    def _remove(self, conn):
        if self.connections.get(conn.sa.cky_i) is conn:
            del self.connections[conn.sa.cky_i]
        if self.pool is not None:
            self.pool.release(conn)
        conn.scheduled = None
        for index in (self._peers, self._orphans):
            known = index.get(conn.peer_key)
            if known is not None and known.pop(conn.sa.cky_i, None) is not None and not known:
                del index[conn.peer_key]

    def reschedule(self, conn):
        """Put *conn*'s next timer on the heap (an ended SA's is its
        pruning after the linger, or its ESP pairs' ends)."""
        if conn is None or self.connections.get(conn.sa.cky_i) is not conn:
            return
        if conn.ended is None:
            when = conn.timer()
        elif len(conn.children):
            when = min(child.expires for child in conn.children)
        else:
            when = conn.ended + self.config.linger
        if when is not None and when != conn.scheduled:
            conn.scheduled = when
            heapq.heappush(self._timers, (when, next(self._sequence), conn))
        if len(self._timers) > 64 and len(self._timers) > 4 * len(self.connections):
            self._timers = [e for e in self._timers if self._current(e)]
            heapq.heapify(self._timers)

    def _current(self, entry):
        when, _, conn = entry
        return conn.scheduled == when and self.connections.get(conn.sa.cky_i) is conn
