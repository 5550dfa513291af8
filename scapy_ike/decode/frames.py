"""A capture's frames held in one buffer, and what each frame's decoding
depends on, read with :mod:`struct` before any of them is decoded.

One buffer rather than one bytes object per frame: processes forked to
decode share it without copying (a frame object's reference count,
written when a process touches it, would copy its memory page).

What a frame depends on (:func:`route`), as
:meth:`~scapy_ike.decode.session.Session.decode_frame` would find it:
an ESP packet (RFC 4303 2.1: SPI first; in UDP, RFC 3948 2) on its SA,
an ISAKMP message (RFC 2408 3.1: the initiator cookie first) on its IKE
SA, anything else on nothing.
"""

from array import array

from scapy_ike.decode import wire

ESP, IKE = "esp", "ike"
_ISAKMP_HEADER = 28


class FrameStore:
    """A capture's frames: ``store[i]`` is the i-th ``(link type, time,
    bytes)``, ``store.route(i)`` what its decoding depends on (with the
    IKE and NAT-T ports *ports*).  Either appended as they are read
    (:meth:`append`) or already in *blob*, a mapped file (:meth:`add`)."""

    def __init__(self, blob=None, ports=(500, 4500)):
        self.blob = bytearray() if blob is None else blob
        self.ports = ports
        self.starts, self.ends = array("Q"), array("Q")
        self.stamps = array("d")
        self.linktypes = array("H")
        self._view = None

    def append(self, linktype, stamp, data):
        start = len(self.blob)
        self.blob += data
        self.add(linktype, stamp, start, len(self.blob))

    def add(self, linktype, stamp, start, end):
        self.starts.append(start)
        self.ends.append(end)
        self.stamps.append(stamp)
        self.linktypes.append(linktype)

    def extend(self, records):
        """:meth:`add` each of *records*, ``(link type, time, start, end)``."""
        starts, ends = self.starts.append, self.ends.append
        stamps, linktypes = self.stamps.append, self.linktypes.append
        for linktype, stamp, start, end in records:
            starts(start)
            ends(end)
            stamps(stamp)
            linktypes(linktype)

    def route(self, index):
        """What the decoding of frame *index* depends on (:func:`route`)."""
        return route(self.blob, self.linktypes[index], self.starts[index], self.ends[index],
                     *self.ports)

    def __len__(self):
        return len(self.stamps)

    def __getitem__(self, index):
        return next(self.frames((index,)))[1:]

    def frames(self, indexes):
        """``(index, link type, time, bytes)`` of the frames at *indexes*."""
        if self._view is None:
            self._view = memoryview(self.blob)      # the buffer grows no more
        view, starts, ends = self._view, self.starts, self.ends
        linktypes, stamps = self.linktypes, self.stamps
        for index in indexes:
            yield index, linktypes[index], stamps[index], view[starts[index]:ends[index]].tobytes()

    def close(self):
        if self._view is not None:
            self._view.release()
        if not isinstance(self.blob, bytearray):
            self.blob.close()


def route(blob, linktype, start, end, ike_port, natt_port):
    """``(ESP, (addresses, SPI))``, ``(IKE, initiator cookie)`` or None
    for the frame of link type *linktype* at ``blob[start:end]``: Ethernet
    and IPv4 without options read in place (:func:`~scapy_ike.decode.wire.ether_ipv4`),
    other frames through :func:`~scapy_ike.decode.wire.parse_ip`."""
    found = wire.ether_ipv4(blob, start, end, ike_port, natt_port) \
        if linktype == wire.ETHERNET else None
    if found is not None:
        kind, pair, _, start, end = found
        return _esp(pair, blob, start, end) if kind == wire.ESP else \
            _isakmp(blob, start, end) if kind == wire.ISAKMP else None
    data = bytes(blob[start:end])
    offset = wire.link_payload(linktype, data)
    ip = None if offset is None else wire.parse_ip(data, offset, ike_port, natt_port)
    if ip is None or ip.kind not in (wire.ESP, wire.ISAKMP):
        return None
    pair = ip.header[12:20] if ip.version == 4 else ip.header[8:40]
    if ip.kind == wire.ESP:
        return _esp(pair, ip.body, 0, len(ip.body))
    return _isakmp(ip.body, 0, len(ip.body))


_ROUTES = {}
"""Every route made, each once: a capture's frames share them, so that
holding every frame's route allocates nothing per frame."""


def _esp(pair, data, start, end):
    if end - start < 8:
        return None                 # too short to be decrypted: no state
    return _shared((ESP, (pair, bytes(data[start:start + 4]))))


def _isakmp(data, start, end):
    if end - start < _ISAKMP_HEADER:
        return None                 # too short to be followed: no state
    return _shared((IKE, bytes(data[start:start + 8])))


def _shared(where):
    if len(_ROUTES) > 65536:
        _ROUTES.clear()
    return _ROUTES.setdefault(where, where)
