"""One IKE SA (RFC 2409): its :class:`~scapy_ike.core.sa.IkeSa` keys and
IV chains, its exchanges by message ID (0 is Phase 1), its ESP SA pairs
(:mod:`~scapy_ike.core.children`), and its SA-level timers: lifetimes with
their rekeying and renewal, Dead Peer Detection (RFC 3706), NAT
keep-alive, a responder's half-open timeout.

The lifecycle: an ESP pair is rekeyed at its soft lifetime by a Quick
Mode on the same IKE SA, its successor carries the traffic at once and
the old pair is deleted after ``rekey_overlap``; the IKE SA we initiated
is renewed before its lifetime ends by a new Phase 1 with the same peer,
which adopts the ESP pairs before the old IKE SA is deleted.  Whichever
side renewed, an IKE SA that ends (deleted, expired) hands its ESP pairs
to the newest IKE SA with that peer; with none, they live out their
lifetime.  INITIAL-CONTACT in an authenticated Phase 1 removes the older
SAs with that peer (RFC 2407 4.6.3.3).

:meth:`IkeConnection.receive` is the one place where the rule holds that
input that does not authenticate changes no state and gets no answer: a
message is decrypted without moving its IV chain, its exchange's handler
checks it and accepts it, and an error before that acceptance is only a
``Dropped`` event.  A peer's error after it (a proposal we refuse, an
identity we do not want) is answered with a notify and fails that
exchange alone; a Quick Mode's failure leaves the IKE SA up.
"""

import dataclasses
import ipaddress
from collections import deque

from scapy_ike.constants import NAT_KEEPALIVE, NON_ESP_MARKER, Flags, NotifyType
from scapy_ike.core import events as ev, proposals as P, state as S
from scapy_ike.core.children import Children
from scapy_ike.core.errors import RemoteProtocolError, Unauthenticated
from scapy_ike.core.facts import facts
from scapy_ike.attributes import IPSEC_ATTRIBUTES, OAKLEY_ATTRIBUTES
from scapy_ike.core.lifecycle import Lifecycle
from scapy_ike.core.remote_access import RemoteAccess
from scapy_ike.core.exchanges import (
    Datagram, Incoming, informational, phase1, quick, transaction,
)
from scapy_ike.core.exchanges.informational import notify_payload
from scapy_ike.core.exchanges.phase1 import NATT_VIDS
from scapy_ike.core.message import HEADER, MessageError, encode_header, encode_payloads
from scapy_ike.core.sa import KeysMissing

EARLY = 4
"""Encrypted Phase 2 messages kept while Phase 1 completes (a Quick Mode
that overtook Aggressive Mode's last message), at most."""
SEEN_INFORMATIONALS = 32
"""Informational messages remembered, so that a copy is not acted on twice."""


