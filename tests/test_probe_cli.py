"""``scapy-ike probe`` on loopback: targets and shards, usage errors, the
rate measured at a silent receiver, and the whole probe against our own
``serve`` (its transforms as ike-scan sees them, its Aggressive Mode hash
cracked)."""

import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT, need_tool
from scapy_ike.cli.probe import expand, sharded
from scapy_ike.crypto import registry

SERVE_ADDR, SERVE_PORT = "127.0.0.51", 26620
SILENT_ADDR, SILENT_PORT = "127.0.0.53", 26630
ACCEPTED = "aes192-sha256-modp3072,3des-md5-modp1024,aes128-sha1-ecp256"
SUITES = {"aes192-sha256-modp3072", "3des-md5-modp1024", "aes128-sha1-ecp256"}
PSK = "serve-group-psk"
ENV = dict(os.environ, PYTHONPATH=str(ROOT))


def probe(*args, timeout=240):
    return subprocess.run([sys.executable, "-m", "scapy_ike", "probe", *map(str, args)],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)


def test_targets_expand_and_shard(tmp_path, monkeypatch):
    listed = tmp_path / "targets"
    listed.write_text("# gateways\n127.0.0.60\n\n127.0.0.64/31\n")
    got = list(expand(["127.0.0.50/30", str(listed), "localhost", "127.0.0.69/32"]))
    assert got == [("127.0.0.49", "127.0.0.49"), ("127.0.0.50", "127.0.0.50"),
                   ("127.0.0.60", "127.0.0.60"), ("127.0.0.64", "127.0.0.64"),
                   ("127.0.0.65", "127.0.0.65"), ("localhost", "127.0.0.1"),
                   ("127.0.0.69", "127.0.0.69")]
    monkeypatch.setattr(sys, "stdin", io.StringIO("127.0.0.55\n127.0.0.56/32\n"))
    assert list(expand(["-"])) == [("127.0.0.55", "127.0.0.55"), ("127.0.0.56", "127.0.0.56")]
    addresses = ["127.0.0.%d" % i for i in range(50, 60)]
    assert list(sharded(iter(addresses), (2, 3))) == ["127.0.0.51", "127.0.0.54", "127.0.0.57"]
    assert list(sharded(iter(addresses), None)) == addresses


@pytest.mark.parametrize("args, message", [
    (["127.0.0.50", "--shard", "4/3"], "is not I/N with 1 <= I <= N"),
    (["127.0.0.50", "--rate", "0"], "is not a positive rate"),
    (["127.0.0.50", "--pskcrack", "x"], "go with --aggressive"),
    (["127.0.0.50", "--aggressive", "--id-type", "ipv4", "--id", "nope"], "is not an address"),
    (["127.0.0.50", "--port", "70000"], "is not a port"),
])
def test_usage_errors(args, message):
    out = probe(*args)
    assert out.returncode == 2 and message in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_too_large_a_prefix_is_one_error_line():
    out = probe("10.0.0.0/8")
    assert out.returncode == 1
    assert out.stderr.strip() == ("scapy-ike probe: 10.0.0.0/8 has 16777216 addresses: "
                                  "at most 65536 a prefix")


