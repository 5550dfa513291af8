"""Our responder keeps serving, live against real strongSwan: one
``IKEv1Automaton`` in charon's test namespace (192.0.2.2) stays in SERVING
while charon deletes its IKE SA and comes back, while a peer with a
proposal we refuse fails before a good one, while ike-scan storms it from
charon's own address, while 10,000 spoofed first messages from hundreds of
addresses fill its half-open table, and while charon reauthenticates the
IKE SA every 20 s under traffic."""

import logging
import random
import re
import secrets
import socket
import struct
import subprocess
import threading
import time
from collections import Counter

import pytest

from conftest import need_tool
from scapy_ike.cli.connect import ping
from scapy_ike.core import Endpoint, events as ev, state as S
from scapy_ike.core.config import Configuration
from scapy_ike.testing.netns import run_in_netns, socket_in_netns
from scapy_ike.testing.strongswan import PeerError, wait_until
from test_interop_strongswan import PSK, finish, ours

IKE, ESP = "aes256-sha256-modp2048", "aes256-sha256"
CHARON, US = "192.0.2.1", "192.0.2.2"
CHARON_INNER, OUR_INNER = "198.51.100.1", "198.51.100.2"


# ------------------------------------------------------------------ helpers

def events_of(automaton, kind, where=lambda e: True):
    return [e for e in list(automaton.events) if isinstance(e, kind) and where(e)]


def wait_for(automaton, kind, where=lambda e: True, timeout=15.0):
    """The first event of *kind* for which *where* holds, or None after *timeout*."""
    deadline = time.monotonic() + timeout
    while True:
        found = events_of(automaton, kind, where)
        if found or time.monotonic() >= deadline:
            return found[0] if found else None
        time.sleep(0.05)


def dropped(automaton, prefix):
    return [e.reason for e in events_of(automaton, ev.Dropped, lambda e: e.reason.startswith(prefix))]


def reasons(automaton):
    """Every Dropped and Failed reason, counted: what a failing assertion shows."""
    return Counter("%s: %s" % (type(e).__name__, e.reason) for e in list(automaton.events)
                   if isinstance(e, (ev.Dropped, ev.Failed)))


def charon_sas(peer):
    """charon's IKE SAs as (initiator cookie, responder cookie, state)."""
    return [(sa["initiator-spi"], sa["responder-spi"], sa["state"]) for sa in peer.list_sas()]


def charon_ping(peer, count=3):
    done = peer.ping(count=count)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


class Sampler:
    """Samples ``measure()`` every few milliseconds in a thread; the
    largest value seen, for bounds that must hold all along."""

    def __init__(self, measure, interval=0.002, limit=120.0):
        self.measure, self.interval, self.limit = measure, interval, limit
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        deadline = time.monotonic() + self.limit
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                value = self.measure()
            except RuntimeError:            # a dict changed size while it was read
                continue
            self.peak = max(self.peak, value)
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(5)


def half_open_from(automaton, source):
    return sum(1 for c in list(automaton.endpoint.connections.values())
               if c.half_open_until is not None and c.peer[0] == source)


# ------------------------------------------- 1. charon deletes and comes back

@pytest.mark.interop
def test_charon_deletes_the_ike_sa_and_connects_again(strongswan_peer):
    peer = strongswan_peer(role="initiator", psk=PSK, ike_proposals=IKE, esp_proposals=ESP)
    automaton = ours("responder", "main", IKE, ESP, peer)
    try:
        peer.initiate()
        first = wait_for(automaton, ev.QuickModeEstablished)
        assert first is not None, reasons(automaton)
        charon_ping(peer)

        peer.swanctl("--terminate", "--ike", "swp")     # charon sends its Deletes
        deleted = wait_for(automaton, ev.DeleteReceived,
                           lambda e: e.protocol == 1 and e.cookies == first.cookies)
        assert deleted is not None, events_of(automaton, ev.DeleteReceived)
        assert deleted.spis == (first.cookies,)
        esp_deleted = events_of(automaton, ev.DeleteReceived, lambda e: e.protocol == 3)
        assert [e.spis for e in esp_deleted] == [(first.spi_out,)]
        assert wait_until(lambda: automaton.endpoint.connections[first.cookies[:8]].state
                          == S.DEAD, 5)
        assert automaton.tunnels == []                  # the deleted tunnel is forgotten
        assert charon_sas(peer) == []

        peer.initiate()
        second = wait_for(automaton, ev.QuickModeEstablished,
                          lambda e: e.cookies != first.cookies)
        assert second is not None, reasons(automaton)
        assert second.cookies[:8] != first.cookies[:8]
        assert charon_sas(peer) == [(second.cookies[:8].hex(), second.cookies[8:].hex(),
                                     "ESTABLISHED")]
        charon_ping(peer)
        assert [t.established for t in automaton.tunnels] == [second]
        assert ping(automaton.tunnel_socket(), OUR_INNER, CHARON_INNER, 3) == 3
        assert automaton.state.state == "SERVING"
        assert len(events_of(automaton, ev.Phase1Established)) == 2
        assert events_of(automaton, ev.Failed) == []
    finally:
        finish(automaton)


