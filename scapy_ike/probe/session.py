"""The probe of one target, as a generator with no I/O: it yields a
:class:`Send` (a first message and how long to listen) and is sent back
what came from the target in that time, ``[(seconds after sending,
datagram)]``; it returns the :class:`Findings`.  A shell drives many such
generators at once over its sockets, pacing them (``--rate``); a test
drives one against a gateway in memory.

The steps: discovery in Main Mode (and enumeration of its transforms),
IKEv2 detection (RFC 7296 1.2), Aggressive Mode with an ID (discovery,
enumeration per DH group, the HASH_R for an offline search, group names
from a list), and the retransmission backoff of a reply that we leave
unanswered (RFC 2408 5.1 leaves its schedule to each implementation).

Silence is not a refusal: each probe is sent again, the wait doubling each
time, so that a gateway that has run out of half-open SAs for us (charon
keeps 5 per source) or rate-limits gets time to recover.
"""

from dataclasses import dataclass, field
from typing import Optional

from scapy_ike.constants import AuthMethod, IdType
from scapy_ike.core.config import Identity
from scapy_ike.core.proposals import parse_ike
from scapy_ike.crypto import registry
from scapy_ike.probe import candidates as C, messages, replies as R
from scapy_ike.probe.enumeration import Enumeration


@dataclass(frozen=True)
class Send:
    """Send *probe*'s datagram, listen *wait* seconds (all of it when
    *collect*, else until the first answer); with no probe, pause."""

    probe: Optional[messages.FirstMessage]    # None: only wait
    wait: float
    collect: bool = False


@dataclass(frozen=True)
class Options:
    """What to find out, and how patiently."""

    enumerate: bool = False
    fingerprint: bool = False
    aggressive: bool = False
    identity: Identity = Identity.parse("scapy-ike.probe")
    id_list: tuple = ()              # Identities to try in Aggressive Mode
    ikev2: bool = True
    retries: int = 2
    timeout: float = 2.0
    pause: float = 35.0              # after silence where there were answers: charon's
                                     # half-open SAs time out after 30 s
    backoff_wait: float = 60.0
    auths: tuple = tuple(C.AUTH_NAMES)


@dataclass
class ModeFindings:
    """Main or Aggressive Mode: what answered and what was accepted."""

    answer: Optional[str] = None     # the first answer: handshake, notify X; None: silence
    accepted: list = field(default_factory=list)
    refused: int = 0
    uncertain: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    probes: int = 0                  # distinct offers sent
    datagrams: int = 0               # with the retries
    complete: bool = False           # every candidate asked about (--enumerate)


@dataclass
class Findings:
    main: ModeFindings = field(default_factory=ModeFindings)
    aggressive: Optional[ModeFindings] = None
    ikev2: Optional[str] = None      # its answer, None: silence (or not asked)
    replies: list = field(default_factory=list)     # every Reply, for vendor IDs and notifies
    backoff: list = field(default_factory=list)     # seconds between a reply and its repeats
    backoff_mode: Optional[str] = None               # of the reply timed
    crack: Optional[object] = None   # the Target of the first Aggressive Mode handshake
    ids: list = field(default_factory=list)         # (Identity, answer) of --id-list
    id_baseline: Optional[str] = None               # the answer to an ID surely invalid

    @property
    def answered(self):
        """Whether anything answered."""
        return bool(self.replies)


def probe(options, random):
    """The generator (see the module's docstring); *random(n)* gives n
    random bytes (cookies, nonces)."""
    found = Findings()
    main = found.main
    if options.enumerate:
        yield from _enumerate(options, found, main, C.candidates(options.auths),
                              lambda offer: messages.main_mode(offer, random),
                              partition=lambda c: c.auth)
    else:
        offer = _discovery(options.auths, "modp2048")
        yield from _discover(options, found, main, offer,
                             lambda offer: messages.main_mode(offer, random))
    if options.ikev2:
        reply = yield from _ask(options, found, None, messages.ikev2_sa_init(random))
        found.ikev2 = None if reply is None else reply.describe()
    if options.aggressive:
        found.aggressive = ModeFindings()
        yield from _aggressive(options, found, random)
    if options.fingerprint:
        yield from _backoff(options, found, random)
    return found


def _discovery(auths, group):
    """The transforms of a discovery probe: :data:`~candidates.COMMON`
    with PSK and RSA signatures (of those asked about), *group* first."""
    methods = [m for m in auths if m in (AuthMethod.PSK, AuthMethod.RSA_SIG)] or list(auths)[:1]
    offer = []
    for method in methods:
        offer += parse_ike(C.COMMON, auth=method)
    return sorted(offer, key=lambda p: p.group != _group_number(group))


def _group_number(name):
    return registry.dh_group(name).number


