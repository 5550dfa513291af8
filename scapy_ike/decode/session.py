"""Following a capture: each packet dissected, ESP decrypted where keys
match (nested ESP too), and every result described as a record that a
front end prints as text or JSON.

ESP SAs are made once per (source, destination, SPI) from the first key
that matches; the anti-replay window is off, since a capture may hold
retransmissions and several observation points.
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import List, Optional

from scapy.fields import FlagValue
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.ipsec import ESP, NAT_KEEPALIVE
from scapy.packet import NoPayload, Packet

from scapy_ike.decode.ike import IkeTracker
from scapy_ike.esp import IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_NONE, EspError
from scapy_ike.layers.isakmp import (
    EXCHANGE_NAMES, ISAKMP, ISAKMP_Encrypted, ISAKMP_Truncated, PAYLOAD_NAMES,
    iter_payloads, malformed,
)

MAX_NESTING = 4
"""ESP inside ESP is followed this deep (RFC 4303 allows nesting)."""


@dataclass
class Record:
    """One packet of a capture, as decoded."""

    frame: int
    time: float
    packet: Packet
    inner: List[Packet] = field(default_factory=list)
    """Packets that ESP decryption revealed, outermost first."""
    esp: List[tuple] = field(default_factory=list)
    """``(SPI, Opened, ICV verified)`` of each ESP layer decrypted."""
    decrypted: Optional[bool] = None
    """True when ESP was decrypted, False when keys matched but failed,
    None when there was nothing to decrypt or no key."""
    error: Optional[str] = None
    notes: List[str] = field(default_factory=list)

    def summary(self):
        """A one-line description, like tshark's Info column."""
        parts = [describe(self.packet)]
        parts += ["[%s]" % note for note in self.notes]
        parts += ["-> %s" % describe(p) for p in self.inner]
        if self.error:
            parts.append("[error: %s]" % self.error)
        return " ".join(parts)

    def to_json(self):
        layers = []
        for pkt in [self.packet] + self.inner:
            layers += [layer_json(layer) for layer in pkt.iterpayloads()]
        return {"frame": self.frame, "time": self.time, "summary": self.summary(),
                "layers": layers, "decrypted": self.decrypted, "error": self.error}


class Session:
    """Decodes the packets of one capture, in order: IKE messages with the
    :class:`~scapy_ike.decode.ike.IkeTracker` given, ESP with the keys
    given and those its Quick Modes made."""

    def __init__(self, esp_keys=(), ike=None):
        self.esp_keys = list(esp_keys)
        self.ike = ike if ike is not None else IkeTracker()
        self._sas = {}
        self.failures = Counter()
        """(source, destination, SPI) -> number of packets that failed."""
        self.last_error = {}

    def decode(self, frame, pkt):
        record = Record(frame, float(pkt.time), pkt)
        head = pkt.getlayer(ISAKMP)
        if head is not None:
            ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
            clear, error = self.ike.message(head, ip.src if ip is not None else None)
            if clear is not None:
                record.inner.append(clear)
            if clear is not None or error:
                record.decrypted, record.error = error is None, error
            return record
        current = pkt
        for _ in range(MAX_NESTING):
            esp = current.getlayer(ESP)
            if esp is None or current.haslayer(NAT_KEEPALIVE):
                break
            opened = self._open(esp, record)
            if opened is None:
                break
            current = opened
            record.inner.append(opened)
        return record

    def _open(self, esp, record):
        """The packet inside *esp*, or None (no key, failure, dummy)."""
        ip = esp.underlayer
        while ip is not None and not isinstance(ip, (IP, IPv6)):
            ip = ip.underlayer
        if ip is None:
            return None
        key = (ip.src, ip.dst, esp.spi)
        sa = self._sa(key)
        if sa is None:
            return None
        wire = bytes(esp)
        try:
            opened = sa.open(wire)
        except EspError as exc:
            record.decrypted = False
            record.error = "SPI 0x%08x: %s" % (esp.spi, exc)
            self.failures[key] += 1
            self.last_error[key] = str(exc)
            return None
        record.decrypted = True
        record.esp.append((esp.spi, opened, sa.skip_icv is None and sa.icv_size > 0))
        if sa.skip_icv is not None:
            record.notes.append("ICV of %d bytes not checked" % sa.skip_icv)
        if opened.next_header == IPPROTO_IPIP:
            return IP(opened.payload)
        if opened.next_header == IPPROTO_IPV6:
            return IPv6(opened.payload)
        if opened.next_header == IPPROTO_NONE:
            record.notes.append("dummy packet (next header 59)")
            return None
        header = ip.copy()
        header.remove_payload()
        if isinstance(header, IP):
            header.proto, header.len, header.chksum = opened.next_header, None, None
        else:
            header.nh, header.plen = opened.next_header, None
        return type(header)(bytes(header / opened.payload))

    def esp_sas(self):
        """``((source, destination, SPI), SA)`` of every ESP SA used."""
        return [(key, sa) for key, sa in self._sas.items() if sa is not None]

    def _sa(self, key):
        """The SA for (source, destination, SPI), made from the first key
        that matches; keys that Quick Modes make later count too."""
        if key not in self._sas:
            src, dst, spi = key
            match = next((k for k in self.esp_keys + self.ike.esp_keys
                          if k.matches(src, dst, spi)), None)
            if match is None:
                return None
            self._sas[key] = match.security_association(spi=spi, replay_window=0)
        return self._sas[key]


