"""The strongSwan peer factory of ``scapy_ike.testing``: charon against
charon through it alone (Main Mode, Aggressive Mode with PFS, XAuth with
Mode Config), its watchdog and failure path, the parsers of swanctl's and
charon's output, and sockets in a network namespace."""

import contextlib
import errno
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections import Counter

import pytest

from conftest import need_tool
from scapy_ike.decode.keylog import parse_key_log
from scapy_ike.testing.netns import in_netns, run_in_netns, socket_in_netns
from scapy_ike.testing.strongswan import (
    PeerConfig, PeerError, StrongSwanPeer, available, charon_keys, parse_list_sas)

REASON = available()
needs_charon = pytest.mark.skipif(REASON is not None, reason=str(REASON))
needs_netns = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                                 reason="needs root and ip (iproute2)")

# per scenario: the responder's settings, the initiator's changes to its
# counterpart(), the key log lines per kind, the Phase 1 exchange type
# (RFC 2408 3.1: 2 Main, 4 Aggressive) and the initiator's Mode Config lease
SCENARIOS = {
    "main": (PeerConfig(psk="scapy-ike-main", capture=True, lifetime=60), {},
             {"ike": 1, "esp": 2}, 2, []),
    "aggressive": (PeerConfig(mode="aggressive", psk="scapy-ike-am", local_id="responder.example.org",
                              ike_proposals="aes128-sha1-modp2048",
                              esp_proposals="aes128gcm16-modp2048", capture=True, lifetime=60),
                   {"local_id": "initiator@example.org"},
                   {"ike": 1, "esp": 2, "qm": 1}, 4, []),
    "xauth-modecfg": (PeerConfig(psk="scapy-ike-xauth", xauth=True, modecfg=True, capture=True,
                                 lifetime=60), {},
                      {"ike": 1, "esp": 2}, 2, ["198.51.100.65"]),
}


@pytest.fixture(params=sorted(SCENARIOS))
def pair(request, tmp_path):
    """A charon responder and a charon initiator in its test namespace;
    the initiator stops first, so it sends the DELETEs."""
    need_tool("tcpdump")
    need_tool("ping")
    config, changes = SCENARIOS[request.param][:2]
    with contextlib.ExitStack() as stack:
        responder = stack.enter_context(StrongSwanPeer(config, tmp_path / "r"))
        initiator = stack.enter_context(StrongSwanPeer(responder.counterpart(**changes), tmp_path / "i"))
        yield request.param, responder, initiator


def installed(peer, timeout=5):
    """The established IKE SA and its installed child SA (the responder
    installs after QM3, a moment after the initiator returns)."""
    deadline = time.monotonic() + timeout
    while True:
        for sa in peer.list_sas():
            children = [c for c in sa.get("child-sas", {}).values() if c["state"] == "INSTALLED"]
            if sa["state"] == "ESTABLISHED" and children:
                return sa, children[0]
        assert time.monotonic() < deadline, "no installed CHILD_SA after %s s" % timeout
        time.sleep(0.05)


@needs_charon
def test_charon_pair(pair):
    scenario, responder, initiator = pair
    lines_per_kind, phase1_exchange, lease = SCENARIOS[scenario][2:]
    initiator.initiate()
    i_sa, i_child = installed(initiator)
    r_sa, r_child = installed(responder)
    assert i_sa.get("local-vips", []) == r_sa.get("remote-vips", []) == lease
    assert i_sa["initiator"] == "yes" and "initiator" not in r_sa
    assert (i_sa["initiator-spi"], i_sa["responder-spi"]) == (r_sa["initiator-spi"], r_sa["responder-spi"])
    assert (i_child["spi-in"], i_child["spi-out"]) == (r_child["spi-out"], r_child["spi-in"])
    assert i_child["encr-alg"] == r_child["encr-alg"] and i_child["encap"] == "yes"

    for side in (responder, initiator):
        ping = side.ping(count=3)
        assert ping.returncode == 0, ping.stdout + ping.stderr   # -c with -w: 0 = all answered
    _, r_child = installed(responder)
    assert r_child["packets-out"] == r_child["packets-in"] == "6"

    lines = responder.keys().splitlines()
    assert sorted(lines) == sorted(initiator.keys().splitlines())
    assert Counter(line.split()[0] for line in lines) == lines_per_kind
    keys = parse_key_log(responder.keys())
    assert keys.ike[0].cky_i.hex() == r_sa["initiator-spi"]
    spis = {r_child["spi-in"], r_child["spi-out"]}
    assert {"%08x" % key.spi for key in keys.esp} == spis

    pids, namespaces = (responder.pid, initiator.pid), (responder.peer_ns, responder.test_ns)
    initiator.stop()
    responder.stop()
    responder.stop()                    # idempotent
    assert not any(os.path.exists("/proc/%d" % pid) for pid in pids)
    assert not any(os.path.exists("/run/netns/" + ns) for ns in namespaces)
    check_capture(responder.capture_file, phase1_exchange, spis)


