"""``decode --json``: the ISAKMP layers read with struct
(:mod:`~scapy_ike.decode.json_isakmp`) are those Scapy's dissection gives
(:func:`~scapy_ike.decode.json_fields.layer_json` of each layer), on every
message of every capture we have, in the frame and decrypted, and on
mutated copies of them; and every message Scapy finds nothing wrong with
is read that way, not left to Scapy."""

import random

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from conftest import PCAPS, shared_file
from scapy_ike.constants import PayloadType
from scapy_ike.decode import json_isakmp, wire
from scapy_ike.decode.capture import CaptureError, open_capture
from scapy_ike.decode.json_fields import layer_json
from scapy_ike.decode.json_layers import record_layers
from scapy_ike.decode.session import ISAKMP_LAYER, Session
from scapy_ike.layers.isakmp import (
    ISAKMP, ISAKMP_payload, ISAKMP_payload_Fragment, ISAKMP_payload_Hash, ISAKMP_payload_ID,
    ISAKMP_payload_Notify, ISAKMP_payload_Proposal, ISAKMP_payload_SA, ISAKMP_payload_Transform,
    ISAKMP_payload_VendorID, malformed,
)
from test_captures import all_captures
from test_decode_fuzz import ike_mutations, mutated_capture, mutated_records, payload_offsets
from test_decode_json_layers import _scapy_layers, _session

CAPTURES = all_captures() or sorted(PCAPS.glob("*.pcap")) + [pytest.param(
    None, marks=pytest.mark.skip(reason="public test data absent (../shared/testdata)"))]
DPD = bytes.fromhex("afcad71368a1f1c96b8696fc77570100")


def scapy_message(data):
    """The JSON layers of Scapy's dissection of an ISAKMP message."""
    return [layer_json(layer) for layer in ISAKMP(data).iterpayloads()]


def left_to_scapy(data):
    """Whether the fast path is meant to leave *data* to Scapy: Scapy flags
    it, or its chain holds a payload whose class depends on its context
    (or a generic payload: an unknown type)."""
    pkt = ISAKMP(data)
    if not isinstance(pkt, ISAKMP) or malformed(pkt):
        return True
    ptype, layer = pkt.next_payload, pkt.payload
    while isinstance(layer, ISAKMP_payload):
        if ptype in json_isakmp._LEFT_TO_SCAPY or type(layer) is ISAKMP_payload:
            return True
        ptype, layer = layer.next_payload, layer.payload
    return False


@pytest.fixture
def built(monkeypatch):
    """Every ``(message, layers or None)`` the fast path is asked for."""
    calls = []
    real = json_isakmp.message_layers

    def counted(data, show_secrets=False):
        layers = real(data, show_secrets)
        calls.append((bytes(data), layers))
        return layers
    monkeypatch.setattr(json_isakmp, "message_layers", counted)
    return calls


def records_of(capture, tmp_path):
    """The records of a capture's frames, decoded with its keys."""
    session = _session(capture, tmp_path)
    f, frames = open_capture(capture)
    records = []
    with f:
        try:
            for number, (linktype, stamp, data) in enumerate(frames, 1):
                records.append(session.decode_frame(number, stamp, linktype, data))
        except CaptureError:
            pass
    return records


def isakmp_messages(record):
    """The ISAKMP messages of a record: the frame's, then the decrypted."""
    found = [record.ip.body] if record.ip is not None and record.ip.kind == wire.ISAKMP else []
    return found + [data for kind, data, _ in record.opened if kind == ISAKMP_LAYER]


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: getattr(p, "name", "public"))
def test_frames_as_scapy_dissects_them(capture, tmp_path, built):
    """Every frame's layers are Scapy's; each ISAKMP message (in the frame
    or decrypted) is built unless Scapy flags it, and every one of our own
    captures' is built as its frame's layers are."""
    records = records_of(capture, tmp_path)
    for record in records:
        assert record_layers(record) == _scapy_layers(record), record.frame
    for data, layers in built:
        assert (layers is None) == left_to_scapy(data), data.hex()
    wanted = [m for r in records for m in isakmp_messages(r)]
    if capture.parent == PCAPS:
        assert wanted and [data for data, _ in built] == wanted
        assert all(layers is not None for _, layers in built)
    if not wanted:
        pytest.skip("no ISAKMP message in %s" % capture.name)
    for data in wanted:
        assert (json_isakmp.message_layers(data) is None) == left_to_scapy(data), data.hex()


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: getattr(p, "name", "public"))
def test_mutated_messages_as_scapy_dissects_them(capture, tmp_path):
    """Each message cut at every payload boundary, with each payload
    length made bad, its header length made bad and bits flipped (its
    decrypted form too): the layers built are Scapy's, none is built where
    Scapy flags the message, and of our own captures' a fifth at least are
    built."""
    rng = random.Random(capture.name)
    built = left = 0
    for record in records_of(capture, tmp_path):
        for message in isakmp_messages(record):
            for data in ike_mutations(message, rng):
                layers = json_isakmp.message_layers(data)
                if layers is None:
                    left += 1
                else:
                    built += 1
                    assert not left_to_scapy(data), data.hex()
                    assert layers == scapy_message(data), data.hex()
    if not built + left:
        pytest.skip("no ISAKMP message in %s" % capture.name)
    assert left > 0                     # cut messages at the least
    if capture.parent == PCAPS:
        assert built > left / 4


