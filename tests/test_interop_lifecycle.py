"""Tunnels that last, live against real strongSwan (charon 5.9.8 in a
test namespace): charon rekeying the CHILD SA every 15 s, reauthenticating
the IKE SA every 40 s and sending DPD every 3 s while pings flow both ways
for two minutes, with charon as responder and as initiator; our own
rekeys and IKE renewals against a charon that would not rekey; and a
frozen charon found dead by ``connect --dpd``."""

import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from scapy_ike.cli.connect import ping
from scapy_ike.core import events as ev
from scapy_ike.testing.netns import run_in_netns
from test_interop_resilience import events_of, reasons, wait_for
from test_interop_strongswan import PSK, finish, ours

IKE, ESP = "aes256-sha256-modp2048", "aes256-sha256"
CHARON_INNER, OUR_INNER = "198.51.100.1", "198.51.100.2"
SECONDS = int(os.environ.get("LIFECYCLE_SECONDS", 120))
ROOT = Path(__file__).resolve().parent.parent


def charon_log(peer):
    return peer.log_file.read_text(errors="replace")


def charon_children(log):
    """``(spi_in, spi_out)`` of every CHILD SA charon established, as
    charon names them (its inbound SPI first)."""
    return [(bytes.fromhex(i), bytes.fromhex(o)) for i, o in
            re.findall(r"CHILD_SA net\{\d+\} established with SPIs ([0-9a-f]{8})_i "
                       r"([0-9a-f]{8})_o", log)]


def story(automaton):
    """The lifecycle events, one short line each: what a failing assertion shows."""
    lines = []
    for e in list(automaton.events):
        if isinstance(e, ev.QuickModeEstablished):
            lines.append("QM %s/%s replaces %s%s" % (e.spi_in.hex(), e.spi_out.hex(),
                                                     e.replaces.hex() or "-",
                                                     "" if e.current else " (not current)"))
        elif isinstance(e, (ev.ChildSaClosed, ev.IkeSaClosed)):
            lines.append("%s %s %s" % (type(e).__name__, getattr(e, "spi_in", e.cookies).hex(),
                                       e.reason))
        elif isinstance(e, (ev.Phase1Established, ev.DeleteReceived, ev.DeleteSent)):
            lines.append("%s %s %s" % (type(e).__name__, e.cookies.hex()[:16],
                                       [s.hex() for s in getattr(e, "spis", ())]))
    return "\n".join(lines)


def lasting(peer, automaton):
    """Once the tunnel is up, the pings both ways; then charon's log, the
    CHILD SAs it made and our ESP rekeys."""
    first = wait_for(automaton, ev.QuickModeEstablished)
    assert first is not None, reasons(automaton)
    mine, theirs = pings_both_ways(peer, automaton)
    log = charon_log(peer)
    rekeys = events_of(automaton, ev.Rekeyed, lambda e: e.protocol == 3)
    return mine, theirs, log, charon_children(log), rekeys


def pings_both_ways(peer, automaton, seconds=SECONDS):
    """Pings at 1 s intervals for *seconds*, from charon's side (ping(8)
    in its namespace) and from ours (the tunnel socket) at once: how many
    each got answered."""
    ours_answered = {}

    def from_us():
        ours_answered["n"] = ping(automaton.tunnel_socket(), OUR_INNER, CHARON_INNER, seconds,
                                  timeout=1.5, interval=1.0)
    thread = threading.Thread(target=from_us)
    thread.start()
    argv = ["ping", "-n", "-c", str(seconds), "-i", "1", "-W", "1", "-I", CHARON_INNER,
            OUR_INNER]
    done = run_in_netns(peer.peer_ns, argv, capture_output=True, text=True, timeout=seconds + 30)
    thread.join(seconds + 30)
    theirs = len(set(re.findall(r"icmp_seq=(\d+)", done.stdout)))
    return ours_answered.get("n", 0), theirs