# --------------------------------- 2. a refused proposal, then a good peer

class LinkedNamespace:
    """A namespace of our own, joined by a veth pair to *test_ns*: here
    198.18.0.1/24 (a default route via the other end), there 198.18.0.2/24.
    A second charon in it reaches our responder at 192.0.2.2 from another
    address."""

    HERE, THERE = "198.18.0.1", "198.18.0.2"

    def __init__(self, test_ns):
        self.name = "rsl" + secrets.token_hex(4)
        self.test_ns = test_ns
        self.made = False

    def __enter__(self):
        subprocess.run(["ip", "netns", "add", self.name], check=True, timeout=10)
        self.made = True
        steps = [
            ["ip", "link", "add", "name", "rsl-a", "netns", self.name, "type", "veth",
             "peer", "name", "rsl-b", "netns", self.test_ns],
            ["ip", "-n", self.name, "addr", "add", self.HERE + "/24", "dev", "rsl-a"],
            ["ip", "-n", self.name, "link", "set", "rsl-a", "up"],
            ["ip", "-n", self.name, "link", "set", "lo", "up"],
            ["ip", "-n", self.name, "route", "add", "default", "via", self.THERE],
            ["ip", "-n", self.test_ns, "addr", "add", self.THERE + "/24", "dev", "rsl-b"],
            ["ip", "-n", self.test_ns, "link", "set", "rsl-b", "up"],
        ]
        try:
            for argv in steps:
                subprocess.run(argv, check=True, timeout=10, capture_output=True)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info):
        if self.made:       # the veth pair goes with it
            subprocess.run(["ip", "netns", "del", self.name], check=False, timeout=10)
            self.made = False


@pytest.mark.interop
def test_a_refused_proposal_then_a_good_peer(strongswan_peer):
    good = strongswan_peer(role="initiator", psk=PSK, ike_proposals=IKE, esp_proposals=ESP)
    automaton = ours("responder", "main", IKE, ESP, good)
    bad = None
    try:
        with LinkedNamespace(good.test_ns) as linked:
            try:
                bad = strongswan_peer(role="initiator", psk=PSK,
                                      ike_proposals="3des-md5-modp1024", esp_proposals=ESP,
                                      netns=linked.name, local_addr=linked.HERE, remote_addr=US)
                with pytest.raises(PeerError):
                    bad.initiate(timeout=8)
                failed = wait_for(automaton, ev.Failed)
                assert failed is not None, reasons(automaton)
                assert failed.reason.startswith("no proposal chosen"), failed
                assert failed.message_id == 0 and failed.notify_type == 14
                # never established: gone at once, its half-open slot freed
                assert failed.cookies[:8] not in automaton.endpoint.connections
                log = bad.log_file.read_text(errors="replace")
                assert "received NO_PROPOSAL_CHOSEN error notify" in log
                assert automaton.endpoint._per_source.get(linked.HERE) is None
            finally:
                if bad is not None:
                    bad.stop()          # before its namespace goes

        good.initiate()
        established = wait_for(automaton, ev.QuickModeEstablished)
        assert established is not None, reasons(automaton)
        assert established.cookies[:8] != failed.cookies[:8]
        assert automaton.endpoint.connections[established.cookies[:8]].peer[0] == CHARON
        charon_ping(good)
        assert ping(automaton.tunnel_socket(), OUR_INNER, CHARON_INNER, 3) == 3
        assert automaton.state.state == "SERVING"
        assert len(events_of(automaton, ev.Failed)) == 1
    finally:
        finish(automaton)


