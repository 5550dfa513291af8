"""Against real strongSwan (charon from Debian, in its own network
namespace, userspace ESP): our initiator with charon responding, and charon
initiating to our responder, in Main and Aggressive Mode with Quick Mode;
charon's own view of the SAs, pings both ways through the tunnel, tshark
decrypting the capture with the key log we wrote, and the failure paths."""

import re
import subprocess
import time

import pytest

from conftest import need_tool
from scapy_ike.automaton import IKEv1Automaton
from scapy_ike.cli.connect import ping
from scapy_ike.core import events as ev
from scapy_ike.core.config import Configuration
from scapy_ike.crypto import dh
from scapy_ike.testing.netns import socket_in_netns

PSK = "interop-psk"
SUITES = [  # (IKE, ESP), strongSwan syntax on both sides
    ("aes128-sha1-modp1024", "aes128-sha1"),
    ("aes128-sha1-modp2048", "aes128-sha256"),
    ("aes128-sha1-ecp256", "aes256-sha1"),
    ("aes128-sha256-modp1024", "aes128-sha1"),
    ("aes128-sha256-modp2048", "aes256-sha256"),
    ("aes128-sha256-ecp256", "aes128gcm16"),
    ("aes256-sha1-modp1024", "aes128-sha1"),
    ("aes256-sha1-modp2048", "aes128-sha1"),
    ("aes256-sha1-ecp256", "aes128-sha1"),
    ("aes256-sha256-modp1024", "aes256-sha256"),
    ("aes256-sha256-modp2048", "aes256-sha256"),
    ("aes256-sha256-ecp256", "aes256gcm16"),
    ("3des-sha1-modp1024", "3des-sha1"),
    ("aes256-sha256-modp2048", "aes128-sha256-modp2048"),      # Quick Mode with PFS
    ("aes128-sha256-ecp256", "aes128gcm16-ecp256"),            # PFS, ECP
]


def sockets_in(ns, address):
    out = {}
    for port in (500, 4500):
        s = socket_in_netns(ns)
        s.bind((address, port))
        out[port] = s
    return out


def wait(automaton, kinds, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in automaton.events if isinstance(e, kinds)]
        if found:
            return found[0]
        time.sleep(0.05)
    return None


def ours(role, mode, ike, esp, peer, keylog=None, **extra):
    """Our side in charon's test namespace, on 192.0.2.2."""
    config = Configuration(**{"role": role, "mode": mode, "psk": PSK.encode(), "ike": ike,
                              "esp": esp, "local_ts": "198.51.100.2/32",
                              "remote_ts": "198.51.100.1/32", **extra})
    automaton = IKEv1Automaton(config, peer=(peer.peer_addr, 500) if role == "initiator" else None,
                               local_address="192.0.2.2",
                               sockets=sockets_in(peer.test_ns, "192.0.2.2"), keylog=keylog)
    automaton.runbg()
    return automaton


def charon_view(peer):
    """charon's IKE SA and its one CHILD SA."""
    (sa,) = peer.list_sas()
    (child,) = [v for k, v in sa.items() if isinstance(v, dict) and "spi-in" in v] or \
        [c for c in sa.get("child-sas", {}).values()]
    return sa, child


def charon_names(phase1):
    """How charon's ``--list-sas --raw`` names our Phase 1 choice."""
    prf = {"md5": "MD5", "sha1": "SHA1"}.get(phase1.hash.name,
                                              "SHA2_" + phase1.hash.name[3:])
    group = re.sub(r"([a-z]+)(\d+)", r"\1_\2", dh.group(phase1.group).name).upper()
    return phase1.cipher.charon, "PRF_HMAC_" + prf, group


def check_tunnel(peer, automaton, established):
    """charon shows the IKE and CHILD SAs we made (same cookies, SPIs
    and algorithms), and traffic flows both ways through the tunnel."""
    sa, child = charon_view(peer)
    assert sa["state"] == "ESTABLISHED" and child["state"] == "INSTALLED"
    cookies = established.cookies
    assert (sa["initiator-spi"], sa["responder-spi"]) == (cookies[:8].hex(), cookies[8:].hex())
    phase1 = automaton.endpoint.connections[cookies[:8]].phase1.chosen
    assert (sa["encr-alg"], sa["prf-alg"], sa["dh-group"]) == charon_names(phase1)
    if len(phase1.cipher.key_sizes) > 1:
        assert sa["encr-keysize"] == str(phase1.key_size * 8)
    assert child["spi-in"] == established.spi_out.hex()
    assert child["spi-out"] == established.spi_in.hex()
    assert (child["encap"], child["mode"], child["protocol"]) == ("yes", "TUNNEL", "ESP")
    transform = established.proposal.transform
    assert child["encr-alg"] == transform.cipher.charon
    if len(transform.cipher.key_sizes) > 1:
        assert child["encr-keysize"] == str(transform.key_size * 8)
    assert child.get("integ-alg", "none") == transform.integrity.charon
    answered = peer.ping(count=3)
    assert answered.returncode == 0, answered.stdout
    assert ping(automaton.tunnel_socket(), "198.51.100.2", "198.51.100.1", 3) == 3
    _, child = charon_view(peer)
    assert int(child["bytes-in"]) > 0 and int(child["bytes-out"]) > 0
    assert int(child["packets-in"]) == 6 and int(child["packets-out"]) == 6


