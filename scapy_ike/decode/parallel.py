"""Decoding a capture with several processes, its output the same as one
process gives.

Where the ESP keys were all given (none from IKE, no two for one SA), a
capture without ISAKMP is frames that each decode alone: the frames are
cut into as many runs as there are processes, each decoded by its own
(:func:`_run_work`).  A run that meets an ISAKMP message gives up
(Quick Modes may key the frames after it), and then, as for every other
capture, each frame is first routed
(:meth:`~scapy_ike.decode.frames.FrameStore.route`) by what its decoding
depends on.  Then two rounds, each sharing its work out between
processes, largest share first:

1. IKE, since ESP keys may come from it: the ISAKMP messages by IKE SA
   (initiator cookie, RFC 2408 3.1), whose state is its own.  A Quick Mode
   with PFS and candidate secrets weighs the Phase 1 secrets of every SA
   (:meth:`~scapy_ike.decode.ike.IkeTracker._keymat`), so then IKE stays
   in one process.  Each process notes which frame made each ESP key,
   opaque SPI and message about an IKE SA.
2. ESP by SA (source, destination, SPI of the outer header), so that each
   SA's state stays in one process, which sees for each frame exactly the
   keys one process would have made by then; frames of no SA alongside.

Workers are forked (:func:`fan_out`): they inherit the frames (one
buffer, :class:`~scapy_ike.decode.frames.FrameStore`), the keys and the
formatter, and send back texts and what the merge needs.
"""

import bisect
import gc
import ipaddress
import itertools
import os
import pickle
from collections import Counter, defaultdict

from scapy_ike.decode.frames import IKE
from scapy_ike.decode.session import Session

_SHARED = {}
"""What forked workers inherit: frames, formatter, clock, keys."""
_STATELESS_RUN = 256
"""Frames of no SA are shared out in runs of this many."""


def decode_parallel(store, session, formatter, clock, jobs):
    """The texts of the frames of *store* in order, as ``formatter(record,
    time text)`` gives them, the time texts from *clock* (its ``first`` set);
    *session*'s messages about SAs are those of the whole capture
    afterwards."""
    _SHARED.update(store=store, formatter=formatter, clock=clock, ports=session.ports,
                   summaries=session.summaries, esp_keys=list(session.esp_keys), keys=[],
                   opaque={})
    try:
        if jobs > 1 and _one_key_each(session.esp_keys):
            texts = _by_runs(session, len(store), jobs)
            if texts is not None:
                return texts
        return _by_sa(store, session, jobs)
    finally:
        _SHARED.clear()


def _one_key_each(keys):
    """Whether at most one of the ESP *keys* matches any SA, none a guess:
    then an SA takes its key without trying it on its first packet
    (:meth:`~scapy_ike.decode.session.Session._sa`), and its frames decode
    alone."""
    if any(k.guess is not None for k in keys):
        return False
    spis = defaultdict(list)
    for k in keys:
        spis[k.spi].append(k)
    anyone = spis.pop(None, [])
    groups = [same + anyone for same in spis.values()] or [anyone]
    return not any(_overlap(a, b) for group in groups for a, b in itertools.combinations(group, 2))


def _overlap(a, b):
    """Whether some packet is from both keys' sources to both keys' destinations."""
    return all(x is None or y is None or ipaddress.ip_network(x).overlaps(ipaddress.ip_network(y))
               for x, y in ((a.src, b.src), (a.dst, b.dst)))