def check_capture(path, phase1_exchange, spis):
    """IKE on 500 (Phase 1 first), IKE behind the non-ESP marker on 4500
    (Quick Mode, the DELETEs) and the pings as ESP-in-UDP (RFC 3948)."""
    from scapy.layers.inet import UDP
    from scapy.utils import rdpcap
    datagrams = [(p[UDP].sport, p[UDP].dport, bytes(p[UDP].payload))
                 for p in rdpcap(str(path)) if UDP in p]
    ike500 = [data for sport, dport, data in datagrams if sport == dport == 500]
    on4500 = [data for sport, dport, data in datagrams if sport == dport == 4500]
    ike4500 = [data[4:] for data in on4500 if data[:4] == bytes(4)]
    esp = [data for data in on4500 if len(data) > 8 and data[:4] != bytes(4)]
    assert ike500 and ike500[0][18] == phase1_exchange
    assert {32, 5} <= {data[18] for data in ike4500}        # Quick Mode, Informational
    assert {data[:4].hex() for data in esp} == spis
    assert len(esp) == 12                                   # 2 x 3 echo requests and replies


@needs_charon
def test_failed_start_raises_and_cleans_up(tmp_path):
    peer = StrongSwanPeer(PeerConfig(ike_proposals="no-such-algorithm", lifetime=30), tmp_path / "x")
    with pytest.raises(PeerError, match="proposals") as error:
        peer.start()
    assert "charon.log" in str(error.value)                 # the log tail comes along
    assert not os.path.exists("/run/netns/" + peer.peer_ns)
    assert peer.pid is not None and not os.path.exists("/proc/%d" % peer.pid)


