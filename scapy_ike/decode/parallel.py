"""Decoding a capture with several processes, its output the same as one
process gives.

IKE comes first, since ESP keys may come from it: this process decodes
every frame that is not ESP, in order, noting after each one how many
ESP keys its Quick Modes have made so far (and which SAs they left
opaque).  The ESP frames are then shared out between worker processes by
SA (source, destination, SPI of the outer header), so that each SA's
state stays in one process; a worker sees, for each frame, exactly the
keys that existed when one process would have reached it.  The texts come
back and are put in capture order.

Workers are forked: they inherit the frames, the keys and the formatter,
and send back only text and counts.
"""

import bisect
import multiprocessing
import struct
from collections import Counter, defaultdict

from scapy_ike.decode import wire
from scapy_ike.decode.session import Session

_SHARED = {}
"""What forked workers inherit: frames, formatter, keys and their marks."""


class _KeysSoFar:
    """The IKE side as a worker sees it before a frame: the ESP keys and
    opaque SPIs made by the frames before it."""

    def __init__(self, keys, opaque):
        self._keys, self._opaque = keys, opaque
        self.esp_keys, self.opaque = [], {}

    def advance(self, key_count, opaque_count):
        self.esp_keys = self._keys[:key_count]
        self.opaque = dict(self._opaque[:opaque_count])


def decode_parallel(frames, session, formatter, times, jobs):
    """The texts of *frames* (``(link type, time, bytes)``) in order, as
    ``formatter(record, time text)`` gives them, *times* being the time
    texts; *session*'s counts of failed and unkeyed SAs are those of the
    whole capture afterwards."""
    texts = [None] * len(frames)
    groups = defaultdict(list)
    marks, counts = [], []          # non-ESP frame indexes, and (keys, opaque) after each
    for index, (linktype, stamp, data) in enumerate(frames):
        key = _esp_sa(linktype, data, session.ports)
        if key is not None:
            groups[key].append(index)
            continue
        record = session.decode_frame(index + 1, stamp, linktype, data)
        texts[index] = formatter(record, times[index])
        ike = session._ike
        marks.append(index)
        counts.append((len(ike.esp_keys), len(ike.opaque)) if ike is not None else (0, 0))
    ike = session._ike
    _SHARED.update(frames=frames, formatter=formatter, times=times, marks=marks, counts=counts,
                   esp_keys=list(session.esp_keys), ports=session.ports,
                   ike_keys=list(ike.esp_keys) if ike is not None else [],
                   opaque=list(ike.opaque.items()) if ike is not None else [])
    bundles = _share(groups, jobs)
    try:
        if len(bundles) > 1:          # this process takes the first bundle itself
            with multiprocessing.get_context("fork").Pool(len(bundles) - 1) as pool:
                others = pool.map_async(_work, bundles[1:])
                results = [_work(bundles[0])] + others.get()
        else:
            results = [_work(b) for b in bundles]
    finally:
        _SHARED.clear()
    last = {}
    for done, failures, errors, unkeyed, misfit in results:
        for index, text in done:
            texts[index] = text
        session.failures.update(failures)
        for key, (frame, error) in errors.items():
            if key not in last or last[key][0] < frame:
                last[key] = (frame, error)
        for key, reason in unkeyed.items():
            session.unkeyed.setdefault(key, reason)
        session.misfit.update(misfit)
    session.last_error.update({key: error for key, (_, error) in last.items()})
    return texts


def _esp_sa(linktype, data, ports):
    """(source, destination, SPI) of an ESP frame, else None."""
    offset = wire.link_payload(linktype, data)
    ip = None if offset is None else wire.parse_ip(data, offset, *ports)
    if ip is None or ip.kind != wire.ESP or len(ip.body) < 8:
        return None
    return ip.src, ip.dst, struct.unpack_from("!I", ip.body)[0]


def _share(groups, jobs):
    """The frame indexes of the SAs in *jobs* bundles of about equal size,
    largest SAs first, each bundle in capture order."""
    bundles = [[] for _ in range(max(1, min(jobs, len(groups))))]
    for indexes in sorted(groups.values(), key=len, reverse=True):
        min(bundles, key=len).extend(indexes)
    return [sorted(b) for b in bundles if b]


def _work(indexes):
    """Decode and format the ESP frames at *indexes*: ``(texts, failures,
    last errors with their frame, unkeyed, misfit)``."""
    shared = _SHARED
    known = _KeysSoFar(shared["ike_keys"], shared["opaque"])
    session = Session(shared["esp_keys"], ike=known, ike_port=shared["ports"][0],
                      natt_port=shared["ports"][1])
    frames, formatter, times = shared["frames"], shared["formatter"], shared["times"]
    marks, counts = shared["marks"], shared["counts"]
    done = []
    for index in indexes:
        before = bisect.bisect_left(marks, index)
        known.advance(*(counts[before - 1] if before else (0, 0)))
        linktype, stamp, data = frames[index]
        record = session.decode_frame(index + 1, stamp, linktype, data)
        done.append((index, formatter(record, times[index])))
    errors = {key: (session.last_failure[key], error) for key, error in session.last_error.items()}
    return done, Counter(session.failures), errors, dict(session.unkeyed), session.misfit
