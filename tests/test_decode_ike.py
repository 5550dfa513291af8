"""Whole-session decryption: from a PSK and g^xy only, every IKE message
and, through Quick Mode's KEYMAT, every ESP packet of real charon
captures; keys reproduced byte for byte; Wireshark's own 12610 capture
with its table; tshark agrees with what we decrypted."""

import os

import pytest
from scapy.layers.inet import ICMP
from scapy.layers.ipsec import ESP

from conftest import PCAPS, TESTDATA, need_tool, read_capture, shared_file
from scapy_ike.cli import main
from scapy_ike.decode.ike import IkeTracker
from scapy_ike.decode.keylog import read_keys
from scapy_ike.decode.session import Session
from scapy_ike.layers.isakmp import ISAKMP, ISAKMP_payload_Attributes, ISAKMP_payload_ID, malformed
from tshark_fields import PAYLOAD_COLUMNS, our_fields, read_tsv, tshark_fields

PSKS = {  # strongswan/README.md and pcaps/README.md
    "mm-psk-aes256-sha256-modp2048": "swp-mm-psk-1",
    "am-psk-aes256-sha256-modp2048": "swp-am-psk-2",
    "mm-psk-xauth-modecfg-aes256-sha256-modp2048": "swp-xauth-psk-3",
    "mm-psk-3des-sha1-modp1024": "swp-legacy-psk-6",
    "mm-psk-aes128-sha1-modp2048": "scapy-ike-mm",
    "am-psk-aes256-sha256-ecp256": "scapy-ike-am",
    "mm-psk-3des-md5-modp1024-pfs": "scapy-ike-pfs",
    "mm-psk-aes128-sha256-modp2048-retransmit": "scapy-ike-rtx",
}


def captures():
    found = []
    for name in PSKS:
        for folder in (TESTDATA / "strongswan", PCAPS):
            if (folder / (name + ".pcap")).exists():
                found.append(pytest.param(folder / (name + ".pcap"), id=name))
    return found


def decode_with(capture, psk, keys):
    """Decode from the PSK and the logged g^xy values only."""
    tracker = IkeTracker(psk=psk.encode(), gxy=[k.gxy for k in keys.ike], qm_gxy=keys.qm_gxy)
    session = Session(ike=tracker)
    return [session.decode(n, p) for n, p in enumerate(read_capture(capture), 1)], session


@pytest.mark.parametrize("capture", captures())
def test_whole_session_from_psk_and_gxy(capture):
    name = capture.stem
    keys = read_keys(capture.with_suffix(".keys").read_text())
    records, session = decode_with(capture, PSKS[name], keys)
    encrypted = [r for r in records if r.packet.haslayer(ISAKMP) and r.packet[ISAKMP].flags & 1]
    esp = [r for r in records if r.packet.haslayer(ESP) and not r.packet.haslayer(ISAKMP)]
    assert encrypted and all(r.decrypted is True and r.error is None for r in encrypted)
    assert all(not malformed(r.inner[0]) for r in encrypted)
    assert len(esp) == 6 and all(r.decrypted is True and r.esp[0][2] for r in esp)
    assert all(r.inner[0].haslayer(ICMP) for r in esp)
    (tracked,) = session.ike.sas.values()
    sa, logged = tracked.sa, keys.ike[0]
    assert (sa.cky_i, sa.cky_r) == (logged.cky_i, logged.cky_r)
    assert [sa.skeyid, sa.skeyid_d, sa.skeyid_a, sa.skeyid_e, sa.ka] == [
        logged.skeyid, logged.skeyid_d, logged.skeyid_a, logged.skeyid_e, logged.ka]
    iv = next(line for line in capture.with_suffix(".keys").read_text().splitlines()
              if line.startswith("ike ")).split("iv=")[1].split()[0]
    assert sa.phase1_iv.hex() == iv
    derived = {k.spi: k.crypt_key + k.auth_key for k in session.ike.esp_keys}
    for logged_esp in keys.esp:
        assert derived[logged_esp.spi] == logged_esp.crypt_key + logged_esp.auth_key


