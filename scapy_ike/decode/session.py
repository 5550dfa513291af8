"""Following a capture: each frame's link, IP, UDP, ESP and ISAKMP headers
read with :mod:`struct` (:mod:`~scapy_ike.decode.wire`), ESP decrypted
where keys match (nested ESP too), IKE followed by an
:class:`~scapy_ike.decode.ike.IkeTracker`, and every result described as
a :class:`Record` that a front end prints as text or JSON.  Scapy
dissects a frame only when its fields are asked for
(:attr:`Record.packet`, :attr:`Record.inner`) or its protocol is one the
fast path does not describe.

ESP SAs are made once per (source, destination, SPI) from the key that
matches; where several match (a Quick Mode with PFS and candidate
secrets), the one that opens the SA's first packet.  The anti-replay
window is off, since a capture may hold retransmissions and several
observation points.
"""

import struct
from collections import Counter

from scapy_ike.decode import wire
from scapy_ike.decode.summary import (
    addresses, describe, esp_line, ip_summary, isakmp_summary, transport_summary,
)
from scapy_ike.esp import IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_NONE, EspError

MAX_NESTING = 4
"""ESP inside ESP is followed this deep (RFC 4303 allows nesting)."""
IP_LAYER, ISAKMP_LAYER = "ip", "isakmp"
ESP_HEADER = struct.Struct("!II")         # SPI, sequence number (RFC 4303 2)


class Record:
    """One frame of a capture, as decoded: *frame* (its number), *time*,
    *linktype* and *data* as captured, and what decoding found."""

    __slots__ = ("frame", "time", "linktype", "data", "line", "opened", "esp", "decrypted",
                 "error", "notes", "ip", "inner_ips", "_packet")

    def __init__(self, frame, time, linktype, data):
        self.frame, self.time, self.linktype, self.data = frame, time, linktype, data
        self.line = None
        """The frame's description by the fast path; None: Scapy's."""
        self.opened = []
        """``(IP_LAYER or ISAKMP_LAYER, bytes, description or None)`` of what
        decryption revealed, outermost first."""
        self.esp = []
        """``(SPI, Opened, ICV verified)`` of each ESP layer decrypted."""
        self.decrypted = None
        """True when ESP or IKE was decrypted, False when keys matched but
        failed, None when there was nothing to decrypt or no key."""
        self.error = None
        self.notes = []
        self.ip = None
        """The frame's :class:`~scapy_ike.decode.wire.Ip` view, if it has one."""
        self.inner_ips = None
        """The views of the IP packets ESP decryption revealed (None where
        there is none), in the order of :attr:`opened`."""
        self._packet = None

    def __repr__(self):
        return "<Record %d: %s>" % (self.frame, self.summary())

    @property
    def packet(self):
        """The frame dissected by Scapy (once)."""
        if self._packet is None:
            from scapy.config import conf
            from scapy.layers import inet6, l2  # noqa: F401 (they register the link types)
            from scapy.packet import Raw
            import scapy_ike.layers.isakmp  # noqa: F401 (IKEv1 on UDP 500 and 4500)
            cls = conf.l2types.num2layer.get(self.linktype, Raw)
            self._packet = cls(self.data)
            self._packet.time = self.time
        return self._packet

    @property
    def inner(self):
        """Scapy packets of what decryption revealed, outermost first."""
        return [_dissect(kind, data) for kind, data, _ in self.opened]

    def summary(self, scapy=False):
        """A one-line description, like tshark's Info column; with
        *scapy*, every part described from Scapy's dissection."""
        fast = not scapy
        if fast and self.line is not None and not self.notes and not self.error \
                and len(self.opened) == 1 and self.opened[0][2] is not None:
            return self.line + " -> " + self.opened[0][2]
        parts = [self.line if fast and self.line is not None else describe(self.packet)]
        parts += ["[%s]" % note for note in self.notes]
        parts += ["-> %s" % (line if fast and line is not None else describe(_dissect(kind, data)))
                  for kind, data, line in self.opened]
        if self.error:
            parts.append("[error: %s]" % self.error)
        return " ".join(parts)

    def to_json(self, show_secrets=False):
        """One JSON object (the schema of :mod:`~scapy_ike.decode.json_fields`)."""
        from scapy_ike.decode.json_layers import record_layers
        return {"frame": self.frame, "time": self.time, "summary": self.summary(),
                "layers": record_layers(self, show_secrets), "decrypted": self.decrypted,
                "error": self.error}


