"""Tunnels that last, in memory with a fake clock: Dead Peer Detection
both ways (R-U-THEREs and ACKs lost), Quick Mode rekeys by either side and
by both at once, a rekey whose Delete is lost, kilobyte lifetimes driven by
ESP octets, IKE SA renewal while a Quick Mode runs, INITIAL-CONTACT.  Each
asserts the events and which SPIs carry the traffic before and after."""

import pytest

from test_engine import I_ADDR, R_ADDR, Network, configs, established
from scapy_ike.core import events as ev
from scapy_ike.core.message import Message
from scapy_ike.esp import sa_pair

FAST = dict(ike="aes128-sha1-ecp256", esp="aes128-sha1")


def tick(net, until, step=1.0, filter=None):
    """Run both endpoints' timers each *step* up to *until*, delivering
    what they send (through *filter* when given)."""
    if filter is not None:
        net.filter = filter
    while net.now < until:
        net.now = min(until, net.now + step)
        net.i.handle_timer(net.now)
        net.r.handle_timer(net.now)
        while net.step():
            pass


def pairs(endpoint):
    """``{spi_in: spi_out}`` of every ESP pair the endpoint holds."""
    return {c.spi_in: c.spi_out for conn in endpoint.connections.values()
            for c in conn.children}


def current(endpoint):
    """The outbound SPIs that carry traffic (each family's current pair)."""
    return sorted(c.spi_out for c in endpoint._families.values())


def current_pairs(endpoint):
    return sorted(c.spis for c in endpoint._families.values())


def is_informational(d):
    """Whether a datagram is an Informational (keep-alives are not)."""
    data = d.data[4:] if d.local_port == 4500 else d.data
    return len(data) >= 28 and Message.parse(data).exch_type == 5


def is_ike(d):
    return d.data != b"\xff"


def traffic(qi, qr):
    """The ESP SAs of a pair as each side's Tunnel would make them."""
    t = qi.proposal.transform
    i_out, i_in = sa_pair(t, int.from_bytes(qi.spi_out, "big"), qi.keymat_out,
                          int.from_bytes(qi.spi_in, "big"), qi.keymat_in)
    r_out, r_in = sa_pair(t, int.from_bytes(qr.spi_out, "big"), qr.keymat_out,
                          int.from_bytes(qr.spi_in, "big"), qr.keymat_in)
    return i_out, i_in, r_out, r_in


# -- Dead Peer Detection ---------------------------------------------------------

def test_dpd_is_sent_only_when_the_peer_is_silent_and_acknowledged():
    """R-U-THERE after dpd_delay without word from the peer (not while ESP
    arrives), answered with R-U-THERE-ACK: nothing more happens."""
    net = Network(*configs(**FAST, i=dict(dpd_delay=10)))
    qi, qr = established(net)
    start = net.now
    sent = []
    net.filter = lambda n, d: (sent.append(d) if is_ike(d) else None) or 1
    for t in range(1, 30):                 # ESP from the peer every second: never silent
        net.now = start + t
        net.i.esp_counted(qi.spi_in, net.now, inbound=100)
        net.i.handle_timer(net.now)
        net.step()
    assert sent == []
    tick(net, start + 29 + 10.5)           # silent for 10 s: one R-U-THERE, one ACK
    assert len(sent) == 2 and [is_informational(d) for d in sent] == [True, True]
    tick(net, start + 29 + 60)
    notes = [n.notify_type for n in net.of("r", ev.NotifyReceived)]
    acks = [n.notify_type for n in net.of("i", ev.NotifyReceived)].count(36137)
    assert 5 <= notes.count(36136) == acks <= 6 and not net.of("i", ev.PeerDead)
    assert pairs(net.i) == {qi.spi_in: qi.spi_out}


@pytest.mark.parametrize("lost", ["r-u-there", "ack"])
def test_dpd_survives_lost_messages(lost):
    """The first two R-U-THEREs (or their ACKs) are lost: the third gets
    through in time and the peer lives."""
    net = Network(*configs(**FAST, i=dict(dpd_delay=5, dpd_timeout=20)))
    qi, qr = established(net)
    dropped = []

    def lose(n, d):
        towards_r = d.addr[0] == R_ADDR
        if towards_r == (lost == "r-u-there") and len(dropped) < 2 and is_informational(d):
            dropped.append(d)
            return 0
        return 1
    tick(net, net.now + 60, filter=lose)
    assert len(dropped) == 2 and not net.of("i", ev.PeerDead)
    assert pairs(net.i) == {qi.spi_in: qi.spi_out}


