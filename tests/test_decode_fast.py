"""The fast path (struct) and Scapy describe every frame of every capture
we have alike, decrypted ones included; and the fast path is the one used
for the common packets."""

import pytest

from conftest import PCAPS, TESTDATA
from scapy_ike.decode.capture import open_capture
from scapy_ike.decode.ike import IkeTracker
from scapy_ike.decode.keylog import read_esp_keys, read_keys
from scapy_ike.decode.session import Session
from test_captures import all_captures
from test_decode import KEYS
from test_decode_ike import PSKS


def session_for(capture):
    """A session with every key we know for *capture*."""
    name = "%s/%s" % (capture.parent.name, capture.name)
    if name in KEYS:
        return Session(read_esp_keys(KEYS[name]()))
    if capture.stem in PSKS and capture.with_suffix(".keys").exists():
        keys = read_keys(capture.with_suffix(".keys").read_text())
        return Session(ike=IkeTracker(psk=PSKS[capture.stem].encode(),
                                      gxy=[k.gxy for k in keys.ike], qm_gxy=keys.qm_gxy))
    if capture.name == "ikev1-bug-12610.pcapng.gz":
        table = TESTDATA / "keys" / "ikev1_decryption_table"
        return Session(ike=IkeTracker(read_keys(table.read_text()).ike))
    return Session()


def records_of(capture):
    session = session_for(capture)
    f, frames = open_capture(capture)
    with f:
        return [session.decode_frame(n, t, lt, d) for n, (lt, t, d) in enumerate(frames, 1)]


@pytest.mark.parametrize("capture", all_captures() or [pytest.param(
    None, marks=pytest.mark.skip(reason="public test data absent (../shared/testdata)"))],
    ids=lambda p: getattr(p, "name", "none"))
def test_fast_summary_is_scapys(capture):
    for record in records_of(capture):
        assert record.summary() == record.summary(scapy=True), record.frame


def test_the_fast_path_describes_decrypted_packets():
    """Every decrypted ESP packet of our captures (ICMP inside) and every
    clear or decrypted IKE message is described without Scapy."""
    captures = sorted(PCAPS.glob("*.pcap"))
    assert captures
    for capture in captures:
        records = records_of(capture)
        esp = [r for r in records if r.esp]
        assert len(esp) == 6
        assert all(r._packet is None and r.line is not None for r in records)
        assert all(line is not None and line.startswith("ICMP 198.51.100.")
                   for r in esp for _, _, line in r.opened)
        ike = [r for r in records if r.opened and not r.esp]
        assert ike and all(line.startswith("ISAKMP ") for r in ike for _, _, line in r.opened)


def test_decoding_leaves_the_routing_tables_unread(tmp_path):
    """decode --json with IKE keys (Scapy loaded) does not have Scapy read
    the routing tables, which decoding never uses; the output is unchanged."""
    import subprocess
    import sys
    from conftest import ROOT
    capture = PCAPS / "mm-psk-aes128-sha1-modp2048.pcap"
    code = ("import sys; from scapy_ike.cli import main; status = main(sys.argv[1:]); "
            "from scapy.config import conf; "
            "print(status, len(conf.route.routes), len(conf.route6.routes), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code, "decode", str(capture), "--keys",
                           str(capture.with_suffix(".keys")), "--jobs", "1", "--json"],
                          capture_output=True, timeout=60, cwd=ROOT, text=True)
    assert done.stderr == "0 0 0\n"
    assert len(done.stdout.splitlines()) == 17 and done.stdout.count(" -> ") == 13
