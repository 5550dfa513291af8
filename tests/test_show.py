"""IOS's ``show crypto isakmp sa [detail]`` and ``show crypto ipsec sa``:
the layout, with fixed values, and the counters and lifetimes of a real
tunnel on loopback after pings through it."""

import signal
import subprocess
import sys
import time
from pathlib import Path

from scapy.layers.inet import ICMP, IP

from scapy_ike.automaton import IKEv1Automaton
from scapy_ike.automaton.show import (
    EspSa, IpsecFlow, IsakmpRow, format_ipsec, format_isakmp, ipsec_flows, isakmp_rows,
)
from scapy_ike.cli import main
from scapy_ike.cli.connect import ping
from scapy_ike.core import Endpoint, events as ev
from scapy_ike.core.config import Configuration
from scapy_ike.core.proposals import cisco_transform, parse_cisco
from conftest import loopback_pair, stop
from test_interop_strongswan import wait

PORT = 17900
ROOT = Path(__file__).resolve().parent.parent

ROW = IsakmpRow(1001, "192.0.2.1", "192.0.2.2", "192.0.2.2", "192.0.2.1", "QM_IDLE",
                "ACTIVE", "aes", "sha256", "psk", "14", 28712, "DN",
                (bytes.fromhex("0123456789abcdef"), bytes.fromhex("fedcba9876543210")))


def test_isakmp_summary_layout():
    assert format_isakmp([ROW]) == (
        "IPv4 Crypto ISAKMP SA\n"
        "dst             src             state          conn-id status\n"
        "192.0.2.1       192.0.2.2       QM_IDLE           1001 ACTIVE")


def test_isakmp_detail_layout_carries_the_cookies():
    assert format_isakmp([ROW], detail=True).split("\n")[5:] == [
        "IPv4 Crypto ISAKMP SA",
        "",
        "C-id  Local           Remote          I-VRF  Status Encr Hash   Auth DH Lifetime Cap.",
        "",
        "1001  192.0.2.2       192.0.2.1              ACTIVE aes  sha256 psk  14 07:58:32 DN",
        "       Cookie-i:Cookie-r =  0123456789abcdef:fedcba9876543210",
        "",
    ]


def _sa(spi, status, packets, kilobytes=4607000):
    return EspSa(bytes.fromhex(spi), "esp-aes 256 esp-sha-hmac", "Tunnel UDP-Encaps", 3000,
                 kilobytes, 16, packets, status)


def test_ipsec_layout_every_pair_current_first():
    flow = IpsecFlow(
        "198.51.100.0/24", "203.0.113.7/32", ("192.0.2.1", 4500), "192.0.2.2",
        12, 12, 10, 10, 1, 3, {"invalid sa": 1, "integrity": 2}, bytes.fromhex("c0ffee01"),
        14, (_sa("0000abcd", "ACTIVE", 4), _sa("00001234", "REKEYED", 6, None)),
        (_sa("c0ffee01", "ACTIVE", 5), _sa("c0ffee00", "REKEYED", 7, None)))
    lines = format_ipsec([flow]).split("\n")
    assert lines[:17] == [
        "",
        "   local  ident (addr/mask/prot/port): (198.51.100.0/255.255.255.0/0/0)",
        "   remote ident (addr/mask/prot/port): (203.0.113.7/255.255.255.255/0/0)",
        "   current_peer 192.0.2.1 port 4500",
        "    #pkts encaps: 12, #pkts encrypt: 12, #pkts digest: 12",
        "    #pkts decaps: 10, #pkts decrypt: 10, #pkts verify: 10",
        "    #pkts compressed: 0, #pkts decompressed: 0",
        "    #pkts not compressed: 0, #pkts compr. failed: 0",
        "    #pkts not decompressed: 0, #pkts decompress failed: 0",
        "    #send errors 1, #recv errors 3",
        "    #pkts invalid sa (rcv) 1, #pkts verify failed: 2",
        "    #pkts replay failed (rcv): 0",
        "",
        "     local crypto endpt.: 192.0.2.2, remote crypto endpt.: 192.0.2.1",
        "     current outbound spi: 0xC0FFEE01(3237998081)",
        "     PFS (Y/N): Y, DH group: group14",
        "",
    ]
    assert lines[17:27] == [
        "     inbound esp sas:",
        "      spi: 0x0000ABCD(43981)",
        "        transform: esp-aes 256 esp-sha-hmac ,",
        "        in use settings ={Tunnel UDP-Encaps, }",
        "        sa timing: remaining key lifetime (k/sec): (4607000/3000)",
        "        IV size: 16 bytes",
        "        replay detection support: Y",
        "        Status: ACTIVE",
        "        #pkts decrypt: 4",
        "      spi: 0x00001234(4660)",
    ]
    assert lines[29] == "        sa timing: remaining key lifetime (sec): (3000)"
    assert lines[32:36] == ["        Status: REKEYED", "        #pkts decrypt: 6", "",
                            "     outbound esp sas:"]
    assert lines[36] == "      spi: 0xC0FFEE01(3237998081)" and len(lines) == 52
    assert lines[-2:] == ["        Status: REKEYED", "        #pkts encrypt: 7"]