def test_a_dead_peer_is_detected_and_every_sa_goes():
    """No answer for dpd_timeout: PeerDead, the ESP pair and the IKE SA
    gone on our side, with their events."""
    net = Network(*configs(**FAST, i=dict(dpd_delay=2, dpd_timeout=8)))
    qi, qr = established(net)
    start = net.now
    tick(net, start + 30, step=0.5, filter=lambda n, d: 0)
    (dead,) = net.of("i", ev.PeerDead)
    assert dead.cookies == qi.cookies and 9.5 <= dead.silent_for <= 10.5
    at = next(t for t, e in net.events["i"] if isinstance(e, ev.PeerDead))
    assert start + 9.5 <= at <= start + 10.5
    assert [(c.spi_in, c.reason) for c in net.of("i", ev.ChildSaClosed)] == [
        (qi.spi_in, "peer dead")]
    assert [c.reason for c in net.of("i", ev.IkeSaClosed)] == ["peer dead"]
    assert pairs(net.i) == {}


def test_the_responder_detects_a_dead_initiator_too():
    net = Network(*configs(**FAST, r=dict(dpd_delay=3)))
    qi, qr = established(net)
    tick(net, net.now + 40, filter=lambda n, d: 0)
    assert [d.cookies for d in net.of("r", ev.PeerDead)] == [qr.cookies]
    assert pairs(net.r) == {}


# -- Quick Mode rekeying -----------------------------------------------------------

@pytest.mark.parametrize("rekeyer", ["initiator", "responder"])
def test_quick_mode_rekey_moves_the_traffic_and_deletes_the_old_pair(rekeyer):
    """At the soft lifetime a new Quick Mode on the same IKE SA; the new
    pair is current at once on both sides; the old one still decrypts
    during the overlap, then is deleted by its Delete."""
    early, late = dict(rekey_margin=0.3), dict(rekey_margin=0.01)
    i, r = (early, late) if rekeyer == "initiator" else (late, early)
    net = Network(*configs(**FAST, i=dict(esp_lifetime=100, **i), r=dict(esp_lifetime=100, **r)))
    qi, qr = established(net)
    start = net.now
    assert current(net.i) == [qi.spi_out] and current(net.r) == [qr.spi_out]
    side, other_side = ("i", "r") if rekeyer == "initiator" else ("r", "i")
    while not net.of("i", ev.Rekeyed) and net.now < start + 100:
        tick(net, net.now + 0.5)
    (soft,) = [e for e in net.of(side, ev.Expired) if not e.hard]
    assert soft.spi_in == (qi if side == "i" else qr).spi_in
    assert not [e for e in net.of(other_side, ev.Expired)]
    ni, nr = net.of("i", ev.QuickModeEstablished)[1], net.of("r", ev.QuickModeEstablished)[1]
    assert (ni.replaces, nr.replaces) == (qi.spi_in, qr.spi_in) and ni.current and nr.current
    for s, old, new in (("i", qi, ni), ("r", qr, nr)):
        (rekeyed,) = net.of(s, ev.Rekeyed)
        assert (rekeyed.old, rekeyed.new) == ((old.spi_in, old.spi_out), (new.spi_in, new.spi_out))
    assert current(net.i) == [ni.spi_out] and current(net.r) == [nr.spi_out]
    # the old pair is kept for the overlap: what the peer sent on it opens
    assert pairs(net.i) == {qi.spi_in: qi.spi_out, ni.spi_in: ni.spi_out}
    assert not net.of("i", ev.ChildSaClosed) and not net.of("r", ev.ChildSaClosed)
    i_out, i_in, r_out, r_in = traffic(qi, qr)
    assert r_in.open(i_out.seal(b"late", 4)).payload == b"late"
    tick(net, net.now + 5.5)
    gone = [(c.spi_in, c.reason) for c in net.of(side, ev.ChildSaClosed)]
    mine, theirs = (qi, qr) if side == "i" else (qr, qi)
    assert gone == [(mine.spi_in, "rekeyed")]
    assert [d.removed for d in net.of(other_side, ev.DeleteReceived)][:1] == [
        ((theirs.spi_in, theirs.spi_out),)]
    assert pairs(net.i) == {ni.spi_in: ni.spi_out} and pairs(net.r) == {nr.spi_in: nr.spi_out}
    # the new keys work both ways
    i_out, i_in, r_out, r_in = traffic(ni, nr)
    assert r_in.open(i_out.seal(b"after", 4)).payload == b"after"
    assert i_in.open(r_out.seal(b"back", 4)).payload == b"back"
    assert not net.of("i", ev.Failed) and not net.of("r", ev.Failed)


