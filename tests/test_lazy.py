"""Packets dissected on first use behave as the packet ``cls(data)`` in
every way a Scapy user touches one, and cost no dissection until then."""

import copy
import pickle

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.packet import Raw
from scapy.utils import rdpcap, wrpcap

from scapy_ike.layers.lazy import dissect_later

DATA = bytes(IP(src="198.51.100.2", dst="198.51.100.1", ttl=9) / UDP(sport=7, dport=9)
             / b"payload")
DATA6 = bytes(IPv6(src="2001:db8::2", dst="2001:db8::1") / ICMPv6EchoRequest(data=b"six"))


def test_bytes_and_len_do_not_dissect():
    pkt = dissect_later(IP, DATA)
    assert bytes(pkt) == DATA and len(pkt) == len(DATA)
    assert isinstance(pkt, IP) and type(pkt) is not IP     # still undissected
    assert pkt.ttl == 9                                    # first use
    assert type(pkt) is IP and bytes(pkt) == DATA


@pytest.mark.parametrize("use, expected", [
    (lambda p: p.src, "198.51.100.2"),
    (lambda p: p[UDP].dport, 9),
    (lambda p: UDP in p, True),
    (lambda p: ICMP in p, False),
    (lambda p: "UDP" in p, True),
    (lambda p: p.haslayer(Raw), True),
    (lambda p: p[Raw].load, b"payload"),
    (lambda p: p.summary() == IP(DATA).summary(), True),
    (lambda p: p == IP(DATA), True),
    (lambda p: IP(DATA) == p, True),
    (lambda p: p == IP(DATA[:-1] + b"X"), False),
    (lambda p: isinstance(p, UDP), False),
    (lambda p: repr(p) == repr(IP(DATA)), True),
    (lambda p: bytes(p.copy()), DATA),
    (lambda p: type(p.copy()), IP),
    (lambda p: type(copy.deepcopy(p)), IP),
    (lambda p: bytes(pickle.loads(pickle.dumps(p))), DATA),
    (lambda p: bytes(p / b"more"), DATA + b"more"),
    (lambda p: [f.name for f in p.fields_desc][:3], ["version", "ihl", "tos"]),
])
def test_every_use_sees_the_dissected_packet(use, expected):
    assert use(dissect_later(IP, DATA)) == expected


def test_setting_a_field_dissects_first():
    pkt = dissect_later(IP, DATA)
    pkt.ttl = 1
    assert type(pkt) is IP and pkt.ttl == 1 and pkt[UDP].dport == 9
    assert bytes(pkt)[8] == 1


def test_ipv6_and_capture_time(tmp_path):
    pkt = dissect_later(IPv6, DATA6)
    stamp = pkt.time
    assert pkt.nh == 58 and pkt[ICMPv6EchoRequest].data == b"six" and pkt.time == stamp
    wrpcap(str(tmp_path / "out.pcap"), [dissect_later(IPv6, DATA6)])
    (back,) = rdpcap(str(tmp_path / "out.pcap"))
    assert bytes(back)[-len(DATA6):] == DATA6


def test_not_a_layer_of_its_own():
    from scapy.config import conf
    dissect_later(IP, DATA)
    assert [layer for layer in conf.layers if layer.__name__ == "IP"] == [IP]
