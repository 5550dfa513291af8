"""``scapy-ike decode`` on every ESP capture with keys in
../shared/testdata and pcaps/: each ESP packet decrypts to what the
expected tshark fields and the manifests say."""

import json

import pytest
from scapy.layers.inet import ICMP, IP

from conftest import PCAPS, TESTDATA, read_capture, shared_file
from scapy_ike.cli import main
from scapy_ike.decode.keylog import read_esp_keys
from scapy_ike.decode.session import Session
from tshark_fields import read_tsv


def esp_sa_rows(*needles):
    """Rows of keys/esp_sa holding every needle, commented out or not (the
    file comments out rows that clash between captures)."""
    rows = []
    for line in shared_file("keys", "esp_sa").read_text().splitlines():
        row = line.lstrip("#")
        if row.startswith('"') and all(n in row for n in needles):
            rows.append(row)
    assert rows, needles
    return "\n".join(rows) + "\n"


KEYS = {
    "packetgen/esp4-cbc.pcapng": lambda: esp_sa_rows('"AES-CBC [RFC3602]","0x000102030405060708090a0b0c0d0e0f"'),
    "packetgen/esp4-ctr-hmac.pcapng": lambda: esp_sa_rows("AES-CTR"),
    "packetgen/esp4-gcm.pcapng": lambda: esp_sa_rows("AES-GCM", "0x000102030405060708090a0b0c0d0e0f80818283"),
    "packetgen/esp-tfc.pcapng": lambda: esp_sa_rows("0xc1e69148"),
    "wireshark/esp-bug-12671.pcapng.gz": lambda: esp_sa_rows("HMAC-SHA-1-96"),
    "tcpdump/02-sunrise-sunset-esp.pcap": lambda: esp_sa_rows("0x4043434545464649494a4a4c4c4f4f515152525454575758"),
    "tcpdump/espudp1.pcap": lambda: esp_sa_rows("0x4043434545464649494a4a4c4c4f4f515152525454575758"),
    "tcpdump/08-sunrise-sunset-esp2.pcap": lambda: shared_file("tcpdump", "esp-secrets.txt").read_text(),
}


def decode(capture, key_text):
    session = Session(read_esp_keys(key_text))
    return [session.decode(n, p) for n, p in enumerate(read_capture(capture), 1)], session


@pytest.mark.parametrize("name", sorted(KEYS))
def test_decode_command(name, tmp_path, capsys):
    """The command itself: exit status 0, every keyed ESP packet decrypted."""
    folder, file = name.split("/")
    keys = tmp_path / "keys"
    keys.write_text(KEYS[name]())
    assert main(["decode", str(shared_file(folder, file)), "--keys", str(keys), "--json"]) == 0
    objects = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    expected = read_tsv(shared_file("expected", file + ".tshark-fields.tsv"))
    assert [o["decrypted"] for o in objects] == [
        True if row["esp.pad_len"] else None for row in expected.values()]


@pytest.mark.parametrize("name", sorted(KEYS))
def test_decrypts_like_tshark(name):
    """Every ESP layer: SPI, sequence number, pad length, next header and
    the inner addresses, as in expected/*.tsv."""
    folder, file = name.split("/")
    capture = shared_file(folder, file)
    expected = read_tsv(shared_file("expected", file + ".tshark-fields.tsv"))
    records, session = decode(capture, KEYS[name]())
    checked = 0
    for record in records:
        row = expected[record.frame]
        if not row["esp.spi"] or not record.esp:
            assert record.decrypted is None or not row["esp.pad_len"]
            continue
        assert [hex(spi) for spi, _, _ in record.esp] == [
            "0x%x" % int(s, 16) for s in row["esp.spi"].split(",")]
        assert [str(o.seq) for _, o, _ in record.esp] == row["esp.sequence"].split(",")
        assert [str(o.pad_length) for _, o, _ in record.esp] == row["esp.pad_len"].split(",")
        assert ["0x%02x" % o.next_header for _, o, _ in record.esp] == row["esp.protocol"].split(",")
        inner = record.inner[-1]
        assert inner.src == row["ip.src"].split(",")[-1] and inner.dst == row["ip.dst"].split(",")[-1]
        if row["esp.icv_good"] == "1":
            assert all(verified for _, _, verified in record.esp)
        checked += 1
    assert checked >= 1 and not session.failures


def test_wireshark_12671_payload():
    """Manifest: ICMP echo id 2, seq 2-4 between 10.1.1.1 and 10.1.0.10,
    data 08090a0b..., ICVs correct."""
    records, _ = decode(shared_file("wireshark", "esp-bug-12671.pcapng.gz"), KEYS["wireshark/esp-bug-12671.pcapng.gz"]())
    icmp = [r.inner[0][ICMP] for r in records]
    assert [(i.id, i.seq) for i in icmp] == [(2, 2), (2, 2), (2, 3), (2, 3), (2, 4), (2, 4)]
    assert all(bytes(i.payload)[8:24] == bytes.fromhex("08090a0b0c0d0e0f1011121314151617") for i in icmp)
    assert all(v for r in records for _, _, v in r.esp)


