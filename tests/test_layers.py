"""Building and dissecting single layers: Scapy compatibility, attribute
encodings, identities, computed and forced lengths, Scapy's own vectors."""

import json

import netaddr
import pytest
from scapy.layers import isakmp as scapy_isakmp
from scapy.layers.inet import UDP

from conftest import shared_file
from scapy_ike.constants import IdType, PayloadType, ProtocolId
from scapy_ike.layers import isakmp as L


def test_scapy_names_build_our_classes():
    """Scapy's names (what a Scapy session has) build our layers, and
    Scapy's classes find them with pkt[...]."""
    pkt = scapy_isakmp.ISAKMP() / scapy_isakmp.ISAKMP_payload_SA(
        prop=scapy_isakmp.ISAKMP_payload_Proposal(trans_nb=1, trans=scapy_isakmp.ISAKMP_payload_Transform(
            transforms=[("Encryption", "3DES-CBC"), ("Hash", "SHA")])))
    assert type(pkt) is L.ISAKMP and type(pkt.payload) is L.ISAKMP_payload_SA
    again = scapy_isakmp.ISAKMP(bytes(pkt))
    assert again[scapy_isakmp.ISAKMP_payload_SA].prop.trans.transforms == [
        ("Encryption", "3DES-CBC"), ("Hash", "SHA")]
    assert again.haslayer(scapy_isakmp.ISAKMP_payload_SA)
    assert bytes(pkt)[28 + 12:28 + 20] == bytes.fromhex("0000001801010001")


def test_proposal_with_spi_and_two_proposals():
    """Scapy's own proposal ignores the SPI in the transform length, which
    shifts every later proposal; ours does not, and counts transforms."""
    sa = L.ISAKMP_payload_SA(prop=L.ISAKMP_payload_Proposal(
        proposal=1, proto=ProtocolId.IPSEC_ESP, SPI=b"\x01\x02\x03\x04",
        trans=L.ISAKMP_payload_Transform(transform_id="ESP-AES-CBC", transforms=[("KeyLength", 128)]))
        / L.ISAKMP_payload_Proposal(
        proposal=2, proto=ProtocolId.IPSEC_AH, SPI=b"\x05\x06\x07\x08",
        trans=L.ISAKMP_payload_Transform(transform_id="AH-SHA")))
    wire = bytes(L.ISAKMP(exch_type=32) / sa)
    again = L.ISAKMP(wire)
    props = [p for t, p in L.iter_payloads(again) if t == PayloadType.PROPOSAL]
    assert [(p.proto, p.SPI, p.trans_nb) for p in props] == [
        (3, b"\x01\x02\x03\x04", 1), (2, b"\x05\x06\x07\x08", 1)]
    assert props[0].trans.sprintf("%transform_id%") == "ESP-AES-CBC"
    assert props[1].trans.sprintf("%transform_id%") == "AH-SHA"
    assert props[0].trans.transforms == [("KeyLength", 128)]
    assert bytes(again) == wire and L.malformed(again) == []


def test_attribute_encodings():
    """Basic attributes are TV; big values TLV in four bytes; a dissected
    TLV keeps its length (RFC 2408 3.3)."""
    t = L.ISAKMP_payload_Transform(transforms=[
        ("Encryption", "AES-CBC"), ("LifeDuration", 28800), ("LifeDuration", 86400),
        ("GroupDesc", "ECP256"), ("Authentication", "XAUTH-INIT-PSK")])
    wire = bytes(t)
    assert wire[8:] == bytes.fromhex("80010007" "800c7080" "000c000400015180" "80040013" "8003fde9")
    three_byte = bytes.fromhex("0000001401010000" "000c0003015180" "00")
    again = L.ISAKMP_payload_Transform(three_byte[:-1].replace(b"\x00\x14", b"\x00\x13", 1))
    assert again.transforms == [("LifeDuration", 86400)]
    assert again.transforms[0].tlv == 3
    assert bytes(again) == three_byte[:-1].replace(b"\x00\x14", b"\x00\x13", 1)


