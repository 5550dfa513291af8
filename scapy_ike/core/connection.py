"""The sans-IO IKEv1 engine (RFC 2409): datagrams, time and calls in;
datagrams, events and a timer out.  It never opens a socket, reads a
clock or sleeps.

An :class:`Endpoint` dispatches datagrams by initiator cookie to
:class:`IkeConnection` objects, one per IKE SA, whose handlers are named by
the transition table of :mod:`scapy_ike.core.state`.  Main and Aggressive
Mode with pre-shared keys, Quick Mode with and without PFS, NAT-T
(RFC 3947 and the drafts 02/03: NAT-D, the float to the NAT-T port with the
non-ESP marker, UDP-encapsulated ESP modes), retransmission with backoff, a
responder's repeat of its last reply to a retransmitted request, and
notifies.  Messages are read and written by :mod:`scapy_ike.core.message`.
A peer's bad message is dropped (an event says why), never fatal; one that
does not authenticate changes no state.
"""

import hmac
import ipaddress
import os
import struct
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Dict, Optional

from scapy_ike.constants import (
    NAT_KEEPALIVE, NON_ESP_MARKER, VENDOR_IDS, DOI, Flags, IpsecAttribute, LifeType, NotifyType,
    PayloadType as T, ProtocolId,
)
from scapy_ike.core import events as ev, proposals as P, state as S
from scapy_ike.core.config import Identity
from scapy_ike.core.message import (
    HEADER, Message, MessageError, body_of, encode_header, encode_payloads,
)
from scapy_ike.core.sa import IkeSa, KeysMissing
from scapy_ike.crypto import dh, keys
from scapy_ike.layers.isakmp import (
    IPSEC_ATTRIBUTES, ISAKMP_payload_Delete, ISAKMP_payload_Notify, ISAKMP_payload_Proposal,
    ISAKMP_payload_SA, ISAKMP_payload_Transform,
)

def _vid(name):
    return next(k for k, v in VENDOR_IDS.items() if v == name)


NATT_VIDS = {_vid(name): kind for name, kind in (
    ("RFC 3947 NAT-T", "rfc3947"),
    ("draft-ietf-ipsec-nat-t-ike-03", "drafts"),
    ("draft-ietf-ipsec-nat-t-ike-02", "drafts"),
    ("draft-ietf-ipsec-nat-t-ike-02\\n", "drafts"))}
"""The NAT-T vendor IDs we speak, best first (as charon ranks them): the
drafts 02 and 03 float to the NAT-T port like RFC 3947 but number NAT-D
130 and the UDP encapsulation modes 61443/61444."""
_OFFERED = {True: [_vid("RFC 3947 NAT-T"), _vid("draft-ietf-ipsec-nat-t-ike-02\\n")],
            "rfc3947": [_vid("RFC 3947 NAT-T")],
            "drafts": [_vid("draft-ietf-ipsec-nat-t-ike-02\\n")],
            False: []}
DPD_VID = _vid("RFC 3706 DPD")


_UNDECRYPTABLE = "decryption failed (wrong pre-shared key?): %s"


class PeerError(Exception):
    """The peer's message is wrong: the reason, and the notify to answer."""

    def __init__(self, reason, notify=None):
        super().__init__(reason)
        self.notify = notify


class Unauthenticated(PeerError):
    """The message does not decrypt or its HASH does not verify: it may be
    anyone's, so after Phase 1 it changes no state (as charon)."""


@dataclass(frozen=True)
class Datagram:
    """What to send: *data* (with the non-ESP marker on the NAT-T port)
    from our *local_port* to *addr*."""

    data: bytes
    addr: tuple
    local_port: int


@dataclass
class _Pending:
    """An outstanding request and its retransmission schedule."""

    datagram: Datagram
    message_id: int
    deadlines: list


@dataclass
class _Quick:
    role: str
    state: str
    ni_b: bytes = b""
    nr_b: bytes = b""
    spi_in: bytes = b""
    spi_out: bytes = b""
    dh_key: object = None
    ke: bytes = b""
    gxy: bytes = b""
    proposal: object = None
    expires: Optional[float] = None


