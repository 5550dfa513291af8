"""Every payload type of constants.PayloadType, built with our layers:
tshark dissects it with the same values and no malformed warning, Scapy's
own classes dissect it too, and our layers dissect it back to the same
fields and bytes."""

import subprocess
import sys

import pytest
from scapy.layers import isakmp as scapy_isakmp
from scapy.layers.inet import IP, UDP
from scapy.utils import wrpcap

from conftest import need_tool
from scapy_ike.constants import (
    VENDOR_IDS, CertEncoding, ConfigType, ExchangeType, IdType, NotifyType,
    PayloadType, ProtocolId,
)
from scapy_ike.layers import isakmp as L

COOKIE_I, COOKIE_R = bytes.fromhex("0102030405060708"), bytes.fromhex("1112131415161718")
DPD_VID = next(k for k, v in VENDOR_IDS.items() if v == "RFC 3706 DPD")


def _certificate():
    """A self-signed X.509 certificate (DER) and its subject name (DER)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.derive_private_key(0x5CA9E1CE, ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "responder.example")])
    start = datetime.datetime(2026, 1, 1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(7)
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=365))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER), name.public_bytes()


CERT_DER, CA_NAME = _certificate()

IKE_SA = L.ISAKMP_payload_SA(prop=L.ISAKMP_payload_Proposal(
    proto=ProtocolId.ISAKMP, trans=L.ISAKMP_payload_Transform(transforms=[
        ("Encryption", "AES-CBC"), ("KeyLength", 256), ("Hash", "SHA2-256"),
        ("GroupDesc", "2048MODPgr"), ("Authentication", "PSK"),
        ("LifeType", "Seconds"), ("LifeDuration", 86400)])))

ESP_SA = L.ISAKMP_payload_SA(prop=L.ISAKMP_payload_Proposal(
    proposal=1, proto=ProtocolId.IPSEC_ESP, SPI=bytes.fromhex("c0ffee01"),
    trans=L.ISAKMP_payload_Transform(transform_count=1, transform_id="ESP-AES-CBC", transforms=[
        ("KeyLength", 128), ("AuthenticationAlgorithm", "HMAC-SHA"),
        ("EncapsulationMode", "UDP-Encapsulated-Tunnel"), ("LifeType", "seconds"),
        ("LifeDuration", 3600)])
    / L.ISAKMP_payload_Transform(transform_count=2, transform_id="ESP-AES-GCM-16", transforms=[
        ("KeyLength", 256), ("ExtendedSequenceNumber", "ESN-64"),
        ("EncapsulationMode", "UDP-TUNNEL-DRAFT")])))

# payload type: (exchange, payload, {tshark field: value}, tshark can dissect)
SAMPLES = {
    PayloadType.SA: (ExchangeType.IDENTITY_PROTECTION, IKE_SA, {
        "isakmp.sa.doi": "1", "isakmp.prop.protoid": "1",
        "isakmp.ike.attr.encryption_algorithm": "7", "isakmp.ike.attr.key_length": "256",
        "isakmp.ike.attr.hash_algorithm": "4", "isakmp.ike.attr.group_description": "14",
        "isakmp.ike.attr.life_duration": "86400"}),
    PayloadType.PROPOSAL: (ExchangeType.QUICK_MODE, ESP_SA, {
        "isakmp.prop.protoid": "3", "isakmp.spi": "c0ffee01", "isakmp.prop.transforms": "2",
        "isakmp.trans.id": "12,20"}),
    PayloadType.TRANSFORM: (ExchangeType.QUICK_MODE, ESP_SA, {
        "isakmp.ipsec.attr.encap_mode": "3,61443", "isakmp.ipsec.attr.auth_algorithm": "2",
        "isakmp.ipsec.attr.ext_seq_nbr": "1", "isakmp.ipsec.attr.key_length": "128,256"}),
    PayloadType.KE: (ExchangeType.IDENTITY_PROTECTION, L.ISAKMP_payload_KE(ke=bytes(range(128))),
                     {"isakmp.key_exchange.data": bytes(range(128)).hex()}),
    PayloadType.ID: (ExchangeType.QUICK_MODE, L.ISAKMP_payload_ID(
        IDtype=IdType.IPV4_ADDR_SUBNET, ProtoID=17, Port=500, IdentData="198.51.100.0/24"),
        {"isakmp.id.type": "4", "isakmp.id.protoid": "17", "isakmp.id.port": "500",
         "isakmp.id.data.ipv4_addr": "198.51.100.0",
         "isakmp.id.data.ipv4_subnet": "255.255.255.0"}),
    PayloadType.CERT: (ExchangeType.IDENTITY_PROTECTION, L.ISAKMP_payload_CERT(
        cert_encoding=CertEncoding.X509_SIG, cert_data=CERT_DER),
        {"isakmp.cert.encoding": "4", "x509af.serialNumber": "07"}),
    PayloadType.CR: (ExchangeType.IDENTITY_PROTECTION, L.ISAKMP_payload_CR(
        cert_type=CertEncoding.X509_SIG, cert_authority=CA_NAME),
        {"isakmp.certreq.type": "4", "x509sat.uTF8String": "responder.example"}),
    PayloadType.HASH: (ExchangeType.AGGRESSIVE, L.ISAKMP_payload_Hash(hash=bytes(range(20))),
                       {"isakmp.hash": bytes(range(20)).hex()}),
    PayloadType.SIG: (ExchangeType.AGGRESSIVE, L.ISAKMP_payload_SIG(sig=bytes(range(64))),
                      {"isakmp.sig": bytes(range(64)).hex()}),
    PayloadType.NONCE: (ExchangeType.AGGRESSIVE, L.ISAKMP_payload_Nonce(nonce=bytes(range(32))),
                        {"isakmp.nonce": bytes(range(32)).hex()}),
    PayloadType.NOTIFICATION: (ExchangeType.INFORMATIONAL, L.ISAKMP_payload_Notify(
        notify_msg_type=NotifyType.R_U_THERE, SPI=COOKIE_I + COOKIE_R,
        notify_data=b"\x00\x00\x00\x2a"),
        {"isakmp.notify.msgtype": "36136", "isakmp.spi": (COOKIE_I + COOKIE_R).hex(),
         "isakmp.notify.data.dpd.are_you_there": "42"}),
    PayloadType.DELETE: (ExchangeType.INFORMATIONAL, L.ISAKMP_payload_Delete(
        proto=ProtocolId.IPSEC_ESP, SPIs=[b"\xaa\xbb\xcc\xdd", b"\x11\x22\x33\x44"]),
        {"isakmp.spinum": "2", "isakmp.delete.spi": "aabbccdd,11223344"}),
    PayloadType.VENDOR_ID: (ExchangeType.IDENTITY_PROTECTION, L.ISAKMP_payload_VendorID(
        VendorID=DPD_VID), {"isakmp.vid_bytes": DPD_VID.hex()}),
    PayloadType.ATTRIBUTES: (ExchangeType.TRANSACTION, L.ISAKMP_payload_Attributes(
        type=ConfigType.CFG_REPLY, identifier=0x1234, attributes=[
            ("INTERNAL_IP4_ADDRESS", "198.51.100.65"), ("INTERNAL_IP4_DNS", "198.51.100.53"),
            ("XAUTH_USER_NAME", b"alice"), ("XAUTH_STATUS", "OK")]),
        {"isakmp.cfg.type": "2", "isakmp.cfg.identifier": "4660",
         "isakmp.cfg.attr.internal_ip4_address": "198.51.100.65",
         "isakmp.cfg.attr.internal_ip4_dns": "198.51.100.53",
         "isakmp.cfg.attr.xauth.user_name": "alice", "isakmp.cfg.attr.xauth.status": "1"}),
    # tshark 4.0 reads 15/16 as GDOI's SAK/SAT: no tshark check for these two
    PayloadType.NAT_D_OLD_DRAFT: (ExchangeType.IDENTITY_PROTECTION,
                                  L.ISAKMP_payload_NAT_D_OldDraft(hash=bytes(20)), None),
    PayloadType.NAT_OA_OLD_DRAFT: (ExchangeType.QUICK_MODE,
                                   L.ISAKMP_payload_NAT_OA_OldDraft(address="192.0.2.7"), None),
    PayloadType.NAT_D: (ExchangeType.IDENTITY_PROTECTION, L.ISAKMP_payload_NAT_D(hash=bytes(range(20))),
                        {"isakmp.ike.nat_hash": bytes(range(20)).hex()}),
    PayloadType.NAT_OA: (ExchangeType.QUICK_MODE, L.ISAKMP_payload_NAT_OA(address="192.0.2.7"),
                         {"isakmp.ike.nat_original_address_ipv4": "192.0.2.7"}),
    PayloadType.NAT_D_DRAFT: (ExchangeType.IDENTITY_PROTECTION,
                              L.ISAKMP_payload_NAT_D_Draft(hash=bytes(range(20))),
                              {"isakmp.ike.nat_hash": bytes(range(20)).hex()}),
    PayloadType.NAT_OA_DRAFT: (ExchangeType.QUICK_MODE,
                               L.ISAKMP_payload_NAT_OA_Draft(id_type=IdType.IPV6_ADDR, address="2001:db8::7"),
                               {"isakmp.ike.nat_original_address_ipv6": "2001:db8::7"}),
    PayloadType.FRAGMENT: (ExchangeType.IDENTITY_PROTECTION, L.ISAKMP_payload_Fragment(
        fragment_id=7, fragment_number=2, flags="last", data=b"fragment-bytes"),
        {"isakmp.frag.packetid": "0x0007", "isakmp.frag.seq": "2", "isakmp.frag.last": "1"}),
}


def message(ptype):
    exchange, payload, _ = SAMPLES[ptype]
    return L.ISAKMP(init_cookie=COOKIE_I, resp_cookie=COOKIE_R, exch_type=exchange,
                    id=0 if exchange in (2, 4) else 0x01020304) / payload.copy()


def test_every_payload_type_has_a_sample_and_a_class():
    types = [t for t in PayloadType if t != PayloadType.NONE]
    assert sorted(SAMPLES) == sorted(types)
    for t in types:
        assert t in L.PAYLOAD_CLASSES, t


@pytest.mark.parametrize("ptype", [t for t in PayloadType if t != PayloadType.NONE],
                         ids=lambda t: t.name)
def test_we_dissect_what_we_build(ptype):
    built = message(ptype)
    wire = bytes(built)
    again = L.ISAKMP(wire)
    assert bytes(again) == wire
    assert L.malformed(again) == []
    kinds = [t for t, _ in L.iter_payloads(again)]
    assert ptype in kinds
    first = again.payload
    assert type(first) is type(built.payload)
    for field in built.payload.fields_desc:
        if field.name not in ("length", "prop", "trans_nb", "SPIsize", "SPIcount",
                              "next_payload"):
            assert first.getfieldval(field.name) == built.payload.getfieldval(field.name), field.name
    assert again.length == len(wire) and first.length == len(wire) - 28


def test_tshark_dissects_what_we_build(tmp_path):
    tshark = need_tool("tshark")
    checked = [t for t in SAMPLES if SAMPLES[t][2] is not None]
    frames = [IP(src="192.0.2.2", dst="192.0.2.1") / UDP(sport=500, dport=500) / message(t)
              for t in checked]
    pcap = tmp_path / "built.pcap"
    wrpcap(str(pcap), frames)
    fields = sorted({f for t in checked for f in SAMPLES[t][2]})
    columns = ["frame.number", "_ws.malformed", "_ws.expert.severity", "isakmp.typepayload"] + fields
    out = subprocess.run(
        [tshark, "-n", "-r", str(pcap), "-T", "fields", "-E", "separator=\t",
         "-E", "occurrence=a", "-E", "aggregator=,"] + [a for c in columns for a in ("-e", c)],
        capture_output=True, text=True, timeout=60, check=True).stdout
    rows = [dict(zip(columns, line.split("\t"))) for line in out.splitlines()]
    assert len(rows) == len(checked)
    for ptype, row in zip(checked, rows):
        assert row["_ws.malformed"] == "", ptype
        assert str(int(ptype)) in row["isakmp.typepayload"].split(","), ptype
        for field, value in SAMPLES[ptype][2].items():
            assert row[field] == value, (ptype, field, row[field])


SCAPY_ONLY = r'''
import sys
from scapy.layers import isakmp as S
assert "scapy_ike.layers" not in sys.modules   # Scapy 2.6 imports our top package, no more
for line in sys.stdin:
    name, hexwire = line.split()
    p = S.ISAKMP(bytes.fromhex(hexwire))
    first = p.payload
    print(name, type(first).__name__, first.length, bytes(first)[4:first.length].hex())
'''


def test_scapy_own_classes_dissect_what_we_build():
    """In a process where only scapy.layers.isakmp is loaded, every message
    dissects; payloads Scapy knows get its class, the rest its generic
    payload, each with the right length and body."""
    lines = "".join("%s %s\n" % (t.name, bytes(message(t)).hex()) for t in SAMPLES)
    out = subprocess.run([sys.executable, "-c", SCAPY_ONLY], input=lines, text=True,
                         capture_output=True, timeout=120, check=True).stdout
    seen = {}
    for line in out.splitlines():
        name, cls, length, body = line.split()
        seen[PayloadType[name]] = (cls, int(length), body)
    assert set(seen) == set(SAMPLES)
    known = {PayloadType.SA: "ISAKMP_payload_SA", PayloadType.PROPOSAL: "ISAKMP_payload_SA",
             PayloadType.TRANSFORM: "ISAKMP_payload_SA", PayloadType.KE: "ISAKMP_payload_KE",
             PayloadType.ID: "ISAKMP_payload_ID", PayloadType.HASH: "ISAKMP_payload_Hash",
             PayloadType.NONCE: "ISAKMP_payload_Nonce",
             PayloadType.NOTIFICATION: "ISAKMP_payload_Notify",
             PayloadType.DELETE: "ISAKMP_payload_Delete",
             PayloadType.VENDOR_ID: "ISAKMP_payload_VendorID"}
    if hasattr(scapy_isakmp, "ISAKMP_payload_SIG"):        # Scapy 2.6.2 and later
        known[PayloadType.SIG] = "ISAKMP_payload_SIG"
    for ptype, (cls, length, body) in seen.items():
        ours = message(ptype)
        wire = bytes(ours.payload)
        assert cls == known.get(ptype, "ISAKMP_payload"), ptype
        assert length == len(wire)
        assert body == wire[4:].hex()
