"""What keeps an IKE SA and its ESP pairs alive, as the half of
:class:`~scapy_ike.core.connection.IkeConnection` that the exchanges and
the timers call: establishment, rekeying and renewal, Deletes, Dead Peer
Detection (RFC 3706).

An ESP pair is rekeyed at its soft lifetime by a Quick Mode on the same
IKE SA; its successor carries the traffic at once and the old pair is
deleted after ``rekey_overlap`` by the peer that made the successor.  The
IKE SA we initiated is renewed before its lifetime ends by a new Phase 1
with the same peer, which adopts the ESP pairs before the old IKE SA alone
is deleted.  Whichever side renewed, an IKE SA that ends (deleted,
expired) hands its ESP pairs to the newest IKE SA with that peer; with
none, they live out their lifetime and go to the next one.
INITIAL-CONTACT in an authenticated Phase 1 removes the older SAs with
that peer (RFC 2407 4.6.3.3).  Every pair leaves through
:meth:`Lifecycle.remove_child`, with one ``ChildSaClosed`` event.
"""

from scapy_ike.constants import NotifyType, ProtocolId
from scapy_ike.core import events as ev, proposals as P, state as S
from scapy_ike.core.children import Child
from scapy_ike.core.exchanges import informational, quick
from scapy_ike.core.exchanges.informational import delete_payload, notify_payload


