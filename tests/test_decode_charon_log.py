"""charon's own debug log as a key file: ``decode --keys charon.log``.

tests/data/charon-log/ holds one run of ../shared/peers/strongswan-peer.sh
(charon 5.9.8 against charon, Main Mode PSK ``clog-psk-1``, ESP
aes128-sha256-modp2048, so Quick Mode with PFS; two pings): the
responder's capture (mm-pfs.pcap), its charon.log at ike/chd level 4
(mm-pfs.charon.log), and the key lines the script's own awk parser made
of that log (mm-pfs.keys), which ours must give byte for byte."""

from pathlib import Path

from scapy_ike.cli import main
from scapy_ike.decode.capture import open_capture
from scapy_ike.decode.ike import IkeTracker
from scapy_ike.decode.keylog import parse_key_log, read_keys
from scapy_ike.decode.session import Session

DATA = Path(__file__).parent / "data" / "charon-log"
LOG = DATA / "mm-pfs.charon.log"


def test_the_log_gives_the_secrets_charon_logged():
    keys = read_keys(LOG.read_text())
    reference = parse_key_log((DATA / "mm-pfs.keys").read_text())
    assert keys.ike == reference.ike
    assert keys.ike[0].cky_i.hex() == "94fb675dfc706db4"
    assert sorted(keys.esp, key=lambda k: k.spi) == sorted(reference.esp, key=lambda k: k.spi)
    assert [(hex(k.spi), k.src, k.dst) for k in keys.esp] == [
        ("0xa5358d45", "192.0.2.2", "192.0.2.1"), ("0xd3859ae0", "192.0.2.1", "192.0.2.2")]
    (qm,) = keys.qm_gxy
    assert len(qm) == 256 and qm[:4].hex() == "49a8e5ee"


def test_decode_with_the_log(capsys):
    assert main(["decode", str(DATA / "mm-pfs.pcap"), "--keys", str(LOG), "--jobs", "1"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert err == "" and len(lines) == 15
    assert all(" -> ISAKMP " in line for line in lines[4:9] + lines[13:])
    assert [line.split(None, 2)[2] for line in lines[9:13]] == [
        "ESP 192.0.2.2:4500 > 192.0.2.1:4500 SPI=0xa5358d45 seq=1 "
        "-> ICMP 198.51.100.2 > 198.51.100.1 echo-request id=24358 seq=1",
        "ESP 192.0.2.1:4500 > 192.0.2.2:4500 SPI=0xd3859ae0 seq=1 "
        "-> ICMP 198.51.100.1 > 198.51.100.2 echo-reply id=24358 seq=1",
        "ESP 192.0.2.2:4500 > 192.0.2.1:4500 SPI=0xa5358d45 seq=2 "
        "-> ICMP 198.51.100.2 > 198.51.100.1 echo-request id=24358 seq=2",
        "ESP 192.0.2.1:4500 > 192.0.2.2:4500 SPI=0xd3859ae0 seq=2 "
        "-> ICMP 198.51.100.1 > 198.51.100.2 echo-reply id=24358 seq=2"]


def test_pfs_keys_from_the_logged_quick_mode_secret():
    """Without the log's ESP keys: Phase 1's secrets and Quick Mode's
    logged g^xy derive them (RFC 2409 5.5), equal to charon's."""
    keys = read_keys(LOG.read_text())
    session = Session(ike=IkeTracker(keys.ike, qm_gxy=keys.qm_gxy))
    f, frames = open_capture(DATA / "mm-pfs.pcap")
    with f:
        records = [session.decode_frame(n, t, lt, d) for n, (lt, t, d) in enumerate(frames, 1)]
    assert [r.decrypted for r in records[9:13]] == [True] * 4
    derived = {k.spi: (k.crypt_key, k.auth_key) for k in session.ike.esp_keys}
    assert all(derived[k.spi] == (k.crypt_key, k.auth_key) for k in keys.esp)


def test_a_log_cut_short_gives_what_it_has():
    """A log cut in the middle of a CHILD_SA key's dump: the IKE SA and
    Quick Mode's g^xy logged before are read, the ESP SAs are missing, and
    nothing raises."""
    text = LOG.read_text()
    whole = read_keys(text)
    cut = read_keys(text[:text.index("encryption responder key =>") + 120])
    assert cut.ike == whole.ike and cut.qm_gxy == whole.qm_gxy and cut.esp == []