@needs_charon
def test_watchdog_stops_an_abandoned_charon(tmp_path):
    peer = StrongSwanPeer(PeerConfig(lifetime=1), tmp_path / "w").start()
    deadline = time.monotonic() + 5
    while os.path.exists("/proc/%d" % peer.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists("/proc/%d" % peer.pid)
    peer.stop()
    assert not os.path.exists("/run/netns/" + peer.peer_ns)


def test_config_rejects_what_cannot_work():
    with pytest.raises(ValueError, match="role"):
        PeerConfig(role="gateway")
    with pytest.raises(ValueError, match="netns"):
        PeerConfig(local_addr="192.0.2.9")
    with pytest.raises(ValueError, match="directory"):
        StrongSwanPeer(PeerConfig(), "/tmp/" + "d" * 90)


def test_parse_list_sas():
    raw = ("list-sa event {swp {uniqueid=1 state=ESTABLISHED initiator-spi=94e909bac022f3a9 "
           "child-sas {net-1 {name=net state=INSTALLED spi-in=bbe5ad86 spi-out=a848181f "
           "local-ts=[198.51.100.2/32] remote-ts=[198.51.100.1/32 198.51.100.3/32]}} local-vips=[]}}\n"
           "list-sas reply {}\n")
    (sa,) = parse_list_sas(raw)
    assert sa["name"] == "swp" and sa["state"] == "ESTABLISHED" and sa["local-vips"] == []
    child = sa["child-sas"]["net-1"]
    assert (child["spi-in"], child["spi-out"]) == ("bbe5ad86", "a848181f")
    assert child["remote-ts"] == ["198.51.100.1/32", "198.51.100.3/32"]


def test_charon_keys_from_a_log():
    """The secrets of a (shortened) charon log: hex dumps of two threads
    interleaved, and the ESP SA's keys found by the SPI in its seed."""
    spi = "c0ffee01"
    seed = "03" + spi + "11" * 4

    def dump(thread, group, label, hex_bytes):
        data = bytes.fromhex(hex_bytes)
        head = "00:00:00.000 %s[%s] <swp|1> %s => %d bytes @ 0x1" % (thread, group, label, len(data))
        rows = ["00:00:00.000 %s[%s] <swp|1> %4d: %s  ascii" % (
            thread, group, i, " ".join("%02X" % b for b in data[i:i + 16]))
            for i in range(0, len(data), 16)]
        return [head] + rows

    log = (["00:00:00.000 05[CFG] <1> selected proposal: IKE:AES_CBC_128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_2048"]
           + dump("05", "IKE", "SKEYID_d", "ab" * 20)[:2]
           + dump("07", "CHD", "initiator SA seed", seed)          # interleaved with thread 05
           + dump("05", "IKE", "SKEYID_d", "ab" * 20)[2:]
           + dump("05", "IKE", "encryption key Ka", "cd" * 16)
           + ["00:00:00.000 05[MGR] <1> checkin IKEv1 SA (unnamed)[1] with SPIs "
              "0102030405060708_i 1112131415161718_r",
              "00:00:00.000 07[CFG] <swp|1> selected proposal: ESP:AES_CBC_128/HMAC_SHA1_96/NO_EXT_SEQ"]
           + dump("07", "CHD", "responder SA seed", "03" + "deadbeef" + "22" * 4)
           + dump("07", "CHD", "encryption initiator key", "ee" * 16)
           + dump("07", "CHD", "integrity initiator key", "ff" * 20)
           + ["00:00:00.000 07[CHD] <swp|1> adding outbound ESP SA",
              "00:00:00.000 07[CHD] <swp|1>   SPI 0x%s, src 192.0.2.2 dst 192.0.2.1" % spi])
    ike, esp = charon_keys("\n".join(log)).splitlines()
    assert ike.startswith("ike ike_sa=1 icookie=0102030405060708 rcookie=1112131415161718 "
                          "proposal=IKE:AES_CBC_128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_2048 g_xy= ")
    assert " skeyid_d=%s " % ("ab" * 20) in ike and " ka=%s " % ("cd" * 16) in ike
    assert esp == ("esp ike_sa=1 spi=0x%s src=192.0.2.2 dst=192.0.2.1 enc=AES_CBC_128 encr_key=%s "
                   "integ=HMAC_SHA1_96 integ_key=%s" % (spi, "ee" * 16, "ff" * 20))


@needs_netns
def test_socket_in_netns_sees_only_that_namespace():
    ns = "swpunit" + secrets.token_hex(4)
    subprocess.run(["ip", "netns", "add", ns], check=True, timeout=10)
    try:
        subprocess.run(["ip", "-n", ns, "-batch", "-"], check=True, timeout=10, text=True,
                       input="link set lo up\naddr add 198.51.100.7/32 dev lo\n")
        home = os.stat("/proc/thread-self/ns/net").st_ino
        with socket_in_netns(ns) as sender, socket_in_netns(ns) as receiver:
            assert os.stat("/proc/thread-self/ns/net").st_ino == home
            receiver.bind(("198.51.100.7", 0))
            receiver.settimeout(2)
            sender.sendto(b"inside", receiver.getsockname())
            assert receiver.recvfrom(16)[0] == b"inside"
            with pytest.raises(OSError) as unreachable:             # no route but lo's
                sender.connect(("192.0.2.99", 9))
            assert unreachable.value.errno == errno.ENETUNREACH
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as outside:
            with pytest.raises(OSError) as absent:
                outside.bind(("198.51.100.7", 0))
            assert absent.value.errno == errno.EADDRNOTAVAIL
        with pytest.raises(ZeroDivisionError):
            with in_netns(ns):
                assert os.stat("/proc/thread-self/ns/net").st_ino == os.stat("/run/netns/" + ns).st_ino
                1 / 0
        assert os.stat("/proc/thread-self/ns/net").st_ino == home
        shown = run_in_netns(ns, ["ip", "-j", "-4", "addr", "show"], capture_output=True,
                             text=True, check=True, timeout=10)
        addresses = {a["local"] for link in json.loads(shown.stdout) for a in link["addr_info"]}
        assert addresses == {"127.0.0.1", "198.51.100.7"}
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=True, timeout=10)
