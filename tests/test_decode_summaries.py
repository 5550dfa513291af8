"""Text output's quick way with plain ESP (:meth:`Session._plain_esp`):
every frame of every capture, and of a capture made here with every kind
of inner packet and failure, is summarised as the full decoding
summarises it, with the same failures; and the common packets do take
the quick way."""

import os
import socket
import struct

import pytest

from scapy_ike.decode.capture import open_capture
from scapy_ike.decode.keylog import esp_sa_row, read_esp_keys
from scapy_ike.decode.session import Record, Session, Summary
from scapy_ike.esp import IPPROTO_NONE, SecurityAssociation
from test_captures import all_captures
from test_decode_fast import session_for
from test_decode_fuzz import mutated_capture

ENDS = ("192.0.2.2", "192.0.2.1")


def ipv4(src, dst, proto, payload, ihl=5, frag=0):
    header = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 4 * ihl + len(payload), 7, frag, 64,
                         proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return header + bytes(4 * ihl - 20) + payload


def ether(packet):
    return bytes(12) + b"\x08\x00" + packet


def inner_packets(inner_sa):
    """Inner packets of every kind the two ways must agree on."""
    udp = struct.pack("!HHHH", 1000, 2000, 12, 0) + b"abcd"
    yield ipv4("198.51.100.2", "198.51.100.1", 17, udp)                      # UDP
    yield ipv4("198.51.100.2", "198.51.100.1", 1, b"\x08\x00\x00\x00\x00\x07\x00\x01")  # echo
    tcp = struct.pack("!HHIIBBHHH", 80, 443, 5, 6, 0x50, 0x12, 0, 0, 0) + b"xy"
    yield ipv4("198.51.100.2", "198.51.100.1", 6, tcp)                       # TCP SYN-ACK
    yield ipv4("198.51.100.2", "198.51.100.1", 17, struct.pack("!HHHH", 500, 500, 8, 0))
    yield ipv4("198.51.100.2", "198.51.100.1", 17, struct.pack("!HHHH", 1, 2, 99, 0))  # bad len
    yield ipv4("198.51.100.2", "198.51.100.1", 17, udp, ihl=6)               # options
    yield ipv4("198.51.100.2", "198.51.100.1", 17, udp, frag=0x2000)         # a fragment
    yield ipv4("198.51.100.2", "198.51.100.1", 47, b"\x00\x00\x08\x00")      # GRE: Scapy's
    yield ipv4("198.51.100.2", "198.51.100.1", 50, inner_sa.seal(
        ipv4("203.0.113.2", "203.0.113.1", 17, udp)))                        # ESP in ESP
    yield ipv4("198.51.100.2", "198.51.100.1", 17, udp)[:30]                 # cut short