def test_cisco_transform_reads_back_as_the_same_transform():
    for text in ("esp-aes 256 esp-sha-hmac", "esp-aes esp-sha256-hmac", "esp-gcm 256",
                 "esp-3des esp-md5-hmac"):
        (proposal,) = parse_cisco(text)
        assert cisco_transform(proposal.transform) == text


def test_conn_ids_count_from_1001_in_order_of_creation():
    endpoint = Endpoint(Configuration(role="initiator", psk=b"k"), "192.0.2.2")
    for port in (500, 501, 502):
        endpoint.initiate(("192.0.2.1", port), 0.0)
    assert [(c.peer[1], c.conn_id) for c in endpoint.connections.values()] == \
        [(500, 1001), (501, 1002), (502, 1003)]
    assert [r.conn_id for r in isakmp_rows(endpoint, 0.0)] == [1001, 1002, 1003]
    assert {r.state for r in isakmp_rows(endpoint, 0.0)} == {"MM_NO_STATE"}


def _automata():
    common = dict(psk=b"shown", ike="aes128-sha256-modp2048", esp="aes256-sha1",
                  esp_lifetime=60, esp_lifesize=1000)
    return loopback_pair(PORT, **common)


def test_after_pings_show_counts_them_on_the_right_spis_and_lifetimes_go_down():
    """Five 1028-byte echoes through the tunnel: five encapsulated and five
    decapsulated on each side, on the SPIs Quick Mode made; 5140 octets
    taken from the 1000-kilobyte lifetime (994 KB left), and the seconds
    left go down from one look to the next."""
    i, r = _automata()
    r.runbg()
    i.runbg()
    try:
        qm = wait(i, ev.QuickModeEstablished)
        assert isinstance(qm, ev.QuickModeEstablished)
        sock = i.tunnel_socket()
        answered = set()
        for seq in range(1, 6):
            sock.send(IP(src="198.51.100.2", dst="198.51.100.1") / ICMP(id=9, seq=seq)
                      / bytes(1000))
            deadline = time.monotonic() + 2
            while seq not in answered and time.monotonic() < deadline:
                if sock.select([sock], 0.1):
                    reply = sock.recv()
                    if reply is not None and reply.haslayer(ICMP) and reply[ICMP].type == 0:
                        answered.add(reply[ICMP].seq)
        assert answered == {1, 2, 3, 4, 5}
        time.sleep(0.2)                 # the responder's last reply counted on its side too
        (first,) = ipsec_flows(i.tunnels, i.endpoint, time.monotonic())
        time.sleep(1.1)
        (mine,) = ipsec_flows(i.tunnels, i.endpoint, time.monotonic())
        (theirs,) = ipsec_flows(r.tunnels, r.endpoint, time.monotonic())
        for flow in (mine, theirs):
            assert (flow.encaps, flow.digest, flow.decaps, flow.verify) == (5, 5, 5, 5)
            assert (flow.send_errors, flow.recv_errors) == (0, 0)
            assert len(flow.inbound) == len(flow.outbound) == 1
            assert (flow.inbound[0].packets, flow.outbound[0].packets) == (5, 5)
            assert flow.inbound[0].kilobytes == flow.outbound[0].kilobytes == 994
            assert flow.inbound[0].settings == "Tunnel UDP-Encaps"
        assert (mine.current_spi, mine.inbound[0].spi, mine.outbound[0].spi) == \
            (qm.spi_out, qm.spi_in, qm.spi_out)
        assert (theirs.inbound[0].spi, theirs.outbound[0].spi) == (qm.spi_out, qm.spi_in)
        assert mine.peer == ("127.0.0.1", PORT + 1) and mine.local_endpoint == "127.0.0.2"
        assert theirs.peer == ("127.0.0.2", PORT + 1)
        assert 50 < mine.inbound[0].seconds < first.inbound[0].seconds < 60
        assert mine.outbound[0].transform == "esp-aes 256 esp-sha-hmac"
        shown = i.show_ipsec_sa().split("\n")
        assert "    #pkts encaps: 5, #pkts encrypt: 5, #pkts digest: 5" in shown
        assert "    #pkts decaps: 5, #pkts decrypt: 5, #pkts verify: 5" in shown
        assert "     current outbound spi: 0x%s(%d)" % (
            qm.spi_out.hex().upper(), int.from_bytes(qm.spi_out, "big")) in shown
        (row,) = isakmp_rows(i.endpoint, time.monotonic())
        (peer_row,) = isakmp_rows(r.endpoint, time.monotonic())
        assert (row.conn_id, row.dst, row.src, row.state) == (1001, "127.0.0.1", "127.0.0.2",
                                                              "QM_IDLE")
        assert (peer_row.dst, peer_row.src) == (row.dst, row.src)
        assert row.cookies == peer_row.cookies == (qm.cookies[:8], qm.cookies[8:])
        assert (row.encr, row.hash, row.auth, row.group) == ("aes", "sha256", "psk", "14")
    finally:
        for a in (i, r):
            a.stop()
            a.close()