def test_retransmission_reuses_its_iv():
    """A byte-identical retransmitted message decrypts with the IV its
    first copy used; the chain goes on from the first copy."""
    capture = PCAPS / "mm-psk-aes128-sha256-modp2048-retransmit.pcap"
    if not capture.exists():
        pytest.skip("no retransmission capture")
    keys = read_keys(capture.with_suffix(".keys").read_text())
    records, _ = decode_with(capture, PSKS[capture.stem], keys)
    bodies = {}
    repeats = 0
    for r in records:
        if r.packet.haslayer(ISAKMP) and r.packet[ISAKMP].flags & 1:
            wire = bytes(r.packet[ISAKMP])
            if wire in bodies:
                repeats += 1
                assert bytes(r.inner[0]) == bytes(bodies[wire].inner[0])
            bodies[wire] = r
    assert repeats >= 1


def test_wrong_psk_says_so():
    capture = shared_file("strongswan", "mm-psk-aes256-sha256-modp2048.pcap")
    keys = read_keys(capture.with_suffix(".keys").read_text())
    records, _ = decode_with(capture, "not-the-psk", keys)
    first = next(r for r in records if r.packet.haslayer(ISAKMP) and r.packet[ISAKMP].flags & 1)
    assert first.decrypted is False and first.error.startswith("no key fits: 1 candidate(s)")
    assert not any(r.decrypted for r in records)


def test_wireshark_12610_with_its_table():
    """Frames 5 onward decrypt with Ka alone; every payload column matches
    expected/*.tsv, and the manifest's values are there."""
    capture = shared_file("wireshark", "ikev1-bug-12610.pcapng.gz")
    keys = read_keys(shared_file("keys", "ikev1_decryption_table").read_text())
    session = Session(ike=IkeTracker(keys.ike))
    records = [session.decode(n, p) for n, p in enumerate(read_capture(capture), 1)]
    expected = read_tsv(shared_file("expected", "ikev1-bug-12610.pcapng.gz.tshark-fields.tsv"))
    for r in records[4:]:
        assert r.decrypted is True, r.frame
        ours = our_fields(r.packet, r.inner[0])
        for column in PAYLOAD_COLUMNS:
            assert ours[column] == expected[r.frame][column], (r.frame, column)
    clear = {r.frame: r.inner[0] for r in records[4:]}
    assert [(p.IDtype, p.IdentData) for p in (clear[5][ISAKMP_payload_ID], clear[6][ISAKMP_payload_ID])] \
        == [(1, "192.168.0.100"), (2, b"moon.localdomain")]
    reply = clear[9][ISAKMP_payload_Attributes]
    assert dict(reply.attributes)["XAUTH_USER_NAME"] == b"mpa"
    assert dict(reply.attributes)["XAUTH_USER_PASSWORD"] == bytes.fromhex("6d706100")
    assert dict(clear[13][ISAKMP_payload_Attributes].attributes)["INTERNAL_IP4_ADDRESS"] == "10.1.1.1"


@pytest.mark.interop
def test_tshark_decrypts_with_the_keys_we_write(tmp_path, capsys):
    """decode --psk --gxy --keylog-out writes Wireshark's two tables; with
    them tshark decrypts every message as we did."""
    tshark = need_tool("tshark")
    capture = shared_file("strongswan", "mm-psk-xauth-modecfg-aes256-sha256-modp2048.pcap")
    gxy = read_keys(capture.with_suffix(".keys").read_text()).ike[0].gxy.hex()
    log = str(tmp_path / "keys.log")
    assert main(["decode", str(capture), "--psk", PSKS[capture.stem], "--gxy", gxy,
                 "--keylog-out", log]) == 0
    config = tmp_path / "config"
    config.mkdir()
    os.rename(log + ".ikev1_decryption_table", config / "ikev1_decryption_table")
    os.rename(log + ".esp_sa", config / "esp_sa")
    theirs = tshark_fields(tshark, capture, extra=["-o", "esp.enable_encryption_decode:TRUE"],
                           env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                "WIRESHARK_CONFIG_DIR": str(config)})
    keys = read_keys(open(log).read())
    session = Session(ike=IkeTracker(keys.ike))
    compared = 0
    for n, pkt in enumerate(read_capture(capture), 1):
        record = session.decode(n, pkt)
        if n in theirs and record.inner:
            ours = our_fields(pkt, record.inner[0])
            for column in PAYLOAD_COLUMNS:
                assert ours[column] == theirs[n][column], (n, column)
            compared += 1
    assert compared == 13          # frames 5-15, 22 and 23