def test_ipsec_attribute_names():
    t = L.ISAKMP_payload_Transform(transforms=[
        ("EncapsulationMode", "UDP-TRANSPORT-DRAFT"), ("ExtendedSequenceNumber", 1),
        ("AuthenticationAlgorithm", "HMAC-SHA2-256"), ("GroupDesc", "CURVE25519")])
    p = L.ISAKMP_payload_Proposal(proto=ProtocolId.IPSEC_ESP, SPI=b"abcd", trans=t)
    again = L.ISAKMP_payload_Proposal(bytes(p))
    assert again.trans.transforms == [
        ("EncapsulationMode", "UDP-TRANSPORT-DRAFT"), ("ExtendedSequenceNumber", "ESN-64"),
        ("AuthenticationAlgorithm", "HMAC-SHA2-256"), ("GroupDesc", "CURVE25519")]
    assert bytes(again)[12 + 8:] == bytes.fromhex("8004f004" "800b0001" "80050005" "8003001f")


@pytest.mark.parametrize("idtype,data,wire", [
    (IdType.IPV4_ADDR, "192.0.2.1", "c0000201"),
    (IdType.IPV6_ADDR, "2001:db8::1", "20010db8000000000000000000000001"),
    (IdType.IPV4_ADDR_SUBNET, "198.51.100.0/24", "c6336400ffffff00"),
    (IdType.IPV4_ADDR_SUBNET, "10.0.0.0/255.0.255.0", "0a000000ff00ff00"),
    (IdType.IPV4_ADDR_RANGE, "10.0.0.1-10.0.0.9", "0a0000010a000009"),
    (IdType.IPV6_ADDR_SUBNET, "2001:db8::/32", "20010db8" + "00" * 12 + "ffffffff" + "00" * 12),
    (IdType.IPV6_ADDR_RANGE, "2001:db8::1-2001:db8::9",
     "20010db8" + "00" * 11 + "01" + "20010db8" + "00" * 11 + "09"),
    (IdType.FQDN, b"responder.example", b"responder.example".hex()),
    (IdType.USER_FQDN, b"initiator@example", b"initiator@example".hex()),
    (IdType.KEY_ID, b"\x01\x02", "0102"),
])
def test_identities(idtype, data, wire):
    p = L.ISAKMP_payload_ID(IDtype=idtype, ProtoID=17, Port=500, IdentData=data)
    raw = bytes(p)
    assert raw[4:8] == bytes([idtype, 17, 1, 0xF4]) and raw[8:].hex() == wire
    again = L.ISAKMP_payload_ID(raw)
    assert again.IdentData == data and again.malformed is None


def test_identities_and_netaddr():
    net = L.ISAKMP_payload_ID.from_netaddr(netaddr.IPNetwork("198.51.100.0/24"), ProtoID=6)
    assert (net.IDtype, net.IdentData, net.ProtoID) == (IdType.IPV4_ADDR_SUBNET, "198.51.100.0/24", 6)
    assert net.to_netaddr() == netaddr.IPNetwork("198.51.100.0/24")
    rng = L.ISAKMP_payload_ID.from_netaddr(netaddr.IPRange("2001:db8::1", "2001:db8::9"))
    assert rng.IDtype == IdType.IPV6_ADDR_RANGE
    assert L.ISAKMP_payload_ID(bytes(rng)).to_netaddr() == netaddr.IPRange("2001:db8::1", "2001:db8::9")
    host = L.ISAKMP_payload_ID.from_netaddr(netaddr.IPAddress("192.0.2.1"))
    assert bytes(host)[4] == IdType.IPV4_ADDR and host.to_netaddr() == netaddr.IPAddress("192.0.2.1")
    fqdn = L.ISAKMP_payload_ID(IDtype=IdType.FQDN, IdentData=b"gw.example")
    assert fqdn.to_netaddr() == b"gw.example"