# -------------------------------------------------- 3. an ike-scan storm

ACCEPTED = "7/256,4,1,14"       # AES-256, SHA2-256, PSK, modp2048: our proposal
REFUSED = "5,2,1,2"             # 3DES, SHA1, PSK, modp1024
BATCH = 50


def ike_scan(peer, transform, targets):
    """One ike-scan run from charon's namespace (so from charon's address):
    one probe per line of *targets*, no retries; its output."""
    argv = [need_tool("ike-scan"), "--sport=0", "--retry=1", "--timeout=300",
            "--bandwidth=2000000", "--trans=" + transform, "--file=" + str(targets)]
    done = run_in_netns(peer.peer_ns, argv, capture_output=True, text=True, timeout=60)
    summary = re.search(r"(\d+) returned handshake; (\d+) returned notify", done.stdout)
    assert summary, done.stdout + done.stderr
    return int(summary[1]), int(summary[2])


@pytest.mark.interop
def test_ikescan_storm_then_charon_connects(strongswan_peer, tmp_path):
    need_tool("ike-scan")
    peer = strongswan_peer(role="initiator", psk=PSK, ike_proposals=IKE, esp_proposals=ESP)
    automaton = ours("responder", "main", IKE, ESP, peer, half_open_timeout=3.0)
    targets = tmp_path / "targets"
    targets.write_text((US + "\n") * BATCH)
    endpoint = automaton.endpoint
    try:
        results = []
        with Sampler(lambda: endpoint._per_source.get(CHARON, 0)) as per_source, \
                Sampler(lambda: half_open_from(automaton, CHARON)) as counted:
            for transform in (REFUSED, ACCEPTED) * 3:
                results.append((transform,) + ike_scan(peer, transform, targets))
        probes = BATCH * len(results)
        handshakes = sum(r[1] for r in results)
        notifies = sum(r[2] for r in results)
        refused = dropped(automaton, "too many half-open SAs from %s" % CHARON)
        no_proposal = events_of(automaton, ev.Failed,
                                lambda e: e.reason.startswith("no proposal chosen"))
        print("ike-scan storm: %d probes, %s; %d handshakes, %d notifies, %d refused as "
              "over the per-source limit; half-open from %s at most %d (%d samples)"
              % (probes, results, handshakes, notifies, len(refused), CHARON, per_source.peak,
                 per_source.samples))
        # the limit was reached and held: never more than 5 half-open from one address
        assert per_source.peak == 5 and counted.peak == 5
        assert results[0] == (REFUSED, 0, BATCH)        # nothing half-open yet: all refused
        assert results[1][1] == 5                       # 5 handshakes, the rest dropped
        assert len(no_proposal) == notifies >= BATCH
        admitted = events_of(automaton, ev.StateChanged, lambda e: e.new == "IKE_R_MM2")
        assert len(admitted) == handshakes
        assert len(admitted) + len(no_proposal) + len(refused) == probes

        # charon, from the same address: refused while ike-scan's SAs are
        # half-open (as charon's block_threshold would), then served
        for _ in range(3):           # the slots full again, should the storm have been slow
            if endpoint._per_source.get(CHARON, 0) == 5:
                break
            ike_scan(peer, ACCEPTED, targets)
        assert endpoint._per_source.get(CHARON, 0) == 5
        start = time.monotonic()
        before = len(dropped(automaton, "too many half-open SAs from"))
        peer.initiate(timeout=30)
        took = time.monotonic() - start
        established = wait_for(automaton, ev.QuickModeEstablished, timeout=5)
        assert established is not None, reasons(automaton)
        refused_charon = len(dropped(automaton, "too many half-open SAs from")) - before
        print("charon after the storm: Quick Mode up after %.1f s, its MM1 refused %d times"
              % (took, refused_charon))
        assert refused_charon >= 1
        assert took < 3.0 + 6.0      # the half-open timeout, then charon's next retransmission
        assert half_open_from(automaton, CHARON) == 0
        charon_ping(peer)
        admitted = events_of(automaton, ev.StateChanged, lambda e: e.new == "IKE_R_MM2")
        timed_out = lambda: events_of(automaton, ev.Failed,      # noqa: E731
                                      lambda e: e.reason.startswith("timeout: half-open SA in "
                                                                    "IKE_R_MM2"))
        # every SA ike-scan left half-open timed out, charon's excepted
        assert wait_until(lambda: len(timed_out()) == len(admitted) - 1, 5), \
            (len(timed_out()), len(admitted))
        assert automaton.state.state == "SERVING"
    finally:
        finish(automaton)


