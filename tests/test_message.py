"""The engine's struct view of ISAKMP messages agrees with the Scapy
layers byte for byte, and rejects malformed chains with a reason; Quick
Mode identities of traffic selectors."""

import ipaddress

import pytest
from scapy.layers.inet import UDP

from scapy_ike.constants import Flags, IdType, PayloadType as T
from scapy_ike.core.config import Identity
from scapy_ike.core.message import (
    Message, MessageError, body_of, encode_header, encode_payloads,
)
from scapy_ike.layers.isakmp import (
    ISAKMP, ISAKMP_payload_ID, ISAKMP_payload_Notify, iter_payloads, malformed,
)

from conftest import PCAPS, read_capture

COOKIES = bytes(range(8)), bytes(range(8, 16))


def _message(payloads, exch=2, flags=0, mid=0):
    body = encode_payloads(payloads)
    return encode_header(*COOKIES, payloads[0][0], exch, flags, mid, 28 + len(body)) + body


def test_encoded_message_dissects_in_scapy():
    notify = body_of(ISAKMP_payload_Notify(doi=1, proto=1, SPI=b"".join(COOKIES),
                                           notify_msg_type=24578))
    payloads = [(T.KE, b"\x01" * 32), (T.NONCE, b"\x02" * 16), (T.NAT_D, b"\x03" * 20),
                (T.NOTIFICATION, notify)]
    data = _message(payloads, exch=5, mid=0x01020304)
    pkt = ISAKMP(data)
    assert not malformed(pkt)
    assert (pkt.init_cookie, pkt.resp_cookie, pkt.exch_type, pkt.id, pkt.length,
            pkt.version) == (*COOKIES, 5, 0x01020304, len(data), 0x10)
    got = [(t, bytes(layer)[4:layer.length]) for t, layer in iter_payloads(pkt)]
    assert got == payloads
    assert pkt[ISAKMP_payload_Notify].notify_msg_type == 24578


@pytest.mark.parametrize("name", sorted(p.name for p in PCAPS.glob("*.pcap")))
def test_parse_equals_scapy_on_recorded_captures(name):
    """Every clear message of our captures: the same payload types and
    bytes as Scapy's top-level chain (an SA counts once, its proposals
    inside it)."""
    checked = 0
    for packet in read_capture(PCAPS / name):
        if not packet.haslayer(UDP):
            continue
        data = bytes(packet[UDP].payload)
        if packet[UDP].dport != 500:
            if data[:4] != bytes(4) or len(data) < 32:
                continue
            data = data[4:]
        msg = Message.parse(data)
        pkt = ISAKMP(data)
        assert (msg.cky_i, msg.cky_r, msg.exch_type, msg.message_id, msg.flags) == (
            pkt.init_cookie, pkt.resp_cookie, pkt.exch_type, pkt.id, pkt.flags)
        if msg.flags & Flags.ENCRYPTION:
            assert msg.payloads == () and len(msg.body) == pkt.length - 28
            continue
        top, layer = [], pkt.payload
        ptype = pkt.next_payload
        while ptype:
            top.append((ptype, bytes(layer)[:layer.length]))
            ptype, layer = layer.next_payload, layer.payload
        assert list(msg.payloads) == top
        checked += 1
    assert checked >= 2


def test_opened_body_drops_padding():
    payloads = [(T.HASH, b"\x05" * 20), (T.NONCE, b"\x06" * 16)]
    head = Message.parse(encode_header(*COOKIES, T.HASH, 32, Flags.ENCRYPTION, 7, 44)
                         + bytes(16))
    msg = head.opened(encode_payloads(payloads) + bytes(12))
    assert msg.flags == 0 and msg.message_id == 7
    assert [(t, raw[4:]) for t, raw in msg.payloads] == payloads
    assert msg.bodies(T.NONCE) == [b"\x06" * 16]


@pytest.mark.parametrize("data, reason", [
    (bytes(27), "27 bytes: shorter than the ISAKMP header"),
    (encode_header(*COOKIES, 0, 2, 0, 0, 40), "header length 40, datagram 28 bytes"),
    (encode_header(*COOKIES, 0, 2, 0, 0, 20), "header length 20, datagram 28 bytes"),
    (encode_header(*COOKIES, T.KE, 2, 0, 0, 30) + b"\x00\x00", "payload 4: truncated generic"),
    (encode_header(*COOKIES, T.KE, 2, 0, 0, 32) + b"\x00\x00\x00\x02",
     "payload 4: length 2 with 4 bytes left"),
    (encode_header(*COOKIES, T.KE, 2, 0, 0, 34) + b"\x0a\x00\x00\x06\x00\x00",
     "payload 10: truncated generic header"),
])
def test_malformed_messages_say_why(data, reason):
    with pytest.raises(MessageError, match=reason):
        Message.parse(data)


def test_payload_count_is_bounded():
    data = _message([(T.VENDOR_ID, b"")] * 101)
    with pytest.raises(MessageError, match="more than 100 payloads"):
        Message.parse(data)
    assert len(Message.parse(_message([(T.VENDOR_ID, b"")] * 100)).payloads) == 100