def test_id_with_wrong_address_length_is_flagged():
    raw = bytes.fromhex("0000000b" "01000000" "c00002")
    p = L.ISAKMP_payload_ID(raw)
    assert p.IdentData == b"\xc0\x00\x02"
    assert p.malformed == "IPV4_ADDR data has 3 bytes, expected 4"
    assert bytes(p) == raw


def test_forced_lengths_and_counts_are_kept():
    """Lengths and counts left unset are computed; set ones are sent as
    they are, so malformed messages can be built on purpose."""
    good = L.ISAKMP() / L.ISAKMP_payload_Nonce(nonce=b"n" * 16)
    assert bytes(good)[24:28] == (48).to_bytes(4, "big")
    assert bytes(good)[30:32] == (20).to_bytes(2, "big")
    bad = L.ISAKMP(length=1000) / L.ISAKMP_payload_Nonce(length=3, nonce=b"n" * 16)
    wire = bytes(bad)
    assert wire[24:28] == (1000).to_bytes(4, "big") and wire[30:32] == b"\x00\x03"
    again = L.ISAKMP(wire)
    assert L.malformed(again) == [
        ("ISAKMP", "length 1000 exceeds the 48 bytes present"),
        ("ISAKMP payload", "ISAKMP Nonce length 3 below its minimum 4")]
    assert bytes(again) == wire
    proposal = L.ISAKMP_payload_Proposal(trans_nb=7, trans=L.ISAKMP_payload_Transform())
    assert bytes(proposal)[7] == 7
    delete = L.ISAKMP_payload_Delete(SPIs=[b"abcd", b"efgh"])
    assert bytes(delete)[8:12] == b"\x00\x00\x00\x00"[:0] + bytes([3, 4, 0, 2])


def test_encrypted_body_is_opaque():
    msg = L.ISAKMP(exch_type=2, flags="encryption", next_payload=5) / L.ISAKMP_Encrypted(load=bytes(32))
    again = L.ISAKMP(bytes(msg))
    assert type(again.payload) is L.ISAKMP_Encrypted and again.payload.load == bytes(32)
    assert again.next_payload == 5 and L.malformed(again) == []


def test_truncated_header():
    p = L.ISAKMP(b"\x01" * 20)
    assert type(p) is L.ISAKMP_Truncated and p.malformed == "truncated header: 20 of 28 bytes"
    assert bytes(p) == b"\x01" * 20


def test_vendor_id_names():
    assert L.ISAKMP_payload_VendorID(VendorID=bytes.fromhex("4a131c81070358455c5728f20e95452f")).vendor \
        == "RFC 3947 NAT-T"
    unity = bytes.fromhex("12f5f28c457168a9702d9fe274cc0100")
    assert L.ISAKMP_payload_VendorID(VendorID=unity).vendor == "Cisco Unity"
    ms = bytes.fromhex("1e2b516905991c7d7c96fcbfb587e461") + b"\x00\x00\x00\x09"
    assert L.ISAKMP_payload_VendorID(VendorID=ms).vendor == "Microsoft NT5 ISAKMPOAKLEY"
    assert L.ISAKMP_payload_VendorID(VendorID=b"unknown vendor!!").vendor is None