# ------------------------------------------- 4. 10,000 spoofed first messages

FLOOD = 10000
IN_FLIGHT = 100
SOURCES = (["203.0.113.%d" % i for i in range(1, 255)]
           + ["198.51.100.%d" % i for i in range(3, 255)])    # not the tunnel's own addresses


def first_message():
    """An MM1 our responder accepts, made by our own initiator."""
    config = Configuration(role="initiator", mode="main", psk=PSK.encode(), ike=IKE, esp=ESP)
    endpoint = Endpoint(config, "203.0.113.1")
    endpoint.initiate((US, 500), 0.0)
    (datagram,) = endpoint.datagrams_to_send()
    return datagram.data


def spoofed(mm1, source):
    """MM1 with a random initiator cookie in UDP 500 -> 500 in IPv4 from
    *source* (the kernel fills in the IP ID and checksum; UDP checksum 0: none)."""
    payload = secrets.token_bytes(8) + mm1[8:]
    udp = struct.pack("!HHHH", 500, 500, 8 + len(payload), 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp) + len(payload), 0, 0, 64,
                     socket.IPPROTO_UDP, 0, socket.inet_aton(source), socket.inet_aton(US))
    return ip + udp + payload


class Tally:
    """Counts what the responder did with the flood, reading only the
    events added since the last call (the list grows to tens of thousands)."""

    def __init__(self, automaton):
        self.automaton = automaton
        self.seen = 0
        self.admitted = self.refused = self.evicted = self.internal = 0

    def update(self):
        events = self.automaton.events
        end = len(events)
        for e in events[self.seen:end]:
            if isinstance(e, ev.StateChanged) and e.new == "IKE_R_MM2":
                self.admitted += 1
            elif isinstance(e, ev.Dropped):
                if e.reason.startswith("too many half-open SAs from"):
                    self.refused += 1
                elif e.reason.startswith("too many half-open SAs: the oldest made room"):
                    self.evicted += 1
                elif e.reason.startswith("internal error"):
                    self.internal += 1
        self.seen = end
        return self.admitted + self.refused


