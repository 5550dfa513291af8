"""The engine's events as the lines of a Cisco IOS ``debug crypto isakmp``
log, in the order and wording of the seed's Main, Aggressive and Quick
Mode logs, for either role: ``received packet from``, the ``Input =`` and
``Old State = ... New State =`` lines of every step (IOS's intermediate
states included: our table goes from ``IKE_I_MM1`` to ``IKE_I_MM3`` on
MM2, IOS logs ``IKE_I_MM2`` between), ``processing ... payload. message ID
=``, the transforms checked with their attributes, vendor IDs, ID
payloads, ``SA has been authenticated with``, ``beginning Quick Mode
exchange, M-ID of``, ``Creating IPSec SAs`` with SPIs and lifetimes, and
``sending packet to ... (I) MM_SA_SETUP``.

:class:`IosLog` is fed the events of one input at a time (one datagram,
one timer): IOS prints a step's lines in an order the engine does not
emit them in (it sends MM3 before MM2's step ends), so a step is laid out
once all its events are known.  Each line is a :class:`LogLine`: its kind
and facts for tests and tools, its text for people.  Events without a
debug fact (lifecycle, Phase 1.5) get their one-line form from
:mod:`scapy_ike.log.lines`."""

from collections import OrderedDict
from dataclasses import dataclass

from scapy_ike.constants import (
    ConfigType, ExchangeType as X, NotifyType, PayloadType as T, ProtocolId,
)
from scapy_ike.core import events as ev, state as S
from scapy_ike.core.proposals import cisco_transform
from scapy_ike.log import lines, words

P1 = S.P1_COMPLETE
MIDDLE = {("IKE_I_MM1", "IKE_I_MM3"): "IKE_I_MM2", ("IKE_I_MM3", "IKE_I_MM5"): "IKE_I_MM4",
          ("IKE_I_MM5", P1): "IKE_I_MM6", (S.READY, "IKE_R_MM2"): "IKE_R_MM1",
          ("IKE_R_MM2", "IKE_R_MM4"): "IKE_R_MM3", ("IKE_R_MM4", P1): "IKE_R_MM5",
          (S.READY, "IKE_R_AM2"): "IKE_R_AM1"}
"""IOS's state between the two of ours that one message of the peer moves."""
KEYING = {("IKE_I_MM3", "IKE_I_MM5"), ("IKE_R_MM2", "IKE_R_MM4"), ("IKE_I_AM1", P1),
          (S.READY, "IKE_R_AM2")}
"""Steps in which the keys are made: IOS shows the conn-id from then on."""


@dataclass(frozen=True)
class LogLine:
    """One line: its *kind* (``received``, ``input``, ``state``,
    ``processing``, ``transform``, ``attribute``, ``acceptable``,
    ``vendor id``, ``authenticated``, ``beginning``, ``sending``,
    ``creating sa``, ``node deleted``, ``id payload``, ``config``, or an
    event's), IOS's conn-id, the text, and the facts it states."""

    kind: str
    conn_id: int
    text: str
    facts: tuple = ()

    def fact(self, name, default=None):
        return dict(self.facts).get(name, default)


class _Step:
    """One message of the peer and what it led to."""

    def __init__(self, received):
        self.received = received
        self.details = []       # TransformChecked, Dropped and other events of the step
        self.sent = []
        self.change = None
        self.established = None


