"""Every clear-text IKEv1 message of the public captures dissects to what
tshark and the manifests say (../shared/testdata/MANIFEST.md,
strongswan/README.md), builds back to the same bytes, and is flagged when
malformed."""

import pytest
from scapy.layers.inet import UDP
from scapy.layers.ipsec import ESP, NAT_KEEPALIVE, NON_ESP

from conftest import PCAPS, TESTDATA, need_tool, read_capture, shared_file
from scapy_ike.constants import IdType, PayloadType
from scapy_ike.layers.isakmp import (
    ISAKMP, ISAKMP_Encrypted, ISAKMP_payload_Hash, ISAKMP_payload_ID,
    ISAKMP_payload_KE, ISAKMP_payload_NAT_D, ISAKMP_payload_NAT_D_OldDraft,
    ISAKMP_payload_Nonce, ISAKMP_payload_Transform,
    ISAKMP_payload_VendorID, iter_payloads, malformed,
)
from tshark_fields import HEADER_COLUMNS, PAYLOAD_COLUMNS, our_fields, read_tsv, tshark_fields

TSV_CAPTURES = {
    "ISAKMP_sa_setup.pcap": "tcpdump",
    "ikev1-bug-12610.pcapng.gz": "wireshark",
    "ipsec-ikev1-isakmp-aggressive-mode.pcap": "zeek-spicy-ipsec",
    "ipsec-ikev1-isakmp-main-mode.pcap": "zeek-spicy-ipsec",
    "isakmp4500.pcap": "tcpdump",
}

KNOWN_TSHARK_ERRORS = {
    # tshark 4.0 reads payload 15 as GDOI's SAK, calls it malformed and
    # stops; in this Main Mode exchange it is the first NAT-T drafts' NAT-D,
    # and two of them follow the VIDs (see test_nat_t_old_draft_numbers).
    ("ISAKMP_sa_setup.pcap", 3, "isakmp.typepayload"): "4,10,13,13,13,13,15,15",
    ("ISAKMP_sa_setup.pcap", 4, "isakmp.typepayload"): "4,10,13,13,13,13,15,15",
}

MALFORMED_CAPTURES = [
    "tcpdump/malformed/isakmp-pointer-loop.pcap",
    "tcpdump/malformed/isakmp-delete-segfault.pcap",
    "tcpdump/malformed/isakmp-ikev1_n_print-oobr.pcap",
    "tcpdump/malformed/ikev1_id_ipv6_addr_subnet-oobr.pcap",
    "tcpdump/malformed/isakmp-various-oobr.pcap",
    "tcpdump/malformed/isakmpv1-attr-oobr.pcap",
    "tcpdump/malformed/isakmp-no-none-np.pcapng",
    "zeek-spicy-ipsec/ipsec-ikev1-payload-bad-length.pcap",
    "zeek-spicy-ipsec/ipsec-ikev1-zero-length.pcap",
]


def isakmp_frames(path):
    """``(frame number, packet, ISAKMP header)`` of a capture."""
    for number, pkt in enumerate(read_capture(path), 1):
        if ISAKMP in pkt:
            yield number, pkt, pkt[ISAKMP]


def all_captures():
    if not TESTDATA.is_dir():
        return []
    found = [p for p in sorted(TESTDATA.rglob("*.pcap*")) if "expected" not in p.parts]
    return found + sorted(PCAPS.glob("*.pcap"))


@pytest.mark.parametrize("name", sorted(TSV_CAPTURES))
def test_expected_tsv_columns(name):
    """Every ISAKMP column of expected/*.tsv, every frame: the header of
    each message, and every payload column of the clear-text ones."""
    capture = shared_file(TSV_CAPTURES[name], name)
    expected = read_tsv(shared_file("expected", name + ".tshark-fields.tsv"))
    compared = 0
    for number, pkt, _ in isakmp_frames(capture):
        ours, row = our_fields(pkt), expected[number]
        columns = HEADER_COLUMNS + (PAYLOAD_COLUMNS if row["isakmp.flag_e"] == "0" else [])
        for column in columns:
            want = KNOWN_TSHARK_ERRORS.get((name, number, column), row[column])
            assert ours[column] == want, (number, column)
            compared += 1
    assert compared >= 20