@pytest.mark.parametrize("capture", sorted(PCAPS.glob("*.pcap")), ids=lambda p: p.stem)
def test_mutated_frames_as_scapy_dissects_them(capture, tmp_path, built):
    """Our captures' frames, each followed by its mutations (over UDP 500
    and behind the non-ESP marker over 4500), decoded with their keys:
    every frame's layers are Scapy's, messages built and left alike."""
    path = tmp_path / "mutated.pcap"
    count = mutated_capture(capture, path)
    for record in mutated_records(capture, path):
        assert record_layers(record) == _scapy_layers(record), record.frame
    assert record.frame == count
    assert sum(layers is None for _, layers in built) > 0
    assert sum(layers is not None for _, layers in built) > 0


def quick_mode(spi=b"\x01\x02\x03\x04", pad=b"\x00\x00\x00\x00"):
    """A clear Quick Mode message: HASH, SA (ESP, one transform), ID
    (a subnet), Notify, Vendor ID (DPD), then padding."""
    transform = ISAKMP_payload_Transform(transform_id="ESP-AES-CBC", transforms=[
        ("KeyLength", 128), ("LifeDuration", 3600), ("EncapsulationMode", "Tunnel")])
    sa = ISAKMP_payload_SA(prop=ISAKMP_payload_Proposal(proto="IPSEC_ESP", SPI=spi,
                                                        trans=transform))
    pkt = (ISAKMP(init_cookie=b"\x11" * 8, resp_cookie=b"\x22" * 8, exch_type="QUICK_MODE",
                  id=0x01020304)
           / ISAKMP_payload_Hash(hash=b"\xaa" * 20) / sa
           / ISAKMP_payload_ID(IDtype="IPV4_ADDR_SUBNET", IdentData="10.0.0.0/24")
           / ISAKMP_payload_Notify(notify_msg_type="INITIAL_CONTACT", SPI=b"\x33" * 16)
           / ISAKMP_payload_VendorID(VendorID=DPD))
    data = bytes(pkt)
    return data[:24] + (len(data) + len(pad)).to_bytes(4, "big") + data[28:] + pad


def test_quick_mode_values():
    data = quick_mode()
    layers = json_isakmp.message_layers(data)
    assert layers == scapy_message(data)
    assert [layer["layer"] for layer in layers] == [
        "ISAKMP", "ISAKMP_payload_Hash", "ISAKMP_payload_SA", "ISAKMP_payload_ID",
        "ISAKMP_payload_Notify", "ISAKMP_payload_VendorID", "Padding"]
    header, _, sa, ident, notify, vid, padding = (layer["fields"] for layer in layers)
    assert header["exch_type"] == {"number": 32, "name": "quick mode"}
    assert header["next_payload"] == {"number": 8, "name": "Hash"}
    assert header["id"] == 0x01020304 and header["length"] == len(data)
    assert sa["next_payload"] == {"number": 5, "name": "ID"}
    proposal = sa["prop"][0]["fields"]
    assert proposal["SPI"] == "01020304" and proposal["proto"]["name"] == "IPSEC-ESP"
    attributes = proposal["trans"][0]["fields"]["transforms"]
    assert [a["type"] for a in attributes] == ["KeyLength", "LifeDuration", "EncapsulationMode"]
    assert ident["IdentData"] == "10.0.0.0/255.255.255.0"
    assert ident["IDtype"] == {"number": 4, "name": "IPV4-ADDR-SUBNET"}
    assert notify["notify_msg_type"] == {"number": 24578, "name": "INITIAL-CONTACT"}
    assert notify["SPI"] == "33" * 16 and notify["notify_data"] == ""
    assert vid["VendorID"] == {"bytes": DPD.hex(), "name": "RFC 3706 DPD"}
    assert padding == {"load": "00000000"}