@pytest.mark.interop
def test_spoofed_flood_then_charon_connects(strongswan_peer, caplog):
    caplog.set_level(logging.ERROR, logger="scapy_ike")   # a warning per MM2 sent nowhere
    peer = strongswan_peer(role="initiator", psk=PSK, ike_proposals=IKE, esp_proposals=ESP)
    automaton = ours("responder", "main", IKE, ESP, peer, half_open_timeout=3.0)
    endpoint, config = automaton.endpoint, automaton.config
    raw = socket_in_netns(peer.peer_ns, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    mm1 = first_message()
    rng = random.Random(2409)
    tally = Tally(automaton)
    try:
        start = time.monotonic()
        with Sampler(lambda: len(endpoint.connections)) as connections, \
                Sampler(lambda: len(endpoint._half_open)) as half_open:
            sent = 0
            while sent < FLOOD:
                for _ in range(min(IN_FLIGHT, FLOOD - sent)):
                    raw.sendto(spoofed(mm1, rng.choice(SOURCES)), (US, 0))
                    sent += 1
                # what is in flight stays below the socket buffer: no datagram lost
                wait_until(lambda: tally.update() >= sent - IN_FLIGHT // 2, 5, interval=0.01)
            assert wait_until(lambda: tally.update() >= FLOOD, 10, interval=0.01), \
                (tally.admitted, tally.refused)
        flood_time = time.monotonic() - start
        print("flood: %d MM1s in %.1f s; %d admitted, %d refused by the per-source limit, "
              "%d evicted by the global one; at most %d connections, %d half-open"
              % (FLOOD, flood_time, tally.admitted, tally.refused, tally.evicted,
                 connections.peak, half_open.peak))
        assert tally.admitted + tally.refused == FLOOD
        assert tally.evicted > 0 and half_open.peak == config.max_half_open
        assert connections.peak <= config.max_half_open

        peer.initiate(timeout=15)
        established = wait_for(automaton, ev.QuickModeEstablished, timeout=5)
        assert established is not None, reasons(automaton)
        charon_ping(peer)
        assert ping(automaton.tunnel_socket(), OUR_INNER, CHARON_INNER, 3) == 3
        assert len(endpoint.connections) <= config.max_half_open + 1

        genuine = established.cookies[:8]
        settled = config.half_open_timeout + config.linger + 5
        start = time.monotonic()
        assert wait_until(lambda: list(endpoint.connections) == [genuine], settled), \
            (len(endpoint.connections), len(endpoint._half_open))
        print("pruned to the genuine SA %.1f s after charon's handshake"
              % (time.monotonic() - start))
        assert len(endpoint._half_open) == 0 and endpoint._per_source == {}
        assert len(endpoint._timers) <= 64
        charon_ping(peer)
        assert automaton.state.state == "SERVING"
        tally.update()
        assert tally.internal == 0
    finally:
        raw.close()
        finish(automaton)


# ------------------------------------ 5. charon reauthenticates under traffic

REKEY = 20          # charon's IKE rekey_time; hard lifetime 20 + 10% + 2 s
PINGS = 50


@pytest.mark.interop
def test_charon_reauthenticates_under_traffic(strongswan_peer):
    peer = strongswan_peer(role="initiator", psk=PSK, ike_proposals=IKE, esp_proposals=ESP,
                           ike_rekey=REKEY, lifetime=300)
    automaton = ours("responder", "main", IKE, ESP, peer)
    try:
        peer.initiate()
        first = wait_for(automaton, ev.QuickModeEstablished)
        assert first is not None, reasons(automaton)
        argv = ["ping", "-n", "-c", str(PINGS), "-i", "1", "-W", "1",
                "-I", CHARON_INNER, OUR_INNER]
        done = run_in_netns(peer.peer_ns, argv, capture_output=True, text=True,
                            timeout=PINGS + 20)
        answered = sorted({int(n) for n in re.findall(r"icmp_seq=(\d+)", done.stdout)})
        lost = sorted(set(range(1, PINGS + 1)) - set(answered))
        phase1 = events_of(automaton, ev.Phase1Established)
        quick = events_of(automaton, ev.QuickModeEstablished)
        deletes = events_of(automaton, ev.DeleteReceived, lambda e: e.protocol == 1)
        print("reauthentication every %d s: %d of %d pings answered (lost: %s); %d Phase 1, "
              "%d Quick Mode, %d IKE SA Deletes; %s"
              % (REKEY, len(answered), PINGS, lost, len(phase1), len(quick), len(deletes),
                 dict(reasons(automaton))))
        assert len(answered) >= PINGS - 5, done.stdout
        assert len(phase1) >= 2 and all(e.peer[0] == CHARON for e in phase1)
        assert len({e.cookies for e in phase1}) == len(phase1)
        assert any(e.cookies == first.cookies for e in deletes)
        # charon's IKEv1 rekeying moves the CHILD SA to the new IKE SA, no
        # new Quick Mode: the ESP SAs outlive the IKE SA they were made under
        assert quick == [first]
        assert [t.established for t in automaton.tunnels] == [first]
        assert automaton.tunnels[0].inbound.stats["packets_in"] >= len(answered)
        (sa,) = [sa for sa in peer.list_sas() if sa["state"] == "ESTABLISHED"]
        assert (sa["initiator-spi"], sa["responder-spi"]) == (phase1[-1].cookies[:8].hex(),
                                                              phase1[-1].cookies[8:].hex())
        (child,) = sa["child-sas"].values()
        assert (child["state"], child["spi-in"]) == ("INSTALLED", first.spi_out.hex())
        assert ping(automaton.tunnel_socket(), OUR_INNER, CHARON_INNER, 3) == 3
        assert automaton.state.state == "SERVING"
        assert events_of(automaton, ev.Failed) == []
    finally:
        finish(automaton)