def _open(sa, body):
    """*sa*'s Opened of the ESP packet *body*, or the EspError refusing it."""
    try:
        return sa.open(body)
    except EspError as exc:
        return exc


def _dissect(kind, data):
    from scapy_ike.layers.isakmp import ISAKMP      # IKEv1 on UDP 500 and 4500 too
    if kind == ISAKMP_LAYER:
        return ISAKMP(data)
    if data and data[0] >> 4 == 6:
        from scapy.layers.inet6 import IPv6
        return IPv6(data)
    from scapy.layers.inet import IP
    return IP(data)


class Summary:
    """A frame told by its one-line summary alone (ESP opened in the
    usual way: :meth:`Session._plain_esp`), which is all text output
    asks of a :class:`Record`."""

    __slots__ = ("frame", "time", "_text")

    def __init__(self, frame, time, text):
        self.frame, self.time, self._text = frame, time, text

    def summary(self):
        return self._text


class Session:
    """Decodes the frames of one capture, in order: IKE messages with the
    :class:`~scapy_ike.decode.ike.IkeTracker` given (one is made at the
    first ISAKMP message otherwise), ESP with the keys given and those its
    Quick Modes made.  A recorded capture, decrypted at the prompt:

    >>> from importlib.resources import files
    >>> from scapy.utils import rdpcap
    >>> from scapy_ike.decode.ike import IkeTracker
    >>> from scapy_ike.decode.keylog import read_keys
    >>> pcaps = files("scapy_ike.pcaps")
    >>> keys = read_keys((pcaps / "mm-psk-aes128-sha1-modp2048.keys").read_text())
    >>> decoder = Session(esp_keys=keys.esp, ike=IkeTracker(keys.ike))
    >>> capture = rdpcap(str(pcaps / "mm-psk-aes128-sha1-modp2048.pcap"))
    >>> records = [decoder.decode(n, pkt) for n, pkt in enumerate(capture, 1)]
    >>> records[9].inner[0].summary()
    'IP / ICMP 198.51.100.2 > 198.51.100.1 echo-request 0 / Raw'
    >>> decoder
    <Session: 1 IKE SAs, 2 ESP SAs, 0 packets failed>
    """

    def __init__(self, esp_keys=(), ike=None, ike_port=500, natt_port=4500, summaries=False):
        self.esp_keys = list(esp_keys)
        self.summaries = summaries
        """Whether a frame whose one-line summary is all that is wanted may
        be told by a :class:`Summary` (:meth:`_plain_esp`)."""
        self._flows = {}
        self._ike = ike
        self.ports = (ike_port, natt_port)
        self._sas = {}
        self._prefixes = {}
        self._by_spi, self._indexed = {}, 0
        self.failures = Counter()
        """(source, destination, SPI) -> number of packets that failed."""
        self.last_error = {}
        self.last_failure = {}
        """(source, destination, SPI) -> frame number of its last failure."""
        self.misfit = set()
        """(source, destination, SPI) of SAs that no candidate key opens
        (so far): said once, not as packets that failed."""
        self.unkeyed = {}
        """(source, destination, SPI) -> why its keys are unknown, for SAs
        whose Quick Mode was seen but could not be keyed."""

    def __repr__(self):
        return "<Session: %d IKE SAs, %d ESP SAs, %d packets failed>" % (
            len(self._ike.sas) if self._ike is not None else 0, len(self.esp_sas()),
            sum(self.failures.values()))

    @property
    def ike(self):
        if self._ike is None:
            from scapy_ike.decode.ike import IkeTracker
            self._ike = IkeTracker()
        return self._ike

    def decode(self, frame, pkt):
        """The record of a Scapy packet *pkt* (its bytes are decoded)."""
        from scapy.config import conf
        linktype = conf.l2types.layer2num.get(type(pkt), 1)
        record = self.decode_frame(frame, float(pkt.time), linktype, bytes(pkt))
        record._packet = pkt
        return record

    def decode_frame(self, frame, time, linktype, data):
        """The record of one captured frame of link type *linktype*."""
        if self.summaries and linktype == wire.ETHERNET:
            record = self._plain_esp(frame, time, data)
            if record is not None:
                return record
        record = Record(frame, time, linktype, data)
        offset = wire.link_payload(linktype, data)
        ip = None if offset is None else wire.parse_ip(data, offset, *self.ports)
        if ip is None:
            return record
        record.ip = ip
        if ip.kind == wire.ISAKMP:
            self._isakmp(record, ip)
        elif ip.kind == wire.ESP:
            body = ip.body
            if len(body) >= 8:
                record.line = esp_line(self._prefix(ip), *ESP_HEADER.unpack_from(body))
                self._open(record, ip, 0)
        elif ip.kind == wire.KEEPALIVE:
            record.line = "UDPENCAP %sNAT-keepalive" % addresses(ip.src, ip.dst, ip.sport, ip.dport)
        else:
            record.line = ip_summary(ip, *self.ports)
        return record

    def _plain_esp(self, frame, time, data):
        """The record of an Ethernet frame carrying IPv4 (no options, not a
        fragment) and ESP of an SA already made, alone or in UDP (RFC 3948
        2), read in place: a :class:`Summary` where it holds a plain IPv4
        packet (no options) whose summary the fast path gives, else the
        :class:`Record` that :meth:`decode_frame` would give; None for any
        other frame."""
        found = wire.ether_ipv4(data, 0, len(data), *self.ports)
        if found is None or found[0] != wire.ESP or found[4] - found[3] < 8:
            return None
        _, pair, ports, start, end = found
        name = data[26:38] if ports is None else data[26:38] + data[start:start + 4]
        flow = self._flows.get(name) or self._flow(name, pair, ports, data[start:start + 4])
        if flow is None:
            return None
        key, sa, prefix = flow
        body = data[start:end]
        opened = _open(sa, body)
        line = esp_line(prefix, key[2], ESP_HEADER.unpack_from(body)[1])
        if not isinstance(opened, EspError) and opened.next_header == IPPROTO_IPIP:
            inner = opened.payload
            if len(inner) >= 20 and inner[0] == 0x45:
                _, length, frag, proto, pair = wire.IPV4_HEADER.unpack_from(inner)
                if 20 <= length <= len(inner) and not frag & 0x3FFF:
                    text = transport_summary(4, proto, *wire.address_texts(pair), inner, 20,
                                             length, *self.ports)
                    if text is not None:
                        return Summary(frame, time, line + " -> " + text)
        record = Record(frame, time, wire.ETHERNET, data)
        record.ip = ip = wire.parse_ip(data, 14, *self.ports)
        record.line = line
        self._opened(record, ip, key, sa, opened, 0)
        return record

    def _flow(self, name, pair, ports, spi):
        """``(SA key, SA, "src > dst ")`` of the ESP SA from and to the
        addresses *pair* (as on the wire), with UDP *ports* or None, and
        *spi*, once it is made and checks its ICV; None before."""
        src, dst = wire.address_texts(pair)
        key = (src, dst, int.from_bytes(spi, "big"))
        sa = self._sas.get(key)
        if sa is None or sa.skip_icv is not None:
            return None
        if len(self._flows) > 65536:
            self._flows.clear()
        flow = self._flows[name] = (key, sa, addresses(src, dst, *(ports or ())))
        return flow

    def _isakmp(self, record, ip):
        body = ip.body
        record.line = isakmp_summary(body, addresses(ip.src, ip.dst, ip.sport, ip.dport))
        if len(body) < 28:
            return
        clear, error, note = self.ike.message(body, ip.src)
        if note is not None:
            record.notes.append(note)
        if clear is not None:
            record.opened.append((ISAKMP_LAYER, clear, isakmp_summary(clear, padded=True)))
        if clear is not None or error:
            record.decrypted, record.error = error is None, error

    def _prefix(self, ip):
        """``src > dst `` of *ip* (with ports over UDP), kept per flow."""
        flow = (ip.src, ip.dst, ip.sport, ip.dport)
        text = self._prefixes.get(flow)
        if text is None:
            if len(self._prefixes) > 65536:
                self._prefixes.clear()
            text = self._prefixes[flow] = addresses(*flow)
        return text

    def _esp_line(self, ip):
        if len(ip.body) < 8:
            return None
        return esp_line(self._prefix(ip), *ESP_HEADER.unpack_from(ip.body))

    def _open(self, record, ip, depth):
        """Decrypt the ESP packet *ip* carries, and what it carries."""
        body = ip.body
        if len(body) < 8 or depth == MAX_NESTING:
            return
        spi = struct.unpack_from("!I", body)[0]
        key = (ip.src, ip.dst, spi)
        sa = self._sas.get(key) or self._sa(key, body, record)
        if sa is not None:
            self._opened(record, ip, key, sa, _open(sa, body), depth)

    def _opened(self, record, ip, key, sa, opened, depth):
        """What SA *sa* made of *ip*'s ESP packet (an Opened, or the
        EspError that refused it), and what it carries, into *record*."""
        spi = key[2]
        if isinstance(opened, EspError):
            record.decrypted = False
            record.error = "SPI 0x%08x: %s" % (spi, opened)
            self._failed(key, str(opened), record.frame)
            return
        record.decrypted = True
        record.esp.append((spi, opened, sa.skip_icv is None and sa.icv_size > 0))
        if sa.skip_icv is not None:
            record.notes.append("ICV of %d bytes not checked" % sa.skip_icv)
        next_header = opened.next_header
        if next_header == IPPROTO_NONE:
            record.notes.append("dummy packet (next header 59)")
            return
        if next_header in (IPPROTO_IPIP, IPPROTO_IPV6):
            inner = opened.payload
        else:
            inner = wire.transport_header(ip, next_header, len(opened.payload)) + opened.payload
        inner_ip = wire.parse_ip(inner, 0, *self.ports)
        line = None
        if inner_ip is not None:
            line = self._esp_line(inner_ip) if inner_ip.kind == wire.ESP else \
                ip_summary(inner_ip, *self.ports) if inner_ip.kind is None else None
        record.opened.append((IP_LAYER, inner, line))
        if record.inner_ips is None:
            record.inner_ips = []
        record.inner_ips.append(inner_ip)
        if inner_ip is not None and inner_ip.kind == wire.ESP:
            self._open(record, inner_ip, depth + 1)

    def _failed(self, key, error, frame):
        self.failures[key] += 1
        self.last_error[key], self.last_failure[key] = error, frame

    def esp_sas(self):
        """``((source, destination, SPI), SA)`` of every ESP SA used."""
        return [(key, sa) for key, sa in self._sas.items() if sa is not None]

    def _ike_keys(self, spi):
        """The ESP keys the IKE side has made so far for *spi* (each is for
        one SPI), in the order made; indexed as they come."""
        if self._ike is None:
            return []
        made = self._ike.esp_keys
        for k in made[self._indexed:]:
            self._by_spi.setdefault(k.spi, []).append(k)
        self._indexed = len(made)
        return self._by_spi.get(spi, [])

    def _sa(self, key, body, record):
        """The SA for (source, destination, SPI): made from the key that
        matches, or from the first of several (or a guess) that opens *body*; keys
        that Quick Modes make later count too.  None without a key (the
        first packet of an SA whose keys are known to be unknown says why)."""
        sa = self._sas.get(key)
        if sa is not None:
            return sa
        src, dst, spi = key
        matches = [k for k in self.esp_keys + self._ike_keys(spi) if k.matches(src, dst, spi)]
        if not matches:
            reason = self._ike.opaque.get(spi) if self._ike is not None else None
            if reason is not None and key not in self.unkeyed:
                self.unkeyed[key] = reason
                record.notes.append(reason)
            return None
        if len(matches) > 1 or matches[0].guess is not None:
            for candidate in matches:
                sa = candidate.security_association(spi=spi, replay_window=0)
                try:
                    sa.open(body)
                except EspError:
                    continue
                self._sas[key] = candidate.security_association(spi=spi, replay_window=0)
                self.misfit.discard(key)
                return self._sas[key]
            guesses = sorted({k.guess for k in matches if k.guess is not None})
            error = "no key fits: %d candidate(s) fail to verify the ICV" % len(matches)
            if guesses:
                error += " (wrong %s?)" % " or ".join(guesses)
            record.decrypted, record.error = False, "SPI 0x%08x: %s" % (spi, error)
            self._failed(key, error, record.frame)
            self.misfit.add(key)
            return None
        self._sas[key] = matches[0].security_association(spi=spi, replay_window=0)
        return self._sas[key]