@pytest.mark.parametrize("text, id_type", [
    ("198.51.100.1/32", IdType.IPV4_ADDR),
    ("198.51.100.0/24", IdType.IPV4_ADDR_SUBNET),
    ("2001:db8::1/128", IdType.IPV6_ADDR),
    ("2001:db8::/48", IdType.IPV6_ADDR_SUBNET),
])
def test_traffic_selector_identities(text, id_type):
    """Our ID bodies equal what Scapy's ID layer builds, and read back."""
    network = ipaddress.ip_network(text)
    ident = Identity.of_network(network)
    assert ident.id_type == id_type
    shown = (str(network.network_address) if network.prefixlen == network.max_prefixlen
             else text)
    assert ident.body() == body_of(ISAKMP_payload_ID(IDtype=id_type, IdentData=shown))
    assert Identity.from_body(ident.body()).network() == network


@pytest.mark.parametrize("body", [
    bytes([IdType.IPV4_ADDR_SUBNET, 0, 0, 0]) + bytes([192, 0, 2, 0, 255, 0, 255, 0]),
    bytes([IdType.IPV4_ADDR_RANGE, 0, 0, 0]) + bytes([192, 0, 2, 1, 192, 0, 2, 9]),
    bytes([IdType.IPV4_ADDR, 0, 0, 0]) + bytes(3),
    bytes([IdType.FQDN, 0, 0, 0]) + b"a.b",
    b"\x01",
])
def test_identities_that_name_no_network(body):
    assert Identity.from_body(body).network() is None


def test_sa_payloads_read_with_struct_agree_with_the_layers():
    """Every SA payload of our captures reads the same with struct as with
    the Scapy layers: proposal numbers, protocols, SPIs, transform numbers,
    IDs and attributes; a responder's answer echoes one transform and
    dissects as one."""
    from scapy_ike.core.message import encode_sa, parse_sa
    from scapy_ike.layers.isakmp import ISAKMP_payload_SA
    from scapy_ike.core.proposals import offered_transforms
    seen = 0
    for pcap in sorted(PCAPS.glob("*.pcap")):
        for packet in read_capture(pcap):
            if not packet.haslayer(ISAKMP_payload_SA) or packet[ISAKMP].flags & Flags.ENCRYPTION:
                continue
            layer = packet[ISAKMP_payload_SA]
            wire = parse_sa(bytes(layer)[4:layer.length])
            theirs = [(p.proposal, p.proto, bytes(p.SPI), t.transform_count, t.transform_id,
                       [tuple(a) for a in t.transforms]) for p, t in offered_transforms(layer)]
            ours = [(p.proposal, p.proto, p.SPI, t.transform_count, t.transform_id,
                     [tuple(a) for a in t.transforms]) for p, t in offered_transforms(wire)]
            assert ours == theirs and ours
            prop, transform = next(offered_transforms(wire))
            answer = ISAKMP_payload_SA(b"\x00\x00" + (4 + len(encode_sa(prop, transform, b"\x01" * 4))
                                                      ).to_bytes(2, "big")
                                       + encode_sa(prop, transform, b"\x01" * 4))
            (echoed,) = [t for _, t in offered_transforms(answer)]
            assert bytes(answer.prop.SPI) == b"\x01" * 4 and echoed.next_payload == 0
            assert [tuple(a) for a in echoed.transforms] == [tuple(a) for a in transform.transforms]
            seen += 1
    assert seen >= 8


@pytest.mark.parametrize("body,reason", [
    (b"\x00\x00\x00\x01", "SA payload: 4 bytes"),
    (b"\x00\x00\x00\x01\x00\x00\x00\x02", "SA payload: situation 0x2"),
    (b"\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x40", "payload 2: length 64 with 4 bytes left"),
    (b"\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x08\x01\x01\x10\x01",
     "proposal payload: SPI of 16 bytes in 8"),
])
def test_malformed_sa_payloads_say_why(body, reason):
    from scapy_ike.core.message import parse_sa
    with pytest.raises(MessageError, match=reason.replace("(", r"\(")):
        parse_sa(body)


def test_notify_and_delete_bodies_agree_with_the_layers():
    """What the engine writes with struct is what the Scapy layers build,
    and what it reads is what they dissect."""
    from scapy_ike.core.message import encode_delete, encode_notify, parse_delete, parse_notify
    from scapy_ike.layers.isakmp import ISAKMP_payload_Delete
    cookies = b"".join(COOKIES)
    for proto, spi, kind, data in [(1, cookies, 24578, b""), (3, b"\x01\x02\x03\x04", 24576,
                                                            b"\x80\x01\x00\x01"),
                                   (1, cookies, 36136, b"\x00\x00\x03\xe8")]:
        ours = encode_notify(proto, spi, kind, data)
        assert ours == body_of(ISAKMP_payload_Notify(doi=1, proto=proto, SPI=spi,
                                                     notify_msg_type=kind, notify_data=data))
        read = parse_notify(ours)
        assert (read.doi, read.proto, read.SPI, read.notify_msg_type, read.notify_data) == (
            1, proto, spi, kind, data)
    assert parse_notify(encode_notify(1, b"", 14)).name == "NO-PROPOSAL-CHOSEN"
    spis = [b"\x11" * 4, b"\x22" * 4]
    assert encode_delete(3, spis) == body_of(ISAKMP_payload_Delete(proto=3, SPIs=spis))
    assert parse_delete(encode_delete(3, spis)).SPIs == tuple(spis)
    with pytest.raises(MessageError, match="delete payload: 3 SPIs of 4 bytes in 16"):
        parse_delete(encode_delete(3, spis)[:6] + b"\x00\x03" + b"\x00" * 8)
