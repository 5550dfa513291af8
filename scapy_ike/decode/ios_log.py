"""A capture's IKE exchanges as each side's ``debug crypto isakmp`` log:
the decrypted messages run through the engine's transition table
(:mod:`scapy_ike.core.state`) as an observer of both ends, each message
becoming the events its sender and its receiver would have had
(MessageSent, MessageReceived, TransformChecked, StateChanged,
QuickModeEstablished), laid out by :mod:`scapy_ike.log.ios` as the live
engine's are.  Where a message cannot be read (its keys are unknown) the
log of that IKE SA stops, and says so."""

from scapy_ike.constants import (
    EncapsulationMode, ExchangeType as X, Flags, PayloadType as T,
)
from scapy_ike.core import events as ev, proposals as P, state as S
from scapy_ike.core.config import Identity
from scapy_ike.core.exchanges.transaction import purpose_of
from scapy_ike.core.facts import facts
from scapy_ike.core.message import Message, MessageError, parse_attributes, parse_sa
from scapy_ike.decode import wire
from scapy_ike.decode.session import ISAKMP_LAYER
from scapy_ike.attributes import IPSEC_ATTRIBUTES, OAKLEY_ATTRIBUTES
from scapy_ike.log import IosLog, LogLine

KINDS = {X.MAIN_MODE: S.P1, X.AGGRESSIVE: S.P1, X.QUICK_MODE: S.QM, X.TRANSACTION: S.TX,
         X.INFORMATIONAL: S.IN}
READY = {S.P1: S.READY, S.QM: S.QM_READY, S.TX: S.TX_READY, S.IN: S.INFO_READY}
UDP_MODES = (EncapsulationMode.UDP_TUNNEL, EncapsulationMode.UDP_TRANSPORT,
             EncapsulationMode.UDP_TUNNEL_DRAFT, EncapsulationMode.UDP_TRANSPORT_DRAFT)


class Router:
    """One end of the capture's exchanges: its log, and the step it is in
    (the events of a message it received, awaiting its answer)."""

    def __init__(self, address):
        self.address = address
        self.log = IosLog()
        self.lines = []
        self.pending = None     # (events, state change, its IKE SA, its role there)

    def feed(self, events):
        self.lines += self.log.feed(events)

    def flush(self, answer=()):
        """The pending step told, with *answer* (its events) if it came."""
        if self.pending is not None:
            events, change, sa, role = self.pending
            self.pending = None
            self.feed(events + list(answer) + _after(sa, role, change))


class _Sa:
    """One IKE SA as the observer follows it."""

    def __init__(self, initiator, mode):
        self.initiator = initiator
        self.mode = mode
        self.states = {}        # (role in the SA, message ID) -> (exchange role, state)
        self.quick = {}         # message ID -> what its messages said
        self.stopped = False