def test_scapy_isakmp_vectors():
    """Scapy's own isakmp.uts dissections (../shared/testdata/vectors)."""
    vectors = json.loads(shared_file("vectors", "isakmp", "scapy_isakmp_vectors.json").read_text())
    am1, qm = vectors["vectors"]
    pkt = UDP(bytes.fromhex(am1["hex"]))
    head = pkt[L.ISAKMP]
    assert head.init_cookie.hex() == am1["isakmp_header"]["icky"] and head.length == 744
    assert [t for t, _ in L.iter_payloads(head) if t not in (2, 3)] == am1["payload_chain"]
    assert head[L.ISAKMP_payload_Transform].transforms == [
        ("Encryption", "AES-CBC"), ("KeyLength", 128), ("Hash", "MD5"),
        ("GroupDesc", "4096MODPgr"), ("Authentication", "PSK"),
        ("LifeType", "Seconds"), ("LifeDuration", 132)]
    assert len(head[L.ISAKMP_payload_KE].ke) == 512
    assert head[L.ISAKMP_payload_ID].IdentData == "2.2.2.2"
    assert bytes(pkt) == bytes.fromhex(am1["hex"])
    chain = L.ISAKMP_payload_Hash(bytes.fromhex(qm["hex"]))
    assert len(chain.hash) == 16
    prop = chain[L.ISAKMP_payload_Proposal]
    assert (prop.proto, prop.SPI.hex()) == (ProtocolId.IPSEC_ESP, "cc3dae0f")
    assert prop.trans.sprintf("%transform_id%") == "ESP-3DES"
    assert prop.trans.transforms == [
        ("AuthenticationAlgorithm", "HMAC-SHA"), ("GroupDesc", "1024MODPgr"),
        ("EncapsulationMode", "Tunnel"), ("LifeType", "seconds"), ("LifeDuration", 33)]
    ids = [p for p in chain.iterpayloads() if isinstance(p, L.ISAKMP_payload_ID)]
    assert len(ids) == 2
    assert chain.lastlayer().load == bytes(16)
    assert bytes(chain) == bytes.fromhex(qm["hex"])


def test_bind_ports_leaves_the_standard_bindings():
    from scapy.layers.inet import IP, UDP as U
    from scapy.layers.ipsec import ESP
    wire = bytes(IP() / U(sport=15500, dport=15500) / L.ISAKMP(init_cookie=b"12345678"))
    assert not IP(wire).haslayer(L.ISAKMP)
    with L.bind_ports(15500, 14500):
        assert IP(wire)[L.ISAKMP].init_cookie == b"12345678"
        assert IP(bytes(IP() / U(sport=1, dport=14500) / ESP(spi=7))).haslayer(ESP)
    with L.bind_ports(500, 4500):
        pass
    assert not IP(wire).haslayer(L.ISAKMP)
    standard = bytes(IP() / U(sport=500, dport=500) / L.ISAKMP(init_cookie=b"12345678"))
    assert IP(standard).haslayer(L.ISAKMP)
    assert IP(bytes(IP() / U(sport=4500, dport=4500) / ESP(spi=7))).haslayer(ESP)


def test_attribute_numbers():
    """Decoded attributes back to numbers; another space's or malformed
    ones are refused."""
    t = L.ISAKMP_payload_Transform(bytes(L.ISAKMP_payload_Transform(transforms=[
        ("Encryption", "AES-CBC"), ("KeyLength", 256), ("GroupDesc", "2048MODPgr"),
        ("LifeDuration", 86400)])))
    assert L.OAKLEY_ATTRIBUTES.numbers(t.transforms) == {1: 7, 14: 256, 4: 14, 12: 86400}
    with pytest.raises(ValueError, match="unknown attribute type"):
        L.IPSEC_ATTRIBUTES.numbers([("Hash", "SHA")])
    tail = L.OAKLEY_ATTRIBUTES.decode(None, bytes.fromhex("800b0001" + "0001"))
    with pytest.raises(ValueError, match="malformed attribute bytes 0001"):
        L.OAKLEY_ATTRIBUTES.numbers(tail)


@pytest.mark.parametrize("data", [b"\x00", b"\x00\x01", b"\x00\x01\x02"])
def test_a_payload_shorter_than_its_generic_header(data):
    """Fewer bytes than a generic payload header: flagged, every byte kept,
    nothing raised (a truncated capture, a fuzzer)."""
    from scapy_ike.layers.isakmp import ISAKMP_payload_Notify, ISAKMP_payload_SA, malformed
    for cls in (ISAKMP_payload_SA, ISAKMP_payload_Notify):
        pkt = cls(data)
        assert bytes(pkt) == data
        assert malformed(pkt)[0][1] == "%d bytes: shorter than a generic payload header" % len(data)