@pytest.mark.interop
@pytest.mark.parametrize("capture", all_captures(), ids=lambda p: p.name)
def test_tshark_live(capture):
    """tshark, run now, agrees with every column of every well-formed
    ISAKMP frame (the malformed ones are flagged, see below)."""
    tshark = need_tool("tshark")
    theirs = tshark_fields(tshark, capture)
    seen = 0
    for number, pkt, head in isakmp_frames(capture):
        if malformed(head):
            continue
        ours = our_fields(pkt)
        for column in ["udp.srcport", "udp.dstport"] + HEADER_COLUMNS + PAYLOAD_COLUMNS:
            want = KNOWN_TSHARK_ERRORS.get((capture.name, number, column),
                                           theirs[number][column])
            assert ours[column] == want, (number, column)
        seen += 1
    assert seen == len([n for n in theirs if n not in _malformed_frames(capture)])


def _malformed_frames(capture):
    return {n for n, _, head in isakmp_frames(capture) if malformed(head)}


@pytest.mark.parametrize("capture", all_captures(), ids=lambda p: p.name)
def test_byte_identity(capture):
    """bytes(pkt) is the captured message, also after clearing every length
    and count field so that they are computed again."""
    for number, pkt, head in isakmp_frames(capture):
        wire = bytes(pkt[UDP].payload)
        if NON_ESP in pkt:
            wire = wire[4:]
        assert bytes(head) == wire, number
        if malformed(head):
            continue
        fresh = head.copy()
        for layer in [fresh] + [p for _, p in iter_payloads(fresh)]:
            for field in ("length", "trans_nb", "SPIsize", "SPIcount"):
                if field in layer.fields:
                    setattr(layer, field, None)
        assert bytes(fresh) == wire, number


@pytest.mark.parametrize("path", MALFORMED_CAPTURES)
def test_malformed_captures_flagged(path):
    """The tcpdump and Zeek malformed captures dissect, keep every byte and
    carry a reason."""
    capture = shared_file(*path.split("/"))
    frames = list(isakmp_frames(capture))
    assert frames
    flagged = 0
    for number, pkt, head in frames:
        wire = bytes(pkt[UDP].payload)[4 if NON_ESP in pkt else 0:]
        assert bytes(head) == wire, number
        flagged += bool(malformed(head))
    assert flagged >= 1


def test_malformed_reasons_are_specific():
    zero = next(isakmp_frames(shared_file("zeek-spicy-ipsec", "ipsec-ikev1-zero-length.pcap")))[2]
    assert malformed(zero) == [("ISAKMP", "length 0 is shorter than the header")]
    bad = next(isakmp_frames(shared_file("zeek-spicy-ipsec", "ipsec-ikev1-payload-bad-length.pcap")))[2]
    assert malformed(bad) == [("ISAKMP payload", "ISAKMP Vendor ID length 3 below its minimum 4")]
    loop = next(isakmp_frames(shared_file("tcpdump", "malformed", "isakmp-pointer-loop.pcap")))[2]
    assert malformed(loop)[0] == ("ISAKMP", "length 0 is shorter than the header")


def test_chain_without_none_is_flagged():
    """tcpdump's isakmp-no-none-np: the last notification of the declared
    84 bytes announces another payload; the 2102 bytes after the declared
    length are padding, not more notifications."""
    head = next(isakmp_frames(shared_file("tcpdump", "malformed", "isakmp-no-none-np.pcapng")))[2]
    notifies = [p for _, p in iter_payloads(head)]
    assert [p.sprintf("%notify_msg_type%") for p in notifies] == ["INVALID-MAJOR-VERSION"] * 2
    assert malformed(head) == [("ISAKMP Notify (Notification)",
                                "next payload Notification announced, no bytes left")]
    assert len(notifies[-1].payload.load) == 2102