class IkeConnection(Lifecycle):
    """One IKE SA, as initiator or responder, with *peer* = (address,
    port) and our *local_address* as the peer reached it."""

    def __init__(self, endpoint, role, sa, peer, now, local_address=None):
        self.endpoint = endpoint
        self.config = endpoint.config
        self.role = role
        self.conn_id = next(endpoint.conn_ids)     # small, for people (IOS's conn-id)
        self.sa = sa
        self.peer = peer
        self.origin = peer          # where a Phase 1 of ours to the peer goes
        self.local_address = local_address or endpoint.local_address
        self.natt = False           # floated to the NAT-T port
        self.natt_vid = None        # the NAT-T version both speak
        self.natted = False
        self.phase1 = phase1.Phase1(self, role, S.READY)
        self.exchanges = {0: self.phase1}
        self.used_ids = {0}
        self.children = Children()
        self.early = []             # Phase 2 messages that came before Phase 1 completed
        self.informationals = deque(maxlen=SEEN_INFORMATIONALS)
        self.dpd_seq = None         # the last R-U-THERE sequence number answered
        self.dpd_at = None          # when to look whether the peer has been silent
        self.dpd_sent = None        # (first unanswered R-U-THERE's time, its sequence numbers)
        self.dpd_next = int.from_bytes(endpoint.random(4), "big") >> 1
        self.heard = now            # the last authenticated word from the peer (IKE or ESP)
        self.keepalive_at = self.expires = self.renew_at = None
        self.renews = None          # the IKE SA this one renews
        self.initial_contact = False    # the peer's Phase 1 said INITIAL-CONTACT
        self.peer_key = None        # the peer's (address, NAT port, identity), once established
        self.remote = RemoteAccess(self)    # XAuth and Mode Config
        self.virtual_ip = None      # a Mode Config client's assigned address
        self.leased = None          # a Mode Config server's lease to the peer
        self.pfs_group = None       # PFS a Cisco gateway asked for (UNITY_PFS)
        self._built = None          # the debug log's facts of the message being built
        self.half_open_until = now + self.config.half_open_timeout if role == "responder" else None
        self.ended = None           # when the IKE SA ended (it lingers, then is pruned)
        self.scheduled = None       # the endpoint's timer for it
        self.established_at = None  # when Phase 1 completed
        self.half_open_source = None

    @property
    def cookies(self):
        return self.sa.cky_i + self.sa.cky_r

    @property
    def state(self):
        return self.phase1.state

    @property
    def drafts(self):
        return NATT_VIDS.get(self.natt_vid) == "drafts"

    @property
    def established_p1(self):
        return self.phase1.state == S.P1_COMPLETE

    # -- sending -------------------------------------------------------------

    def datagram(self, message):
        port = self.endpoint.natt_port if self.natt else self.endpoint.ike_port
        data = NON_ESP_MARKER + message if self.natt else message
        if self._built is not None:                 # the endpoint's debug is on
            exchange, message_id, payloads = self._built
            self._built = None
            self.event(ev.MessageSent(self.cookies, message_id, exchange, self.role, self.peer,
                                      self.local_address, port, facts(payloads)))
        return Datagram(data, self.peer, port)

    def clear(self, exchange, payloads, message_id=0):
        """A message of ``(type, body)`` *payloads* in clear."""
        self._building(exchange, message_id, payloads)
        body = encode_payloads(payloads)
        return encode_header(self.sa.cky_i, self.sa.cky_r, payloads[0][0], exchange, 0,
                             message_id, HEADER.size + len(body)) + body

    def _building(self, exchange, message_id, payloads):
        """For the debug log: what the next datagram carries."""
        if self.endpoint.debug:
            self._built = (exchange, message_id, payloads)

    def encrypted(self, exchange, payloads, message_id):
        """An encrypted message (RFC 2408 3.1): header in clear, payloads
        padded and encrypted with the exchange's IV chain."""
        self._building(exchange, message_id, payloads)
        body = self.sa.encrypt(message_id, encode_payloads(payloads))
        return encode_header(self.sa.cky_i, self.sa.cky_r, payloads[0][0], exchange,
                             Flags.ENCRYPTION, message_id, HEADER.size + len(body)) + body

    def checker(self, message_id, phase):
        """For :func:`~scapy_ike.core.proposals.choose`: a TransformChecked
        event per pair compared, with the endpoint's debug on (else None)."""
        if not self.endpoint.debug:
            return None

        space = OAKLEY_ATTRIBUTES if phase == 1 else IPSEC_ATTRIBUTES

        def tried(policy, prop, transform, matched):
            self.event(ev.TransformChecked(
                self.cookies, message_id, phase, getattr(prop, "proposal", 0),
                transform.transform_count, getattr(transform, "transform_id", 0),
                P.numbered_attributes(space, transform.transforms), policy, matched))
        return tried

    def new_message_id(self):
        """A fresh non-zero message ID, not used before on this SA
        (RFC 2408 3.1)."""
        while True:
            mid = int.from_bytes(self.endpoint.random(4), "big")
            if mid not in self.used_ids:
                self.used_ids.add(mid)
                return mid

    def float_to_natt(self):
        """After NAT detection, move to the NAT-T port (RFC 3947 4)."""
        self.natt = self.natted and self.natt_vid is not None
        if self.natt:
            self.peer = (self.peer[0], self.endpoint.peer_natt_port)

    def identity(self):
        return self.config.identity(self.local_address)

    def selectors(self):
        """Our Quick Mode selectors: the configured ones, ours the address
        Mode Config gave us when it did."""
        local, remote = self.config.selectors()
        if self.virtual_ip is not None:
            local = ipaddress.ip_network(self.virtual_ip)
        return local, remote

    def esp_proposals(self):
        """Our Quick Mode offer: the configured one, with Phase 1's group
        for PFS where it has none when the gateway asked for PFS."""
        offer = self.config.esp_proposals()
        if self.pfs_group is None:
            return offer
        return [p if p.group is not None else dataclasses.replace(p, group=self.pfs_group)
                for p in offer]

    def new_transaction(self, cfg_type, attributes, purpose, now):
        """A Transaction exchange of our own, opened by a REQUEST or SET."""
        ex = transaction.Transaction(self, "initiator", self.new_message_id(), S.TX_READY)
        self.exchanges[ex.message_id] = ex
        transaction.ask(ex, cfg_type, attributes, purpose, now)
        self._set(ex, S.TX_SENT[purpose], now)
        return ex

    def notify(self, notify_type, now):
        """An Informational with one notify (RFC 2408 3.14): encrypted
        once keys exist (with HASH, RFC 2409 5.7), else in clear."""
        payload = notify_payload(self, notify_type)
        if self.sa.skeyid_a is None:
            self.endpoint.outgoing.append(self.datagram(
                self.clear(S.INFO, [payload], self.new_message_id())))
        else:
            informational.send(self, payload, now)

    def event(self, e):
        self.endpoint.event(e)

    def retransmitted(self, message_id, attempt):
        self.event(ev.Retransmitted(self.cookies, message_id, attempt))

    # -- the transitions -------------------------------------------------------

    def start(self, now):
        """The initiator's first message."""
        phase1.start(self.phase1, now)
        self._set(self.phase1, S.FIRST_SENT[self.config.initiator_mode], now)

    def _set(self, ex, new, now):
        """Move *ex* to *new*, then run the row that entering it triggers."""
        old, ex.state = ex.state, new
        if old != new:
            self.event(ev.StateChanged(self.cookies, ex.message_id, old, new))
            row = S.TABLE.get((ex.kind, ex.role, new, S.ENTERED))
            if row is not None:
                row[0](ex, None, now)

    def _input(self, ex, kind_of_input, arg, now):
        """Feed a non-message input (timeout, error notify, Delete) to *ex*."""
        row = S.TABLE.get((ex.kind, ex.role, ex.state, kind_of_input))
        if row is None:
            return False
        handler, after = row
        handler(ex, arg, now)
        if ex.state != S.DEAD:
            self._set(ex, after, now)
        return True

    def receive(self, head, wire, addr, natt, now, local_address=None):
        """One ISAKMP message of this SA, parsed (*head*, a
        :class:`~scapy_ike.core.message.Message`) and as it came (*wire*),
        from *addr*, on the NAT-T port when *natt*."""
        if self.ended is not None:
            return self._drop(addr, "the IKE SA has ended")
        mid = head.message_id
        ex = self.exchanges.get(mid) if head.exch_type != S.INFO else None
        if ex is not None:
            if wire in ex.replies:                     # a retransmitted request
                self.endpoint.outgoing.append(ex.replies[wire])
                return
            if wire in ex.seen:                        # an answer that came twice
                return
        if head.cky_r != self.sa.cky_r and not self._new_cookie(head):
            return self._drop(addr, "responder cookie %s is not this SA's" % head.cky_r.hex())
        encrypted = bool(head.flags & Flags.ENCRYPTION)
        if self.sa.skeyid_a is not None and not encrypted and head.exch_type != S.AGGRESSIVE:
            # once keys exist, only AM3 may come in clear (RFC 2409 5);
            # an unprotected notify or Delete could be anyone's (as charon)
            return self._drop(addr, "ignoring an unprotected Informational"
                              if head.exch_type == S.INFO
                              else "ignoring an unencrypted message after the key exchange")
        if ex is None:
            ex = self._new_exchange(head, wire, addr, natt, now, local_address)
            if ex is None:
                return
        row = S.TABLE.get((ex.kind, ex.role, ex.state, head.exch_type))
        if row is None:
            return self._drop(addr, "unexpected %s message in %s" % (
                _exchange_name(head.exch_type), ex.state))
        handler, after = row
        try:
            msg = self._open(head, wire, encrypted, addr, natt)
        except Unauthenticated as exc:
            return self._unauthenticated(ex, addr, exc)
        if self.endpoint.debug:
            self.event(ev.MessageReceived(
                self.cookies, mid, head.exch_type, self.role, addr,
                local_address or self.local_address,
                self.endpoint.natt_port if natt else self.endpoint.ike_port,
                facts(msg.msg.payloads, with_headers=True)))
        waiting = ex.pending
        try:
            handler(ex, msg, now)
        except RemoteProtocolError as exc:
            if not msg.accepted:
                ex.pending = waiting
                if isinstance(exc, Unauthenticated) or encrypted:
                    return self._unauthenticated(ex, addr, exc)
                if exc.notify is None:          # malformed, or out of turn: not an answer
                    return self._drop(addr, exc.reason)
            return self._refuse(ex, head, exc, addr, now)
        msg.accept()
        self.heard = now
        ex.seen.add(wire)
        if ex.message_id not in self.exchanges and ex.kind != S.IN:
            self.exchanges[ex.message_id] = ex
        self.used_ids.add(mid)
        if ex.kind == S.IN:
            self.informationals.append(wire)
            self.sa.forget(mid)
        if ex.kind == S.P1:
            try:
                notifies = msg.notifies()           # INITIAL-CONTACT and the like
            except RemoteProtocolError as exc:
                notifies = []
                self._drop(addr, "a notify in %s: %s" % (_exchange_name(head.exch_type), exc))
            for n in notifies:
                self.notify_received(n)
                if n.notify_msg_type == NotifyType.INITIAL_CONTACT and encrypted:
                    self.initial_contact = True
        if ex.state != S.DEAD and self.ended is None:
            self._set(ex, after[ex.purpose] if isinstance(after, dict) else after, now)
        if self.established_p1 and self.early:
            early, self.early = self.early, []
            for args in early:
                self.receive(*args[:4], now, args[4])

    def _new_cookie(self, head):
        """Whether *head* may carry a responder cookie other than the SA's:
        the responder's own in MM2/AM2 (or in a clear notify refusing our
        first message), none in the initiator's first."""
        if self.role == "initiator":
            return self.phase1.state in ("IKE_I_MM1", "IKE_I_AM1") and (
                head.message_id == 0 or head.exch_type == S.INFO)
        return self.phase1.state == S.READY and not any(head.cky_r) and head.message_id == 0

    def _new_exchange(self, head, wire, addr, natt, now, local_address):
        """The exchange a message with a new message ID starts, or None."""
        mid = head.message_id
        if head.exch_type == S.INFO:
            if wire in self.informationals:
                return None
            if mid in self.used_ids and (mid or self.sa.skeyid_a is not None):
                return self._drop(addr, "message ID %#010x was used before on this SA" % mid)
            return informational.Informational(self, "responder", mid, S.INFO_READY)
        if mid in self.used_ids:
            return self._drop(addr, "message ID %#010x was used before on this SA" % mid)
        if not self.established_p1:
            if head.flags & Flags.ENCRYPTION and len(self.early) < EARLY and head.exch_type == S.QUICK:
                self.early.append((head, wire, addr, natt, local_address))
                return None
            return self._drop(addr, "%s before Phase 1 completed" % _exchange_name(head.exch_type))
        if head.exch_type == S.QUICK:
            if not self.remote.authenticated:
                return self._drop(addr, "Quick Mode before XAuth authenticated the peer")
            return quick.QuickMode(self, "responder", mid, S.QM_READY)
        if head.exch_type == S.TRANSACTION:
            return transaction.Transaction(self, "responder", mid, S.TX_READY)
        return self._drop(addr, "unexpected %s message" % _exchange_name(head.exch_type))

    def _open(self, head, wire, encrypted, addr, natt):
        """The message as its handler reads it: decrypted without moving
        the IV chain; ``accept()`` moves it, takes the sender's address
        (the float to the NAT-T port, or a NAT's new mapping, RFC 3947 4)."""
        def confirm():
            if encrypted:
                self.sa.confirm(head.message_id, head.body, iv)
            if natt:
                self.natt, self.peer = True, addr
        iv = None
        msg = head
        if encrypted:
            try:
                plain = self.sa.decrypt(head.message_id, head.body, confirm=False)
                iv = self.sa.iv(head.message_id)      # unmoved: the IV it was decrypted with
            except (KeysMissing, ValueError) as exc:
                raise Unauthenticated("cannot decrypt: %s" % exc) from None
            try:
                msg = head.opened(plain)
            except MessageError as exc:
                raise Unauthenticated("decryption failed (wrong pre-shared key?): %s" % exc) \
                    from None
        return Incoming(msg, wire, encrypted, confirm)

    def _refuse(self, ex, head, exc, addr, now):
        """The peer's (authenticated, or clear before keys) message is
        refused: say why, answer with the notify, end the exchange."""
        self._drop(addr, exc.reason)
        if exc.notify is not None:
            self.notify(exc.notify, now)
        if ex.kind == S.QM:
            if ex.message_id in self.exchanges or ex.role == "initiator":
                self.quick_failed(ex, exc.reason, now, exc.notify)
            else:
                self.used_ids.add(ex.message_id)
                self.event(ev.Failed(self.cookies, ex.message_id, exc.reason, exc.notify))
        elif ex.kind == S.P1 and not self.established_p1:
            self.fail(exc.reason, 0, now, exc.notify)

    def _unauthenticated(self, ex, addr, exc):
        """The rule: a message that does not authenticate is dropped and
        counted (a timeout says how many came), nothing else."""
        counted = self.phase1 if ex.kind == S.IN and not self.established_p1 else ex
        counted.unauthenticated += 1
        return self._drop(addr, exc.reason)

    def _drop(self, addr, reason):
        self.event(ev.Dropped(addr, reason))
        return None

    # -- what the exchanges tell ----------------------------------------------

    def fail(self, reason, message_id, now, notify=None):
        """Phase 1 failed: the event, then the IKE SA ends."""
        self.event(ev.Failed(self.cookies, message_id, reason, notify))
        self.end(now, reason)

    def end(self, now, reason):
        """The IKE SA is over: no more timers; its ESP pairs go to the
        newest IKE SA with the peer, or live out their lifetimes here;
        it lingers to be pruned."""
        for ex in self.exchanges.values():
            ex.pending = None
        if self.phase1.state != S.DEAD:
            self._set(self.phase1, S.DEAD, now)
        self.keepalive_at = self.expires = self.half_open_until = None
        self.renew_at = self.dpd_at = None
        self.early.clear()
        if self.ended is None:
            self.ended = now
            if self.established_at is not None:
                self.endpoint.peer_ended(self)
                self.event(ev.IkeSaClosed(self.cookies, reason))
            self.endpoint.ended(self)
        self.endpoint.reschedule(self)

    def notify_received(self, n):
        self.event(ev.NotifyReceived(self.cookies, n.notify_msg_type, bytes(n.notify_data)))

    def error_notify(self, n, now):
        """An error notify ends the exchange that waits for an answer: our
        Phase 1 before it completes, else our Quick Modes in flight."""
        if self._input(self.phase1, S.ERROR_NOTIFY, n, now):
            return
        for ex in list(self.exchanges.values()):
            if ex.kind == S.QM:
                self._input(ex, S.ERROR_NOTIFY, n, now)

    # -- timers ------------------------------------------------------------------

    def timer(self):
        """When this SA next needs :meth:`handle_timer`, or None."""
        times = [t for t in (self.keepalive_at, self.expires, self.half_open_until,
                             self.renew_at, self.dpd_at, self.remote.timer()) if t is not None]
        for ex in self.exchanges.values():
            if ex.pending is not None:
                times.append(ex.timer())
            if ex.ended is not None:
                times.append(ex.ended + self.config.retransmission.span())
        child = self.children.timer()
        if child is not None:
            times.append(child)
        return min(times) if times else None

    def handle_timer(self, now):
        for child in self.children:
            if now >= child.expires:
                self._expire(child, now)
        if self.ended is not None:
            return
        if self.half_open_until is not None and now >= self.half_open_until:
            self.half_open_until = None
            self._input(self.phase1, S.TIMEOUT, None, now)
            return
        if self.expires is not None and now >= self.expires:     # RFC 2409 Appendix A
            self.event(ev.Expired(self.cookies, 0, b"", b""))
            self.delete(now, "expired")
            return
        if self.dpd_at is not None and now >= self.dpd_at and self._dead_peer_detection(now):
            return
        self.remote.handle_timer(now)
        if self.ended is not None:
            return
        if self.renew_at is not None and now >= self.renew_at:
            self.renew_at = None
            self.event(ev.Expired(self.cookies, 0, b"", b"", hard=False))
            self.endpoint.initiate(self.origin, now, renews=self)
        for child in self.children:
            if child.delete_at is not None and now >= child.delete_at:
                self.remove_child(child, "rekeyed", now)
            elif child.rekey_at is not None and child.rekeying is None and now >= child.rekey_at:
                self._soft(child, now)
        if self.keepalive_at is not None and now >= self.keepalive_at:
            self.keepalive(now)
        for mid, ex in list(self.exchanges.items()):
            if ex.retransmit(now):
                self._input(ex, S.TIMEOUT, None, now)
            if ex.ended is not None and now >= ex.ended + self.config.retransmission.span():
                self._retire(ex)

    def _retire(self, ex):
        """An exchange done for as long as its peer may retransmit: a Quick
        Mode or Transaction goes (its ESP SAs stay, its message ID stays
        used), Phase 1 forgets the replies it kept for retransmitted
        requests."""
        ex.ended = None
        ex.replies.clear()
        ex.seen.clear()
        if ex.kind in (S.QM, S.TX):
            del self.exchanges[ex.message_id]
            self.sa.forget(ex.message_id)

    def keepalive(self, now):
        """The one-byte NAT keep-alive on the NAT-T port, every
        ``keepalive`` seconds behind a NAT (RFC 3948 2.3, 4)."""
        self.endpoint.outgoing.append(Datagram(NAT_KEEPALIVE, self.peer, self.endpoint.natt_port))
        self.keepalive_at = now + self.config.keepalive

    def no_proposal_reason(self, sa_payload, phase):
        """NO-PROPOSAL-CHOSEN's reason: what the peer offered, what we
        accept, and how to allow it (phase 1 or 2)."""
        ours = self.config.ike_proposals() if phase == 1 else self.config.esp_proposals()
        return P.no_proposal_reason(P.describe_offered(sa_payload), P.describe_configured(ours),
                                    phase)


_NAMES = {S.MAIN: "Main Mode", S.AGGRESSIVE: "Aggressive Mode", S.INFO: "Informational",
          S.QUICK: "Quick Mode", S.TRANSACTION: "Transaction"}


def _exchange_name(number):
    return _NAMES.get(number, "exchange %d" % number)