class IkeConnection:
    """One IKE SA and its Quick Modes, as initiator or responder."""

    def __init__(self, endpoint, role, sa, peer, now):
        self.endpoint = endpoint
        self.config = endpoint.config
        self.role = role
        self.sa = sa
        self.peer = peer
        self.state = S.READY
        self.natt = False           # floated to the NAT-T port
        self.natt_vid = None        # the NAT-T version both speak
        self.natted = False
        self.dh_key = None
        self.chosen = None
        self.quick: Dict[int, _Quick] = {}
        self.pending: Optional[_Pending] = None
        self.replies: Dict[bytes, Datagram] = {}
        self.seen = set()
        self.keepalive_at = None
        self.expires = None
        self.created = now

    # -- plumbing ------------------------------------------------------------

    def _set(self, new, message_id=0):
        old, self.state = self.state, new
        self.endpoint.event(ev.StateChanged(self.sa.cky_i + self.sa.cky_r, message_id, old, new))

    def _datagram(self, message):
        port = self.endpoint.natt_port if self.natt else self.endpoint.ike_port
        data = NON_ESP_MARKER + message if self.natt else message
        return Datagram(data, self.peer, port)

    def _clear(self, exchange, payloads, message_id=0):
        """A message of ``(type, body)`` *payloads* in clear."""
        body = encode_payloads(payloads)
        return encode_header(self.sa.cky_i, self.sa.cky_r, payloads[0][0], exchange, 0,
                             message_id, HEADER.size + len(body)) + body

    def _encrypted(self, exchange, payloads, message_id):
        """An encrypted message (RFC 2408 3.1): header in clear, payloads
        padded and encrypted with the exchange's IV chain."""
        body = self.sa.encrypt(message_id, encode_payloads(payloads))
        return encode_header(self.sa.cky_i, self.sa.cky_r, payloads[0][0], exchange,
                             Flags.ENCRYPTION, message_id, HEADER.size + len(body)) + body

    def _send(self, message, now, message_id=0, request=True, reply_to=None):
        datagram = self._datagram(message)
        self.endpoint.outgoing.append(datagram)
        if reply_to is not None:
            self.replies[reply_to] = datagram
        if request:
            delays = self.config.retransmission.delays()
            deadlines, t = [], now
            for delay in delays:
                t += delay
                deadlines.append(t)
            self.pending = _Pending(datagram, message_id, deadlines)
        else:
            self.pending = None

    def timer(self):
        timers = [t for t in (self.pending.deadlines[0] if self.pending else None,
                              self.keepalive_at, self.expires) if t is not None]
        timers += [q.expires for q in self.quick.values() if q.expires is not None]
        return min(timers) if timers else None

    def handle_timer(self, now):
        if self.expires is not None and now >= self.expires:   # RFC 2409 Appendix A
            self.endpoint.event(ev.Expired(self.sa.cky_i + self.sa.cky_r, 0, b"", b""))
            self.delete(now)
            self.expires = None
            return
        for mid, q in list(self.quick.items()):       # the SA lifetime (RFC 2407 4.5)
            if q.expires is not None and now >= q.expires:
                del self.quick[mid]
                self.endpoint.event(ev.Expired(self.sa.cky_i + self.sa.cky_r, mid,
                                               q.spi_in, q.spi_out))
        if self.keepalive_at is not None and now >= self.keepalive_at:
            self._keepalive(now)
        pending = self.pending
        if pending is None or now < pending.deadlines[0]:
            return
        pending.deadlines.pop(0)
        if not pending.deadlines:
            self.pending = None
            self._fail("timeout", pending.message_id)
            return
        self.endpoint.outgoing.append(pending.datagram)
        attempt = self.config.retransmission.tries - len(pending.deadlines)
        self.endpoint.event(ev.Retransmitted(self.sa.cky_i + self.sa.cky_r,
                                             pending.message_id, attempt))

    def _keepalive(self, now):
        """The one-byte NAT keep-alive on the NAT-T port, every
        ``keepalive`` seconds behind a NAT (RFC 3948 2.3, 4)."""
        self.endpoint.outgoing.append(
            Datagram(NAT_KEEPALIVE, self.peer, self.endpoint.natt_port))
        self.keepalive_at = now + self.config.keepalive

    def delete(self, now):
        """Informational Delete of every ESP SA this IKE SA made, then of
        the IKE SA itself (RFC 2408 3.15, RFC 2409 5.7); the SA is gone."""
        spis = [q.spi_in for q in self.quick.values() if q.state == S.QM_COMPLETE]
        if self.state == S.P1_COMPLETE:
            if spis:
                self._informational_send((T.DELETE, body_of(ISAKMP_payload_Delete(
                    proto=ProtocolId.IPSEC_ESP, SPIs=spis))), now)
            self._informational_send((T.DELETE, body_of(ISAKMP_payload_Delete(
                proto=ProtocolId.ISAKMP, SPIs=[self.sa.cky_i + self.sa.cky_r]))), now)
        self._set(S.DEAD)
        self.pending = self.keepalive_at = self.expires = None

    def _informational_send(self, payload, now):
        """An Informational exchange: HASH(1) then *payload* = ``(type,
        body)``, encrypted (RFC 2409 5.7)."""
        mid = self.endpoint.message_id()
        digest = keys.message_hash(self.sa.hash, self.sa.skeyid_a, mid, encode_payloads([payload]))
        self._send(self._encrypted(S.INFO, [(T.HASH, digest), payload], mid), now, request=False)

    def _fail(self, reason, message_id=0, notify=None):
        self.endpoint.event(ev.Failed(self.sa.cky_i + self.sa.cky_r, message_id, reason, notify))
        self._set(S.DEAD, message_id)
        self.pending = None

    def _notify(self, notify_type, now):
        """An Informational exchange with one notify (RFC 2408 3.14):
        encrypted once keys exist (with HASH, RFC 2409 5.7), else clear."""
        n = (T.NOTIFICATION, body_of(ISAKMP_payload_Notify(
            doi=DOI.IPSEC, proto=ProtocolId.ISAKMP, SPI=self.sa.cky_i + self.sa.cky_r,
            notify_msg_type=notify_type)))
        if self.sa.skeyid_a is None:
            self._send(self._clear(S.INFO, [n]), now, request=False)
            return
        self._informational_send(n, now)

    # -- receiving -------------------------------------------------------------

    def receive(self, head, now, wire):
        """One ISAKMP message of this SA, parsed (*head*, a
        :class:`~scapy_ike.core.message.Message`) and as it came (*wire*)."""
        if self.sa.cky_r == bytes(8):                   # the responder's cookie, in MM2/AM2
            self.sa.cky_r = head.cky_r
        if wire in self.replies:                       # a retransmitted request
            self.endpoint.outgoing.append(self.replies[wire])
            return
        if head.cky_r != self.sa.cky_r and not (self.state == S.READY and not any(head.cky_r)):
            raise PeerError("responder cookie %s is not this SA's" % head.cky_r.hex())
        if wire in self.seen:                          # a response that came twice
            return
        self.seen.add(wire)
        if self.sa.skeyid_a is not None and not head.flags & Flags.ENCRYPTION \
                and head.exch_type != S.AGGRESSIVE:
            # once keys exist, only AM3 may come in clear (RFC 2409 5);
            # an unprotected notify or Delete could be anyone's (as charon)
            raise PeerError("ignoring an unprotected Informational" if head.exch_type == S.INFO
                            else "ignoring an unencrypted message after the key exchange")
        encrypted = head.flags & Flags.ENCRYPTION
        position = self.sa.position(head.message_id, head.body) if encrypted else None
        try:
            self._dispatch(head, now, wire)
        except Unauthenticated:
            if encrypted:
                self.sa.rewind(head.message_id, head.body, position)
            raise

    def _dispatch(self, head, now, wire):
        if head.exch_type == S.INFO:
            return self._informational(head)
        if head.exch_type == S.QUICK:
            return self._quick_mode(head, now, wire)
        key = (self.role, self.state, head.exch_type)
        if key not in S.PHASE1:
            raise PeerError("unexpected %s message in %s" % (head.exch_type, self.state))
        handler, after = S.PHASE1[key]
        msg = self._open(head) if head.flags & Flags.ENCRYPTION else head
        try:
            self._handle(handler, msg, now, wire)
        except PeerError as exc:
            if head.flags & Flags.ENCRYPTION and exc.notify is None:
                raise Unauthenticated(_UNDECRYPTABLE % exc, NotifyType.PAYLOAD_MALFORMED) from None
            raise
        for n in msg.layers(T.NOTIFICATION):           # INITIAL-CONTACT and the like
            self.endpoint.event(ev.NotifyReceived(self.sa.cky_i + self.sa.cky_r,
                                                  n.notify_msg_type, n.notify_data))
        if self.state != S.DEAD:
            self._set(after)
        if after == S.P1_COMPLETE and self.state == S.P1_COMPLETE:
            self._established(now)

    def _handle(self, handler, *args):
        """Run a transition's handler; the request we wait an answer to
        stays pending (and retransmitted) when the message is refused."""
        waiting, self.pending = self.pending, None
        try:
            getattr(self, handler)(*args)
        except PeerError:
            if self.pending is None:
                self.pending = waiting
            raise

    def _open(self, head):
        """Decrypt an encrypted message and walk its payloads."""
        try:
            plain = self.sa.decrypt(head.message_id, head.body)
        except (KeysMissing, ValueError) as exc:
            raise Unauthenticated("cannot decrypt: %s" % exc)
        try:
            return head.opened(plain)
        except MessageError as exc:
            raise Unauthenticated(_UNDECRYPTABLE % exc, NotifyType.PAYLOAD_MALFORMED) from None

    def _body(self, msg, ptype):
        """The body of the first *ptype* payload of *msg*."""
        found = msg.bodies(ptype)
        if not found:
            raise PeerError("no %s payload" % T(ptype).name)
        return found[0]

    def _layer(self, msg, ptype):
        """The first *ptype* payload of *msg*, dissected."""
        self._body(msg, ptype)
        return msg.layers(ptype)[0]

    # -- Phase 1 ---------------------------------------------------------------

    def start(self, now):
        """The initiator's first message (RFC 2409 5)."""
        self.sa.sai_b = body_of(P.ike_sa_payload(self.config.ike_proposals()))
        vids = self._vids()
        if self.config.mode == "main":
            self._send(self._clear(S.MAIN, [(T.SA, self.sa.sai_b)] + vids), now)
        else:
            groups = {p.group for p in self.config.ike_proposals()}
            if len(groups) != 1:
                raise ValueError("Aggressive Mode proposals must share one DH group")
            self._ke_nonce(groups.pop())
            ident = self._identity()
            self.sa.idii_b = ident.body()
            payloads = [(T.SA, self.sa.sai_b), self._ke_payload(), (T.NONCE, self.sa.ni_b),
                        (T.ID, self.sa.idii_b)] + vids
            self._send(self._clear(S.AGGRESSIVE, payloads), now)
        self._set(S.FIRST_SENT[("initiator", self.config.mode)])

    def _vids(self):
        """The initiator offers its NAT-T versions; the responder answers
        with the one it chose (RFC 3947 2)."""
        natt = _OFFERED[self.config.nat_t] if self.role == "initiator" else [self.natt_vid]
        return [(T.VENDOR_ID, vid) for vid in natt + [DPD_VID] if vid is not None]

    @property
    def _drafts(self):
        return NATT_VIDS.get(self.natt_vid) == "drafts"

    def _natd_type(self):
        return T.NAT_D_DRAFT if self._drafts else T.NAT_D

    def _identity(self):
        return self.config.identity(self.endpoint.local_address)

    def _ke_nonce(self, group):
        self.dh_key, ke = dh.generate(group)
        nonce = self.endpoint.random(32)
        if self.role == "initiator":
            self.sa.gxi, self.sa.ni_b = ke, nonce
        else:
            self.sa.gxr, self.sa.nr_b = ke, nonce

    def _ke_payload(self):
        return T.KE, self.sa.gxi if self.role == "initiator" else self.sa.gxr

    def _nat_d(self):
        """NAT-D of the peer, then ours (RFC 3947 3.2), when both speak
        NAT-T; with force_encap ours is made up, so that the peer sees a
        NAT and both float."""
        if self.natt_vid is None:
            return []
        h = self.sa.hash
        local = self.endpoint.local_address, self.endpoint.ike_port
        theirs = keys.nat_d(h, self.sa.cky_i, self.sa.cky_r, _packed(self.peer[0]), self.peer[1])
        ours = keys.nat_d(h, self.sa.cky_i, self.sa.cky_r, _packed(local[0]), local[1])
        if self.config.force_encap:
            ours = self.endpoint.random(len(ours))
        return [(self._natd_type(), theirs), (self._natd_type(), ours)]

    def _check_nat(self, msg):
        """Whether a NAT lies between us (RFC 3947 3.2)."""
        hashes = msg.bodies(self._natd_type())
        if not hashes:
            return
        h = self.sa.hash
        me = keys.nat_d(h, self.sa.cky_i, self.sa.cky_r, _packed(self.endpoint.local_address),
                        self.endpoint.ike_port)
        peer = keys.nat_d(h, self.sa.cky_i, self.sa.cky_r, _packed(self.peer[0]), self.peer[1])
        self.natted = (not hmac.compare_digest(hashes[0], me)
                       or not any(hmac.compare_digest(x, peer) for x in hashes[1:])
                       or self.config.force_encap)

    def _peer_vids(self, msg):
        """The best NAT-T version that both offer."""
        offered = set(msg.bodies(T.VENDOR_ID))
        allowed = self.config.nat_t
        self.natt_vid = next((vid for vid, kind in NATT_VIDS.items()
                              if vid in offered and allowed in (True, kind)), None)

    def _choose(self, msg):
        """The responder picks one of the initiator's transforms."""
        sa_payload = self._layer(msg, T.SA)
        self.sa.sai_b = self._body(msg, T.SA)
        found = P.choose(self.config.ike_proposals(), P.offered_transforms(sa_payload),
                         P.ike_from_transform)
        if found is None:
            raise PeerError("no proposal chosen", NotifyType.NO_PROPOSAL_CHOSEN)
        self.chosen, transform = found
        self.sa.choose(self.chosen)
        echoed = ISAKMP_payload_Transform(bytes(transform)[:transform.length])
        echoed.next_payload = 0
        return T.SA, body_of(ISAKMP_payload_SA(prop=ISAKMP_payload_Proposal(
            proposal=sa_payload.prop.proposal, proto=ProtocolId.ISAKMP, trans=echoed)))

    def _accept_choice(self, msg):
        """The initiator checks the responder's choice is one it offered."""
        offered = list(P.offered_transforms(self._layer(msg, T.SA)))
        chosen = P.ike_from_transform(offered[0][1]) if len(offered) == 1 else None
        if chosen is None or chosen.key() not in {p.key() for p in self.config.ike_proposals()}:
            raise PeerError("the responder chose a transform we did not offer",
                            NotifyType.BAD_PROPOSAL_SYNTAX)
        self.chosen = chosen
        self.sa.choose(chosen)

    def _keys(self, peer_ke):
        try:
            gxy = dh.shared_secret(self.sa.group, self.dh_key, peer_ke)
        except ValueError as exc:
            raise PeerError(str(exc), NotifyType.INVALID_KEY_INFORMATION)
        self.sa.derive(psk=self.config.psk, gxy=gxy)

    def _check_id(self, body):
        """The peer's identity is the configured one, if any."""
        want = self.config.remote_id
        if want is not None:
            ident = Identity.parse(want)
            if body[0] != ident.id_type or body[4:] != ident.data:
                raise PeerError("invalid id", NotifyType.INVALID_ID_INFORMATION)

    def initiator_mm2(self, msg, now, wire):
        self._accept_choice(msg)
        self._peer_vids(msg)
        self._ke_nonce(self.sa.group)
        self._send(self._clear(S.MAIN, [self._ke_payload(), (T.NONCE, self.sa.ni_b)]
                               + self._nat_d()), now)

    def initiator_mm4(self, msg, now, wire):
        self.sa.gxr = self._body(msg, T.KE)
        self.sa.nr_b = self._body(msg, T.NONCE)
        self._keys(self.sa.gxr)
        self._check_nat(msg)
        self._float()
        self.sa.idii_b = self._identity().body()
        self._send(self._encrypted(S.MAIN, [(T.ID, self.sa.idii_b), self._hash_i()]
                                   + self._initial_contact(), 0), now)

    def _initial_contact(self):
        """N(INITIAL-CONTACT) with our first Phase 1 message under
        encryption: the peer may drop older SAs with us (RFC 2407 4.6.3.3)."""
        if not self.config.initial_contact:
            return []
        return [(T.NOTIFICATION, body_of(ISAKMP_payload_Notify(
            doi=DOI.IPSEC, proto=ProtocolId.ISAKMP, SPI=self.sa.cky_i + self.sa.cky_r,
            notify_msg_type=NotifyType.INITIAL_CONTACT)))]

    def _hash_i(self):
        return T.HASH, keys.hash_i(
            self.sa.hash, self.sa.skeyid, self.sa.gxi, self.sa.gxr, self.sa.cky_i,
            self.sa.cky_r, self.sa.sai_b, self.sa.idii_b)

    def _hash_r(self):
        return T.HASH, keys.hash_r(
            self.sa.hash, self.sa.skeyid, self.sa.gxi, self.sa.gxr, self.sa.cky_i,
            self.sa.cky_r, self.sa.sai_b, self.sa.idir_b)

    def _float(self):
        """After NAT detection, move to the NAT-T port (RFC 3947 4)."""
        self.natt = self.natted and self.natt_vid is not None
        if self.natt:
            self.peer = (self.peer[0], self.endpoint.peer_natt_port)

    def initiator_mm6(self, msg, now, wire):
        self.sa.idir_b = self._body(msg, T.ID)
        if not self.sa.verify_hash_r(self._body(msg, T.HASH)):
            raise Unauthenticated("authentication failed", NotifyType.INVALID_HASH_INFORMATION)
        self._check_id(self.sa.idir_b)

    def responder_mm1(self, msg, now, wire):
        chosen = self._choose(msg)
        self._peer_vids(msg)
        self._send(self._clear(S.MAIN, [chosen] + self._vids()), now, request=False,
                   reply_to=wire)

    def responder_mm3(self, msg, now, wire):
        self.sa.gxi = self._body(msg, T.KE)
        self.sa.ni_b = self._body(msg, T.NONCE)
        self._ke_nonce(self.sa.group)
        self._keys(self.sa.gxi)
        self._check_nat(msg)
        self._send(self._clear(S.MAIN, [self._ke_payload(), (T.NONCE, self.sa.nr_b)]
                               + self._nat_d()), now, request=False, reply_to=wire)

    def responder_mm5(self, msg, now, wire):
        self.sa.idii_b = self._body(msg, T.ID)
        if not self.sa.verify_hash_i(self._body(msg, T.HASH)):
            raise Unauthenticated("authentication failed", NotifyType.AUTHENTICATION_FAILED)
        self._check_id(self.sa.idii_b)
        self.sa.idir_b = self._identity().body()
        self._send(self._encrypted(S.MAIN, [(T.ID, self.sa.idir_b), self._hash_r()], 0), now,
                   request=False, reply_to=wire)

    def _established(self, now):
        if self.natt:
            self.keepalive_at = now + self.config.keepalive
        self.expires = now + self.chosen.lifetime
        self.endpoint.event(ev.Phase1Established(
            self.sa.cky_i + self.sa.cky_r, self.peer, self.natt,
            self.sa.idii_b if self.role == "initiator" else self.sa.idir_b,
            self.sa.idir_b if self.role == "initiator" else self.sa.idii_b))
        if self.role == "initiator":
            self.start_quick_mode(now)

    def responder_am1(self, msg, now, wire):
        """AM2: SA, KE, Nr, IDir, VIDs, NAT-D, NAT-D, HASH_R (RFC 2409 5)."""
        chosen = self._choose(msg)
        self._peer_vids(msg)
        self.sa.gxi = self._body(msg, T.KE)
        self.sa.ni_b = self._body(msg, T.NONCE)
        self.sa.idii_b = self._body(msg, T.ID)
        self._check_id(self.sa.idii_b)
        self._ke_nonce(self.sa.group)
        self._keys(self.sa.gxi)
        self.sa.idir_b = self._identity().body()
        payloads = [chosen, self._ke_payload(), (T.NONCE, self.sa.nr_b), (T.ID, self.sa.idir_b)]
        payloads += self._vids() + self._nat_d()
        self._send(self._clear(S.AGGRESSIVE, payloads + [self._hash_r()]), now, reply_to=wire)

    def initiator_am2(self, msg, now, wire):
        """Check AM2, answer AM3: HASH_I, NAT-D, NAT-D, encrypted as
        strongSwan does (on the NAT-T port after a NAT)."""
        self._accept_choice(msg)
        self._peer_vids(msg)
        self.sa.gxr = self._body(msg, T.KE)
        self.sa.nr_b = self._body(msg, T.NONCE)
        self.sa.idir_b = self._body(msg, T.ID)
        self._keys(self.sa.gxr)
        if not self.sa.verify_hash_r(self._body(msg, T.HASH)):
            raise Unauthenticated("authentication failed", NotifyType.AUTHENTICATION_FAILED)
        self._check_id(self.sa.idir_b)
        self._check_nat(msg)
        payloads = [self._hash_i()]
        if msg.bodies(self._natd_type()):
            payloads += self._nat_d()
        self._float()
        self._send(self._encrypted(S.AGGRESSIVE, payloads, 0), now, request=False, reply_to=wire)

    def responder_am3(self, msg, now, wire):
        if not self.sa.verify_hash_i(self._body(msg, T.HASH)):
            raise Unauthenticated("authentication failed", NotifyType.AUTHENTICATION_FAILED)

    # -- Quick Mode ---------------------------------------------------------

    def start_quick_mode(self, now):
        """QM1: HASH(1), SA, Ni [, KE] , IDci, IDcr (RFC 2409 5.5)."""
        mid = self.endpoint.message_id()
        q = self.quick[mid] = _Quick("initiator", S.QM_READY)
        proposals = self.config.esp_proposals()
        q.spi_in = self.endpoint.random(4)
        q.ni_b = self.endpoint.random(32)
        payloads = [(T.SA, body_of(P.esp_sa_payload(proposals, q.spi_in, udp_encap=self.natt,
                                                     draft=self._drafts))),
                     (T.NONCE, q.ni_b)]
        group = proposals[0].group
        if group is not None:
            q.dh_key, q.ke = dh.generate(group)
            payloads.append((T.KE, q.ke))
        payloads += [(T.ID, Identity.of_network(ts).body()) for ts in self.config.selectors()]
        digest = keys.message_hash(self.sa.hash, self.sa.skeyid_a, mid, encode_payloads(payloads))
        self._send(self._encrypted(S.QUICK, [(T.HASH, digest)] + payloads, mid),
                   now, message_id=mid)
        self._quick_set(q, mid, S.QM_FIRST_SENT)

    def _quick_set(self, q, mid, new):
        old, q.state = q.state, new
        self.endpoint.event(ev.StateChanged(self.sa.cky_i + self.sa.cky_r, mid, old, new))

    def _quick_mode(self, head, now, wire):
        if self.state != S.P1_COMPLETE:
            raise PeerError("Quick Mode before Phase 1 completed")
        mid = head.message_id
        q = self.quick.get(mid)
        if q is None:                       # the peer starts a Quick Mode
            q = _Quick("responder", S.QM_READY)
        key = (q.role, q.state, S.QUICK)
        if key not in S.QUICK_MODE:
            raise PeerError("unexpected Quick Mode message in %s" % q.state)
        handler, after = S.QUICK_MODE[key]
        msg = self._open(head)
        self._handle(handler, q, msg, now, wire)
        self.quick[mid] = q
        self._quick_set(q, mid, after)
        if after == S.QM_COMPLETE:
            self._quick_established(q, mid, now)

    def _hash_rest(self, msg):
        """HASH(1)'s value and the payloads after it, which it covers: it
        comes first after the header (RFC 2409 5.5, 5.7)."""
        if not msg.payloads or msg.payloads[0][0] != T.HASH:
            raise PeerError("no HASH payload first")
        return self._body(msg, T.HASH), b"".join(raw for _, raw in msg.payloads[1:])

    def responder_qm1(self, q, msg, now, wire):
        received, rest = self._hash_rest(msg)
        want = keys.message_hash(self.sa.hash, self.sa.skeyid_a, msg.message_id, rest)
        if not hmac.compare_digest(want, received):
            raise Unauthenticated("authentication failed", NotifyType.INVALID_HASH_INFORMATION)
        sa_payload = self._layer(msg, T.SA)
        found = P.choose(self.config.esp_proposals(), P.offered_transforms(sa_payload),
                         P.esp_from_transform)
        if found is None:
            raise PeerError("no proposal chosen", NotifyType.NO_PROPOSAL_CHOSEN)
        q.proposal, transform = found
        offered_life = P.esp_from_transform(transform).lifetime
        q.spi_out = sa_payload.prop.SPI
        q.ni_b = self._body(msg, T.NONCE)
        ids = msg.bodies(T.ID)
        if len(ids) == 2 and not (_within(ids[0], self.config.selectors()[1])
                                  and _within(ids[1], self.config.selectors()[0])):
            raise PeerError("invalid id", NotifyType.INVALID_ID_INFORMATION)
        q.spi_in = self.endpoint.random(4)
        q.nr_b = self.endpoint.random(32)
        ours = q.proposal
        q.proposal = replace(ours, lifetime=min(ours.lifetime, offered_life))
        chosen = P.esp_sa_payload([replace(ours, lifetime=offered_life)], q.spi_in,
                                  udp_encap=self.natt, draft=self._drafts)
        payloads = [(T.SA, body_of(chosen)), (T.NONCE, q.nr_b)]
        if q.proposal.group is not None:
            q.dh_key, q.ke = dh.generate(q.proposal.group)
            q.gxy = dh.shared_secret(q.proposal.group, q.dh_key, self._body(msg, T.KE))
            payloads.append((T.KE, q.ke))
        payloads += [(T.ID, body) for body in ids]      # echoed (RFC 2409 5.5)
        if ours.lifetime < offered_life:   # RFC 2407 4.6.3.1
            payloads.append(_responder_lifetime(q.spi_in, ours.lifetime))
        mid = msg.message_id
        digest = keys.qm_hash2(self.sa.hash, self.sa.skeyid_a, mid, q.ni_b,
                               encode_payloads(payloads))
        self._send(self._encrypted(S.QUICK, [(T.HASH, digest)] + payloads, mid),
                   now, message_id=mid, reply_to=wire)

    def initiator_qm2(self, q, msg, now, wire):
        received, rest = self._hash_rest(msg)
        want = keys.qm_hash2(self.sa.hash, self.sa.skeyid_a, msg.message_id, q.ni_b, rest)
        if not hmac.compare_digest(want, received):
            raise Unauthenticated("authentication failed", NotifyType.INVALID_HASH_INFORMATION)
        sa_payload = self._layer(msg, T.SA)
        offered = list(P.offered_transforms(sa_payload))
        chosen = P.esp_from_transform(offered[0][1]) if len(offered) == 1 else None
        if chosen is None or chosen.key() not in {p.key() for p in self.config.esp_proposals()}:
            raise PeerError("the responder chose a transform we did not offer",
                            NotifyType.BAD_PROPOSAL_SYNTAX)
        q.proposal, q.spi_out = chosen, sa_payload.prop.SPI
        for n in msg.layers(T.NOTIFICATION):
            if n.notify_msg_type == NotifyType.RESPONDER_LIFETIME:
                life = _lifetime_of(n.notify_data)
                if life is not None and life < chosen.lifetime:
                    q.proposal = replace(chosen, lifetime=life)
        q.nr_b = self._body(msg, T.NONCE)
        if chosen.group is not None:
            q.gxy = dh.shared_secret(chosen.group, q.dh_key, self._body(msg, T.KE))
        digest = keys.qm_hash3(self.sa.hash, self.sa.skeyid_a, msg.message_id, q.ni_b, q.nr_b)
        self._send(self._encrypted(S.QUICK, [(T.HASH, digest)], msg.message_id), now,
                   request=False, reply_to=wire)

    def responder_qm3(self, q, msg, now, wire):
        received = self._body(msg, T.HASH)
        want = keys.qm_hash3(self.sa.hash, self.sa.skeyid_a, msg.message_id, q.ni_b, q.nr_b)
        if not hmac.compare_digest(want, received):
            raise Unauthenticated("authentication failed", NotifyType.INVALID_HASH_INFORMATION)

    def _quick_established(self, q, mid, now):
        size = q.proposal.transform.keymat_size
        km_in = self.sa.keymat(ProtocolId.IPSEC_ESP, q.spi_in, q.ni_b, q.nr_b, size, q.gxy)
        km_out = self.sa.keymat(ProtocolId.IPSEC_ESP, q.spi_out, q.ni_b, q.nr_b, size, q.gxy)
        local, remote = self.config.selectors()
        q.expires = now + q.proposal.lifetime
        self.endpoint.event(ev.QuickModeEstablished(
            self.sa.cky_i + self.sa.cky_r, mid, q.spi_in, q.spi_out, km_in, km_out,
            q.proposal, self.natt, str(local), str(remote)))

    # -- Informational --------------------------------------------------------

    def _informational(self, head):
        msg = self._open(head) if head.flags & Flags.ENCRYPTION else head
        if head.flags & Flags.ENCRYPTION:
            received, rest = self._hash_rest(msg)
            want = keys.message_hash(self.sa.hash, self.sa.skeyid_a, msg.message_id, rest)
            if not hmac.compare_digest(want, received):
                raise Unauthenticated("informational HASH does not verify")
        cookies = self.sa.cky_i + self.sa.cky_r
        for n in msg.layers(T.NOTIFICATION):
            self.endpoint.event(ev.NotifyReceived(cookies, n.notify_msg_type, n.notify_data))
            if n.notify_msg_type >= 16384:                # status, not error (RFC 2408 3.14.1)
                continue
            reason = "peer notify %s" % n.sprintf("%notify_msg_type%")
            if self.state not in (S.P1_COMPLETE, S.DEAD):
                self._fail(reason, 0, n.notify_msg_type)
            for mid, q in list(self.quick.items()):     # our Quick Mode was refused
                if q.role == "initiator" and q.state != S.QM_COMPLETE:
                    del self.quick[mid]
                    self.pending = None
                    self.endpoint.event(ev.Failed(cookies, mid, reason, n.notify_msg_type))
        for d in msg.layers(T.DELETE):
            self.endpoint.event(ev.DeleteReceived(cookies, d.proto, tuple(d.SPIs)))
            if d.proto == ProtocolId.ISAKMP:
                self._set(S.DEAD)