def test_well_formed_fuzzer_captures():
    """A tcpdump crash reproducer that is well-formed ISAKMP: an ID payload
    with 248 zero bytes of FQDN."""
    head = next(isakmp_frames(shared_file("tcpdump", "malformed", "isakmp-identification-segfault.pcap")))[2]
    assert malformed(head) == []
    ident = head[ISAKMP_payload_ID]
    assert (ident.IDtype, ident.IdentData) == (IdType.FQDN, bytes(248))


def test_nat_t_old_draft_numbers():
    """Frames 3-4 of ISAKMP_sa_setup carry payload type 15 in Main Mode.

    IANA gave 15 to GDOI's SAK, but SAK only travels in GDOI's
    GROUPKEY-PULL/PUSH exchanges; in an Identity Protection exchange whose
    first messages offered the NAT-T draft vendor IDs, 15 is the NAT-D of
    draft-ietf-ipsec-nat-t-ike-00/01: a 20-byte SHA-1 hash, two of them (the
    peer's and our address), as tcpdump's "(pay15)" lines show."""
    frames = {n: head for n, _, head in isakmp_frames(
        shared_file("tcpdump", "ISAKMP_sa_setup.pcap"))}
    vids = {p.vendor for _, p in iter_payloads(frames[1]) if isinstance(p, ISAKMP_payload_VendorID)}
    assert "draft-ietf-ipsec-nat-t-ike-02\\n" in vids or "draft-ietf-ipsec-nat-t-ike-02" in vids
    for n in (3, 4):
        assert frames[n].exch_type == 2
        natd = [p for _, p in iter_payloads(frames[n]) if isinstance(p, ISAKMP_payload_NAT_D)]
        assert [type(p) for p in natd] == [ISAKMP_payload_NAT_D_OldDraft] * 2
        assert [len(p.hash) for p in natd] == [20, 20]
        assert not malformed(frames[n])


def test_sa_setup_transform_values():
    """tcpdump's isakmp5-v.out: enc=aes keylen=0080 hash=sha1
    group desc=modp768 auth=preshared lifeduration 00015180, KE 96 bytes,
    nonce 20 bytes, then encrypted ID and HASH."""
    frames = {n: head for n, _, head in isakmp_frames(shared_file("tcpdump", "ISAKMP_sa_setup.pcap"))}
    assert frames[1][ISAKMP_payload_Transform].transforms == [
        ("Encryption", "AES-CBC"), ("KeyLength", 128), ("Hash", "SHA"),
        ("GroupDesc", "768MODPgr"), ("Authentication", "PSK"),
        ("LifeType", "Seconds"), ("LifeDuration", 0x15180)]
    assert len(frames[3][ISAKMP_payload_KE].ke) == 96
    assert len(frames[3][ISAKMP_payload_Nonce].nonce) == 20
    assert frames[5].flags == 1 and len(frames[5][ISAKMP_Encrypted].load) == 80


def test_suricata_main_mode_values():
    """suricata-verify's expectations for the Zeek Main Mode capture."""
    frames = {n: head for n, _, head in isakmp_frames(
        shared_file("zeek-spicy-ipsec", "ipsec-ikev1-isakmp-main-mode.pcap"))}
    assert frames[1].init_cookie.hex() == "e47a591fd057587f"
    assert frames[2].resp_cookie.hex() == "a00b8ef0902bb8ec"
    assert frames[3][ISAKMP_payload_Nonce].nonce.hex() == "89d7c8fbf94b515b521d5d9589c2602021e1a709"
    assert frames[4][ISAKMP_payload_Nonce].nonce.hex() == "15b688421ed5c3dd92d3b86e47a76f0d39cc09e0"
    assert frames[2][ISAKMP_payload_Transform].transforms == [
        ("Encryption", "AES-CBC"), ("KeyLength", 128), ("Hash", "SHA"),
        ("GroupDesc", "1024MODPgr"), ("Authentication", "PSK"),
        ("LifeType", "Seconds"), ("LifeDuration", 86400)]


