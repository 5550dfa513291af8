"""ike-scan against our responder, as against a real gateway: Main and
Aggressive Mode handshakes returned, and psk-crack finds the pre-shared
key in what ike-scan --pskcrack recorded."""

import re
import subprocess

import pytest

from conftest import need_tool
from scapy_ike.automaton import IKEv1Automaton
from scapy_ike.core.config import Configuration

PORT = 26500
PSK = b"q7z2"


@pytest.fixture(params=["main", "aggressive"])
def responder(request):
    config = Configuration(role="responder", mode=request.param, psk=PSK,
                           ike="3des-sha1-modp1024,aes128-sha1-modp1024")
    automaton = IKEv1Automaton(config, local_address="127.0.0.1", ike_port=PORT,
                               natt_port=PORT + 1)
    automaton.runbg()
    yield request.param
    automaton.stop()
    automaton.close()


RFC3947 = "4a131c81070358455c5728f20e95452f"


@pytest.mark.interop
def test_ikescan_handshake_and_psk_crack(responder, tmp_path):
    ike_scan = need_tool("ike-scan")
    params = tmp_path / "psk-params"
    argv = [ike_scan, "--dport=%d" % PORT, "--sport=0", "--vendor=" + RFC3947, "127.0.0.1"]
    if responder == "aggressive":
        argv[1:1] = ["--aggressive", "--id=tester", "--pskcrack=%s" % params]
    for _ in range(3):                       # a KE of ike-scan's may fail our DH check
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
        if "Handshake returned" in out:
            break
    mode = "Main" if responder == "main" else "Aggressive"
    assert re.search(r"127\.0\.0\.1\t%s Mode Handshake returned HDR=\(CKY-R=[0-9a-f]{16}\) "
                     r"SA=\(Enc=3DES Hash=SHA1 Auth=PSK Group=2:modp1024 " % mode, out)
    # the NAT-T version ike-scan offered, echoed as a gateway does, and DPD
    assert "VID=%s (RFC 3947 NAT-T)" % RFC3947 in out
    assert "VID=afcad71368a1f1c96b8696fc77570100 (Dead Peer Detection v1.0)" in out
    if responder == "aggressive":
        assert "Hash(20 bytes)" in out and "ID(Type=ID_IPV4_ADDR, Value=127.0.0.1)" in out
        crack = subprocess.run([need_tool("psk-crack"), "--bruteforce=4",
                                "--charset=0123456789abcdefghijklmnopqrstuvwxyz", str(params)],
                               capture_output=True, text=True, timeout=60).stdout
        assert 'key "q7z2" matches SHA1 hash' in crack