def _ask(options, found, mode, probe_message):
    """Send *probe_message* until something answers or the retries are
    spent (the wait doubling); the first Reply, or None."""
    wait = options.timeout
    for _ in range(options.retries + 1):
        if mode is not None:
            mode.datagrams += 1
        answers = yield Send(probe_message, wait)
        got = [r for r in (R.classify(data, probe_message) for _, data in answers) if r]
        if got:
            found.replies.extend(got)
            _capture(found, probe_message, got[0])
            return got[0]
        wait *= 2
    return None


def _capture(found, probe_message, reply):
    if found.crack is None:
        found.crack = R.crack_target(probe_message, reply)


def _discover(options, found, mode, offer, build):
    mode.probes += 1
    reply = yield from _ask(options, found, mode, build(offer))
    mode.answer = None if reply is None else reply.describe()
    if reply is not None and reply.kind == R.HANDSHAKE:
        mode.accepted.append(reply.chosen)
    return reply


def _enumerate(options, found, mode, candidates, build, partition):
    """Every transform of *candidates* the gateway accepts; the first
    answer is the discovery (nothing at all: not asked further).  Each
    offer has one authentication method (*partition*): charon, for one,
    picks by the algorithms alone and then refuses an offer whose first
    match has another method (AUTHENTICATION-FAILED), which would hide the
    transforms after it."""
    search = Enumeration(candidates, partition=partition)
    while not search.done:
        offer = search.next_offer()
        reply = yield from _ask(options, found, mode, build(offer))
        if reply is None and search.probes > 1 and not search.explains(offer):
            yield Send(None, options.pause)
            reply = yield from _ask(options, found, mode, build(offer))
        if mode.answer is None and search.probes == 1:
            mode.answer = None if reply is None else reply.describe()
            if reply is None:
                search.record(offer, None)
                break
        search.record(offer, reply)
    mode.accepted, mode.uncertain = search.accepted, search.uncertain
    mode.refused, mode.probes = len(search.refused), search.probes
    mode.notes = list(dict.fromkeys(note for _, note in search.notes))
    mode.complete = search.done and not search.uncertain
    return search


def _aggressive(options, found, random):
    mode = found.aggressive

    def build(offer):
        return messages.aggressive_mode(offer, options.identity, random)
    if options.enumerate:
        yield from _enumerate(options, found, mode, C.candidates(options.auths, computable=True),
                              build, partition=lambda c: (c.group, c.auth))
    else:
        for group in ("modp1024", "modp2048", "modp1536", "ecp256"):
            offer = [p for p in _discovery(options.auths, group)
                     if p.group == _group_number(group)]
            reply = yield from _discover(options, found, mode, offer, build)
            if reply is not None and reply.kind == R.HANDSHAKE:
                break
    if options.id_list:
        yield from _group_names(options, found, random)


def _group_names(options, found, random):
    """Each ID of the list in Aggressive Mode with a transform the gateway
    took, beside an ID surely invalid: an answer that differs from that
    one marks a valid ID (a PSK group name, as ikeforce finds them)."""
    transform = (found.aggressive.accepted or found.main.accepted or [None])[0]
    if transform is None:
        return
    offer = [transform]

    def answer(identity):
        found.aggressive.probes += 1
        reply = yield from _ask(options, found, found.aggressive,
                                messages.aggressive_mode(offer, identity, random))
        return "none" if reply is None else reply.describe()
    found.id_baseline = yield from answer(_invalid_id(options.identity, random))
    for identity in options.id_list:
        found.ids.append((identity, (yield from answer(identity))))


def _invalid_id(identity, random):
    """An ID of *identity*'s type that no gateway is configured with: a
    random address, or a name under ``.invalid`` (RFC 2606 2)."""
    if identity.id_type in (IdType.IPV4_ADDR, IdType.IPV6_ADDR):
        return Identity(identity.id_type, random(len(identity.data)))
    return Identity(identity.id_type, b"%s.invalid" % random(6).hex().encode())


def _backoff(options, found, random):
    """MM1 with a transform the gateway took, left unanswered: the times
    between its reply and the repeats of it (``ike-scan --showbackoff``);
    when it does not repeat MM2 (charon, ours), AM1 likewise."""
    first = []
    if found.main.accepted:
        first.append(messages.main_mode(found.main.accepted[:1], random))
    if found.aggressive is not None and found.aggressive.accepted:
        first.append(messages.aggressive_mode(found.aggressive.accepted[:1],
                                              options.identity, random))
    for probe_message in first:
        answers = yield Send(probe_message, options.backoff_wait, collect=True)
        times = [t for t, data in answers if R.classify(data, probe_message) is not None]
        found.backoff = [round(b - a, 1) for a, b in zip(times, times[1:])]
        found.backoff_mode = probe_message.mode
        if found.backoff:
            return
