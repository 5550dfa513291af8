"""``decode --json``: the layers built from headers are, on every frame of
every capture we have (with its keys, so that ESP opens), those Scapy's
dissection gives (:func:`~scapy_ike.decode.json_fields.layer_json`)."""

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from scapy_ike.decode.capture import CaptureError, open_capture
from scapy_ike.decode.ike import IkeTracker
from scapy_ike.decode.json_fields import layer_json
from scapy_ike.decode.json_layers import record_layers
from scapy_ike.decode.keylog import read_keys
from scapy_ike.decode.session import Session
from test_captures import all_captures
from test_decode_jobs import key_arguments
from conftest import PCAPS


def _scapy_layers(record):
    return [layer_json(layer) for pkt in [record.packet] + record.inner
            for layer in pkt.iterpayloads()]


def _session(capture, tmp_path):
    argv = key_arguments(capture, tmp_path)
    keys, psk, gxy = read_keys(""), None, []
    for option, value in zip(argv[::2], argv[1::2]):
        if option == "--keys":
            keys += read_keys(open(value).read())
        elif option == "--psk":
            psk = value.encode()
        else:
            gxy.append(bytes.fromhex(value))
    return Session(keys.esp, ike=IkeTracker(keys.ike, psk=psk, gxy=gxy, qm_gxy=keys.qm_gxy + gxy))


@pytest.mark.parametrize("capture", all_captures() or sorted(PCAPS.glob("*.pcap")),
                         ids=lambda p: p.name)
def test_layers_as_scapy_dissects_them(capture, tmp_path):
    session = _session(capture, tmp_path)
    f, records = open_capture(capture)
    with f:
        try:
            for number, (linktype, stamp, data) in enumerate(records, 1):
                record = session.decode_frame(number, stamp, linktype, data)
                assert record_layers(record) == _scapy_layers(record), number
        except CaptureError:
            pass


@pytest.mark.parametrize("pkt", [
    Ether() / IP(src="192.0.2.1", dst="192.0.2.2", id=7, proto=50) / (b"\x00\x00\x10\x00" * 4),
    Ether() / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=4500, dport=4500) / (b"\x01" * 12),
    Ether() / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=1000, dport=2000),
    Ether() / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=1000, dport=2000) / b"x",  # padded
    Ether() / IP(src="192.0.2.1", dst="192.0.2.2", options=b"\x01\x01\x01\x00") / b"abc",
    Ether() / IP(src="192.0.2.1", dst="192.0.2.2", flags=1, proto=50) / (b"\x00" * 8),
    Ether(type=0x0800) / b"\x45",
], ids=["esp", "natt-esp", "udp", "padded", "options", "fragment", "cut"])
def test_headers_as_scapy_dissects_them(pkt):
    """Plain headers built, padding, options, fragments and cut headers
    left to Scapy: the same layers either way."""
    data = bytes(pkt)
    if len(data) < 60:
        data += bytes(60 - len(data))          # Ethernet's minimum frame, padded
    record = Session().decode_frame(1, 0.0, 1, data)
    assert record_layers(record) == _scapy_layers(record)