def test_sa_dissected_once_for_its_spis():
    """Two SAs that differ in the SPI only: dissected once, each with its SPI."""
    first = json_isakmp.message_layers(quick_mode(spi=b"\x0a\x0b\x0c\x0d"))
    dissected = len(json_isakmp._DISSECTED)
    second = json_isakmp.message_layers(quick_mode(spi=b"\x05\x06\x07\x08"))
    assert len(json_isakmp._DISSECTED) == dissected
    assert first[2]["fields"]["prop"][0]["fields"]["SPI"] == "0a0b0c0d"
    assert second[2]["fields"]["prop"][0]["fields"]["SPI"] == "05060708"
    assert second == scapy_message(quick_mode(spi=b"\x05\x06\x07\x08"))


def test_encrypted_body_and_padding_after_the_length():
    data = bytearray(quick_mode(pad=b""))
    data[19] |= 1                       # the E flag: the body is opaque
    data += b"\xee\xee"                 # beyond the header's length
    layers = json_isakmp.message_layers(bytes(data))
    assert layers == scapy_message(bytes(data))
    assert layers[1] == {"layer": "ISAKMP_Encrypted", "fields": {"load": data[28:-2].hex()}}
    assert layers[2] == {"layer": "Padding", "fields": {"load": "eeee"}}


@pytest.mark.parametrize("change", ["fragment", "unknown", "old-draft", "long", "short-id"])
def test_left_to_scapy(change):
    """Messages with what the fast path does not read give None, and the
    frame's layers are still Scapy's."""
    data = bytearray(quick_mode())
    if change == "fragment":
        data = bytearray(bytes(ISAKMP(init_cookie=b"\x11" * 8, exch_type="IDENTITY_PROTECTION")
                               / ISAKMP_payload_Fragment(data=b"\x01" * 8)))
    elif change == "unknown":
        data[16] = 77
    elif change == "old-draft":
        data[16] = PayloadType.NAT_D_OLD_DRAFT
    elif change == "long":
        data[30:32] = (0xFFFF).to_bytes(2, "big")       # the HASH payload's length
    else:
        at = payload_offsets(bytes(data))[2]
        data[at + 2:at + 4] = (10).to_bytes(2, "big")   # the ID's data: 2 bytes, not 8
    data = bytes(data)
    assert json_isakmp.message_layers(data) is None
    frame = bytes(Ether() / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=500, dport=500)
                  / data)
    record = Session().decode_frame(1, 0.0, 1, frame)
    assert record_layers(record) == _scapy_layers(record)
    assert record_layers(record)[3]["layer"] == "ISAKMP"


def test_non_esp_marker_over_4500(built):
    message = quick_mode()
    frame = bytes(Ether() / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=4500, dport=4500)
                  / (b"\x00\x00\x00\x00" + message))
    record = Session().decode_frame(1, 0.0, 1, frame)
    layers = record_layers(record)
    assert layers == _scapy_layers(record)
    assert layers[3] == {"layer": "NON_ESP", "fields": {"non_esp": 0}}
    assert [data for data, _ in built] == [message] and built[0][1] == layers[4:]


def test_secrets_shown_only_when_asked(tmp_path, built):
    """XAuth's password: hidden unless asked, built either way as Scapy's
    dissection shows it."""
    capture = shared_file("strongswan", "mm-psk-xauth-modecfg-aes256-sha256-modp2048.pcap")
    records = records_of(capture, tmp_path)
    passwords = {}
    for secrets in (False, True):
        for record in records:
            assert record_layers(record, secrets) == [
                layer_json(layer, secrets) for pkt in [record.packet] + record.inner
                for layer in pkt.iterpayloads()], record.frame
        passwords[secrets] = [
            attribute["value"] for record in records for layer in record_layers(record, secrets)
            if layer["layer"] == "ISAKMP_payload_Attributes"
            for attribute in layer["fields"]["attributes"]
            if attribute["type"] == "XAUTH_USER_PASSWORD"]
    assert passwords == {False: ["<hidden 0 bytes>", "<hidden 8 bytes>"],
                         True: ["(empty)", "alice-pw"]}
    assert built and all(layers is not None for _, layers in built)
