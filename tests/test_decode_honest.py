"""``scapy-ike decode`` says what it could not open, once per SA, and its
exit status tells keys that do not fit (1) from keys never given (0):
Quick Mode PFS without its g^xy, --psk alone, a wrong PSK or g^xy, an ESP
transform we lack, a Transform without attributes, a damaged capture."""

import gzip
import struct

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from conftest import PCAPS, shared_file
from scapy_ike.cli import main
from scapy_ike.core.message import Message, parse_sa
from scapy_ike.decode.capture import CaptureError, open_capture
from scapy_ike.decode.ike import IkeTracker
from scapy_ike.decode.keylog import read_keys
from scapy_ike.decode.session import Session
from scapy_ike.layers.isakmp import (
    ISAKMP, ISAKMP_payload_Proposal, ISAKMP_payload_SA, ISAKMP_payload_Transform,
)

ETHER = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")   # no ARP to fill them in
PFS = PCAPS / "mm-psk-3des-md5-modp1024-pfs.pcap"
MM = PCAPS / "mm-psk-aes128-sha1-modp2048.pcap"
PFS_LINE = "keys unknown: Quick Mode used PFS (group 2); give its g^xy with --gxy"


def logged(capture):
    return read_keys(capture.with_suffix(".keys").read_text())


def run(capsys, *argv):
    status = main(["decode"] + [str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


def test_pfs_without_its_gxy_is_unknown_not_failed(capsys):
    """Only Phase 1's g^xy: each ESP SA says once that its Quick Mode used
    PFS, stays opaque, and the exit status is 0."""
    gxy = logged(PFS).ike[0].gxy.hex()
    status, out, err = run(capsys, PFS, "--psk", "scapy-ike-pfs", "--gxy", gxy)
    assert status == 0
    assert err == ["scapy-ike decode: ESP SPI 0x2a910720 192.0.2.1 > 192.0.2.2: " + PFS_LINE,
                   "scapy-ike decode: ESP SPI 0x7ffb027c 192.0.2.2 > 192.0.2.1: " + PFS_LINE]
    esp = [line for line in out if " ESP " in line]
    assert [line.split(None, 2)[2] for line in esp] == [
        "ESP 192.0.2.2:4500 > 192.0.2.1:4500 SPI=0x7ffb027c seq=1 [%s]" % PFS_LINE,
        "ESP 192.0.2.1:4500 > 192.0.2.2:4500 SPI=0x2a910720 seq=1 [%s]" % PFS_LINE,
        "ESP 192.0.2.2:4500 > 192.0.2.1:4500 SPI=0x7ffb027c seq=2",
        "ESP 192.0.2.1:4500 > 192.0.2.2:4500 SPI=0x2a910720 seq=2",
        "ESP 192.0.2.2:4500 > 192.0.2.1:4500 SPI=0x7ffb027c seq=3",
        "ESP 192.0.2.1:4500 > 192.0.2.2:4500 SPI=0x2a910720 seq=3"]


def test_pfs_with_its_gxy_decrypts(capsys):
    """Phase 1's and Quick Mode's g^xy both given with --gxy: the right
    one is found for each SA, every ESP packet opens to ICMP."""
    keys = logged(PFS)
    status, out, err = run(capsys, PFS, "--psk", "scapy-ike-pfs", "--gxy", keys.ike[0].gxy.hex(),
                           "--gxy", keys.qm_gxy[0].hex())
    assert (status, err) == (0, [])
    esp = [line for line in out if " ESP " in line]
    assert len(esp) == 6 and all("-> ICMP 198.51.100." in line for line in esp)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_pfs_with_a_wrong_gxy_says_no_key_fits_once_per_sa(capsys, jobs):
    """A Quick Mode g^xy given that is not the one: exit status 1, one
    message per SA naming the Quick Mode whose g^xy is wrong (as a wrong
    PSK is said once per IKE SA), not an ICV failure per packet."""
    keys = logged(PFS)
    status, out, err = run(capsys, PFS, "--psk", "scapy-ike-pfs", "--gxy", keys.ike[0].gxy.hex(),
                           "--gxy", "01" * 128, "--jobs", jobs)
    misfit = ("no key fits: 1 candidate(s) fail to verify the ICV (wrong g^xy for Quick Mode "
              "0152a0c2, PFS group 2?)")
    assert status == 1
    assert err == ["scapy-ike decode: ESP SPI 0x%08x %s: %s" % (spi, way, misfit)
                   for spi, way in ((0x2a910720, "192.0.2.1 > 192.0.2.2"),
                                    (0x7ffb027c, "192.0.2.2 > 192.0.2.1"))]
    esp = [line for line in out if " ESP " in line]
    assert len(esp) == 6
    assert all(line.endswith("[error: SPI 0x%s: %s]" % (line.split("SPI=0x")[1][:8], misfit))
               for line in esp)


def test_a_guessed_key_is_settled_by_a_later_packet():
    """A guessed ESP key that does not open a damaged first packet but
    opens the next: the SA is keyed from then on, the first packet counts
    as failed, the SA is not said to have no key that fits."""
    from scapy_ike.decode.keylog import EspKey
    from scapy_ike.esp import SecurityAssociation
    sa = SecurityAssociation(0x1234, crypt_algo="AES-CBC", crypt_key=bytes(16),
                             auth_algo="HMAC-SHA1-96", auth_key=bytes(20))
    key = EspKey(0x1234, None, None, "AES-CBC", bytes(16), None, "HMAC-SHA1-96", bytes(20), None,
                 guess="g^xy for Quick Mode 00000001, PFS group 2")
    inner = bytes(IP(src="198.51.100.1", dst="198.51.100.2") / UDP())
    frames = [bytes(ETHER / IP(src="192.0.2.1", dst="192.0.2.2", proto=50) / sa.seal(inner))
              for _ in range(2)]
    damaged = frames[0][:-1] + bytes([frames[0][-1] ^ 1])
    session = Session([key])
    first, second = (session.decode_frame(n, 0.0, 1, data) for n, data in ((1, damaged),
                                                                           (2, frames[1])))
    assert (first.decrypted, second.decrypted) == (False, True)
    assert first.error.startswith("SPI 0x00001234: no key fits: 1 candidate(s)")
    sa_key = ("192.0.2.1", "192.0.2.2", 0x1234)
    assert session.failures == {sa_key: 1} and session.misfit == set()


def test_psk_alone_says_what_it_needs(capsys):
    status, out, err = run(capsys, MM, "--psk", "scapy-ike-mm")
    assert status == 0
    cky = logged(MM).ike[0].cky_i.hex()
    assert err == ["scapy-ike decode: IKE SA %s: keys unknown: --psk needs --gxy or a key log "
                   "(--keys)" % cky]
    noted = [line for line in out if "--psk needs" in line]
    assert len(noted) == 1 and noted[0].split()[0] == "5"


@pytest.mark.parametrize("wrong", ["psk", "gxy"])
def test_wrong_psk_or_gxy_exits_1_once_per_sa(capsys, wrong):
    gxy = logged(MM).ike[0].gxy
    psk, gxy = ("not-it", gxy) if wrong == "psk" else ("scapy-ike-mm", bytes(len(gxy)))
    status, out, err = run(capsys, MM, "--psk", psk, "--gxy", gxy.hex())
    assert status == 1
    assert err == ["scapy-ike decode: IKE SA %s: no key fits: 1 candidate(s) fail to decrypt or "
                   "to verify the hash (wrong PSK or g^xy?)" % logged(MM).ike[0].cky_i.hex()]
    assert sum("[error: no key fits" in line for line in out) == 7     # every encrypted message


def _with_esp_transform(capture, psk, transform_id, tmp_path):
    """*capture* with the Quick Mode responder's ESP transform ID replaced
    by *transform_id*: QM2 and QM3 decrypted with the session's keys and
    encrypted again, the IV chain following the new ciphertext."""
    keys = logged(capture)
    frames = []
    f, records = open_capture(capture)
    with f:
        frames = [list(r) for r in records]
    original, again = (IkeTracker(psk=psk, gxy=[keys.ike[0].gxy]) for _ in range(2))
    redo = False
    for frame in frames:
        data = frame[2]
        udp = 14 + 20
        port = struct.unpack("!H", data[udp:udp + 2])[0]
        marker = port == 4500 and data[udp + 8:udp + 12] == bytes(4)
        if not (port == 500 or marker):
            continue
        start = udp + 8 + (4 if marker else 0)
        message = data[start:]
        src = ".".join(map(str, data[26:30]))
        clear, _, _ = original.message(message, src)
        head = Message.parse(message)
        if head.exch_type == 32 and clear is not None and (redo or src == "192.0.2.1"):
            plain = bytearray(clear[28:])
            if not redo:
                raw = parse_sa(Message.parse(clear).bodies(1)[0]).proposals[0].trans[0].raw
                at = bytes(plain).index(raw) + 5
                plain[at] = transform_id
                redo = True
            (tracked,) = again.sas.values()
            body = tracked.sa.encrypt(head.message_id, bytes(plain))
            frame[2] = data[:start + 28] + body
            message = frame[2][start:]
        again.message(message, src)
    out = tmp_path / "changed.pcap"
    with open(out, "wb") as w:
        w.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for linktype, stamp, data in frames:
            w.write(struct.pack("<IIII", int(stamp), int(stamp % 1 * 1e6), len(data), len(data)))
            w.write(data)
    return out


def test_an_esp_transform_we_lack_leaves_its_sa_opaque(tmp_path, capsys):
    """Quick Mode chose ESP transform 4 (ESP-RC5): no KeyError, the ESP SAs
    say why they stay opaque, the rest of the capture decodes, exit 0."""
    changed = _with_esp_transform(MM, b"scapy-ike-mm", 4, tmp_path)
    gxy = logged(MM).ike[0].gxy.hex()
    status, out, err = run(capsys, changed, "--psk", "scapy-ike-mm", "--gxy", gxy)
    reason = "keys unknown: Quick Mode chose ESP transform 4 (ESP-RC5): unknown cipher 4"
    assert status == 0 and len(out) == 17
    assert sorted(err) == sorted("scapy-ike decode: ESP SPI 0x%08x %s: %s" % (spi, way, reason)
                                 for spi, way in _esp_sas(out))
    assert all(line.endswith("[%s]" % reason) for line in out if "seq=1" in line)
    assert all("-> ISAKMP" in line and "error" not in line for line in out[4:9])


def _esp_sas(lines):
    found = set()
    for line in lines:
        words = line.split()
        if words[2] == "ESP":
            found.add((int(words[6][4:], 16), "%s > %s" % (words[3].split(":")[0],
                                                           words[5].split(":")[0])))
    return found


def test_a_transform_without_attributes():
    """A Phase 1 answer whose Transform has no attributes: described, no
    algorithm chosen (the SA stays opaque), no AttributeError."""
    sa = ISAKMP_payload_SA(prop=ISAKMP_payload_Proposal(trans=ISAKMP_payload_Transform(
        transform_id=1, transforms=[])))
    msg = ISAKMP(init_cookie=b"\x01" * 8, resp_cookie=b"\x02" * 8, exch_type=2, next_payload=1) / sa
    frame = ETHER / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=500, dport=500) / msg
    tracker = IkeTracker(psk=b"x", gxy=[b"\x03" * 128])
    session = Session(ike=tracker)
    session.decode(1, ETHER / IP(src="192.0.2.2", dst="192.0.2.1") / UDP(sport=500, dport=500)
                   / ISAKMP(init_cookie=b"\x01" * 8, exch_type=2, next_payload=1) / sa)
    record = session.decode_frame(2, 0.0, 1, bytes(frame))
    assert record.summary() == ("ISAKMP 192.0.2.1:500 > 192.0.2.2:500 identity protection "
                                "0101010101010101>0202020202020202 id=00000000 "
                                "[SA Proposal Transform]")
    assert record.summary(scapy=True) == record.summary()
    assert tracker.sas[b"\x01" * 8].sa.cipher is None


def _pcap_of(capture):
    f, records = open_capture(capture)
    with f:
        frames = list(records)
    head = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    return head + b"".join(struct.pack("<IIII", int(t), round(t % 1 * 1e6), len(d), len(d)) + d
                           for _, t, d in frames), frames


def test_a_truncated_capture_decodes_what_it_can(tmp_path, capsys):
    """Cut in the middle of frame 3: frames 1 and 2 are printed, the
    message says where it stopped, exit status 1."""
    data, frames = _pcap_of(MM)
    cut = 24 + sum(16 + len(d) for _, _, d in frames[:2]) + 16 + 10
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[:cut])
    status, out, err = run(capsys, path)
    assert status == 1 and [line.split()[0] for line in out] == ["1", "2"]
    third = 24 + sum(16 + len(d) for _, _, d in frames[:2])
    assert err == ["scapy-ike decode: %s: stopped at frame 3 (byte %d): record of %d bytes: "
                   "10 of %d bytes" % (path, third, len(frames[2][2]), len(frames[2][2]))]