def _by_runs(session, count, jobs):
    """The texts of frames that each decode alone, cut into *jobs* runs;
    None when a run met an ISAKMP message."""
    runs = [range(count * j // jobs, count * (j + 1) // jobs) for j in range(jobs)]
    results = fan_out(_run_work, [r for r in runs if r])
    if any(result is None for _, result in results):
        return None
    texts = [None] * count
    _merge_esp(session, results, texts)
    return texts


def _run_work(run):
    """Decode the frames of *run* as :func:`_esp_work` does, with no IKE;
    None at the first ISAKMP message."""
    try:
        return _esp_results(_session(_NoIsakmp()), run)
    except _IsakmpSeen:
        return None


class _IsakmpSeen(Exception):
    """A run of frames holds an ISAKMP message."""


class _NoIsakmp:
    """The IKE side of a run of frames without ISAKMP: no keys, no opaque
    SPIs, and a message, were one to come, ends the run."""

    esp_keys = ()
    opaque = {}

    def message(self, data, src):
        raise _IsakmpSeen


def _by_sa(store, session, jobs):
    """The texts of the frames of *store*, shared out by IKE SA, then by ESP SA."""
    ike_groups, esp_groups = defaultdict(list), defaultdict(list)
    whole = session._ike is not None and bool(session._ike.qm_gxy)
    for index in range(len(store)):
        where = store.route(index)
        if where is None:
            esp_groups[index // _STATELESS_RUN].append(index)
        elif where[0] == IKE:
            ike_groups[None if whole else where[1]].append(index)
        else:
            esp_groups[where].append(index)
    texts = [None] * len(store)
    if ike_groups:
        _SHARED["template"] = session.ike.fresh()       # its modules loaded once
        _merge_ike(session, fan_out(_ike_work, _share(ike_groups, jobs)), texts)
    _merge_esp(session, fan_out(_esp_work, _share(esp_groups, jobs)), texts)
    return texts


def _merge_ike(session, results, texts):
    """The IKE round's texts into *texts*, its messages about IKE SAs into
    *session*'s tracker and its ESP keys and opaque SPIs, in capture
    order, to where the ESP round takes them."""
    ike, events = session.ike, []
    for indexes, (done, made) in results:
        for index, text in zip(indexes, done):
            texts[index] = text
        events += made
    events.sort(key=lambda event: event[0])         # stable: one frame's events stay in order
    keys, opaque = _SHARED["keys"], _SHARED["opaque"]
    for index, kind, value in events:
        if kind == "key":
            keys.append((index, value))
        elif kind == "opaque":
            opaque.setdefault(value[0], []).append((index, value[1]))
        else:
            getattr(ike, kind).setdefault(*value)


def _merge_esp(session, results, texts):
    last = {}
    for indexes, (done, failures, errors, unkeyed, misfit) in results:
        for index, text in zip(indexes, done):
            texts[index] = text
        session.failures.update(failures)
        for key, (frame, error) in errors.items():
            if key not in last or last[key][0] < frame:
                last[key] = (frame, error)
        for key, reason in unkeyed.items():
            session.unkeyed.setdefault(key, reason)
        session.misfit.update(misfit)
    session.last_error.update({key: error for key, (_, error) in last.items()})


def _share(groups, jobs):
    """The frame indexes of the groups in at most *jobs* bundles of about
    equal size, largest groups first, each bundle in capture order."""
    bundles = [[] for _ in range(max(1, min(jobs, len(groups))))]
    for indexes in sorted(groups.values(), key=len, reverse=True):
        min(bundles, key=len).extend(indexes)
    return [sorted(b) for b in bundles if b]


def fan_out(work, bundles):
    """``(bundle, work(bundle))`` for each bundle, in order: the first in
    this process, the others in forked children, whose results come back
    pickled through a pipe.  Every child is waited for, whatever fails."""
    gc.freeze()             # no collection in a child writes to the objects it shares
    children, results, failure = [], [], None
    try:
        for bundle in bundles[1:]:
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:
                for _, pipe, _ in children:
                    pipe.close()    # only this process reads the others' results
                _child(work, bundle, read, write)
            os.close(write)
            children.append((pid, os.fdopen(read, "rb"), bundle))
        if bundles:
            results.append((bundles[0], work(bundles[0])))
        for pid, pipe, bundle in children:
            ok, value = pickle.load(pipe)
            if not ok and failure is None:
                failure = value
            results.append((bundle, value))
    finally:
        for pid, pipe, _ in children:
            pipe.close()            # a child still writing stops
            os.waitpid(pid, 0)
        gc.unfreeze()
    if failure is not None:
        raise RuntimeError("a decoding process failed: %s" % failure)
    return results


def _child(work, bundle, read, write):
    """Run *work* on *bundle* in a forked child, send the result and exit."""
    os.close(read)
    try:
        try:
            result = (True, work(bundle))
        except BaseException as exc:            # the parent raises it
            result = (False, "%s: %s" % (type(exc).__name__, exc))
        with open(write, "wb") as pipe:
            pickle.dump(result, pipe, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        os._exit(0)


def _decoded(session, indexes, before=None, after=None):
    """The texts of the frames at *indexes* as *session* decodes them;
    *before* and *after* are called with each frame's index around it."""
    store, formatter, text = _SHARED["store"], _SHARED["formatter"], _SHARED["clock"].text
    stamps, decode, done = store.stamps, session.decode_frame, []
    for index, linktype, stamp, data in store.frames(indexes):
        if before is not None:
            before(index)
        record = decode(index + 1, stamp, linktype, data)
        done.append(formatter(record, text(stamp, stamps[index - 1] if index else stamp)))
        if after is not None:
            after(index)
    return done


class _Noted(dict):
    """A tracker's opaque SPIs, noting each as it is set."""

    def __init__(self, notes):
        super().__init__()
        self.notes = notes

    def __setitem__(self, spi, reason):
        self.notes.append((spi, reason))
        super().__setitem__(spi, reason)

    def update(self, items):
        for spi, reason in items.items():
            self[spi] = reason


def _ike_work(indexes):
    """Decode and format the ISAKMP frames at *indexes*: ``(texts, events)``,
    an event ``(index, "key", ESP key)``, ``(index, "opaque", (SPI,
    reason))`` or ``(index, "failed" or "unkeyed", (cookie, reason))``."""
    noted, events = [], []
    tracker = _SHARED["template"].fresh()
    tracker.opaque = _Noted(noted)
    session = _session(tracker)
    counts = {"key": 0, "failed": 0, "unkeyed": 0}

    def note(index):
        """The events of the frame just decoded."""
        events.extend((index, "key", key) for key in tracker.esp_keys[counts["key"]:])
        counts["key"] = len(tracker.esp_keys)
        events.extend((index, "opaque", spi_reason) for spi_reason in noted)
        noted.clear()
        for kind in ("failed", "unkeyed"):
            said = getattr(tracker, kind)
            if len(said) > counts[kind]:
                events.extend((index, kind, item) for item in list(said.items())[counts[kind]:])
                counts[kind] = len(said)

    return _decoded(session, indexes, after=note), events


class _KeysSoFar:
    """The IKE side as an ESP worker sees it before frame :attr:`index`:
    the ESP keys and opaque SPIs made by the frames before it."""

    def __init__(self, keys, opaque):
        self._marks = [index for index, _ in keys]
        self._keys = [key for _, key in keys]
        self._opaque = opaque
        self.index = 0
        self.opaque = self

    def at(self, index):
        self.index = index

    @property
    def esp_keys(self):
        return self._keys[:bisect.bisect_left(self._marks, self.index)]

    def get(self, spi):
        """Why *spi* has no keys, as the frames before :attr:`index` said."""
        reason = None
        for index, text in self._opaque.get(spi, ()):
            if index >= self.index:
                break
            reason = text
        return reason


def _esp_work(indexes):
    """Decode and format the frames at *indexes*: ``(texts, failures, last
    errors with their frame, unkeyed, misfit)``."""
    known = _KeysSoFar(_SHARED["keys"], _SHARED["opaque"])
    return _esp_results(_session(known), indexes, before=known.at)


def _session(ike):
    """A worker's session, with the ESP keys given and *ike* as its IKE side."""
    return Session(_SHARED["esp_keys"], ike=ike, ike_port=_SHARED["ports"][0],
                   natt_port=_SHARED["ports"][1], summaries=_SHARED["summaries"])


def _esp_results(session, indexes, before=None):
    done = _decoded(session, indexes, before=before)
    errors = {key: (session.last_failure[key], error) for key, error in session.last_error.items()}
    return done, Counter(session.failures), errors, dict(session.unkeyed), session.misfit