def finish(automaton):
    automaton.stop()
    automaton.close()


def established_and_checked(peer, automaton, start=None):
    """Wait for Quick Mode (after *start*), check the tunnel, clean up."""
    try:
        if start is not None:
            start()
        established = wait(automaton, (ev.QuickModeEstablished, ev.Failed))
        assert isinstance(established, ev.QuickModeEstablished), established
        check_tunnel(peer, automaton, established)
    finally:
        finish(automaton)


@pytest.mark.interop
@pytest.mark.parametrize("ike,esp", SUITES, ids=["%s/%s" % s for s in SUITES])
def test_our_initiator_main_mode(strongswan_peer, ike, esp):
    peer = strongswan_peer(psk=PSK, ike_proposals=ike, esp_proposals=esp)
    established_and_checked(peer, ours("initiator", "main", ike, esp, peer))


AGGRESSIVE = [SUITES[0], SUITES[4], SUITES[5], SUITES[12], SUITES[14]]


@pytest.mark.interop
@pytest.mark.parametrize("ike,esp", AGGRESSIVE, ids=["%s/%s" % s for s in AGGRESSIVE])
def test_our_initiator_aggressive_mode(strongswan_peer, ike, esp):
    peer = strongswan_peer(psk=PSK, mode="aggressive", ike_proposals=ike, esp_proposals=esp,
                           remote_id="initiator@example.org", local_id="responder.example.org")
    established_and_checked(peer, ours("initiator", "aggressive", ike, esp, peer,
                                       local_id="initiator@example.org",
                                       remote_id="responder.example.org"))


CHARON_INITIATES = [("main", SUITES[0]), ("main", SUITES[10]), ("main", SUITES[12]),
                    ("main", SUITES[13]), ("aggressive", SUITES[4]), ("aggressive", SUITES[14])]


@pytest.mark.interop
@pytest.mark.parametrize("mode,suite", CHARON_INITIATES,
                         ids=["%s-%s/%s" % (m, *s) for m, s in CHARON_INITIATES])
def test_charon_initiates_to_our_responder(strongswan_peer, mode, suite):
    ike, esp = suite
    peer = strongswan_peer(role="initiator", mode=mode, psk=PSK, ike_proposals=ike,
                           esp_proposals=esp)
    established_and_checked(peer, ours("responder", mode, ike, esp, peer), peer.initiate)


@pytest.mark.interop
def test_tshark_decrypts_with_our_key_log(strongswan_peer, tmp_path):
    tshark = need_tool("tshark")
    peer = strongswan_peer(psk=PSK, capture=True, esp_proposals="aes256-sha256-modp2048")
    keylog = str(tmp_path / "ours.keys")
    automaton = ours("initiator", "main", "aes256-sha256-modp2048", "aes256-sha256-modp2048",
                     peer, keylog=keylog)
    try:
        established = wait(automaton, (ev.QuickModeEstablished, ev.Failed))
        assert isinstance(established, ev.QuickModeEstablished)
        check_tunnel(peer, automaton, established)
    finally:
        finish(automaton)
    peer.stop()
    config = tmp_path / "wireshark"
    config.mkdir()
    for table in ("ikev1_decryption_table", "esp_sa"):
        (config / table).write_text(open(keylog + "." + table).read())
    out = subprocess.run(
        [tshark, "-n", "-r", str(peer.capture_file), "-o", "esp.enable_encryption_decode:TRUE",
         "-o", "esp.enable_authentication_check:TRUE", "-T", "fields",
         "-e", "isakmp.typepayload", "-e", "icmp.type", "-e", "esp.icv_good"],
        capture_output=True, text=True, timeout=60, check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "WIRESHARK_CONFIG_DIR": str(config)},
    ).stdout.splitlines()
    rows = [line.split("\t") for line in out]
    decrypted = [r[0] for r in rows if r[0]]
    assert "5,8" in decrypted and "8,1,2,3,10,4,5,5" in decrypted
    icmp = [(r[1], r[2]) for r in rows if r[1]]
    assert len(icmp) == 12 and set(icmp) == {("8", "1"), ("0", "1")}


