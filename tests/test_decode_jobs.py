"""``decode --jobs N``: the same output, byte for byte, and the same
messages and exit status as one process, on every capture we have (with
its keys), a mutated one with failures among them; the progress line is
written only to a terminal."""

import subprocess
import sys

import pytest

from conftest import PCAPS, ROOT, TESTDATA
from scapy_ike.cli import main
from scapy_ike.decode.keylog import read_keys
from test_captures import all_captures
from test_decode import KEYS
from test_decode_fuzz import mutated_capture
from test_decode_ike import PSKS


def key_arguments(capture, tmp_path):
    name = "%s/%s" % (capture.parent.name, capture.name)
    if name in KEYS:
        keys = tmp_path / "keys"
        keys.write_text(KEYS[name]())
        return ["--keys", str(keys)]
    if capture.stem in PSKS and capture.with_suffix(".keys").exists():
        keys = read_keys(capture.with_suffix(".keys").read_text())
        return ["--psk", PSKS[capture.stem]] + [
            a for g in [k.gxy for k in keys.ike] + keys.qm_gxy for a in ("--gxy", g.hex())]
    if capture.name == "ikev1-bug-12610.pcapng.gz":
        return ["--keys", str(TESTDATA / "keys" / "ikev1_decryption_table")]
    return []


def outputs(capsys, argv):
    results = []
    for jobs in ("1", "2"):
        status = main(argv + ["--jobs", jobs])
        out, err = capsys.readouterr()
        results.append((status, out, err))
    return results


@pytest.mark.parametrize("capture", all_captures() or [pytest.param(
    None, marks=pytest.mark.skip(reason="public test data absent (../shared/testdata)"))],
    ids=lambda p: getattr(p, "name", "none"))
def test_jobs_give_the_same_output(capture, tmp_path, capsys):
    argv = ["decode", str(capture)] + key_arguments(capture, tmp_path)
    one, two = outputs(capsys, argv)
    assert one == two and one[1].count("\n") >= 1


def test_jobs_on_a_mutated_capture_with_failures(tmp_path, capsys):
    """Failures per SA, and the last error of each, as one process says."""
    capture = PCAPS / "mm-psk-aes128-sha1-modp2048.pcap"
    path = tmp_path / "mutated.pcap"
    mutated_capture(capture, path)
    argv = ["decode", str(path), "--keys", str(capture.with_suffix(".esp_sa"))]
    one, two = outputs(capsys, argv)
    assert one == two and one[0] == 1 and "packet(s) failed" in one[2]


@pytest.mark.parametrize("option", [[], ["-V"], ["--json"], ["--time", "delta"]])
def test_jobs_with_every_output_format(option, capsys, tmp_path):
    capture = PCAPS / "mm-psk-3des-md5-modp1024-pfs.pcap"
    one, two = outputs(capsys, ["decode", str(capture)] + key_arguments(capture, tmp_path)
                       + option)
    assert one == two and one[0] == 0


def test_no_progress_line_in_a_pipe():
    capture = PCAPS / "mm-psk-aes128-sha1-modp2048.pcap"
    done = subprocess.run([sys.executable, "-m", "scapy_ike", "decode", str(capture)],
                          capture_output=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0 and done.stderr == b"" and len(done.stdout.splitlines()) == 17


def test_progress_line(tmp_path, capsys):
    from scapy_ike.cli.decode import Progress
    path = tmp_path / "f"
    path.write_bytes(bytes(1000))
    with open(path, "rb") as f:
        f.read(250)
        progress = Progress(f, every=0)
        progress(512)
        progress.done()
    assert capsys.readouterr().err == "\r512 frames, 25%\r\033[K"