class Observer:
    """Feed it the capture's records (:meth:`record`), then :meth:`done`;
    :attr:`routers`: address -> :class:`Router`, in order of appearance."""

    def __init__(self):
        self.routers = {}
        self.sas = {}

    def router(self, address):
        if address not in self.routers:
            self.routers[address] = Router(address)
        return self.routers[address]

    def record(self, record):
        """One decoded frame (:class:`~scapy_ike.decode.session.Record`)."""
        ip = record.ip
        if ip is None or ip.kind != wire.ISAKMP or len(ip.body) < 28:
            return
        try:
            head = Message.parse(bytes(ip.body))
        except MessageError:
            return
        clear = next((data for kind, data, _ in record.opened if kind == ISAKMP_LAYER), None)
        if head.flags & Flags.ENCRYPTION and clear is None:
            return self._stop(head, ip, record.error or "its keys are unknown")
        msg = head if clear is None else Message.parse(bytes(clear))
        sa = self.sas.get(head.cky_i)
        if sa is None:
            if head.exch_type not in (X.MAIN_MODE, X.AGGRESSIVE):
                return
            sa = self.sas[head.cky_i] = _Sa(ip.src, "main" if head.exch_type == X.MAIN_MODE
                                            else "aggressive")
        if sa.stopped:
            return
        role = "initiator" if ip.src == sa.initiator else "responder"
        other = "responder" if role == "initiator" else "initiator"
        cookies, payloads = head.cky_i + head.cky_r, facts(msg.payloads, with_headers=True)
        self._sent(sa, self.router(ip.src), role, msg, ev.MessageSent(
            cookies, msg.message_id, msg.exch_type, role, (ip.dst, ip.dport), ip.src, ip.sport,
            payloads))
        self._received(sa, self.router(ip.dst), other, msg, ev.MessageReceived(
            cookies, msg.message_id, msg.exch_type, other, (ip.src, ip.sport), ip.dst, ip.dport,
            payloads))

    def done(self):
        for router in self.routers.values():
            router.flush()

    # -- the sender ----------------------------------------------------------------

    def _sent(self, sa, router, role, msg, sent):
        pending = router.pending
        if pending is not None and pending[0][0].cookies[:8] == msg.cky_i \
                and pending[0][0].message_id == msg.message_id:
            return router.flush(self._choice(sa, msg, sent) + [sent])      # its answer
        router.flush()
        kind = KINDS.get(msg.exch_type)
        key = (role, msg.message_id)
        if kind is None or kind == S.IN or key in sa.states:
            return router.feed([sent])          # an Informational, or a message sent again
        if kind == S.P1:
            new = S.FIRST_SENT[sa.mode]
        elif kind == S.QM:
            new = S.QM_I_QM1
            sa.quick[msg.message_id] = {"first": msg, "initiator": role}
        else:
            new = S.TX_SENT[_purpose(msg)]
        sa.states[key] = ("initiator", new)
        router.feed([sent, ev.StateChanged(sent.cookies, msg.message_id, READY[kind], new)])

    # -- the receiver ----------------------------------------------------------------

    def _received(self, sa, router, role, msg, received):
        router.flush()
        kind = KINDS.get(msg.exch_type)
        key = (role, msg.message_id)
        exchange_role, state = sa.states.get(key, ("responder", READY.get(kind)))
        row = S.TABLE.get((kind, exchange_role, state, msg.exch_type))
        if row is None:
            return router.feed([received])
        after = row[1][_purpose(msg)] if isinstance(row[1], dict) else row[1]
        sa.states[key] = (exchange_role, after)
        events = [received]
        if exchange_role == "initiator":
            events += self._choice(sa, msg, received)
        router.pending = (events, ev.StateChanged(received.cookies, msg.message_id, state,
                                                  after), sa, role)
        if not _answers(kind, exchange_role, role, sa.mode, after):
            router.flush()

    def _choice(self, sa, msg, seen):
        """TransformChecked for the transform an SA payload of *msg* holds
        when it holds one only (the responder's choice): the initiator
        checks it, and so did the responder before answering with it."""
        bodies = [body[4:] for ptype, body in msg.payloads if ptype == T.SA]
        try:
            offer = parse_sa(bytes(bodies[0]))
        except (IndexError, MessageError):
            return []
        transforms = [(p, t) for p in offer.proposals for t in p.trans]
        if len(transforms) != 1:
            return []
        prop, transform = transforms[0]
        phase = 1 if msg.exch_type in (X.MAIN_MODE, X.AGGRESSIVE) else 2
        if phase == 2 and msg.message_id in sa.quick:
            sa.quick[msg.message_id].update(responder_spi=bytes(prop.SPI), transform=transform)
        space = OAKLEY_ATTRIBUTES if phase == 1 else IPSEC_ATTRIBUTES
        return [ev.TransformChecked(seen.cookies, msg.message_id, phase, prop.proposal,
                                    transform.transform_count, transform.transform_id,
                                    P.numbered_attributes(space, transform.transforms), 1, True)]

    def _stop(self, head, ip, reason):
        sa = self.sas.get(head.cky_i)
        if sa is None or sa.stopped:
            return
        sa.stopped = True
        for address in (ip.src, ip.dst):
            router = self.router(address)
            router.flush()
            router.lines.append(LogLine(
                "stopped", 0, "ISAKMP: the log of IKE SA %s stops at message ID %d: %s"
                % (head.cky_i.hex(), head.message_id, reason)))


def _answers(kind, exchange_role, role, mode, after):
    """Whether the receiver answers this message within its exchange:
    every Phase 1 message but the last (MM6, AM3), QM1 and QM2, a
    Transaction's question; no Informational."""
    if kind == S.P1:
        last = "initiator" if mode == "main" else "responder"
        return not (after == S.P1_COMPLETE and role == last)
    if kind == S.QM:
        return not (after == S.QM_COMPLETE and exchange_role == "responder")
    return kind == S.TX and exchange_role == "responder"


def _after(sa, role, change):
    """The state change a step ends with, then a Quick Mode's SAs."""
    out = [change]
    if change.new == S.QM_COMPLETE:
        established = _established(change, sa.quick.get(change.message_id, {}), role)
        if established is not None:
            out.append(established)
    return out


def _purpose(msg):
    bodies = [body[4:] for ptype, body in msg.payloads if ptype == T.ATTRIBUTES]
    try:
        return purpose_of(parse_attributes(bytes(bodies[0])))
    except (IndexError, MessageError):
        return "pull"


def _established(change, quick, role):
    """The QuickModeEstablished a side would have had, from QM1 (the
    initiator's SPI and identities) and QM2 (the responder's SPI and its
    choice)."""
    first, transform = quick.get("first"), quick.get("transform")
    if first is None or transform is None:
        return None
    try:
        offer = parse_sa(bytes(next(b[4:] for t, b in first.payloads if t == T.SA)))
        spi_i = bytes(offer.proposals[0].SPI)
    except (StopIteration, IndexError, MessageError):
        return None
    proposal = P.esp_from_transform(transform)
    if proposal is None:
        return None
    ids = [bytes(b[4:]) for t, b in first.payloads if t == T.ID]
    networks = [str(Identity.from_body(b).network() or "") for b in ids[:2]] + ["", ""]
    spis, selectors = (spi_i, quick["responder_spi"]), (networks[0], networks[1])
    if role != quick["initiator"]:
        spis, selectors = spis[::-1], selectors[::-1]
    encap = dict(P.numbered_attributes(IPSEC_ATTRIBUTES, transform.transforms)).get(
        "EncapsulationMode")
    return ev.QuickModeEstablished(change.cookies, change.message_id, *spis, b"", b"", proposal,
                                   encap in UDP_MODES, *selectors)


def ios_log(records):
    """``{address: [LogLine, ...]}``: each router's log of the *records*."""
    observer = Observer()
    for record in records:
        observer.record(record)
    observer.done()
    return {address: router.lines for address, router in observer.routers.items()}
