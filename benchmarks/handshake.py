"""Full Main Mode + Quick Mode handshakes per second.

1. In memory: our initiator and responder (both in this process), the
   sans-IO engine alone, for ecp256 and modp2048 (the best of five
   batches: the one least disturbed by other work on the machine).
2. Our responder automaton over loopback UDP, driven by an in-process
   initiator endpoint on a socket.
3. The responder's cost per handshake (its own time only: receiving,
   answering, timers) with 100 and with 5,000 IKE SAs established on it,
   and the ratio (the target: at most 1.2).

Run: ``python benchmarks/handshake.py [--profile] [--scaling-only]``.
"""

import cProfile
import pstats
import socket
import sys
import time
from dataclasses import replace

from scapy_ike.automaton import IKEv1Automaton
from scapy_ike.core import events as ev
from scapy_ike.core.config import Configuration
from scapy_ike.core import Endpoint


def configs(group):
    common = dict(psk=b"bench", ike="aes128-sha256-" + group, esp="aes128-sha256",
                  force_encap=True)
    return (Configuration(role="initiator", local_ts="198.51.100.2/32",
                          remote_ts="198.51.100.1/32", **common),
            Configuration(role="responder", local_ts="198.51.100.1/32",
                          remote_ts="198.51.100.2/32", **common))


def in_memory(group, count, batches=5):
    """Handshakes per second with both sides in this process: the best of
    *batches* batches (the one least disturbed by other work)."""
    ci, cr = configs(group)
    best = 0.0
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(count // batches):
            handshake(ci, cr)
        best = max(best, (count // batches) / (time.perf_counter() - start))
    return best


def handshake(ci, cr):
    i, r = Endpoint(ci, "192.0.2.2"), Endpoint(cr, "192.0.2.1")
    i.initiate(("192.0.2.1", 500), 0.0)
    moving = True
    while moving:
        moving = False
        for src, dst, addr in ((i, r, "192.0.2.2"), (r, i, "192.0.2.1")):
            for d in src.datagrams_to_send():
                moving = True
                dst.receive_datagram(d.data, (addr, d.local_port), 0.0, d.local_port)
    assert any(isinstance(e, ev.QuickModeEstablished) for e in i.events)


def over_loopback(group, count, port=35500):
    """Handshakes per second against our responder automaton over UDP."""
    ci, cr = configs(group)
    responder = IKEv1Automaton(cr, local_address="127.0.0.1", ike_port=port, natt_port=port - 1)
    responder.runbg()
    sockets = {p: socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for p in (port, port - 1)}
    for p, s in sockets.items():
        s.bind(("127.0.0.2", p))
        s.settimeout(5)
    start = time.perf_counter()
    try:
        for _ in range(count):
            i = Endpoint(ci, "127.0.0.2", port, port - 1, port - 1)
            i.initiate(("127.0.0.1", port), 0.0)
            while not any(isinstance(e, ev.QuickModeEstablished) for e in i.events):
                for d in i.datagrams_to_send():
                    sockets[d.local_port].sendto(d.data, d.addr)
                if any(isinstance(e, ev.QuickModeEstablished) for e in i.events):
                    break
                for p, s in sockets.items():
                    s.setblocking(False)
                    try:
                        data, addr = s.recvfrom(65535)
                    except BlockingIOError:
                        continue
                    i.receive_datagram(data, addr, 0.0, p)
            for d in i.datagrams_to_send():
                sockets[d.local_port].sendto(d.data, d.addr)
        return count / (time.perf_counter() - start)
    finally:
        responder.stop()
        responder.close()
        for s in sockets.values():
            s.close()


def responder_cost(established, sample=200, group="curve25519"):
    """Seconds of the responder's own work per handshake, measured over
    *sample* handshakes once *established* SAs are up on it (the clock
    moves a second per handshake, so its timers run too; no NAT, so that
    the SAs' keep-alives, work that rightly grows with them, stay out)."""
    ci, cr = (replace(c, force_encap=False) for c in configs(group))   # no NAT: no keep-alives
    r = Endpoint(cr, "192.0.2.1")
    spent = 0.0
    for n in range(established + sample):
        now = float(n)
        i = Endpoint(ci, "192.0.2.2")
        i.initiate(("192.0.2.1", 500), now)
        moving = True
        while moving:
            moving = False
            for d in i.datagrams_to_send():
                moving = True
                start = time.perf_counter()
                r.receive_datagram(d.data, ("192.0.2.2", d.local_port), now, d.local_port)
                r.get_timer()
                r.handle_timer(now)
                if n >= established:
                    spent += time.perf_counter() - start
            for d in r.datagrams_to_send():
                moving = True
                i.receive_datagram(d.data, ("192.0.2.1", d.local_port), now, d.local_port)
    assert len(r.connections) == established + sample
    return spent / sample


def scaling():
    small, large = responder_cost(100), responder_cost(5000)
    print("responder cost per handshake: %.2f ms with 100 SAs, %.2f ms with 5,000: "
          "ratio %.2f (target <= 1.2)" % (small * 1e3, large * 1e3, large / small))


if __name__ == "__main__":
    if "--scaling-only" in sys.argv:
        scaling()
        sys.exit(0)
    if "--profile" in sys.argv:
        cProfile.run("in_memory('modp2048', 40)", "/tmp/handshake.prof")
        pstats.Stats("/tmp/handshake.prof").sort_stats("cumtime").print_stats(25)
        sys.exit(0)
    for group in ("ecp256", "modp2048"):
        print("in memory, %-8s %6.1f MM+QM/s" % (group, in_memory(group, 100)))
    for group in ("ecp256", "modp2048"):
        print("responder over loopback UDP, %-8s %6.1f MM+QM/s" % (group, over_loopback(group, 50)))
    scaling()