def test_rekeys_go_on_for_an_hour():
    """A 60 s lifetime for an hour: a rekey every minute or so, always one
    pair current on each side, at most two pairs held, and no failure."""
    net = Network(*configs(**FAST, i=dict(esp_lifetime=60), r=dict(esp_lifetime=60)))
    established(net)
    most = 0
    for _ in range(3600 // 5):
        tick(net, net.now + 5, step=1.0)
        assert len(current(net.i)) == len(current(net.r)) == 1
        most = max(most, len(pairs(net.i)), len(pairs(net.r)))
    rekeys = len(net.of("i", ev.Rekeyed))
    assert 60 <= rekeys <= 72 and most == 2
    assert len(net.of("r", ev.Rekeyed)) == rekeys
    assert not net.of("i", ev.Failed) and not net.of("r", ev.Failed)
    assert not [e for s in "ir" for e in net.of(s, ev.Expired) if e.hard]
    assert sorted(pairs(net.i).values()) == sorted(pairs(net.r))


def test_both_sides_rekeying_at_once_converge():
    """Both start a rekey of the same pair in the same instant: two new
    pairs, one of them redundant by the lowest nonce, deleted by the side
    that made it; both sides agree on the current pair."""
    net = Network(*configs(**FAST))
    qi, qr = established(net)
    ci = next(iter(net.i.connections.values()))
    cr = next(iter(net.r.connections.values()))
    (child_i,), (child_r,) = list(ci.children), list(cr.children)
    ci.start_quick_mode(net.now, rekey=child_i)
    cr.start_quick_mode(net.now, rekey=child_r)
    while net.step():
        pass
    assert len(net.of("i", ev.QuickModeEstablished)) == len(net.of("r", ev.QuickModeEstablished)) == 3
    (ci_pair,), (cr_pair,) = current_pairs(net.i), current_pairs(net.r)
    assert ci_pair == cr_pair[::-1]                 # the same pair, seen from each side
    assert len(pairs(net.i)) == 3
    tick(net, net.now + 6)
    # the old pair and the redundant one are gone, on both sides alike
    assert pairs(net.i) == {ci_pair[0]: ci_pair[1]} and pairs(net.r) == {cr_pair[0]: cr_pair[1]}
    assert not net.of("i", ev.Failed) and not net.of("r", ev.Failed)


def test_a_rekey_whose_delete_is_lost():
    """The Delete of the old pair is lost: the peer keeps it (it no longer
    carries traffic) until its hard lifetime, and nothing else suffers."""
    net = Network(*configs(**FAST, i=dict(esp_lifetime=100), r=dict(esp_lifetime=1000)))
    qi, qr = established(net)
    start = net.now

    def lose_deletes(n, d):
        return 0 if d.addr[0] == R_ADDR and net.of("i", ev.Rekeyed) and is_informational(d) \
            else 1
    tick(net, start + 99, filter=lose_deletes)
    ni, nr = net.of("i", ev.QuickModeEstablished)[1], net.of("r", ev.QuickModeEstablished)[1]
    assert [d.spis for d in net.of("i", ev.DeleteSent)] == [(qi.spi_in,)]
    assert pairs(net.i) == {ni.spi_in: ni.spi_out}
    assert pairs(net.r) == {qr.spi_in: qr.spi_out, nr.spi_in: nr.spi_out}
    assert current(net.r) == [nr.spi_out] and not net.of("r", ev.DeleteReceived)
    tick(net, start + 101, filter=lambda n, d: 1)       # the negotiated 100 s
    assert [(c.spi_in, c.reason) for c in net.of("r", ev.ChildSaClosed)] == [
        (qr.spi_in, "expired")]
    assert pairs(net.r) == {nr.spi_in: nr.spi_out}
    assert [d.removed for d in net.of("i", ev.DeleteReceived)] == [()]  # gone here already
    assert not net.of("i", ev.Failed) and not net.of("r", ev.Failed)


def test_kilobyte_lifetimes_rekey_on_esp_octets():
    """A 64 KB lifetime: octets counted from the ESP traffic start the
    rekey near 90% of it, before any time limit."""
    net = Network(*configs(**FAST, i=dict(esp_lifesize=64), r=dict(esp_lifesize=64)))
    qi, qr = established(net)
    sent = 0
    while not net.of("i", ev.Rekeyed) and sent < 64 * 1024:
        net.i.esp_counted(qi.spi_in, net.now, outbound=1024)
        sent += 1024
        while net.step():
            pass
    assert 0.85 * 64 * 1024 <= sent <= 0.9 * 64 * 1024 + 1024
    (soft,) = [e for e in net.of("i", ev.Expired) if not e.hard]
    assert soft.spi_in == qi.spi_in
    ni = net.of("i", ev.QuickModeEstablished)[1]
    assert ni.proposal.lifesize == 64 and current(net.i) == [ni.spi_out]
    # the old pair, pushed past its hard limit during the overlap, goes at once
    net.i.esp_counted(qi.spi_in, net.now, outbound=64 * 1024)
    net.step()
    assert [(c.spi_in, c.reason) for c in net.of("i", ev.ChildSaClosed)] == [
        (qi.spi_in, "expired")]


# -- IKE SA renewal and INITIAL-CONTACT ----------------------------------------------

def test_ike_renewal_while_a_quick_mode_runs():
    """The IKE SA is renewed while a rekey Quick Mode is in flight on it:
    the rekey completes, the new IKE SA takes both pairs, traffic never
    lacks a current pair."""
    net = Network(*configs(**FAST, i=dict(ike_lifetime=300), r=dict(ike_lifetime=300)))
    qi, qr = established(net)
    ci = net.i.connections[qi.cookies[:8]]
    (child,) = list(ci.children)
    tick(net, net.now + 255)                       # just before the soft lifetime
    assert len(net.of("i", ev.Phase1Established)) == 1
    ci.start_quick_mode(net.now, rekey=child)      # its QM1 waits on the wire
    held = net.i.datagrams_to_send()
    net.now += 25
    net.i.handle_timer(net.now)                    # past the soft lifetime: a new Main Mode
    for d in held:
        net.deliver(net.r, I_ADDR, d)
    while net.step():
        pass
    tick(net, net.now + 10)
    assert len(net.of("i", ev.Phase1Established)) == 2
    assert len(net.of("i", ev.QuickModeEstablished)) == 2           # no new one but the rekey
    (renewal,) = [r for r in net.of("i", ev.Rekeyed) if r.protocol == 1]
    new_i = net.i.connections[renewal.new[0][:8]]
    assert len(current(net.i)) == 1 and len(current(net.r)) == 1
    assert sorted(pairs(net.i).values()) == sorted(pairs(net.r))
    assert [c.spi_in for c in new_i.children] == list(pairs(net.i))
    assert qi.cookies[:8] not in net.i.connections or \
        net.i.connections[qi.cookies[:8]].ended is not None
    assert not net.of("i", ev.Failed) and not net.of("r", ev.Failed)


def test_a_peer_that_renews_its_ike_sa_is_not_a_conflict():
    """As responder: a new Main Mode from the same peer, then its Delete
    of the old IKE SA, which removes only that: the ESP pair lives on under
    the new IKE SA and is rekeyed there."""
    net = Network(*configs(**FAST, i=dict(ike_lifetime=200, esp_lifetime=400),
                           r=dict(esp_lifetime=400)))
    qi, qr = established(net)
    tick(net, net.now + 200)
    (renewed,) = [r for r in net.of("i", ev.Rekeyed) if r.protocol == 1]
    assert [(d.protocol, d.removed) for d in net.of("r", ev.DeleteReceived)] == [
        (1, (renewed.old[0],))]
    new_r = net.r.connections[renewed.new[0][:8]]
    assert [c.spi_in for c in new_r.children] == [qr.spi_in]
    tick(net, net.now + 200)
    assert [r.protocol for r in net.of("r", ev.Rekeyed)].count(3) >= 1
    assert not net.of("r", ev.Failed) and len(current(net.r)) == 1


def test_initial_contact_removes_older_sas_only_once_authenticated():
    """A rebooted peer (a fresh endpoint at the same address) sends
    INITIAL-CONTACT: its forged MM5 changes nothing, its real one removes
    the older IKE SA and ESP pair, without a Delete."""
    i_cfg, r_cfg = configs(**FAST)
    net = Network(i_cfg, r_cfg)
    qi, qr = established(net)
    rebooted = Network(i_cfg, r_cfg)
    rebooted.r = net.r
    rebooted.now = net.now + 1
    forged = []

    def forge_mm5(n, d):
        data = d.data[4:] if d.local_port == 4500 else d.data
        if d.addr[0] == R_ADDR and Message.parse(data).flags & 1 and not forged:
            bad = bytearray(d.data)
            bad[-1] ^= 1
            forged.append(bytes(bad))
            net.r.receive_datagram(bytes(bad), (I_ADDR, d.local_port), rebooted.now,
                                   local_port=d.local_port)
            assert pairs(net.r) == {qr.spi_in: qr.spi_out}    # unchanged by the forgery
        return 1
    rebooted.filter = forge_mm5
    rebooted.i.initiate((R_ADDR, 500), rebooted.now)
    rebooted.run()
    assert forged
    (q2,) = rebooted.of("i", ev.QuickModeEstablished)
    closed = [(c.spi_in, c.reason) for c in rebooted.of("r", ev.ChildSaClosed)]
    assert closed == [(qr.spi_in, "INITIAL-CONTACT in the peer's new IKE SA")]
    assert pairs(net.r) == {q2.spi_out: q2.spi_in}
    assert not rebooted.of("i", ev.DeleteReceived)


def test_close_deletes_everything_it_holds():
    """close() during a rekey's overlap: a Delete for each of the two ESP
    pairs, then the IKE SA's, with events; the peer removes them all."""
    net = Network(*configs(**FAST, i=dict(esp_lifetime=100)))
    qi, qr = established(net)
    while not net.of("i", ev.Rekeyed):
        tick(net, net.now + 1)
    held = dict(pairs(net.i))
    assert len(held) == 2
    net.i.close(net.now)
    net.step()
    assert [(d.protocol, d.spis) for d in net.of("i", ev.DeleteSent)] == [
        (3, (spi,)) for spi in held] + [(1, (qi.cookies,))]
    assert sorted(c.spi_in for c in net.of("i", ev.ChildSaClosed)) == sorted(held)
    assert pairs(net.r) == {} and net.i.connections == {}


def test_a_quick_mode_on_a_second_ike_sa_succeeds_the_pair():
    """A second IKE SA of the same peer whose Quick Mode has the same
    selectors (charon's, renewing an IKE SA it did not start): the new pair
    succeeds the old one across IKE SAs; its maker deletes the old one
    after the overlap."""
    net = Network(*configs(**FAST, i=dict(initial_contact=False)))
    qi, qr = established(net)
    net.i.initiate((R_ADDR, 500), net.now)
    while net.step():
        pass
    ni, nr = net.of("i", ev.QuickModeEstablished)[1], net.of("r", ev.QuickModeEstablished)[1]
    assert nr.cookies != qr.cookies and nr.replaces == qr.spi_in and nr.current
    assert [(r.old, r.new) for r in net.of("r", ev.Rekeyed)] == [
        ((qr.spi_in, qr.spi_out), (nr.spi_in, nr.spi_out))]
    assert current(net.r) == [nr.spi_out] and current(net.i) == [ni.spi_out]
    tick(net, net.now + 6)
    assert [(c.spi_in, c.reason) for c in net.of("r", ev.ChildSaClosed)] == [
        (qr.spi_in, "deleted by the peer")]
    assert pairs(net.r) == {nr.spi_in: nr.spi_out}


def test_the_log_says_what_happened_to_each_sa():
    """The log line for each lifecycle event names the SA (by its conn-id)
    and what happened to it."""
    from scapy_ike.log.lines import line
    c = bytes(range(16))
    pair, new = (b"\x01\x02\x03\x04", b"\x05\x06\x07\x08"), (b"\x09" * 4, b"\x0a" * 4)
    assert [line(e, 1002) for e in (
        ev.PeerDead(c, ("192.0.2.1", 4500), 10.2),
        ev.Rekeyed(c, 3, pair, new),
        ev.ChildSaClosed(c, *pair, "rekeyed"),
        ev.DeleteReceived(c, 3, (pair[1],), (pair,)),
        ev.DeleteReceived(c, 3, (b"\xff" * 4,), ()),
        ev.Expired(c, 0, b"", b"", hard=False),
        ev.Expired(c, 7, *pair, hard=True),
    )] == [
        "ISAKMP:(1002): peer 192.0.2.1 dead (DPD): silent for 10 s, R-U-THERE "
        "unanswered; its SAs deleted",
        "IPSEC(rekey): spi in 0x01020304 out 0x05060708 replaced by in 0x09090909 out 0x0a0a0a0a",
        "IPSEC(delete_sa): spi in 0x01020304 out 0x05060708 (rekeyed)",
        "ISAKMP:(1002): received DELETE of ESP SPI 0x05060708, removed "
        "0x01020304, 0x05060708",
        "ISAKMP:(1002): received DELETE of ESP SPI 0xffffffff, removed nothing "
        "(not known here)",
        "ISAKMP:(1002): IKE SA reached its soft lifetime: renewing",
        "IPSEC(lifetime): spi in 0x01020304 out 0x05060708 reached their hard lifetime",
    ]