def capture(tmp_path):
    """A pcap of plain ESP (and a few frames of other kinds) with its keys."""
    sa = SecurityAssociation(0x1001, crypt_algo="AES-CBC", crypt_key=os.urandom(16),
                             auth_algo="HMAC-SHA1-96", auth_key=os.urandom(20))
    inner_sa = SecurityAssociation(0x2002, crypt_algo="AES-GCM", crypt_key=os.urandom(20),
                                   crypt_icv_size=16)
    frames = []
    for round_ in range(3):
        for packet in inner_packets(inner_sa):
            frames.append(ether(ipv4(*ENDS, 50, sa.seal(packet))))
        sealed = sa.seal(b"\x60" + bytes(39), next_header=41)                # IPv6 inside
        frames.append(ether(ipv4(*ENDS, 50, sealed)))
        frames.append(ether(ipv4(*ENDS, 50, sa.seal(b"", next_header=IPPROTO_NONE))))
        frames.append(ether(ipv4(*ENDS, 50, sa.seal(b"\x08\x00\x00\x00\x00\x01\x00\x01",
                                                      next_header=1))))      # transport mode
        bad = sa.seal(ipv4("198.51.100.2", "198.51.100.1", 1, bytes(8)))
        frames.append(ether(ipv4(*ENDS, 50, bad[:-1] + bytes([bad[-1] ^ 1]))))  # ICV fails
        frames.append(ether(ipv4(*ENDS, 50, bytes(6))))                       # too short
        frames.append(ether(ipv4(ENDS[1], ENDS[0], 50, struct.pack("!II", 9, 1) + bytes(40))))
        frames.append(b"\x00" * 12 + b"\x81\x00" + bytes(2) + frames[-2][12:])  # VLAN
        sealed = sa.seal(next(inner_packets(inner_sa)))
        for sport, dport, payload in ((4500, 4500, sealed), (4500, 4500, bytes(4) + sealed),
                                      (4500, 4500, b"\xff"), (4500, 500, sealed),
                                      (4501, 4501, sealed), (4500, 4500, sealed[:7])):
            frames.append(ether(ipv4(*ENDS, 17, struct.pack("!HHHH", sport, dport,
                                                            8 + len(payload), 0) + payload)))
    path = tmp_path / "plain-esp.pcap"
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + b"".join(
        struct.pack("<IIII", 1_800_000_000, n, len(f), len(f)) + f for n, f in enumerate(frames)))
    keys = esp_sa_row(sa, *ENDS) + "\n" + esp_sa_row(inner_sa, "198.51.100.2", "198.51.100.1")
    return path, read_esp_keys(keys + "\n")


def both_ways(path, keys):
    """The summaries of each way, the sessions, and how many frames took
    the quick way."""
    results = []
    for summaries in (False, True):
        session = keys(summaries)
        f, frames = open_capture(path)
        with f:
            records = [session.decode_frame(n, t, lt, d) for n, (lt, t, d) in enumerate(frames, 1)]
        results.append(([r.summary() for r in records], session,
                         sum(isinstance(r, Summary) for r in records)))
        assert all(isinstance(r, Record) for r in records) or summaries
    return results


def test_a_capture_of_every_kind(tmp_path):
    path, keys = capture(tmp_path)
    (slow, slow_session, none), (quick, session, taken) = both_ways(
        path, lambda summaries: Session(keys, summaries=summaries))
    assert quick == slow and none == 0
    assert taken == 3 * 4 - 1           # UDP, ICMP and TCP, and UDP in UDP-encapsulated ESP,
    #                                     each round, but the SA's first
    assert session.failures == slow_session.failures
    assert sum(session.failures.values()) == 3
    assert session.last_error == slow_session.last_error
    assert quick[0].endswith("-> UDP 198.51.100.2:1000 > 198.51.100.1:2000 len=4")
    assert quick[1].endswith("-> ICMP 198.51.100.2 > 198.51.100.1 echo-request id=7 seq=1")
    assert quick[2].endswith("-> TCP 198.51.100.2:80 > 198.51.100.1:443 [SA] seq=5 ack=6 len=2")
    assert "[error: SPI 0x00001001: ICV does not verify" in quick[13]
    assert quick[17].startswith("ESP 192.0.2.2:4500 > 192.0.2.1:4500 SPI=0x00001001 seq=15 ")
    assert quick[17].endswith("-> UDP 198.51.100.2:1000 > 198.51.100.1:2000 len=4")


@pytest.mark.parametrize("capture_path", all_captures() or [pytest.param(
    None, marks=pytest.mark.skip(reason="public test data absent (../shared/testdata)"))],
    ids=lambda p: getattr(p, "name", "none"))
def test_every_capture(capture_path, tmp_path):
    """Every capture we have, and a mutated copy of it, the same both ways."""
    def keys(summaries):
        session = session_for(capture_path)
        session.summaries = summaries
        return session
    (slow, _, _), (quick, _, _) = both_ways(capture_path, keys)
    assert quick == slow
    if capture_path.suffix == ".pcap" and capture_path.parent.name == "pcaps":
        mutated = tmp_path / "mutated.pcap"
        mutated_capture(capture_path, mutated)
        (slow, _, _), (quick, _, _) = both_ways(mutated, keys)
        assert quick == slow