def test_a_truncated_gzip_capture(tmp_path, capsys):
    """A .gz cut short: the frames whose bytes arrived, then where the
    stream ended, exit status 1 (it used to be exit 0, no frames)."""
    capture = shared_file("wireshark", "esp-bug-12671.pcapng.gz")
    whole = capture.read_bytes()
    path = tmp_path / "cut.pcapng.gz"
    path.write_bytes(whole[:len(whole) * 2 // 3])
    status, out, err = run(capsys, path)
    readable = len(gzip.decompress(whole)) * 2 // 3   # about what the cut leaves
    assert status == 1 and 1 <= len(out) < 6
    assert [int(line.split()[0]) for line in out] == list(range(1, len(out) + 1))
    (line,) = err
    assert line.startswith("scapy-ike decode: %s: stopped at frame %d (byte " % (path, len(out) + 1))
    assert "Compressed file ended before the end-of-stream marker was reached" in line
    assert int(line.split("(byte ")[1].split(")")[0]) < readable + 200


def test_a_bad_pcapng_block_length(tmp_path):
    """A block length that does not add up stops the reader there, after
    the records before it."""
    data = bytearray(shared_file("packetgen", "esp4-cbc.pcapng").read_bytes())
    offsets, at = [], 0
    while at < len(data):
        offsets.append(at)
        at += struct.unpack_from("<I", data, at + 4)[0]
    third_packet = [o for o in offsets if struct.unpack_from("<I", data, o)[0] == 6][2]
    struct.pack_into("<I", data, third_packet + 4, 7)
    path = tmp_path / "bad.pcapng"
    path.write_bytes(bytes(data))
    f, records = open_capture(path)
    got = []
    with f, pytest.raises(CaptureError) as caught:
        for record in records:
            got.append(record)
    assert len(got) == 2
    assert (caught.value.frame, caught.value.offset) == (3, third_packet)
    assert caught.value.reason == "block length 7 does not add up"


def test_exchange_names_are_lower_case(capsys):
    """XAuth and Mode Config run in Transaction exchanges: ``transaction``."""
    capture = shared_file("wireshark", "ikev1-bug-12610.pcapng.gz")
    status, out, _ = run(capsys, capture, "--keys", shared_file("keys", "ikev1_decryption_table"))
    assert status == 0
    exchanges = {line.split()[6] for line in out if line.split()[2] == "ISAKMP"}
    assert {"identity", "transaction", "quick"} <= exchanges
    assert all(name == name.lower() for name in exchanges)


def test_time_stamps(tmp_path, capsys):
    """relative (the default), delta, absolute in UTC, as tshark -t r/d/ad."""
    data, frames = _pcap_of(MM)
    path = tmp_path / "mm.pcap"
    path.write_bytes(data)
    stamps = [round(t % 1 * 1e6) + int(t) * 10 ** 6 for _, t, _ in frames]
    _, out, _ = run(capsys, path)
    assert [line.split()[1] for line in out] == [
        "%.6f" % ((s - stamps[0]) / 1e6) for s in stamps]
    _, out, _ = run(capsys, path, "--time", "delta")
    assert [line.split()[1] for line in out][:3] == ["0.000000"] + [
        "%.6f" % ((b - a) / 1e6) for a, b in zip(stamps[:2], stamps[1:3])]
    _, out, _ = run(capsys, path, "--time", "absolute")
    import time
    first = stamps[0]
    assert " ".join(out[0].split()[1:3]) == "%s.%06d" % (
        time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(first // 10 ** 6)), first % 10 ** 6)


def test_a_phase1_algorithm_we_lack_is_named(tmp_path, capsys):
    """MM2 chose encryption algorithm 99 (the capture's AES-CBC attribute
    changed, a clear message): the IKE SA stays opaque and says what it
    chose, once, exit status 0."""
    data, frames = _pcap_of(MM)
    aes = bytes.fromhex("80010007")           # Encryption-Algorithm (TV) AES-CBC
    second = 24 + 16 + len(frames[0][2]) + 16
    at = data.index(aes, second)
    path = tmp_path / "alg99.pcap"
    path.write_bytes(data[:at] + bytes.fromhex("80010063") + data[at + 4:])
    status, out, err = run(capsys, path, "--psk", "scapy-ike-mm",
                           "--gxy", logged(MM).ike[0].gxy.hex())
    reason = "keys unknown: Phase 1 chose transform 1 (unknown cipher 99)"
    cky = logged(MM).ike[0].cky_i.hex()
    assert status == 0 and err == ["scapy-ike decode: IKE SA %s: %s" % (cky, reason)]
    assert [line.split()[0] for line in out if reason in line] == ["5"]
    assert not any("->" in line for line in out)