def describe(pkt):
    """``PROTOCOL info`` for one packet, naming every IKEv1 payload."""
    head = pkt.getlayer(ISAKMP) or pkt.getlayer(ISAKMP_Truncated)
    if isinstance(head, ISAKMP_Truncated):
        return "ISAKMP [malformed: %s]" % head.malformed
    if head is not None:
        kinds = [PAYLOAD_NAMES.get(t, str(t)) for t, _ in iter_payloads(head)]
        if head.haslayer(ISAKMP_Encrypted):
            kinds.append("<encrypted %d bytes>" % len(head[ISAKMP_Encrypted].load))
        info = "%s%s %s>%s id=%08x [%s]" % (
            _addresses(pkt), EXCHANGE_NAMES.get(head.exch_type, head.exch_type),
            head.init_cookie.hex(), head.resp_cookie.hex(), head.id, " ".join(kinds))
        problems = malformed(head)
        if problems:
            info += " [malformed: %s]" % "; ".join("%s: %s" % p for p in problems)
        return "ISAKMP " + info
    if pkt.haslayer(NAT_KEEPALIVE):
        return "UDPENCAP %sNAT-keepalive" % _addresses(pkt)
    if pkt.haslayer(ESP):
        esp = pkt[ESP]
        return "ESP %sSPI=0x%08x seq=%d" % (_addresses(pkt), esp.spi, esp.seq)
    return pkt.summary()


def _addresses(pkt):
    """``src > dst `` (with ports over UDP), or nothing for a packet
    without IP, like a decrypted IKE message."""
    ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
    if ip is None:
        return ""
    if pkt.haslayer(UDP):
        return "%s:%d > %s:%d " % (ip.src, pkt[UDP].sport, ip.dst, pkt[UDP].dport)
    return "%s > %s " % (ip.src, ip.dst)


def layer_json(layer):
    """``{"layer": class name, "fields": {...}}`` of one layer, bytes as
    lowercase hex, with ``"malformed"`` when the layer carries a reason."""
    out = {"layer": type(layer).__name__,
           "fields": {f.name: _json_value(layer.getfieldval(f.name)) for f in layer.fields_desc}}
    reason = getattr(layer, "malformed", None)
    if reason is not None:
        out["malformed"] = reason
    return out


def _json_value(value):
    if isinstance(value, Packet):
        return [layer_json(layer) for layer in value.iterpayloads()]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, FlagValue):
        return int(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, NoPayload):
        return None
    return str(value)