def test_zeek_aggressive_mode_values():
    frames = {n: head for n, _, head in isakmp_frames(
        shared_file("zeek-spicy-ipsec", "ipsec-ikev1-isakmp-aggressive-mode.pcap"))}
    am1 = frames[1][ISAKMP_payload_ID]
    assert (am1.IDtype, am1.IdentData, am1.ProtoID) == (IdType.IPV4_ADDR, "192.168.12.2", 17)
    am2 = [t for t, _ in iter_payloads(frames[2])]
    assert am2.count(PayloadType.NAT_D) == 2
    assert len(frames[2][ISAKMP_payload_Hash].hash) == 20
    assert frames[3].flags == 1


def test_wireshark_12610_clear_text():
    """Frame 1 offers XAUTHInitPreShared with AES-256/SHA2-256/group 2 among
    its transforms and the Cisco Unity, XAUTH, NAT-T and DPD vendor IDs."""
    frames = {n: head for n, _, head in isakmp_frames(
        shared_file("wireshark", "ikev1-bug-12610.pcapng.gz"))}
    vids = {p.vendor for _, p in iter_payloads(frames[1]) if isinstance(p, ISAKMP_payload_VendorID)}
    assert {"Cisco Unity", "XAUTH", "RFC 3947 NAT-T", "RFC 3706 DPD"} <= vids
    chosen = frames[2][ISAKMP_payload_Transform].transforms
    assert ("Authentication", "XAUTHInitPreShared") in chosen
    assert ("Encryption", "AES-CBC") in chosen and ("KeyLength", 256) in chosen
    assert ("Hash", "SHA2-256") in chosen and ("GroupDesc", "1024MODPgr") in chosen
    assert frames[2].resp_cookie.hex() == "3411e716366643fd"


def test_strongswan_aggressive_ids():
    packets = {n: pkt for n, pkt, _ in isakmp_frames(
        shared_file("strongswan", "am-psk-aes256-sha256-modp2048.pcap"))}
    frames = {n: pkt[ISAKMP] for n, pkt in packets.items()}
    ids = [frames[n][ISAKMP_payload_ID] for n in (1, 2)]
    assert [(i.IDtype, i.IdentData) for i in ids] == [
        (IdType.USER_FQDN, b"initiator@example"), (IdType.FQDN, b"responder.example")]
    assert [t for t, _ in iter_payloads(frames[1])] == [1, 2, 3, 4, 10, 5] + [13] * 5
    assert frames[3].flags == 1 and packets[3][UDP].dport == 4500


def test_nat_t_port_4500():
    """isakmp4500: IKE behind the non-ESP marker, ESP-in-UDP handed to the
    ESP layer, NAT keep-alives (RFC 3948)."""
    packets = read_capture(shared_file("tcpdump", "isakmp4500.pcap"))
    ike = [p for p in packets if NON_ESP in p and ISAKMP in p]
    esp = [p[ESP] for p in packets if ESP in p and NON_ESP not in p]
    keepalives = [p for p in packets if NAT_KEEPALIVE in p]
    assert len(ike) >= 8 and all(p[UDP].dport == 4500 for p in ike)
    assert {e.spi for e in esp} == {0xF4DC0AE5}
    assert [e.seq for e in esp][:3] == [1, 2, 3]
    assert keepalives and all(bytes(p[UDP].payload) == b"\xff" for p in keepalives)


def test_project_captures_have_their_keys():
    """Every capture in pcaps/ comes with both Wireshark key tables, the
    key log and tshark's decrypted summary, and dissects cleanly."""
    captures = sorted(PCAPS.glob("*.pcap"))
    assert len(captures) >= 3
    for capture in captures:
        for suffix in (".ikev1_decryption_table", ".esp_sa", ".keys", ".tshark.txt"):
            assert capture.with_suffix(suffix).stat().st_size > 0, (capture, suffix)
        frames = list(isakmp_frames(capture))
        assert len(frames) >= 8 and not any(malformed(h) for _, _, h in frames)
        table = capture.with_suffix(".ikev1_decryption_table").read_text().splitlines()
        cookie = next(line for line in table if not line.startswith("#")).split(",")[0]
        assert frames[0][2].init_cookie.hex() == cookie