class Lifecycle:
    """Mixed into :class:`~scapy_ike.core.connection.IkeConnection`."""

    def established(self, chosen, now):
        """Phase 1 complete (RFC 2409 5): the SA's lifetime, renewal,
        DPD and keep-alive start; the SAs it renews or that INITIAL-CONTACT
        ends go; then Phase 1.5 (XAuth, Mode Config), if any."""
        self.half_open_until = None
        self.established_at = self.heard = now
        self.endpoint.half_open_done(self)
        if self.natt:
            self.keepalive_at = now + self.config.keepalive
        if self.config.dpd_delay:
            self.dpd_at = now + self.config.dpd_delay
        self.expires = now + chosen.lifetime
        if self.role == "initiator":
            self.renew_at = now + self.config.soft(chosen.lifetime, self._random_share())
        ours, theirs = ((self.sa.idii_b, self.sa.idir_b) if self.role == "initiator"
                        else (self.sa.idir_b, self.sa.idii_b))
        self.peer_key = (self.peer[0], self.peer[1] if self.natted else 0, theirs)
        self.event(ev.Phase1Established(self.cookies, self.peer, self.natt, ours, theirs))
        for conn in self.endpoint.peer_established(self):
            self.adopt(conn)                   # ESP pairs that outlived their IKE SA
        if self.initial_contact:
            for conn in self.endpoint.older(self):
                conn.close_silently(now, "INITIAL-CONTACT in the peer's new IKE SA")
        old = self.renews
        if old is not None and old.ended is None:
            self.event(ev.Rekeyed(old.cookies, ProtocolId.ISAKMP, (old.cookies,), (self.cookies,)))
            old.delete(now, "renewed", esp=False)       # its ESP pairs come to us
        self.remote.begin(now)

    def phase15_done(self, now):
        """XAuth and Mode Config are over (or were never asked for): an
        initiator begins its Quick Mode unless it renews an IKE SA whose
        ESP pairs it took over."""
        if self.role == "initiator" and (self.renews is None or not len(self.children)):
            self.start_quick_mode(now)


    def _random_share(self):
        return int.from_bytes(self.endpoint.random(2), "big") / 65536


    def start_quick_mode(self, now, rekey=None):
        """A Quick Mode of our own under a fresh message ID: the configured
        proposals and selectors, or to rekey the pair *rekey* its own
        (with the configured lifetimes)."""
        ex = quick.QuickMode(self, "initiator", self.new_message_id(), S.QM_READY)
        self.exchanges[ex.message_id] = ex
        if rekey is None:
            quick.start(ex, now)
        else:
            ex.predecessor = rekey
            rekey.rekeying = ex.message_id
            offer = P.EspProposal(rekey.proposal.transform, rekey.proposal.group,
                                  self.config.esp_lifetime, self.config.esp_lifesize)
            quick.start(ex, now, [offer], rekey.family)
        self._set(ex, S.QM_I_QM1, now)
        return ex


    def child_established(self, ex, km_in, km_out, now):
        """A Quick Mode made a pair: its lifetimes start; a pair it
        succeeds is deleted after the overlap."""
        local, remote = self.selectors()
        proposal, share = ex.proposal, self._random_share()
        margin = self.config.rekey_margin * (1 if ex.role == "initiator" else 0.25)
        child = Child(ex.message_id, ex.spi_in, ex.spi_out, proposal, ex.family, ex.role == "initiator",
                      (ex.ni_b, ex.nr_b), now, now + proposal.lifetime,
                      now + self.config.soft(proposal.lifetime, share, margin))
        if proposal.lifesize is not None:
            child.hard_octets = proposal.lifesize * 1024
            child.soft_octets = int(self.config.soft(child.hard_octets, share, margin))
        predecessor = ex.predecessor
        if predecessor is not None and predecessor.rekeying == ex.message_id:
            predecessor.rekeying = None
        replaced, winner, redundant = self.children.add(
            child, predecessor, self.endpoint.current_pair(self, child.family))
        self.endpoint.child_added(self, child)
        self.endpoint.set_current(self, winner)
        ex.ended = now
        self.event(ev.QuickModeEstablished(
            self.cookies, ex.message_id, ex.spi_in, ex.spi_out, km_in, km_out,
            proposal, self.natt, str(local), str(remote),
            replaced.spi_in if replaced is not None else b"", winner is child))
        if replaced is None:
            return
        self.event(ev.Rekeyed(self.cookies, ProtocolId.IPSEC_ESP, replaced.spis, child.spis))
        # the peer that made a pair deletes what it made redundant
        gone = replaced if redundant is None and child.initiated else \
            redundant if redundant is not None and redundant.initiated else None
        if gone is not None and gone.delete_at is None:
            gone.delete_at = now + self.config.rekey_overlap
            self.endpoint.reschedule(self.endpoint.holder(gone))


    def quick_failed(self, ex, reason, now, notify=None):
        ex.pending = None
        ex.ended = now
        if ex.state != S.DEAD:
            self._set(ex, S.DEAD, now)
        rekeyed = ex.predecessor
        if rekeyed is not None and rekeyed.rekeying == ex.message_id:
            rekeyed.rekeying = None            # try again halfway to its end
            rekeyed.rekey_at = now + max(0.0, (rekeyed.expires - now) / 2)
        self.event(ev.Failed(self.cookies, ex.message_id, reason, notify))


    def adopt(self, other):
        """Take over the ESP pairs of *other*, an ended IKE SA with our
        peer: they are rekeyed and deleted through this one."""
        moved = list(other.children)
        self.children.adopt(other.children)
        for child in moved:
            if child.rekeying is not None:     # its rekey died with the old IKE SA: again here
                child.rekeying, child.rekey_at = None, other.ended or self.established_at
            self.endpoint.child_added(self, child)
        self.endpoint.reschedule(other)


    def remove_child(self, child, reason, now, tell=True):
        """The one way a pair goes: the event, and our Delete of it (by
        our inbound SPI) when *tell* and the IKE SA can still carry it."""
        self.children.remove(child)
        self.endpoint.child_removed(self, child)
        if tell and self.established_p1 and self.ended is None:
            self._send_delete(ProtocolId.IPSEC_ESP, [child.spi_in], now)
        self.event(ev.ChildSaClosed(self.cookies, child.spi_in, child.spi_out, reason))


    def _send_delete(self, protocol, spis, now):
        informational.send(self, delete_payload(protocol, spis), now)
        self.event(ev.DeleteSent(self.cookies, protocol, tuple(spis)))


    def close_silently(self, now, reason):
        """Forget this IKE SA and its ESP pairs without a word to the peer
        (which has forgotten them: INITIAL-CONTACT)."""
        for child in self.children:
            self.remove_child(child, reason, now, tell=False)
        self.end(now, reason)


    def delete_received(self, d, now):
        """A Delete (RFC 2408 3.15): of ESP SAs by their SPIs (our
        outbound ones; a pair still held by an ended IKE SA with the peer
        too), or of this IKE SA."""
        spis = tuple(bytes(s) for s in d.SPIs)
        if d.proto == ProtocolId.ISAKMP:
            mine = self.cookies in spis or not spis
            self.event(ev.DeleteReceived(self.cookies, d.proto, spis,
                                         (self.cookies,) if mine else ()))
            if mine:
                self._input(self.phase1, S.DELETE, d, now)
            return
        removed = []
        for conn in [self] + self.endpoint.orphans(self):
            for child in conn.children.by_outbound(spis):
                conn.remove_child(child, "deleted by the peer", now, tell=False)
                removed.append(child.spis)
        self.event(ev.DeleteReceived(self.cookies, d.proto, spis, tuple(removed)))


    def are_you_there_ack(self, seq):
        """R-U-THERE-ACK for one of our outstanding sequence numbers: the
        peer lives (RFC 3706 5.3)."""
        if self.dpd_sent is not None and seq in self.dpd_sent[1]:
            self.dpd_sent = None


    def esp_counted(self, child, inbound, outbound, now):
        """ESP octets carried by *child*; inbound ones prove the peer
        alive.  True when a kilobyte lifetime was reached."""
        if inbound:
            self.heard = now
        reached = child.count(inbound, outbound)
        if reached == "hard":
            self._expire(child, now)
        elif reached == "soft":
            self._soft(child, now)
        return reached is not None


    def _expire(self, child, now):
        """A pair's hard lifetime (RFC 2407 4.5): gone, the peer told."""
        self.event(ev.Expired(self.cookies, child.message_id, child.spi_in, child.spi_out))
        self.remove_child(child, "expired", now)


    def _soft(self, child, now):
        """A pair's soft lifetime: rekey it if it still carries the
        traffic and the IKE SA can (else it lives to its hard one)."""
        child.rekey_at = None
        if child.replaced_by is not None or child.rekeying is not None \
                or not self.established_p1 or self.ended is not None:
            return
        self.event(ev.Expired(self.cookies, child.message_id, child.spi_in, child.spi_out,
                              hard=False))
        self.start_quick_mode(now, rekey=child)


    def _dead_peer_detection(self, now):
        """RFC 3706 5: after ``dpd_delay`` without word from the peer, an
        R-U-THERE, again every delay; unanswered for ``dpd_timeout``, the
        peer is dead and every SA with it goes.  True when it did."""
        delay = self.config.dpd_delay
        if self.dpd_sent is not None and self.heard >= self.dpd_sent[0]:
            self.dpd_sent = None               # it spoke: alive
        if self.dpd_sent is None and now < self.heard + delay:
            self.dpd_at = self.heard + delay
            return False
        if self.dpd_sent is not None and now >= self.dpd_sent[0] + self.config.dead_after:
            self.event(ev.PeerDead(self.cookies, self.peer, now - self.heard))
            for child in self.children:
                self.remove_child(child, "peer dead", now)
            self.delete(now, "peer dead")
            return True
        seq, self.dpd_next = self.dpd_next, (self.dpd_next + 1) % 2 ** 32
        if self.dpd_sent is None:
            self.dpd_sent = (now, [])
        self.dpd_sent[1].append(seq)
        informational.send(self, notify_payload(self, NotifyType.R_U_THERE,
                                                seq.to_bytes(4, "big")), now)
        self.dpd_at = min(now + delay, self.dpd_sent[0] + self.config.dead_after)
        return False


    def delete(self, now, reason="closed", esp=True):
        """Informational Delete of every ESP SA this IKE SA holds (unless
        not *esp*: a renewal's successor takes them), then of the IKE SA
        itself (RFC 2408 3.15, RFC 2409 5.7); the SA ends."""
        if esp:
            for child in self.children:
                self.remove_child(child, reason, now)
        if self.established_p1 and self.ended is None:
            self._send_delete(ProtocolId.ISAKMP, [self.cookies], now)
        self.end(now, reason)