def test_after_a_rekey_show_lists_both_pairs_current_first():
    """ESP lifetime 6 s, the initiator rekeying at half of it: until the
    old pair's end both pairs are shown, the new one current, and the flow
    counts the echoes of both."""
    base = PORT + 20
    common = dict(psk=b"shown", esp_lifetime=6, rekey_fuzz=0.0)
    r = IKEv1Automaton(Configuration(role="responder", local_ts="198.51.100.1/32",
                                     remote_ts="198.51.100.2/32", rekey_margin=0.05,
                                     **common),
                       local_address="127.0.0.1", ike_port=base, natt_port=base + 1)
    i = IKEv1Automaton(Configuration(role="initiator", local_ts="198.51.100.2/32",
                                     remote_ts="198.51.100.1/32", force_encap=True,
                                     rekey_margin=0.5, **common),
                       peer=("127.0.0.1", base), local_address="127.0.0.2", ike_port=base,
                       natt_port=base + 1, peer_natt_port=base + 1)
    r.runbg()
    i.runbg()
    try:
        first = wait(i, ev.QuickModeEstablished)
        sock = i.tunnel_socket()
        assert ping(sock, "198.51.100.2", "198.51.100.1", 3, interval=0.2) == 3
        rekeyed = wait(i, ev.Rekeyed, timeout=6)
        assert rekeyed.old == (first.spi_in, first.spi_out)
        assert ping(sock, "198.51.100.2", "198.51.100.1", 2, interval=0.2) == 2
        (flow,) = ipsec_flows(i.tunnels, i.endpoint, time.monotonic())
    finally:
        for a in (i, r):
            a.stop()
            a.close()
    assert (flow.encaps, flow.decaps, flow.current_spi) == (5, 5, rekeyed.new[1])
    assert [(sa.spi, sa.status, sa.packets) for sa in flow.inbound] == [
        (rekeyed.new[0], "ACTIVE", 2), (first.spi_in, "REKEYED", 3)]
    assert [(sa.spi, sa.status, sa.packets) for sa in flow.outbound] == [
        (rekeyed.new[1], "ACTIVE", 2), (first.spi_out, "REKEYED", 3)]
    assert flow.inbound[1].seconds < 3 < flow.inbound[0].seconds < 6


