"""``scapy-ike decode`` on mutated copies of our captures: ISAKMP messages
cut at every payload boundary, every payload length made bad, header
lengths made bad, bits flipped; ESP packets cut and flipped.  Every frame
is still printed, the fast and Scapy descriptions agree, and no traceback
escapes."""

import random
import struct

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

from conftest import PCAPS
from scapy_ike.cli import main
from scapy_ike.core.message import GENERIC, HEADER
from scapy_ike.decode import wire
from scapy_ike.decode.capture import open_capture
from scapy_ike.decode.ike import IkeTracker
from scapy_ike.decode.keylog import read_keys
from scapy_ike.decode.session import Session
from test_decode_ike import PSKS

ETHER = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")   # no ARP to fill them in


def payload_offsets(message):
    """Offsets of the generic payload headers of a clear message."""
    offsets, ptype, offset = [], message[16], HEADER.size
    while ptype and offset + GENERIC.size <= len(message):
        offsets.append(offset)
        ptype, _, length = GENERIC.unpack_from(message, offset)
        if length < GENERIC.size:
            break
        offset += length
    return offsets


def ike_mutations(message, rng):
    out = []
    clear = not message[19] & 1
    for offset in (payload_offsets(message) if clear else []) + [HEADER.size]:
        out += [message[:offset], message[:offset + 2]]
        for length in (0, 3, 5, 0xFFFF):
            bad = bytearray(message)
            if offset + 4 <= len(bad):
                struct.pack_into("!H", bad, offset + 2, length)
                out.append(bytes(bad))
    for length in (0, 27, len(message) + 100):
        bad = bytearray(message)
        struct.pack_into("!I", bad, 24, length)
        out.append(bytes(bad))
    for _ in range(10):
        bad = bytearray(message)
        for _ in range(rng.randint(1, 4)):
            bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
        out.append(bytes(bad))
    return out


def esp_mutations(packet, rng):
    out = [packet[:n] for n in (0, 3, 8, 9, 16, len(packet) - 1)]
    for _ in range(5):
        bad = bytearray(packet)
        bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
        out.append(bytes(bad))
    return out


def mutated_capture(capture, path):
    """The capture's frames, each followed by its mutations, as a pcap."""
    rng = random.Random(capture.name)
    f, frames = open_capture(capture)
    packets = []
    with f:
        for linktype, _, data in frames:
            packets.append(Ether(data))
            ip = wire.parse_ip(data, wire.link_payload(linktype, data))
            if ip is None or ip.kind not in (wire.ISAKMP, wire.ESP):
                continue
            marker = b"\x00" * 4 if ip.kind == wire.ISAKMP and 4500 in (ip.sport, ip.dport) else b""
            bodies = (ike_mutations if ip.kind == wire.ISAKMP else esp_mutations)(ip.body, rng)
            for body in bodies:
                if ip.sport is None:
                    packets.append(ETHER / IP(src=ip.src, dst=ip.dst, proto=50) / Raw(body))
                else:
                    packets.append(ETHER / IP(src=ip.src, dst=ip.dst)
                                   / UDP(sport=ip.sport, dport=ip.dport) / Raw(marker + body))
    wrpcap(str(path), packets)
    return len(packets)


@pytest.mark.parametrize("capture", sorted(PCAPS.glob("*.pcap")), ids=lambda p: p.stem)
def test_mutated_captures(capture, tmp_path, capsys):
    path = tmp_path / "mutated.pcap"
    count = mutated_capture(capture, path)
    keys = read_keys(capture.with_suffix(".keys").read_text())
    argv = ["decode", str(path), "--psk", PSKS[capture.stem]]
    for k in keys.ike:
        argv += ["--gxy", k.gxy.hex()]
    for g in keys.qm_gxy:
        argv += ["--gxy", g.hex()]
    status = main(argv)
    out, err = capsys.readouterr()
    assert status in (0, 1)
    assert [int(line.split()[0]) for line in out.splitlines()] == list(range(1, count + 1))
    assert "Traceback" not in err and all(line.startswith("scapy-ike decode: ")
                                          for line in err.splitlines())
    for record in mutated_records(capture, path):
        assert record.summary() == record.summary(scapy=True), record.frame


def mutated_records(capture, path):
    """The records of the frames of *path* (made by :func:`mutated_capture`
    from *capture*), decoded with *capture*'s keys."""
    keys = read_keys(capture.with_suffix(".keys").read_text())
    session = Session(ike=IkeTracker(psk=PSKS[capture.stem].encode(),
                                     gxy=[k.gxy for k in keys.ike], qm_gxy=keys.qm_gxy))
    f, frames = open_capture(path)
    with f:
        for n, (lt, t, d) in enumerate(frames, 1):
            yield session.decode_frame(n, t, lt, d)