def test_tfc_padding():
    """esp-tfc frame 1: the inner packet, then 916 zero bytes of TFC
    padding (RFC 4303 2.7); frame 3 has no key."""
    records, _ = decode(shared_file("packetgen", "esp-tfc.pcapng"), KEYS["packetgen/esp-tfc.pcapng"]())
    first = records[0]
    payload = first.esp[0][1].payload
    inner_len = first.inner[0][IP].len
    assert payload[inner_len:] == bytes(916)
    assert first.inner[0][ICMP].id == 0x04E2
    assert records[2].decrypted is None and records[2].esp == []


def test_nested_esp():
    """08-sunrise: the outer SA carries IP packets that are ESP again."""
    records, _ = decode(shared_file("tcpdump", "08-sunrise-sunset-esp2.pcap"), KEYS["tcpdump/08-sunrise-sunset-esp2.pcap"]())
    for record in records:
        assert [spi for spi, _, _ in record.esp] == [0x12345678, 0xABCDABCD]
        assert record.inner[-1][ICMP].id == 28416


def test_wrong_key_is_reported(tmp_path, capsys):
    """espudp1 with tcpdump's own esp-secrets.txt: the key is wrong for this
    file (its espudp1.out is garbage); we refuse the padding and say so once
    per SA, exit status 1."""
    records, session = decode(shared_file("tcpdump", "espudp1.pcap"),
                              shared_file("tcpdump", "esp-secrets.txt").read_text())
    assert all(r.decrypted is False for r in records) and len(records) == 8
    assert session.failures == {("192.1.2.23", "192.1.2.45", 0x12345678): 8}
    assert main(["decode", str(shared_file("tcpdump", "espudp1.pcap")),
                 "--keys", str(shared_file("tcpdump", "esp-secrets.txt"))]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "0x12345678" in err[0] and "8 packet(s) failed" in err[0]


def strongswan_captures():
    found = sorted(TESTDATA.glob("strongswan/*.pcap")) if TESTDATA.is_dir() else []
    return found + sorted(PCAPS.glob("*.pcap"))


@pytest.mark.parametrize("capture", strongswan_captures(), ids=lambda p: p.name)
def test_strongswan_esp_in_udp(capture):
    """Real charon captures: all ESP is ESP-in-UDP and decrypts, ICVs
    verified, to ICMP between the inner addresses 198.51.100.x."""
    keys = capture.with_suffix(".esp_sa")
    if not keys.exists():
        pytest.skip("%s has no ESP" % capture.name)
    records, session = decode(capture, keys.read_text())
    esp = [r for r in records if r.esp]
    assert len(esp) == 6 and not session.failures
    for record in esp:
        assert record.decrypted is True and all(v for _, _, v in record.esp)
        inner = record.inner[0]
        assert inner.src.startswith("198.51.100.") and inner.haslayer(ICMP)


def test_json_output(capsys):
    capture = shared_file("wireshark", "esp-bug-12671.pcapng.gz")
    keys = shared_file("keys", "esp_sa")
    assert main(["decode", str(capture), "--keys", str(keys), "--json"]) == 0
    objects = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["frame"] for o in objects] == list(range(1, 7))
    first = objects[0]
    assert set(first) == {"frame", "time", "summary", "layers", "decrypted", "error"}
    assert first["decrypted"] is True and first["error"] is None
    names = [layer["layer"] for layer in first["layers"]]
    assert names[names.index("ESP") + 1:][:2] == ["IP", "ICMP"]
    esp = next(layer for layer in first["layers"] if layer["layer"] == "ESP")
    assert esp["fields"]["spi"] == 0xC254FE64 and isinstance(esp["fields"]["data"], str)
    inner_ip = first["layers"][names.index("ESP") + 1]["fields"]
    assert (inner_ip["src"], inner_ip["dst"]) == ("10.1.1.1", "10.1.0.10")


def test_json_of_ike_and_malformed(capsys):
    capture = shared_file("zeek-spicy-ipsec", "ipsec-ikev1-payload-bad-length.pcap")
    assert main(["decode", str(capture), "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["decrypted"] is None
    bad = [layer for layer in obj["layers"] if "malformed" in layer]
    assert bad == [{"layer": "ISAKMP_payload", "fields": bad[0]["fields"],
                    "malformed": "ISAKMP Vendor ID length 3 below its minimum 4"}]
    sa = next(layer for layer in obj["layers"] if layer["layer"] == "ISAKMP_payload_SA")
    assert sa["fields"]["prop"][0]["layer"] == "ISAKMP_payload_Proposal"