class IosLog:
    """Renders batches of events; *numbers(initiator cookie)* gives IOS's
    conn-id of an IKE SA (by default 1001, 1002, ... in order of first
    sight)."""

    def __init__(self, numbers=None, first=1001):
        self._numbers = numbers
        self._next = first
        self._own = OrderedDict()       # initiator cookie -> its number
        self._keyed = OrderedDict()     # initiator cookies of the SAs with keys
        self._sent = OrderedDict()      # (cookie, message ID) -> its last MessageSent
        self._out = []

    # -- input ---------------------------------------------------------------------

    def feed(self, events):
        """The :class:`LogLine` list of one input's *events*."""
        self._out = []
        step, loose = None, []
        for e in events:
            if isinstance(e, ev.MessageReceived):
                if step is not None:
                    self._step(step)
                step = _Step(e)
            elif isinstance(e, ev.MessageSent):
                _remember(self._sent, (e.cookies[:8], e.message_id), e)
                if step is not None and _same_sa(step.received, e):
                    step.sent.append(e)
                elif e.exch_type == X.INFORMATIONAL:    # no state of its own: told now
                    self._informational_sent(e)
                else:
                    loose.append(e)
            elif isinstance(e, ev.StateChanged):
                if step is not None and _same_exchange(step.received, e) and step.change is None:
                    step.change = e
                    if e.new != S.QM_COMPLETE:
                        self._step(step)
                        step = None
                elif step is not None and step.change is None:
                    step.details.append(e)          # another exchange's, told after the step
                else:
                    mine = [m for m in loose if _same_exchange(m, e)]
                    loose = [m for m in loose if m not in mine]
                    self._internal(e, mine)
            elif isinstance(e, ev.QuickModeEstablished) and step is not None \
                    and step.change is not None:
                step.established = e
                self._step(step)
                self._created(e, step.received.peer[0], step.received.local)
                step = None
            elif step is not None and step.change is None:
                step.details.append(e)
            else:
                self._event(e)
        if step is not None:
            self._step(step)
        for m in loose:
            self._sending(m)
        return self._out

    # -- one line ------------------------------------------------------------------

    def conn_id(self, cookies):
        """IOS's conn-id in a line: 0 until the SA has its keys."""
        return self.number(cookies) if cookies[:8] in self._keyed else 0

    def number(self, cookies):
        """The IKE SA's number (IOS's conn-id once it has its keys)."""
        cky = cookies[:8]
        number = self._own.get(cky)
        if number is None:
            number = self._numbers(cky) if self._numbers is not None else None
            if number is None:
                number, self._next = self._next, self._next + 1
            _remember(self._own, cky, number)
        return number

    def _line(self, kind, cookies, text, received=False, **facts):
        cid = self.conn_id(cookies) if cookies else 0
        head = "ISAKMP (0:%d): " % cid if received else "ISAKMP:(%d):" % cid
        self._out.append(LogLine(kind, cid, head + text, tuple(facts.items())))

    def _plain(self, kind, cookies, text, **facts):
        """A line without the conn-id (IOS's ``ISAKMP:      encryption``)."""
        cid = self.conn_id(cookies) if cookies else 0
        self._out.append(LogLine(kind, cid, text, tuple(facts.items())))

    def _state(self, cookies, message_id, old, new, cause, node=False):
        prefix = "Node %d, " % words.message_id(message_id) if node else ""
        self._line("input", cookies, "%sInput = %s" % (prefix, cause), input=cause,
                   message_id=message_id)
        self._line("state", cookies, "Old State = %s New State = %s" % (old, new), old=old,
                   new=new, message_id=message_id)

    # -- a peer's message ---------------------------------------------------------------

    def _step(self, step):
        r, change = step.received, step.change
        role = _tag(r.role)
        phase = words.phase_tag(r.exch_type, r.payloads, r.role, sent=False)
        self._line("received", r.cookies, "received packet from %s dport %d sport %d Global (%s) %s"
                   % (r.peer[0], r.local_port, r.peer[1], "N" if phase == "NEW SA" else role,
                      phase), received=True, peer=r.peer[0], local_port=r.local_port,
                   peer_port=r.peer[1], phase=phase, message_id=r.message_id)
        if change is None and r.exch_type == X.INFORMATIONAL:    # it ended its IKE SA
            return self._informational(step)
        if change is None:                  # dropped, or refused
            self._processing(step, authenticated=False)
            return self._details(step)
        if r.exch_type in (X.MAIN_MODE, X.AGGRESSIVE):
            return self._phase1(step)
        if r.exch_type == X.QUICK_MODE:
            return self._quick(step)
        if r.exch_type == X.INFORMATIONAL:
            return self._informational(step)
        self._processing(step, authenticated=False)
        self._state(r.cookies, r.message_id, change.old, change.new,
                    "IKE_MESG_FROM_PEER, " + words.INPUTS.get(r.exch_type, "IKE_EXCH"))
        self._details(step)
        for m in step.sent:
            self._sending(m)

    def _phase1(self, step):
        r, c = step.received, step.change
        peer_input = "IKE_MESG_FROM_PEER, " + words.INPUTS[r.exch_type]
        middle = MIDDLE.get((c.old, c.new))
        keying = (c.old, c.new) in KEYING
        if c.new == P1 or middle is None:           # the step that authenticates
            self._processing(step, authenticated=c.new == P1, keying=keying)
            if r.exch_type == X.AGGRESSIVE:
                for m in step.sent:
                    self._sending(m)
                self._state(r.cookies, 0, c.old, middle or c.new, peer_input)
                if middle is not None:
                    self._state(r.cookies, 0, middle, c.new,
                                "IKE_MESG_INTERNAL, IKE_PROCESS_COMPLETE")
                return self._details(step)
            self._state(r.cookies, 0, c.old, middle, peer_input)
            if r.role == "initiator":
                self._state(r.cookies, 0, middle, middle,
                            "IKE_MESG_INTERNAL, IKE_PROCESS_MAIN_MODE")
            for m in step.sent:
                self._sending(m)
            self._state(r.cookies, 0, middle, c.new, "IKE_MESG_INTERNAL, IKE_PROCESS_COMPLETE")
            return self._details(step)
        if c.old == S.READY:                         # a responder's first message
            self._processing(step, authenticated=False, keying=keying)
            self._state(r.cookies, 0, c.old, middle, peer_input)
        else:
            self._state(r.cookies, 0, c.old, middle, peer_input)
            self._processing(step, authenticated=False, keying=keying)
            self._state(r.cookies, 0, middle, middle, "IKE_MESG_INTERNAL, IKE_PROCESS_MAIN_MODE")
        for m in step.sent:
            self._sending(m)
        self._state(r.cookies, 0, middle, c.new, "IKE_MESG_INTERNAL, IKE_PROCESS_COMPLETE")
        self._details(step)

    def _quick(self, step):
        r, c = step.received, step.change
        mid = r.message_id
        if c.old == S.QM_READY:
            self._line("new node", r.cookies, "set new node %d to QM_IDLE" % words.message_id(mid),
                       message_id=mid)
        self._processing(step, authenticated=False)
        if step.established is not None:
            self._creating(step.established, r.peer[0], r.local)
        if c.old == S.QM_READY:
            self._line("spi", r.cookies, "QM Responder gets spi")
        for m in step.sent:
            self._sending(m)
        if c.new == S.QM_COMPLETE:
            reason = "No Error" if r.role == "initiator" else "quick mode done (await)"
            self._line("node deleted", r.cookies, 'deleting node %d error FALSE reason "%s"'
                       % (words.message_id(mid), reason), message_id=mid, reason=reason)
        self._state(r.cookies, mid, c.old, c.new, "IKE_MESG_FROM_PEER, IKE_QM_EXCH", node=True)
        self._details(step)

    def _informational(self, step):
        r = step.received
        mid = words.message_id(r.message_id)
        self._line("new node", r.cookies, "set new node %d to QM_IDLE" % mid,
                   message_id=r.message_id)
        self._processing(step, authenticated=False)
        for m in step.sent:
            self._sending(m)
        self._line("node deleted", r.cookies, 'deleting node %d error FALSE reason '
                   '"Informational (in) state 1"' % mid, message_id=r.message_id,
                   reason="Informational (in) state 1")
        self._details(step)

    def _details(self, step):
        for e in step.details:
            if isinstance(e, ev.StateChanged):
                self._internal(e, [])
            elif not isinstance(e, ev.TransformChecked):
                self._event(e)

    def _processing(self, step, authenticated, keying=False):
        """``processing X payload. message ID = N`` for each payload, with
        what IOS says of it."""
        r = step.received
        mid = words.message_id(r.message_id)
        checks = [e for e in step.details if isinstance(e, ev.TransformChecked)]
        for fact in r.payloads:
            name = words.PAYLOADS.get(fact.type, "payload type %d" % fact.type)
            if fact.type == T.ATTRIBUTES:
                self._config(r, fact, received=True)
                continue
            if fact.type == T.NOTIFICATION and fact.value is not None:
                self._notify(r, fact.value)
                continue
            if fact.type == T.VENDOR_ID:
                self._line("processing", r.cookies, " processing vendor id payload",
                           payload="vendor id", message_id=r.message_id)
                said = words.vendor_id(fact.value)
                if said is not None:
                    self._line("vendor id", r.cookies, " vendor ID is %s" % said, vendor_id=said)
                continue
            self._line("processing", r.cookies, " processing %s payload. message ID = %d"
                       % (name, mid), payload=name, message_id=r.message_id)
            if fact.type == T.SA:
                for check in checks:
                    self._checked(check)
            elif fact.type == T.ID and fact.value is not None:
                self._id_block(r.cookies, fact.value)
            elif fact.type == T.DELETE and fact.value is not None:
                protocol, spis = fact.value
                self._line("delete", r.cookies, " delete of %s SPI %s" % (
                    _protocol(protocol), ", ".join("0x" + s.hex().upper() for s in spis)
                    or "none"), protocol=protocol, spis=tuple(spis))
            elif fact.type == T.HASH and authenticated:
                self._line("authenticated", r.cookies, "SA authentication status: authenticated")
                self._line("authenticated", r.cookies, "SA has been authenticated with %s"
                           % r.peer[0], peer=r.peer[0])
            elif fact.type == T.NONCE and keying:
                _remember(self._keyed, r.cookies[:8], True)

    def _checked(self, c):
        if c.phase == 1:
            self._line("transform", c.cookies, "Checking ISAKMP transform %d against priority "
                       "%d policy" % (c.transform, c.policy), transform=c.transform,
                       policy=c.policy)
            attributes = words.phase1_attributes(c.attributes)
            tail = "atts are acceptable. Next payload is 0" if c.accepted else \
                "atts are not acceptable. Next payload is 3"
        else:
            self._line("transform", c.cookies, "Checking IPSec proposal %d" % c.proposal,
                       proposal=c.proposal, transform=c.transform, policy=c.policy)
            attributes = words.phase2_attributes(c.transform_id, c.attributes)
            attributes[0] = attributes[0] % c.transform
            tail = "atts are acceptable." if c.accepted else "atts are not acceptable."
        for text in attributes:
            self._plain("attribute", c.cookies, "ISAKMP:      " + text, attribute=text)
        self._line("acceptable", c.cookies, tail, accepted=c.accepted)

    def _notify(self, m, value):
        kind, protocol, spi, data = value
        try:
            name = NotifyType(kind).name.replace("_", "-")
        except ValueError:
            name = "notify %d" % kind
        if kind in (NotifyType.R_U_THERE, NotifyType.R_U_THERE_ACK) and len(data) == 4:
            self._line("dpd", m.cookies, "DPD/%s received from peer %s, sequence 0x%X" % (
                name.replace("-", "_"), m.peer[0], int.from_bytes(data, "big")), notify=kind,
                sequence=int.from_bytes(data, "big"))
            return
        self._line("processing", m.cookies, " processing NOTIFY %s protocol %d spi %d, message "
                   "ID = %d" % (name, protocol, int.from_bytes(spi, "big") if len(spi) == 4 else 0,
                                words.message_id(m.message_id)),
                   payload="NOTIFY", notify=kind, message_id=m.message_id)

    def _config(self, m, fact, received):
        if fact.value is None:
            return
        cfg_type, identifier, attributes = fact.value
        if received:
            self._line("processing", m.cookies, " processing transaction payload from %s. "
                       "message ID = %d" % (m.peer[0], words.message_id(m.message_id)),
                       payload="transaction", message_id=m.message_id)
        try:
            name = ConfigType(cfg_type).name.replace("CFG_", "")
        except ValueError:
            name = str(cfg_type)
        self._line("config", m.cookies, "Config payload %s" % name, config=name)
        for attribute, value in attributes:
            shown = "" if value is None else " " + (
                ", ".join(value) if isinstance(value, list) else str(value))
            self._plain("attribute", m.cookies, "ISAKMP:      %s%s" % (attribute, shown),
                        attribute=attribute, value=value)

    def _id_block(self, cookies, body):
        self._plain("id payload", cookies, "ISAKMP (0:%d): ID payload" % self.conn_id(cookies))
        for text in words.id_payload(body):
            self._plain("id payload", cookies, "\t" + text, field=text)

    def _creating(self, e, peer, local):
        """``Creating IPSec SAs``, inbound then outbound, with SPIs and
        lifetimes (the seed's block)."""
        cookies, proposal = e.cookies, e.proposal
        self._line("creating sa", cookies, " Creating IPSec SAs")
        for direction, spi, ends, proxies in (
                ("inbound", e.spi_in, (peer, local), (e.remote_ts, e.local_ts)),
                ("outbound", e.spi_out, (local, peer), (e.local_ts, e.remote_ts))):
            self._plain("sa", cookies, "        %s SA from %s to %s (f/i)  0/ 0"
                        % (direction, *ends), direction=direction)
            self._plain("sa", cookies, "        (proxy %s to %s)" % tuple(
                _host(ts) for ts in proxies), direction=direction)
            self._plain("sa", cookies, "        has spi 0x%s and conn_id 0"
                        % spi.hex().upper(), direction=direction, spi=spi)
            self._plain("sa", cookies, "        lifetime of %d seconds" % proposal.lifetime,
                        direction=direction, seconds=proposal.lifetime)
            if proposal.lifesize is not None:
                self._plain("sa", cookies, "        lifetime of %d kilobytes"
                            % proposal.lifesize, direction=direction,
                            kilobytes=proposal.lifesize)

    def _created(self, e, peer, local):
        """IPsec's ``create_sa`` lines (``debug crypto ipsec``): the inbound
        SA (to us), then the outbound one (to the peer)."""
        for spi, dest in ((e.spi_in, local), (e.spi_out, peer)):
            self._out.append(LogLine(
                "create sa", self.number(e.cookies),
                "IPSEC(create_sa): sa created, (sa) sa_dest= %s, sa_proto= 50, sa_spi= 0x%s(%d), "
                "sa_trans= %s , sa_conn_id= %d" % (dest, spi.hex().upper(),
                                                   int.from_bytes(spi, "big"),
                                                   cisco_transform(e.proposal.transform),
                                                   self.number(e.cookies)),
                (("spi", spi), ("dest", dest))))

    # -- our own messages -------------------------------------------------------------

    def _internal(self, change, sent):
        """A state change no message of the peer caused: ours to begin an
        exchange, a timeout, a Delete."""
        c = change
        if c.old == S.READY and c.new in S.FIRST_SENT.values():
            mode = "Main" if c.new == S.FIRST_SENT["main"] else "Aggressive"
            for m in sent:
                self._constructed(m)
            self._state(c.cookies, 0, c.old, c.new, "IKE_MESG_FROM_IPSEC, IKE_SA_REQ_%s"
                        % ("MM" if mode == "Main" else "AM"))
            self._line("beginning", c.cookies, " beginning %s Mode exchange" % mode, mode=mode)
            for m in sent:
                self._sending(m, constructed=False)
            return
        if c.old == S.QM_READY and c.new == S.QM_I_QM1:
            self._line("beginning", c.cookies, "beginning Quick Mode exchange, M-ID of %d"
                       % words.message_id(c.message_id), mode="Quick",
                       message_id=c.message_id)
            for m in sent:
                self._sending(m)
            self._state(c.cookies, c.message_id, c.old, c.new, "IKE_MESG_INTERNAL, IKE_INIT_QM",
                        node=True)
            return
        for m in sent:
            self._sending(m)
        if c.new == S.DEAD:
            cause = "IKE_PHASE1_DEL" if c.old == P1 else "IKE_TIMER_EXPIRED"
        else:
            cause = "IKE_PHASE1_COMPLETE" if c.old == P1 else "IKE_PROCESS_COMPLETE"
        self._state(c.cookies, c.message_id, c.old, c.new, "IKE_MESG_INTERNAL, " + cause)

    def _informational_sent(self, m):
        """An Informational of ours (a Delete, a notify, DPD): its node,
        what it says, the packet, the node purged."""
        mid = words.message_id(m.message_id)
        self._line("new node", m.cookies, "set new node %d to QM_IDLE" % mid,
                   message_id=m.message_id)
        for fact in m.payloads:
            if fact.type == T.NOTIFICATION and fact.value is not None:
                kind, protocol, spi, data = fact.value
                sequence = ", sequence 0x%X" % int.from_bytes(data, "big") if kind in (
                    NotifyType.R_U_THERE, NotifyType.R_U_THERE_ACK) and len(data) == 4 else ""
                self._line("notify", m.cookies, "Sending NOTIFY %s protocol %d%s, message ID = %d"
                           % (lines.notify_name(kind), protocol, sequence, mid), notify=kind,
                           message_id=m.message_id)
            elif fact.type == T.DELETE and fact.value is not None:
                protocol, spis = fact.value
                self._line("delete", m.cookies, "sending DELETE of %s SPI %s, message ID = %d" % (
                    _protocol(protocol), ", ".join("0x" + s.hex().upper() for s in spis)
                    or "none", mid), protocol=protocol, spis=tuple(spis), message_id=m.message_id)
        self._sending(m)
        self._line("node purged", m.cookies, "purging node %d" % mid, message_id=m.message_id)

    def _constructed(self, m):
        for fact in m.payloads:
            said = words.vendor_id(fact.value) if fact.type == T.VENDOR_ID else None
            if said and said.startswith("NAT-T"):
                self._line("constructed", m.cookies, " constructed %s ID" % said.replace(
                    "NAT-T v", "NAT-T vendor-0").replace("NAT-T RFC 3947", "NAT-T vendor-rfc3947"),
                           vendor_id=said)

    def _sending(self, m, constructed=True):
        """``sending packet to``, after what IOS says of our ID and the
        notifies the message carries."""
        for fact in m.payloads:
            if fact.type == T.NOTIFICATION and fact.value is not None \
                    and fact.value[0] == NotifyType.INITIAL_CONTACT:
                self._line("initial contact", m.cookies, "Send initial contact")
            elif fact.type == T.ID and m.exch_type in (X.MAIN_MODE, X.AGGRESSIVE):
                self._line("id", m.cookies, "SA is doing pre-shared key authentication using "
                           "id type %s" % words.id_type_name(fact.value),
                           id_type=words.id_type_name(fact.value))
                self._id_block(m.cookies, fact.value)
                self._line("id", m.cookies, "Total payload length: %d" % (len(fact.value) - 4))
            elif fact.type == T.ATTRIBUTES:
                self._config(m, fact, received=False)
        phase = words.phase_tag(m.exch_type, m.payloads, m.role, sent=True)
        self._line("sending", m.cookies, " sending packet to %s my_port %d peer_port %d (%s) %s"
                   % (m.peer[0], m.local_port, m.peer[1], _tag(m.role), phase), peer=m.peer[0],
                   local_port=m.local_port, peer_port=m.peer[1], phase=phase,
                   message_id=m.message_id, exch_type=m.exch_type)

    def _event(self, e):
        if isinstance(e, ev.Retransmitted):
            m = self._sent.get((e.cookies[:8], e.message_id))
            if m is not None:
                phase = words.phase_tag(m.exch_type, m.payloads, m.role, sent=True)
                self._line("retransmitting", e.cookies, " retransmitting phase %d %s ..."
                           % (2 if m.exch_type == X.QUICK_MODE else 1, phase),
                           attempt=e.attempt, message_id=e.message_id)
                self._sending(m)
                return
        if isinstance(e, ev.QuickModeEstablished):
            m = self._sent.get((e.cookies[:8], e.message_id))
            if m is not None:
                self._created(e, m.peer[0], m.local)
            return
        if isinstance(e, (ev.Phase1Established, ev.TransformChecked, ev.NotifyReceived,
                          ev.DeleteSent)):
            return                      # told by the lines of their message
        cid = self.number(e.cookies) if hasattr(e, "cookies") else 0
        text = lines.line(e, cid)
        if text is not None:
            self._out.append(LogLine(type(e).__name__, cid, text))


KEPT = 65536
"""How many IKE SAs and messages the log remembers (a responder runs for
days): the oldest are forgotten first."""


def _remember(table, key, value):
    table[key] = value
    table.move_to_end(key)
    if len(table) > KEPT:
        table.popitem(last=False)


def _host(ts):
    """A selector as IOS's proxy: the address of a host, else the prefix."""
    address, _, length = ts.partition("/")
    return address if length in ("32", "128") else ts


def _tag(role):
    return "I" if role == "initiator" else "R"


def _same_sa(a, b):
    return a.cookies[:8] == b.cookies[:8]


def _same_exchange(a, b):
    return a.cookies[:8] == b.cookies[:8] and a.message_id == b.message_id


def _protocol(number):
    try:
        return ProtocolId(number).name.replace("PROTO_", "").replace("IPSEC_", "")
    except ValueError:
        return "protocol %d" % number