@pytest.mark.interop
@pytest.mark.long
@pytest.mark.parametrize("charon_role", ["responder", "initiator"])
def test_tunnel_lasts_through_charons_rekeys_and_dpd(strongswan_peer, charon_role):
    peer = strongswan_peer(role=charon_role, psk=PSK, ike_proposals=IKE, esp_proposals=ESP,
                           dpd_delay=3, child_rekey=15, ike_rekey=40, lifetime=SECONDS + 120)
    role = "initiator" if charon_role == "responder" else "responder"
    automaton = ours(role, "main", IKE, ESP, peer, dpd_delay=3)
    try:
        if charon_role == "initiator":
            peer.initiate()
        mine, theirs, log, children, rekeys = lasting(peer, automaton)
        renewals = len(re.findall(r"IKE_SA swp\[\d+\] established", log)) - 1
        print("charon %s: %d and %d of %d pings answered; charon: %d CHILD SAs, %d IKE SA "
              "renewals; ours: %d rekeys; %s" % (charon_role, mine, theirs, SECONDS,
                                                 len(children), renewals, len(rekeys),
                                                 dict(reasons(automaton))))
        assert mine >= SECONDS - 2 and theirs >= SECONDS - 2, story(automaton)
        assert len(children) >= 7 and renewals >= 2
        assert "N(DPD_ACK)" in log and "N(DPD)" in log        # both ways
        # every CHILD SA charon made is a pair our events name, SPIs crossed
        made = {(e.spi_in, e.spi_out) for e in events_of(automaton, ev.QuickModeEstablished)}
        assert {(o, i) for i, o in children} == made
        assert len(rekeys) >= 6
        assert not events_of(automaton, ev.PeerDead)
        assert not events_of(automaton, ev.Failed)
        assert len(automaton.tunnels) == 1 and automaton.state.state == "SERVING"
    finally:
        finish(automaton)


@pytest.mark.interop
@pytest.mark.long
def test_our_rekeys_and_renewals_against_charon(strongswan_peer):
    """We rekey every 20 s and renew the IKE SA every minute; charon, with
    its long lifetimes, only follows: its log shows the CHILD SAs we
    negotiated and the old ones deleted, and the pings go on."""
    peer = strongswan_peer(psk=PSK, ike_proposals=IKE, esp_proposals=ESP,
                           lifetime=SECONDS + 120)
    automaton = ours("initiator", "main", IKE, ESP, peer, esp_lifetime=20, ike_lifetime=60)
    try:
        mine, theirs, log, children, rekeys = lasting(peer, automaton)
        renewals = events_of(automaton, ev.Rekeyed, lambda e: e.protocol == 1)
        deleted = events_of(automaton, ev.DeleteSent, lambda e: e.protocol == 3)
        print("our rekeys: %d and %d of %d pings answered; %d rekeys, %d renewals, %d ESP "
              "Deletes; charon: %d CHILD SAs; %s" % (mine, theirs, SECONDS, len(rekeys),
                                                    len(renewals), len(deleted), len(children),
                                                    dict(reasons(automaton))))
        assert mine >= SECONDS - 2 and theirs >= SECONDS - 2, story(automaton)
        assert len(rekeys) >= 5 and len(renewals) >= 1
        made = [(e.spi_in, e.spi_out) for e in events_of(automaton, ev.QuickModeEstablished)]
        assert {(o, i) for i, o in children} == set(made)
        # charon saw each old pair deleted: "closing CHILD_SA ... with SPIs" ours
        closed = set(re.findall(r"closing CHILD_SA net\{\d+\} with SPIs ([0-9a-f]{8})_i", log))
        assert {spis[0].hex() for e in deleted for spis in [e.spis]} <= \
            {o.hex() for i, o in children}
        assert len(closed) >= len(rekeys) - 1
        assert not events_of(automaton, ev.Failed)
        sas = [sa for sa in peer.list_sas() if sa["state"] == "ESTABLISHED"]
        assert len(sas) == 1
    finally:
        finish(automaton)


@pytest.mark.interop
def test_connect_finds_a_frozen_charon_dead(strongswan_peer):
    """charon is frozen (SIGSTOP by its PID, SIGCONT afterwards) once the
    tunnel is up: ``connect --dpd 2`` says "peer dead (DPD)" and exits 1
    within the DPD timeout."""
    peer = strongswan_peer(psk=PSK, ike_proposals=IKE, esp_proposals=ESP, lifetime=120)
    argv = [sys.executable, "-m", "scapy_ike", "connect", peer.peer_addr, "--local",
            "192.0.2.2", "--psk", PSK, "--ike", IKE, "--esp", ESP, "--local-ts",
            OUR_INNER + "/32", "--remote-ts", CHARON_INNER + "/32", "--dpd", "2",
            "--duration", "60"]
    result = {}

    def connect():
        result["done"] = run_in_netns(peer.test_ns, argv, capture_output=True, text=True,
                                      timeout=90, cwd=ROOT, env={**os.environ,
                                                                 "PYTHONPATH": str(ROOT)})
    thread = threading.Thread(target=connect)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not [
                sa for sa in peer.list_sas() if sa.get("child-sas")]:
            time.sleep(0.2)
        os.kill(peer.pid, signal.SIGSTOP)
        frozen = time.monotonic()
        thread.join(60)
        took = time.monotonic() - frozen
    finally:
        os.kill(peer.pid, signal.SIGCONT)
    done = result["done"]
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr
    assert "scapy-ike connect: peer dead (DPD)" in done.stderr
    assert took <= 2 + 5 * 2 + 3
