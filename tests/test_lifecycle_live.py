"""Tunnels that last, on loopback: the Automaton keeps carrying traffic
across ESP rekeys and IKE renewals with the same tunnel socket, and
``connect --dpd`` finds a frozen peer dead."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from scapy.layers.inet import ICMP, IP

from scapy_ike.cli import main
from scapy_ike.core import events as ev
from scapy_ike.core.config import Retransmission
from conftest import loopback_pair, stop
from test_interop_strongswan import wait

PORT = 17600
ROOT = Path(__file__).resolve().parent.parent


def automata(**life):
    fast = Retransmission(timeout=0.3, base=1.5, tries=4)
    common = dict(psk=b"lasting", retransmission=fast, ike="aes128-sha256-ecp256",
                  esp="aes128gcm16", **life)
    return loopback_pair(PORT, **common)


def test_traffic_crosses_rekeys_and_renewals():
    """ESP lifetime 4 s, IKE lifetime 10 s, echoes every 0.2 s for 16 s
    through one tunnel socket: every echo answered, the ESP pair rekeyed
    again and again and the IKE SA renewed, no negotiation failed; the
    summary counts down the current pair's lifetime."""
    i, r = automata(esp_lifetime=4, ike_lifetime=10)
    r.runbg()
    i.runbg()
    try:
        assert isinstance(wait(i, ev.QuickModeEstablished), ev.QuickModeEstablished)
        sock = i.tunnel_socket()
        answered, sent = set(), 80
        start = time.monotonic()
        for seq in range(1, sent + 1):
            sock.send(IP(src="198.51.100.2", dst="198.51.100.1") / ICMP(id=7, seq=seq))
            until = start + seq * 0.2
            while time.monotonic() < until:
                if sock.select([sock], until - time.monotonic()):
                    reply = sock.recv()
                    if reply is not None and reply.haslayer(ICMP) and reply[ICMP].type == 0:
                        answered.add(reply[ICMP].seq)
        deadline = time.monotonic() + 2
        while len(answered) < sent and time.monotonic() < deadline:
            if sock.select([sock], 0.1):
                reply = sock.recv()
                if reply is not None and reply.haslayer(ICMP):
                    answered.add(reply[ICMP].seq)
        assert len(answered) == sent, sorted(set(range(1, sent + 1)) - answered)
        for a in (i, r):
            a.stop()                       # what follows looks at a still picture
        esp = [e for e in i.events if isinstance(e, ev.Rekeyed) and e.protocol == 3]
        ike = [e for e in i.events if isinstance(e, ev.Rekeyed) and e.protocol == 1]
        assert len(esp) >= 3 and len(ike) >= 1
        assert not [e for a in (i, r) for e in a.events if isinstance(e, ev.Failed)]
        assert len(i.tunnels) == len(r.tunnels) == 1
        (tunnel,) = i.tunnels
        assert tunnel.established.spi_in == esp[-1].new[0]
        shown = i.show_ipsec_sa()
        assert "current outbound spi: 0x%s" % tunnel.established.spi_out.hex().upper() in shown
        left = int(shown.split("remaining key lifetime (sec): (")[1].split(")")[0])
        assert 0 <= left < 4
    finally:
        for a in (i, r):
            a.stop()
            a.close()


def test_connect_finds_a_frozen_peer_dead(capsys):
    """``serve`` is frozen (SIGSTOP) after the tunnel is up: ``connect
    --dpd 1`` says "peer dead (DPD)" and exits 1 within its DPD timeout."""
    serve = subprocess.Popen(
        [sys.executable, "-m", "scapy_ike", "serve", "--listen", "127.0.0.1", "--port",
         str(PORT + 10), "--natt-port", str(PORT + 11), "--psk", "frozen", "--local-ts",
         "198.51.100.1/32", "--remote-ts", "198.51.100.2/32", "--timeout", "60"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert serve.stdout.readline().startswith("listening on 127.0.0.1:%d" % (PORT + 10))

        def freeze():
            time.sleep(2.0)
            os.kill(serve.pid, signal.SIGSTOP)
        import threading
        freezer = threading.Thread(target=freeze)
        freezer.start()
        start = time.monotonic()
        status = main(["connect", "127.0.0.1", "--port", str(PORT + 10), "--natt-port",
                       str(PORT + 11), "--local", "127.0.0.2", "--local-port", str(PORT + 12),
                       "--local-natt-port", str(PORT + 13), "--psk", "frozen", "--force-encap",
                       "--local-ts", "198.51.100.2/32", "--remote-ts", "198.51.100.1/32",
                       "--dpd", "1", "--duration", "30"])
        took = time.monotonic() - start
        freezer.join()
        err = capsys.readouterr().err
        assert status == 1 and "scapy-ike connect: peer dead (DPD)" in err
        assert 2 + 5 <= took <= 2 + 1 + 5 + 2      # frozen, silent 1 s, 5 delays unanswered
    finally:
        os.kill(serve.pid, signal.SIGCONT)
        stop(serve)