def test_serve_tells_each_peer_and_shows_its_traffic_when_interrupted(capsys):
    """``serve`` says where it listens and tells each IKE SA as it comes
    up; ``connect --ping`` shows its SAs after the echoes; on Ctrl-C
    ``serve`` shows the SAs still up, with the echoes it answered."""
    base = PORT + 10
    serve = subprocess.Popen(
        [sys.executable, "-m", "scapy_ike", "serve", "--listen", "127.0.0.1", "--port",
         str(base), "--natt-port", str(base + 1), "--psk", "shown", "--local-ts",
         "198.51.100.1/32", "--remote-ts", "198.51.100.2/32", "--timeout", "60"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    i = None
    try:
        assert serve.stdout.readline() == "listening on 127.0.0.1:%d (NAT-T %d)\n" % (
            base, base + 1)
        assert main(["connect", "127.0.0.1", "--port", str(base), "--natt-port", str(base + 1),
                     "--local", "127.0.0.2", "--local-port", str(base + 2), "--local-natt-port",
                     str(base + 3), "--psk", "shown", "--force-encap", "--local-ts",
                     "198.51.100.2/32", "--remote-ts", "198.51.100.1/32", "--ping",
                     "198.51.100.1", "--count", "3", "--interval", "0.2"]) == 0
        out = capsys.readouterr().out.split("\n")
        shown = out.index("    #pkts encaps: 3, #pkts encrypt: 3, #pkts digest: 3")
        assert out[shown + 1] == "    #pkts decaps: 3, #pkts decrypt: 3, #pkts verify: 3"
        assert shown < out.index("3 of 3 echoes answered through the tunnel")
        i = IKEv1Automaton(Configuration(role="initiator", psk=b"shown", force_encap=True,
                                         local_ts="198.51.100.2/32",
                                         remote_ts="198.51.100.1/32"),
                           peer=("127.0.0.1", base), local_address="127.0.0.2",
                           ike_port=base + 4, natt_port=base + 5, peer_natt_port=base + 1)
        i.runbg()
        assert isinstance(wait(i, ev.QuickModeEstablished), ev.QuickModeEstablished)
        assert ping(i.tunnel_socket(), "198.51.100.2", "198.51.100.1", 2, interval=0.2) == 2
        cookies = [c.cookies.hex() for c in i.endpoint.connections.values()]
        time.sleep(0.5)                     # serve's next look at its SAs
        serve.send_signal(signal.SIGINT)
        told = serve.communicate(timeout=20)[0].split("\n")
    finally:
        if serve.poll() is None:
            stop(serve)
        if i is not None:
            i.stop()
            i.close()
    assert serve.returncode == 0
    peers = [line for line in told if line.startswith("peer ")]
    assert peers[0].startswith("peer 127.0.0.2 port %d: IKE SA 1001 up (cookies " % (base + 3))
    assert peers[1:] == ["peer 127.0.0.2 port %d: IKE SA 1002 up (cookies %s)" % (
        base + 5, cookies[0])]
    assert "127.0.0.1       127.0.0.2       QM_IDLE           1002 ACTIVE" in told
    flow = told.index("   current_peer 127.0.0.2 port %d" % (base + 5))
    assert told[flow + 1:flow + 3] == [
        "    #pkts encaps: 2, #pkts encrypt: 2, #pkts digest: 2",
        "    #pkts decaps: 2, #pkts decrypt: 2, #pkts verify: 2"]