def _responder_lifetime(spi, seconds):
    """N(RESPONDER-LIFETIME): our shorter lifetime for this SA, as SA
    attributes (RFC 2407 4.6.3.1)."""
    attrs = b"".join(IPSEC_ATTRIBUTES.encode(a) for a in (
        (IpsecAttribute.SA_LIFE_TYPE, LifeType.SECONDS),
        (IpsecAttribute.SA_LIFE_DURATION, seconds)))
    return T.NOTIFICATION, body_of(ISAKMP_payload_Notify(
        doi=DOI.IPSEC, proto=ProtocolId.IPSEC_ESP, SPI=spi,
        notify_msg_type=NotifyType.RESPONDER_LIFETIME, notify_data=attrs))


def _lifetime_of(data):
    """The seconds of a RESPONDER-LIFETIME's attributes, or None."""
    try:
        values = IPSEC_ATTRIBUTES.numbers(IPSEC_ATTRIBUTES.decode(None, data))
    except ValueError:
        return None
    seconds = values.get(IpsecAttribute.SA_LIFE_DURATION)
    if values.get(IpsecAttribute.SA_LIFE_TYPE) == LifeType.SECONDS and isinstance(seconds, int):
        return seconds
    return None


def _packed(address):
    return ipaddress.ip_address(address).packed


