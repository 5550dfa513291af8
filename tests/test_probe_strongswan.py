"""``scapy-ike probe`` against real charon (strongSwan 5.9.8) in namespaces
of its own: its Phase 1 proposals enumerated in Main and Aggressive Mode,
its vendor IDs and AM2 backoff named, ike-scan agreeing with the report,
and Aggressive Mode hashes with a SHA-1 and a SHA-256 prf cracked."""

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, need_tool
from scapy_ike.testing.netns import run_in_netns
from test_probe_cli import ike_scan_trans

pytestmark = pytest.mark.interop

PSK = "charon-group-psk"
ACCEPTED = "aes192-sha256-modp3072,3des-md5-modp1024,aes128-sha1-ecp256"
SUITES = {"aes192-sha256-modp3072", "3des-md5-modp1024", "aes128-sha1-ecp256"}
ENV = dict(os.environ, PYTHONPATH=str(ROOT))


def probe(peer, *args, timeout=240):
    """The probe run in the test namespace against charon."""
    out = run_in_netns(peer.test_ns, [sys.executable, "-m", "scapy_ike", "probe",
                                      peer.peer_addr, "--rate", "500", "--timeout", "0.5",
                                      *map(str, args)],
                       cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return out


def ike_scan(peer, *args):
    return run_in_netns(peer.test_ns, [need_tool("ike-scan"), *args, peer.peer_addr],
                        capture_output=True, text=True, timeout=30).stdout


@pytest.fixture
def charon(strongswan_peer):
    return strongswan_peer(psk=PSK, mode="aggressive", ike_proposals=ACCEPTED,
                           dos_protection=False)


def test_charon_enumerated_and_fingerprinted(charon):
    record = json.loads(probe(charon, "--enumerate", "--aggressive", "--fingerprint",
                              "--backoff-wait", "15", "--json").stdout)
    assert record["versions"] == ["ikev1-main", "ikev1-aggressive", "ikev2"]
    assert record["answers"]["ikev2"] == "notify NO_PROPOSAL_CHOSEN"     # IKEv1-only config
    main, aggressive = record["main"], record["aggressive"]
    # Main Mode: charon picks by the algorithms and checks the method after MM4
    assert {(t["proposal"], t["auth"]) for t in main["transforms"]} == {
        (s, "any") for s in SUITES}
    assert {(t["proposal"], t["auth"]) for t in aggressive["transforms"]} == {
        (s, "psk") for s in SUITES}
    for found in (main, aggressive):
        assert found["complete"] and found["uncertain"] == [] and found["probes"] < 100
    assert "notify AUTHENTICATION-FAILED" in aggressive["notes"]
    assert [v["name"] for v in record["vendor_ids"]] == ["XAUTH", "RFC 3706 DPD",
                                                         "RFC 3947 NAT-T"]
    # charon repeats AM2 (not MM2) on its retransmit_timeout 2 s, base 1.8
    assert record["backoff"]["mode"] == "aggressive"
    assert record["backoff"]["match"] == "strongSwan 5 (charon), retransmit_timeout 2 s"
    assert record["guess"]["implementation"] == "strongSwan 5 (charon)"
    assert "Aggressive Mode with a pre-shared key: its HASH_R can be cracked offline" \
        in record["risks"]


def test_ike_scan_agrees_with_the_report(charon):
    record = json.loads(probe(charon, "--enumerate", "--no-ikev2", "--json").stdout)
    refused = {"cipher": "aes256", "hash": "sha512", "group_number": 16}
    for t in record["main"]["transforms"] + [refused]:
        out = ike_scan(charon, "--trans=" + ike_scan_trans(t))
        if t is refused:
            assert "Notify message 14 (NO-PROPOSAL-CHOSEN)" in out, out
        else:
            enc = {"aes192": "Enc=AES KeyLength=192", "3des": "Enc=3DES",
                   "aes128": "Enc=AES KeyLength=128"}[t["cipher"]]
            assert re.search(r"Main Mode Handshake returned.*SA=\(%s Hash=%s"
                             % (enc, t["hash"].upper().replace("SHA256", "SHA2-256")),
                             out.replace("\n\t", " ")), out


@pytest.mark.parametrize("suite, label", [("aes128-sha1-modp2048", "SHA1"),
                                          ("aes256-sha256-modp2048", "SHA256")])
def test_aggressive_mode_hash_captured_and_cracked(strongswan_peer, tmp_path, suite, label):
    peer = strongswan_peer(psk=PSK, mode="aggressive", ike_proposals=suite)
    params = tmp_path / "params"
    record = json.loads(probe(peer, "--aggressive", "--id", "vpn@example", "--pskcrack",
                              params, "--no-ikev2", "--json").stdout)
    assert record["aggressive"]["hash_captured"] and record["aggressive"]["answer"] == "handshake"
    assert [t["proposal"] for t in record["aggressive"]["transforms"]] == [suite]
    words = tmp_path / "words"
    words.write_text("".join("guess%d\n" % i for i in range(5000)) + PSK + "\nlast\n")
    ours = subprocess.run([sys.executable, "-m", "scapy_ike", "crack", str(params),
                           "--wordlist", str(words)], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=120)
    assert ours.returncode == 0, ours.stderr
    assert re.search(r'^key "%s" matches %s hash [0-9a-f]+$' % (PSK, label), ours.stdout, re.M)
    if label == "SHA1":
        theirs = subprocess.run([need_tool("psk-crack"), "-d", str(words), str(params)],
                                capture_output=True, text=True, timeout=60).stdout
        assert 'key "%s" matches SHA1 hash' % PSK in theirs


@pytest.mark.parametrize("remote_id, id_type", [("vpngroup", "fqdn"),
                                                 ("keyid:vpngroup", "keyid")])
def test_group_names_told_by_charons_answers(strongswan_peer, tmp_path, remote_id, id_type):
    """charon with one peer ID (a group name; ID_KEY_ID as Cisco clients
    send it): AUTHENTICATION-FAILED for any other, a handshake for it."""
    peer = strongswan_peer(psk=PSK, mode="aggressive", ike_proposals="aes256-sha256-modp2048",
                           remote_id=remote_id)
    names = tmp_path / "names"
    names.write_text("sales\nvpngroup\nadmin\n")
    record = json.loads(probe(peer, "--aggressive", "--id", "vpngroup", "--id-type", id_type,
                              "--id-list", names, "--no-ikev2", "--json").stdout)
    found = record["aggressive"]
    assert found["id_baseline"] == "notify AUTHENTICATION-FAILED"
    assert found["ids"] == [
        {"id": "sales", "answer": "notify AUTHENTICATION-FAILED", "valid": False},
        {"id": "vpngroup", "answer": "handshake", "valid": True},
        {"id": "admin", "answer": "notify AUTHENTICATION-FAILED", "valid": False}]
    assert found["probes"] == 2 + 4      # discovery (modp1024 refused, modp2048), 1 + 3 IDs


def test_half_open_limit_of_charon_waited_out(strongswan_peer):
    """charon's DoS protection on: 5 half-open SAs per source, then
    silence until they time out (30 s).  The 18 handshakes of both modes
    still all come, after pauses; nothing is called refused or uncertain."""
    peer = strongswan_peer(psk=PSK, mode="aggressive", ike_proposals=ACCEPTED,
                           dos_protection=True)
    record = json.loads(probe(peer, "--enumerate", "--aggressive", "--no-ikev2", "--json",
                              timeout=400).stdout)
    main, aggressive = record["main"], record["aggressive"]
    assert {t["proposal"] for t in main["transforms"]} == SUITES
    assert {t["proposal"] for t in aggressive["transforms"]} == SUITES
    assert main["complete"] and aggressive["complete"]
    assert main["datagrams"] > main["probes"]          # the silences, retried after a pause


def test_ike_scan_aggressive_mode_agrees(charon):
    """ike-scan's KE is random bytes, which charon's DH check refuses about
    half the time (INVALID-KEY-INFORMATION): a few tries each."""
    record = json.loads(probe(charon, "--enumerate", "--aggressive", "--no-ikev2",
                              "--json").stdout)
    modp = [t for t in record["aggressive"]["transforms"] if t["group"].startswith("modp")]
    assert {t["proposal"] for t in modp} == {"aes192-sha256-modp3072", "3des-md5-modp1024"}
    for t in modp + [{"cipher": "aes256", "hash": "sha512", "group_number": 16}]:
        for _ in range(6):
            out = ike_scan(charon, "--aggressive", "--id=scan@example",
                           "--dhgroup=%d" % t["group_number"], "--trans=" + ike_scan_trans(t))
            if "INVALID-KEY-INFORMATION" not in out:
                break
        if "proposal" in t:
            assert "Aggressive Mode Handshake returned" in out, (t, out)
        else:
            assert "Notify message 14 (NO-PROPOSAL-CHOSEN)" in out, out