@pytest.mark.interop
def test_tshark_decrypts_what_we_encrypt(tmp_path):
    """An Informational exchange (HASH + R-U-THERE, RFC 3706) encrypted with
    our IKE SA state, appended to a real session: tshark, given our key
    table, decrypts it, and the HASH is prf(SKEYID_a, M-ID | N)."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.ipsec import NON_ESP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap
    from scapy_ike.crypto import keys as schedule
    from scapy_ike.decode.keylog import ikev1_decryption_table_row
    from scapy_ike.layers.isakmp import ISAKMP_payload_Hash, ISAKMP_payload_Notify
    tshark = need_tool("tshark")
    capture = shared_file("strongswan", "mm-psk-aes256-sha256-modp2048.pcap")
    keys = read_keys(capture.with_suffix(".keys").read_text())
    packets = read_capture(capture)
    session = Session(ike=IkeTracker(psk=PSKS[capture.stem].encode(), gxy=[keys.ike[0].gxy]))
    for n, pkt in enumerate(packets, 1):
        session.decode(n, pkt)
    (tracked,) = session.ike.sas.values()
    sa = tracked.sa
    mid = 0x12345678
    notify = bytes(ISAKMP_payload_Notify(notify_msg_type=36136, SPI=sa.cky_i + sa.cky_r,
                                         notify_data=b"\x00\x00\x00\x07"))
    digest = schedule.message_hash(sa.hash, sa.skeyid_a, mid, notify)
    plain = bytes(ISAKMP_payload_Hash(next_payload=11, hash=digest)) + notify
    body = sa.encrypt(mid, plain)
    head = ISAKMP(init_cookie=sa.cky_i, resp_cookie=sa.cky_r, next_payload=8, exch_type=5,
                  flags="encryption", id=mid, length=28 + len(body))
    ours = Ether() / IP(src="192.0.2.2", dst="192.0.2.1") / UDP(sport=4500, dport=4500) \
        / NON_ESP() / (bytes(head)[:28] + body)
    pcap = tmp_path / "with-ours.pcap"
    wrpcap(str(pcap), list(packets) + [ours])
    config = tmp_path / "config"
    config.mkdir()
    (config / "ikev1_decryption_table").write_text(ikev1_decryption_table_row(sa) + "\n")
    theirs = tshark_fields(tshark, pcap, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                             "WIRESHARK_CONFIG_DIR": str(config)})
    last = theirs[len(packets) + 1]
    assert last["isakmp.typepayload"] == "8,11"
    assert last["isakmp.notify.msgtype"] == "36136"
    assert last["isakmp.hash"] == digest.hex()


def _tshark_summary(capture):
    """ICMP (id, seq) per frame from NAME.tshark.txt (tshark with the keys)."""
    import re
    out = {}
    for line in capture.with_suffix(".tshark.txt").read_text().splitlines():
        m = re.match(r"\s*(\d+)\s.*ICMP \d+ Echo \(ping\) \w+\s+id=(0x[0-9a-f]+), seq=(\d+)/", line)
        if m:
            out[int(m.group(1))] = (int(m.group(2), 16), int(m.group(3)))
    return out


@pytest.mark.interop
@pytest.mark.parametrize("capture", captures())
def test_like_tshark_with_the_logged_keys(capture, tmp_path):
    """Every decrypted IKE message has tshark's payload columns (tshark run
    with the capture's own key tables), and every ESP packet the ICMP id
    and sequence of NAME.tshark.txt.  tshark mis-decrypts a retransmitted
    copy (it chains the IV on from the previous message): that frame is
    compared with its first copy instead."""
    tshark = need_tool("tshark")
    config = tmp_path / "config"
    config.mkdir()
    for table in ("ikev1_decryption_table", "esp_sa"):
        (config / table).write_text(capture.with_suffix("." + table).read_text())
    theirs = tshark_fields(tshark, capture, extra=["-o", "esp.enable_encryption_decode:TRUE"],
                           env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                "WIRESHARK_CONFIG_DIR": str(config)})
    icmp = _tshark_summary(capture)
    keys = read_keys(capture.with_suffix(".keys").read_text())
    records, _ = decode_with(capture, PSKS[capture.stem], keys)
    first_copy = {}
    for r in records:
        if r.packet.haslayer(ISAKMP) and r.inner:
            wire = bytes(r.packet[ISAKMP])
            frame = first_copy.setdefault(wire, r.frame)
            ours = our_fields(r.packet, r.inner[0])
            for column in PAYLOAD_COLUMNS:
                assert ours[column] == theirs[frame][column], (r.frame, column)
        elif r.esp:
            assert (r.inner[0][ICMP].id, r.inner[0][ICMP].seq) == icmp[r.frame]
    assert len(icmp) == 6