def test_rate_is_honoured_and_silence_is_exit_1():
    """Six targets (the same silent address), three tries of MM1 and
    three of IKE_SA_INIT each: 36 datagrams, timed where they arrive."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind((SILENT_ADDR, SILENT_PORT))
    sink.settimeout(0.5)
    arrivals = []

    def receive():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(arrivals) < 36:
            try:
                sink.recvfrom(65535)
            except socket.timeout:
                continue
            arrivals.append(time.monotonic())
    thread = threading.Thread(target=receive)
    thread.start()
    start = time.monotonic()
    try:
        out = probe(*[SILENT_ADDR] * 6, "--port", SILENT_PORT, "--rate", 40, "--timeout",
                    "0.2", "--retries", 2, "--json")
    finally:
        elapsed = time.monotonic() - start
        thread.join(70)
        sink.close()
    assert out.returncode == 1
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(records) == 6 and all(r["versions"] == [] for r in records)
    assert all(r["main"]["datagrams"] == 3 and r["main"]["probes"] == 1 for r in records)
    assert len(arrivals) == 36
    span = arrivals[-1] - arrivals[0]
    assert span >= 35 / 40 * 0.9                      # no faster than 40 a second
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert min(gaps) > 1 / 40 * 0.5
    # the six in flight at once: one after the other, their waits alone take 6 x 2 x 1.4 s
    assert elapsed < 8


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    """Our responder on loopback, with three Phase 1 proposals; its log
    goes to a file (a pipe nobody reads would stop it when full)."""
    log = tmp_path_factory.mktemp("serve") / "log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "scapy_ike", "serve", "--listen", SERVE_ADDR, "--port",
             str(SERVE_PORT), "--natt-port", str(SERVE_PORT + 1), "--psk", PSK, "--ike",
             ACCEPTED, "--half-open-per-source", "100", "--timeout", "600"],
            cwd=ROOT, env=ENV, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while "listening on" not in log.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.05)
        assert "listening on %s:%d" % (SERVE_ADDR, SERVE_PORT) in log.read_text()
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture(scope="module")
def serve_record(serve, tmp_path_factory):
    params = tmp_path_factory.mktemp("probe") / "pskcrack"
    out = probe(SERVE_ADDR, "--port", SERVE_PORT, "--enumerate", "--aggressive", "--id",
                "client@example", "--pskcrack", params, "--json", "--rate", 1000, "--timeout",
                "0.5")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout), params


def test_serve_enumerated_in_both_modes(serve_record):
    record, _ = serve_record
    assert record["target"] == SERVE_ADDR and record["port"] == SERVE_PORT
    assert record["versions"] == ["ikev1-main", "ikev1-aggressive"]
    for mode in ("main", "aggressive"):
        found = record[mode]
        assert {t["proposal"] for t in found["transforms"]} == SUITES
        assert {t["auth"] for t in found["transforms"]} == {"psk"}
        assert found["complete"] and found["uncertain"] == []
        assert 60 <= found["probes"] <= 80
    assert record["aggressive"]["id"] == "client@example"
    assert record["vendor_ids"] == [
        {"name": "RFC 3947 NAT-T", "hex": "4a131c81070358455c5728f20e95452f", "source": "RFC 3947"},
        {"name": "RFC 3706 DPD", "hex": "afcad71368a1f1c96b8696fc77570100", "source": None}]
    assert "Aggressive Mode with a pre-shared key: its HASH_R can be cracked offline" \
        in record["risks"]
    assert "weak DH group: modp1024" in record["risks"]


def test_serve_hash_cracked(serve_record, tmp_path):
    _, params = serve_record
    words = tmp_path / "words"
    words.write_text("password\nletmein\n%s\nqwerty\n" % PSK)
    out = subprocess.run([sys.executable, "-m", "scapy_ike", "crack", str(params), "--wordlist",
                          str(words), "--jobs", "1"], cwd=ROOT, env=ENV, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert re.search(r'^key "%s" matches (MD5|SHA1|SHA256) hash [0-9a-f]+$' % PSK,
                     out.stdout, re.M)


def ike_scan_trans(t):
    """ike-scan's --trans for a reported transform: enc[/bits],hash,auth,group."""
    cipher, size = registry.cipher_by_keyword(t["cipher"])
    enc = "%d/%d" % (cipher.ike_id, size * 8) if len(cipher.key_sizes) > 1 else str(cipher.ike_id)
    return "%s,%d,1,%d" % (enc, registry.hash_algorithm(t["hash"]).ike_id, t["group_number"])


@pytest.mark.interop
def test_ike_scan_agrees_with_serve_report(serve_record):
    ike_scan = need_tool("ike-scan")
    record, _ = serve_record
    refused = {"cipher": "aes256", "hash": "sha512", "group_number": 16}
    for t in record["main"]["transforms"] + [refused]:
        out = subprocess.run([ike_scan, "--dport=%d" % SERVE_PORT, "--sport=0",
                              "--trans=" + ike_scan_trans(t), SERVE_ADDR],
                             capture_output=True, text=True, timeout=30).stdout
        if t is refused:
            assert "Notify message 14 (NO-PROPOSAL-CHOSEN)" in out
        else:
            assert "Main Mode Handshake returned" in out, (t, out)


def test_serve_summary_without_json(serve):
    out = probe(SERVE_ADDR, "--port", SERVE_PORT, "--aggressive", "--no-ikev2", "--timeout",
                "0.5", "--rate", 200)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "%s (port %d): ikev1-main, ikev1-aggressive" % (SERVE_ADDR, SERVE_PORT)
    assert "  main mode: handshake, 1 probe(s)" in lines
    assert "    accepted 3des-md5-modp1024 auth psk" in lines
    assert "  VID afcad71368a1f1c96b8696fc77570100 (RFC 3706 DPD)" in lines
    assert "  guess: scapy-ike" in lines


def test_serve_fingerprinted(serve):
    """Our responder does not repeat MM2; it repeats AM2 on charon's
    schedule (4 s, then 1.8 times longer each time)."""
    out = probe(SERVE_ADDR, "--port", SERVE_PORT, "--aggressive", "--fingerprint",
                "--backoff-wait", 26, "--no-ikev2", "--json", "--timeout", "0.5", "--rate", 200)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    backoff = record["backoff"]
    assert backoff["intervals"] == pytest.approx([4.0, 7.2, 13.0], abs=0.3)
    assert (backoff["mode"], backoff["match"]) == ("aggressive",
                                                   "strongSwan 5 (charon) or scapy-ike")
    assert record["guess"]["implementation"] == "scapy-ike"
    assert record["guess"]["evidence"][:2] == [
        "vendor IDs RFC 3706 DPD and no other (NAT-T aside)",
        "backoff pattern of strongSwan 5 (charon) or scapy-ike"]