def _within(body, network):
    """Whether a Quick Mode identity lies inside a configured selector."""
    named = Identity.from_body(body).network()
    return (named is not None and named.version == network.version
            and named.subnet_of(network))


@dataclass
class Endpoint:
    """The sans-IO endpoint: one local address, the IKE and NAT-T ports,
    every IKE SA by initiator cookie."""

    config: object
    local_address: str
    ike_port: int = 500
    natt_port: int = 4500
    peer_natt_port: int = 4500
    random: object = os.urandom
    outgoing: deque = field(default_factory=deque)
    events: deque = field(default_factory=deque)
    connections: Dict[bytes, IkeConnection] = field(default_factory=dict)

    def event(self, e):
        self.events.append(e)

    def next_event(self):
        return self.events.popleft() if self.events else None

    def datagrams_to_send(self, now=None):
        out = list(self.outgoing)
        self.outgoing.clear()
        return out

    def message_id(self):
        """A fresh non-zero message ID (RFC 2408 3.1)."""
        while True:
            mid = struct.unpack("!I", self.random(4))[0]
            if mid:
                return mid

    def initiate(self, peer, now):
        """Start Phase 1 (then Quick Mode) with *peer* = (address, port)."""
        sa = IkeSa(self.random(8))
        conn = self.connections[sa.cky_i] = IkeConnection(self, "initiator", sa, peer, now)
        conn.start(now)
        return conn

    def get_timer(self):
        timers = [c.timer() for c in self.connections.values() if c.timer() is not None]
        return min(timers) if timers else None

    def handle_timer(self, now):
        for conn in list(self.connections.values()):
            conn.handle_timer(now)

    def close(self, now):
        """Delete every established SA (the peer is told) and forget all."""
        for conn in list(self.connections.values()):
            conn.delete(now)
        self.connections.clear()

    def receive_datagram(self, data, addr, now, local_port=None):
        """One UDP datagram: on the NAT-T port an IKE message follows the
        non-ESP marker (others are ESP or keep-alives: not ours)."""
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
            conn = self._new_responder(head, addr, now)
            if conn is None:
                return
        was = conn.natt, conn.peer
        if natt:                        # the float, or a NAT's new mapping (RFC 3947 4) ...
            conn.natt, conn.peer = True, addr
        try:
            conn.receive(head, now, data)
        except Exception as exc:        # a peer's garbage must never stop the endpoint
            conn.natt, conn.peer = was  # ... kept only for a message that was accepted
            if not isinstance(exc, PeerError):
                self.event(ev.Dropped(addr, "internal error on this message: %s: %s"
                                      % (type(exc).__name__, exc)))
                return
            self.event(ev.Dropped(addr, str(exc)))
            if exc.notify is None or conn.state == S.DEAD:
                return
            conn._notify(exc.notify, now)
            if head.exch_type == S.QUICK:
                if isinstance(exc, Unauthenticated):    # anyone's: this Quick Mode goes on
                    return
                conn.quick.pop(head.message_id, None)
                self.event(ev.Failed(conn.sa.cky_i + conn.sa.cky_r, head.message_id, str(exc),
                                     exc.notify))
            elif conn.state != S.P1_COMPLETE:
                conn._fail(str(exc), head.message_id, exc.notify)

    def _new_responder(self, head, addr, now):
        if head.cky_r != bytes(8) or head.exch_type not in (S.MAIN, S.AGGRESSIVE):
            self.event(ev.Dropped(addr, "unknown cookies"))
            return None
        half_open = sum(1 for c in self.connections.values()
                        if c.role == "responder" and c.state not in (S.P1_COMPLETE, S.DEAD))
        if half_open >= self.config.max_half_open:
            self.event(ev.Dropped(addr, "too many half-open SAs"))
            return None
        sa = IkeSa(head.cky_i, self.random(8))
        conn = self.connections[sa.cky_i] = IkeConnection(self, "responder", sa, addr, now)
        return conn