@pytest.mark.interop
@pytest.mark.parametrize("problem,charon,mine,reason", [
    ("wrong psk", dict(psk="another-psk"), {}, None),
    ("no proposal", dict(ike_proposals="3des-md5-modp1024"), {}, "peer notify NO-PROPOSAL-CHOSEN"),
    ("wrong identity", {}, dict(remote_id="gw.example"),
     "invalid id: the peer is 192.0.2.1, not gw.example"),
])
def test_failures_against_charon(strongswan_peer, problem, charon, mine, reason):
    settings = dict(psk=PSK, ike_proposals="aes256-sha256-modp2048", esp_proposals="aes256-sha256")
    settings.update(charon)
    peer = strongswan_peer(**settings)
    from scapy_ike.core.config import Retransmission
    automaton = ours("initiator", "main", "aes256-sha256-modp2048", "aes256-sha256", peer,
                     retransmission=Retransmission(timeout=1.0, base=1.5, tries=3), **mine)
    try:
        start = time.monotonic()
        failed = wait(automaton, (ev.Failed, ev.QuickModeEstablished), timeout=20)
        assert isinstance(failed, ev.Failed), failed
        assert time.monotonic() - start < 20
        if reason is not None:
            assert failed.reason == reason
        else:   # charon answers with a notify encrypted under its own keys: anyone's
            assert failed.reason.startswith("timeout: no answer to IKE_I_MM5; ")
            assert failed.reason.endswith(" did not authenticate (wrong pre-shared key?)")
            assert not any(isinstance(e, ev.NotifyReceived) for e in automaton.events)
    finally:
        finish(automaton)


@pytest.mark.interop
@pytest.mark.parametrize("role", ["initiator", "responder"])
def test_nat_t_drafts_with_charon(strongswan_peer, role):
    """With a side that speaks only the NAT-T drafts, charon picks
    draft-02\\n: NAT-D payloads numbered 130, the float to 4500 and
    UDP-encapsulated ESP (mode 61443) all work."""
    from scapy_ike.constants import vendor_id_name
    from scapy_ike.layers.isakmp import (
        ISAKMP, ISAKMP_payload_NAT_D, ISAKMP_payload_VendorID, payloads_of,
    )
    from conftest import read_capture
    ike, esp = SUITES[4]
    peer = strongswan_peer(role="responder" if role == "initiator" else "initiator", psk=PSK,
                           ike_proposals=ike, esp_proposals=esp, capture=True)
    automaton = ours(role, "main", ike, esp, peer, nat_t="drafts")
    established_and_checked(peer, automaton, peer.initiate if role == "responder" else None)
    peer.stop()
    messages = [p[ISAKMP] for p in read_capture(peer.capture_file) if p.haslayer(ISAKMP)]
    natd = [p.underlayer.next_payload for m in messages
            for p in payloads_of(m, ISAKMP_payload_NAT_D)]
    assert natd == [130] * 4
    mm2 = messages[1]
    assert "draft-ietf-ipsec-nat-t-ike-02\\n" in [
        vendor_id_name(v.VendorID) for v in payloads_of(mm2, ISAKMP_payload_VendorID)]


@pytest.mark.interop
@pytest.mark.parametrize("mode", ["main", "aggressive"])
def test_charon_defaults_against_our_default_responder(strongswan_peer, mode):
    """charon's ``default`` proposals in both phases meet a responder with
    no proposals configured: charon's first choices are taken."""
    peer = strongswan_peer(role="initiator", mode=mode, psk=PSK, ike_proposals="default",
                           esp_proposals="default")
    automaton = ours("responder", None, None, None, peer)
    try:
        peer.initiate()
        established = wait(automaton, (ev.QuickModeEstablished, ev.Failed))
        assert isinstance(established, ev.QuickModeEstablished), established
        chosen = automaton.endpoint.connections[established.cookies[:8]].phase1.chosen
        assert chosen.describe() == "aes128-sha256-curve25519"
        assert established.proposal.describe() == "aes128gcm16"   # our order: AEAD first
        check_tunnel(peer, automaton, established)
    finally:
        finish(automaton)


@pytest.mark.interop
def test_charon_dead_peer_detection_finds_us_alive(strongswan_peer):
    """charon sends R-U-THERE every 2 s of quiet: each gets its
    R-U-THERE-ACK (RFC 3706), so after three DPD timeouts' worth of quiet
    charon still holds the SA and the tunnel works."""
    from scapy_ike.constants import NotifyType
    peer = strongswan_peer(role="initiator", psk=PSK, ike_proposals=SUITES[10][0],
                           esp_proposals=SUITES[10][1], dpd_delay=2, dpd_timeout=4)
    automaton = ours("responder", "main", *SUITES[10], peer)
    try:
        peer.initiate()
        established = wait(automaton, (ev.QuickModeEstablished, ev.Failed))
        assert isinstance(established, ev.QuickModeEstablished), established
        time.sleep(13)
        asked = [e for e in automaton.events if isinstance(e, ev.NotifyReceived)
                 and e.notify_type == NotifyType.R_U_THERE]
        assert len(asked) >= 3
        sequence = [int.from_bytes(e.data, "big") for e in asked]
        assert sequence == sorted(set(sequence))          # each one new, in order
        sa, child = charon_view(peer)
        assert sa["state"] == "ESTABLISHED" and child["state"] == "INSTALLED"
        assert peer.ping(count=3).returncode == 0
        assert "DPD" not in "".join(e.reason for e in automaton.events
                                    if isinstance(e, (ev.Dropped, ev.Failed)))
    finally:
        finish(automaton)
