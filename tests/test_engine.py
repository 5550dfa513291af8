"""The sans-IO engine, initiator and responder in memory with a fake
clock: Main and Aggressive Mode, Quick Mode with and without PFS, NAT-T,
loss, duplication, reordering, retransmission timing, and every way a
negotiation fails."""

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from scapy_ike.core import events as ev
from scapy_ike.core import state as S
from scapy_ike.core.config import Configuration, Retransmission
from scapy_ike.core import Endpoint
from scapy_ike.esp import sa_pair

I_ADDR, R_ADDR = "192.0.2.2", "192.0.2.1"


class Network:
    """Two endpoints and the wire between them; *filter(n, datagram)*
    returns how many copies of the n-th datagram arrive (0 drops it, -1
    holds it back until the next datagram has arrived)."""

    def __init__(self, initiator, responder, filter=lambda n, d: 1):
        self.i = Endpoint(initiator, I_ADDR)
        self.r = Endpoint(responder, R_ADDR)
        self.now = 0.0
        self.filter = filter
        self.sent = 0
        self.held = []
        self.events = {"i": [], "r": []}

    def run(self, until=120.0):
        """Deliver until quiet, advancing the clock to each retransmission
        (keep-alives alone do not keep it running)."""
        while self.now <= until:
            if not self.step():
                timers = [t for e in (self.i, self.r) for t in waiting(e)]
                if not timers:
                    break
                self.now = max(self.now, min(timers))
                self.i.handle_timer(self.now)
                self.r.handle_timer(self.now)
        self.collect()

    def step(self):
        moved = False
        for src, dst, addr in ((self.i, self.r, I_ADDR), (self.r, self.i, R_ADDR)):
            for d in src.datagrams_to_send(self.now):
                self.sent += 1
                moved = True
                copies = self.filter(self.sent, d)
                if copies < 0:
                    self.held.append((dst, addr, d))
                    continue
                for _ in range(copies):
                    self.deliver(dst, addr, d)
                while self.held:
                    self.deliver(*self.held.pop(0))
        self.collect()
        return moved

    def deliver(self, dst, addr, d):
        dst.receive_datagram(d.data, (addr, d.local_port), self.now, local_port=d.local_port)

    def collect(self):
        for name, e in (("i", self.i), ("r", self.r)):
            while (x := e.next_event()) is not None:
                self.events[name].append((self.now, x))

    def of(self, side, kind):
        return [e for _, e in self.events[side] if isinstance(e, kind)]


def waiting(endpoint):
    """The times at which a negotiation of *endpoint* moves without new
    input: retransmissions and half-open timeouts (not keep-alives nor
    lifetimes)."""
    times = []
    for conn in endpoint.connections.values():
        times += [ex.pending[1][0] for ex in conn.exchanges.values() if ex.pending]
        if conn.half_open_until is not None:
            times.append(conn.half_open_until)
    return times


def configs(mode="main", esp="aes256-sha256", ike="aes256-sha256-modp2048", **kw):
    common = dict(mode=mode, psk=b"in-memory", ike=ike, esp=esp, force_encap=True)
    i = Configuration(**{**common, "role": "initiator", "local_ts": "198.51.100.2/32",
                         "remote_ts": "198.51.100.1/32", **kw.get("i", {})})
    r = Configuration(**{**common, "role": "responder", "local_ts": "198.51.100.1/32",
                         "remote_ts": "198.51.100.2/32", **kw.get("r", {})})
    return i, r


def established(net):
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    (qi,) = net.of("i", ev.QuickModeEstablished)
    (qr,) = net.of("r", ev.QuickModeEstablished)
    return qi, qr


@pytest.mark.parametrize("mode,ike,esp", [
    ("main", "aes256-sha256-modp2048", "aes256-sha256"),
    ("main", "3des-sha1-modp1024", "3des-sha1"),
    ("main", "aes128-sha1-ecp256", "aes128gcm16-ecp256"),
    ("aggressive", "aes256-sha256-modp2048", "aes128-sha256-modp2048"),
    ("aggressive", "aes128-sha1-curve25519", "aes256gcm16"),
])
def test_handshake_and_traffic(mode, ike, esp):
    net = Network(*configs(mode, esp, ike))
    qi, qr = established(net)
    assert (qi.spi_in, qi.spi_out, qi.keymat_in, qi.keymat_out) == (
        qr.spi_out, qr.spi_in, qr.keymat_out, qr.keymat_in)
    assert qi.udp_encap and qr.udp_encap
    states = [e.new for e in net.of("i", ev.StateChanged)]
    first = "IKE_I_MM1" if mode == "main" else "IKE_I_AM1"
    assert states[0] == first and S.P1_COMPLETE in states and states[-1] == S.QM_COMPLETE
    # the KEYMAT makes ESP SAs that talk to each other
    transform = qi.proposal.transform
    i_out, i_in = sa_pair(transform, int.from_bytes(qi.spi_out, "big"), qi.keymat_out,
                          int.from_bytes(qi.spi_in, "big"), qi.keymat_in)
    r_out, r_in = sa_pair(transform, int.from_bytes(qr.spi_out, "big"), qr.keymat_out,
                          int.from_bytes(qr.spi_in, "big"), qr.keymat_in)
    assert r_in.open(i_out.seal(b"ping")).payload == b"ping"
    assert i_in.open(r_out.seal(b"pong")).payload == b"pong"
    assert net.sent == (9 if mode == "main" else 6)


@pytest.mark.parametrize("lost", range(1, 10))
def test_any_lost_message_is_retransmitted(lost):
    """Drop the n-th datagram once: the handshake still completes, and the
    side waiting for an answer retransmits 4 s later (charon's first
    timeout).  QM2 waits for QM3 as QM1 waits for QM2: when QM2 is lost,
    both sides retransmit."""
    net = Network(*configs(), filter=lambda n, d: 0 if n == lost else 1)
    established(net)
    retransmits = net.of("i", ev.Retransmitted) + net.of("r", ev.Retransmitted)
    assert len(retransmits) == (2 if lost == 8 else 1)
    assert {r.attempt for r in retransmits} == {1}
    when = {t for t, e in net.events["i"] + net.events["r"] if isinstance(e, ev.Retransmitted)}
    assert when == {4.0}


@pytest.mark.parametrize("doubled", range(1, 10))
def test_duplicated_messages_are_harmless(doubled):
    """Every message may arrive twice: a responder repeats its last reply,
    nothing is established twice."""
    net = Network(*configs(), filter=lambda n, d: 2 if n == doubled else 1)
    established(net)
    assert not net.of("i", ev.Failed) and not net.of("r", ev.Failed)


@pytest.mark.parametrize("overtaken", range(1, 10))
def test_every_message_overtaken_by_the_next(overtaken):
    """The n-th datagram arrives just after the next one (its own
    retransmission, or the peer's repeated request): still one
    negotiation each side, nothing failed."""
    net = Network(*configs(), filter=lambda n, d: -1 if n == overtaken else 1)
    established(net)
    assert not net.of("i", ev.Failed) and not net.of("r", ev.Failed)
    assert len(net.of("i", ev.Phase1Established)) == len(net.of("r", ev.Phase1Established)) == 1
    assert not net.held and net.now == 4.0


def test_retransmission_backoff_then_timeout():
    """No answer: retransmissions at 4, 4+7.2, ... then a timeout failure."""
    cfg_i, cfg_r = configs(i=dict(retransmission=Retransmission(timeout=4.0, base=1.8, tries=4)))
    net = Network(cfg_i, cfg_r, filter=lambda n, d: 0)
    net.i.initiate((R_ADDR, 500), 0.0)
    net.run(until=200)
    times = [round(t, 3) for t, e in net.events["i"] if isinstance(e, ev.Retransmitted)]
    assert times == [4.0, 11.2, 24.16]
    (failed,) = net.of("i", ev.Failed)
    assert failed.reason == "timeout: no answer to IKE_I_MM1"
    assert [round(t, 3) for t, e in net.events["i"] if isinstance(e, ev.Failed)] == [47.488]


def test_wrong_psk():
    """MM5 under a wrong key does not authenticate: it may be anyone's, so
    the responder answers nothing and its half-open SA times out, saying
    why; the initiator retransmits MM5 and times out too."""
    i, r = configs(r=dict(psk=b"other"))
    net = Network(i, r)
    net.i.initiate((R_ADDR, 500), 0.0)
    net.run()
    (failed,) = net.of("r", ev.Failed)
    assert failed.reason == ("timeout: half-open SA in IKE_R_MM4 did not complete; "
                             "4 messages did not authenticate (wrong pre-shared key?)")
    assert net.of("i", ev.Failed)[0].reason == "timeout: no answer to IKE_I_MM5"
    assert not net.of("i", ev.Phase1Established)
    assert not net.of("i", ev.NotifyReceived)


def test_no_proposal_chosen():
    net = Network(*configs(r=dict(ike="3des-md5-modp1024")))
    net.i.initiate((R_ADDR, 500), 0.0)
    net.run()
    assert net.of("r", ev.Failed)[0].reason == (
        "no proposal chosen: peer offered aes256-sha256-modp2048; we accept 3des-md5-modp1024 "
        "(allow it with --ike aes256-sha256-modp2048)")
    failed = net.of("i", ev.Failed)
    assert failed[0].reason == "peer notify NO-PROPOSAL-CHOSEN" and failed[0].notify_type == 14


def test_quick_mode_no_proposal_and_invalid_id():
    net = Network(*configs(r=dict(esp="3des-md5")))
    net.i.initiate((R_ADDR, 500), 0.0)
    net.run()
    assert net.of("i", ev.Phase1Established) and not net.of("i", ev.QuickModeEstablished)
    assert [f.reason[:18] for f in net.of("r", ev.Failed)] == ["no proposal chosen"]
    assert [n.notify_type for n in net.of("i", ev.NotifyReceived)] == [14]
    assert [f.reason for f in net.of("i", ev.Failed)] == ["peer notify NO-PROPOSAL-CHOSEN"]
    assert not net.of("i", ev.Retransmitted)
    net = Network(*configs(r=dict(remote_ts="203.0.113.0/24")))
    net.i.initiate((R_ADDR, 500), 0.0)
    net.run()
    assert [f.reason for f in net.of("r", ev.Failed)] == [
        "invalid id: 198.51.100.2 === 198.51.100.1 is not inside 203.0.113.0/24 === "
        "198.51.100.1/32"]
    assert [n.notify_type for n in net.of("i", ev.NotifyReceived)] == [18]


def test_wrong_identity():
    net = Network(*configs(i=dict(remote_id="gw.example")))
    net.i.initiate((R_ADDR, 500), 0.0)
    net.run()
    assert net.of("i", ev.Failed)[0].reason == "invalid id: the peer is 192.0.2.1, not gw.example"


def test_garbage_is_dropped_not_fatal():
    net = Network(*configs())
    for junk in (b"", b"\x00" * 10, b"\x01" * 28, bytes(range(200))):
        net.r.receive_datagram(junk, (I_ADDR, 500), 0.0, local_port=500)
    net.collect()
    assert [type(e) for _, e in net.events["r"]] == [ev.Dropped] * 4
    established(net)


def test_half_open_bounds():
    """Past the global bound the oldest half-open SA makes room; past the
    bound per source, new first messages from it are dropped (charon's
    block_threshold)."""
    i, r = configs(r=dict(max_half_open=3, half_open_per_source=2))
    net = Network(i, r)
    firsts = []
    for _ in range(5):
        net.i.initiate((R_ADDR, 500), 0.0)
        firsts += net.i.datagrams_to_send()
    for n, d in enumerate(firsts):
        net.r.receive_datagram(d.data, ("203.0.113.%d" % (n // 2 + 1), 500), 0.0, local_port=500)
    net.collect()
    cookies = [d.data[:8] for d in firsts]
    assert sorted(net.r.connections) == sorted(cookies[2:5])
    assert [e.reason for e in net.of("r", ev.Dropped)] == [
        "too many half-open SAs: the oldest made room"] * 2
    net.r.receive_datagram(b"\x01" + firsts[0].data[1:],
                           ("203.0.113.3", 500), 0.0, local_port=500)
    net.r.receive_datagram(b"\x02" + firsts[0].data[1:], ("203.0.113.3", 500), 0.0,
                           local_port=500)
    net.collect()
    assert net.of("r", ev.Dropped)[-1].reason == "too many half-open SAs from 203.0.113.3"


@pytest.mark.parametrize("seed", range(12))
def test_wrong_psk_always_fails_with_a_reason(seed):
    """Whatever the wrong key makes of MM5, the responder drops it, tells
    nobody and fails with the reason when its half-open SA times out."""
    import random
    rng = random.Random(seed)
    i, r = configs(r=dict(psk=b"other-%d" % seed))
    net = Network(i, r)
    net.i.random = net.r.random = lambda n: bytes(rng.getrandbits(8) for _ in range(n))
    net.i.initiate((R_ADDR, 500), 0.0)
    net.run()
    (failed,) = net.of("r", ev.Failed)
    assert failed.reason.endswith("did not authenticate (wrong pre-shared key?)")
    assert not net.of("i", ev.NotifyReceived)
    reasons = {e.reason.split(":")[0] for e in net.of("r", ev.Dropped)}
    # after the half-open SA is gone, the last retransmissions meet no SA
    assert reasons <= {"decryption failed (wrong pre-shared key?)", "HASH_I does not verify",
                       "unknown cookies"}
    assert reasons & {"decryption failed (wrong pre-shared key?)", "HASH_I does not verify"}


def test_transport_mode_between_our_peers():
    """Transport mode (charon's userspace ESP is tunnel-only, so it is
    tested here): UDP-encapsulated transport (RFC 3947 mode 4), and the
    ESP SAs protect a packet's payload in place."""
    from scapy.layers.inet import ICMP, IP, UDP
    i, r = configs(i=dict(tunnel=False), r=dict(tunnel=False))
    net = Network(i, r)
    qi, qr = established(net)
    transform = qi.proposal.transform
    assert not transform.tunnel and transform.udp_encap and qi.udp_encap
    natt = dict(nat_t_header=UDP(sport=4500, dport=4500))
    i_out, _ = sa_pair(transform, int.from_bytes(qi.spi_out, "big"), qi.keymat_out,
                       int.from_bytes(qi.spi_in, "big"), qi.keymat_in, **natt)
    _, r_in = sa_pair(transform, int.from_bytes(qr.spi_out, "big"), qr.keymat_out,
                      int.from_bytes(qr.spi_in, "big"), qr.keymat_in, **natt)
    pkt = IP(src=I_ADDR, dst=R_ADDR) / ICMP(id=4) / b"transport"
    wire = i_out.encrypt(pkt)
    assert wire[UDP].dport == 4500 and wire.src == I_ADDR
    back = r_in.decrypt(IP(bytes(wire)))
    assert back.proto == 1 and bytes(back[ICMP]) == bytes(pkt[ICMP])


def test_nat_keepalives():
    """Behind a NAT, a one-byte keep-alive goes to the NAT-T port every
    20 s (RFC 3948 2.3)."""
    net = Network(*configs())
    established(net)
    assert net.i.get_timer() == pytest.approx(net.now + 20.0)
    net.now += 20.0
    net.i.handle_timer(net.now)
    (keepalive,) = net.i.datagrams_to_send()
    assert (keepalive.data, keepalive.addr, keepalive.local_port) == (b"\xff", (R_ADDR, 4500), 4500)
    net.r.receive_datagram(keepalive.data, (I_ADDR, 4500), net.now, local_port=4500)
    net.collect()
    assert not net.of("r", ev.Dropped)


def test_delete_tells_the_peer():
    net = Network(*configs())
    qi, qr = established(net)
    net.i.close(net.now)
    net.step()
    deletes = net.of("r", ev.DeleteReceived)
    assert [(d.protocol, d.spis) for d in deletes] == [
        (3, (qi.spi_in,)), (1, (net.r.connections[qi.cookies[:8]].sa.cky_i + qr.cookies[8:],))]
    assert net.r.connections[qi.cookies[:8]].state == S.DEAD


@pytest.mark.parametrize("late", range(1, 10))
def test_late_copies_of_every_message(late):
    """A copy of any earlier message arriving after the exchange (a
    reordered retransmission) changes nothing and fails nothing."""
    log = []
    net = Network(*configs(), filter=lambda n, d: log.append(d) or 1)
    qi, qr = established(net)
    old = log[late - 1]
    sender_is_initiator = old.addr[0] == R_ADDR
    target, source = (net.r, I_ADDR) if sender_is_initiator else (net.i, R_ADDR)
    target.receive_datagram(old.data, (source, old.local_port), net.now, local_port=old.local_port)
    net.run()
    assert not net.of("i", ev.Failed) and not net.of("r", ev.Failed)
    assert len(net.of("i", ev.QuickModeEstablished)) == 1
    assert len(net.of("r", ev.QuickModeEstablished)) == 1


def test_responder_lifetime_and_expiry():
    """A responder whose lifetimes are shorter says so with
    RESPONDER-LIFETIME, seconds and kilobytes (RFC 2407 4.6.3.1); when no
    rekey can get through, both sides expire the pair at that time."""
    net = Network(*configs(i=dict(esp_lifetime=3600), r=dict(esp_lifetime=600,
                                                            esp_lifesize=4096)))
    qi, qr = established(net)
    assert (qi.proposal.lifetime, qi.proposal.lifesize) == (600, 4096)
    assert (qr.proposal.lifetime, qr.proposal.lifesize) == (600, 4096)
    start = net.now
    net.filter = lambda n, d: 0                    # the peers cannot reach each other
    for t in range(int(start) + 1, int(start) + 600):
        for side in (net.i, net.r):
            side.handle_timer(float(t))
        net.step()
    assert not [e for side in "ir" for e in net.of(side, ev.Expired) if e.hard]
    soft = [e for e in net.of("i", ev.Expired) if not e.hard]
    assert soft and soft[0].spi_in == qi.spi_in
    for side in (net.i, net.r):
        side.handle_timer(start + 600)
    net.collect()
    (ei,), (er,) = ([e for e in net.of(s, ev.Expired) if e.hard] for s in "ir")
    assert (ei.spi_in, er.spi_in) == (qi.spi_in, qr.spi_in)
    assert [(c.spi_in, c.reason) for c in net.of("i", ev.ChildSaClosed)] == [
        (qi.spi_in, "expired")]


def test_phase1_lifetime_and_initial_contact():
    """MM5 carried INITIAL-CONTACT; the IKE SA is renewed before its
    lifetime ends (a new Main Mode that takes over the ESP pair, then the
    old IKE SA's Delete alone); with no renewal possible it expires and is
    deleted at the peer."""
    net = Network(*configs(ike="aes128-sha1-modp2048", i=dict(ike_lifetime=900),
                           r=dict(ike_lifetime=900)))
    qi, qr = established(net)
    assert [n.notify_type for n in net.of("r", ev.NotifyReceived)] == [24578]
    start = net.now
    net.i.handle_timer(start + 764.0)
    net.collect()
    assert not [e for e in net.of("i", ev.Expired) if e.message_id == 0]
    net.now = start + 810.0
    net.i.handle_timer(net.now)
    net.run(until=net.now + 5)
    (soft,) = net.of("i", ev.Expired)
    assert (soft.message_id, soft.hard, soft.cookies) == (0, False, qi.cookies)
    old_i, new_i = (e.cookies for e in net.of("i", ev.Phase1Established))
    assert [(r.protocol, r.old, r.new) for r in net.of("i", ev.Rekeyed)] == [
        (1, (old_i,), (new_i,))]
    assert [n.notify_type for n in net.of("r", ev.NotifyReceived)] == [24578]   # not again
    assert [(d.protocol, d.removed) for d in net.of("r", ev.DeleteReceived)] == [
        (1, (old_i,))]
    assert len(net.of("r", ev.QuickModeEstablished)) == 1       # the pair was kept
    assert not net.of("r", ev.ChildSaClosed) and not net.of("i", ev.ChildSaClosed)
    assert [c.spi_in for c in net.r.connections[new_i[:8]].children] == [qr.spi_in]
    assert [c.spi_in for c in net.i.connections[new_i[:8]].children] == [qi.spi_in]
    assert [c.reason for c in net.of("r", ev.IkeSaClosed)] == ["deleted by the peer"]
    # the renewed SA, cut off from its peer, expires in the end
    net.filter = lambda n, d: 0
    net.now = start + 810.0 + 900.0
    net.i.handle_timer(net.now)
    net.step()
    assert [e.hard for e in net.of("i", ev.Expired) if e.message_id == 0][-1] is True


@pytest.mark.parametrize("i_nat_t, r_nat_t, version", [
    (True, True, "RFC 3947 NAT-T"),
    ("drafts", True, "draft-ietf-ipsec-nat-t-ike-02\\n"),
    (True, "drafts", "draft-ietf-ipsec-nat-t-ike-02\\n"),
    ("rfc3947", "drafts", None),
    (True, False, None),
])
def test_nat_t_versions(i_nat_t, r_nat_t, version):
    """The responder answers with the best NAT-T version both offer
    (RFC 3947 2); the drafts number NAT-D 130 and the UDP tunnel mode
    61443; without a common version there is no NAT-D, no float and ESP
    stays out of UDP."""
    from scapy_ike.constants import EncapsulationMode, IpsecAttribute, vendor_id_name
    from scapy_ike.layers.isakmp import (
        IPSEC_ATTRIBUTES, ISAKMP, ISAKMP_payload_NAT_D, ISAKMP_payload_Transform,
        ISAKMP_payload_VendorID, payloads_of,
    )
    wire = []
    net = Network(*configs(i=dict(nat_t=i_nat_t), r=dict(nat_t=r_nat_t)),
                  filter=lambda n, d: wire.append(d) or 1)
    qi, qr = established(net)
    ike = [ISAKMP(d.data[4:] if d.local_port == 4500 else d.data) for d in wire]
    vids = [vendor_id_name(v.VendorID) for v in payloads_of(ike[1], ISAKMP_payload_VendorID)]
    assert vids == [version] * (version is not None) + ["RFC 3706 DPD"]
    natd = [(p.underlayer.next_payload, len(p.hash))
            for p in payloads_of(ike[2], ISAKMP_payload_NAT_D)]
    number = {None: None, "RFC 3947 NAT-T": 20}.get(version, 130)
    assert natd == ([(number, 32)] * 2 if version else [])
    assert [d.local_port for d in wire[4:]] == [4500 if version else 500] * 5
    assert qi.udp_encap == qr.udp_encap == (version is not None)
    # the Quick Mode offer, decrypted with the responder's IKE SA
    sa = net.r.connections[ike[0].init_cookie].sa
    qm1 = ike[6]
    plain = sa.decrypt(qm1.id, bytes(qm1.payload))
    head = bytearray(bytes(qm1)[:28])
    head[19] = 0
    (transform,) = payloads_of(ISAKMP(bytes(head) + plain), ISAKMP_payload_Transform)
    modes = [IPSEC_ATTRIBUTES.value_number(IpsecAttribute.ENCAPSULATION_MODE, value)
             for name, value in transform.transforms
             if IPSEC_ATTRIBUTES.type_number(name) == IpsecAttribute.ENCAPSULATION_MODE]
    want = {None: EncapsulationMode.TUNNEL, "RFC 3947 NAT-T": EncapsulationMode.UDP_TUNNEL}
    assert modes == [want.get(version, EncapsulationMode.UDP_TUNNEL_DRAFT)]


def test_nat_t_setting_is_checked():
    with pytest.raises(ValueError, match="nat_t is True, False, 'rfc3947' or 'drafts'"):
        Configuration(nat_t="rfc")


def test_unprotected_messages_after_the_key_exchange_are_ignored():
    """Once keys exist, a clear Informational (a spoofed NO-PROPOSAL-CHOSEN
    or Delete) or a clear MM5 is dropped, as charon does; the
    negotiation goes on."""
    from scapy_ike.constants import NotifyType, PayloadType as T
    from scapy_ike.core.message import body_of, encode_header, encode_payloads
    from scapy_ike.layers.isakmp import ISAKMP_payload_Notify
    net = Network(*configs(), filter=lambda n, d: -1 if n == 4 else 1)   # hold MM4
    net.i.initiate((R_ADDR, 500), net.now)
    net.step()
    net.step()
    (conn,) = net.i.connections.values()
    cookies = conn.sa.cky_i + conn.sa.cky_r
    notify = body_of(ISAKMP_payload_Notify(doi=1, proto=1, SPI=cookies,
                                           notify_msg_type=NotifyType.NO_PROPOSAL_CHOSEN))
    spoofed = [(5, [(T.NOTIFICATION, notify)]), (2, [(T.ID, b"\x01\x00\x00\x00\xc0\x00\x02\x01"),
                                                     (T.HASH, bytes(32))])]
    for exch, payloads in spoofed:
        body = encode_payloads(payloads)
        data = encode_header(cookies[:8], cookies[8:], payloads[0][0], exch, 0, 0,
                             28 + len(body)) + body
        net.r.receive_datagram(data, (I_ADDR, 500), net.now, local_port=500)
    net.collect()
    assert [e.reason for e in net.of("r", ev.Dropped)] == [
        "ignoring an unprotected Informational",
        "ignoring an unencrypted message after the key exchange"]
    net.run()
    assert not net.of("r", ev.Failed) and len(net.of("i", ev.QuickModeEstablished)) == 1


def _mutate(data, flips, cut):
    wire = bytearray(data)
    for position, value in flips:
        wire[position % len(wire)] ^= value
    return bytes(wire[:cut]) if cut is not None else bytes(wire)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["main", "aggressive"]), st.integers(1, 9), st.booleans(),
       st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(1, 255)), min_size=1, max_size=4),
       st.one_of(st.none(), st.integers(0, 400)))
def test_mutated_copies_never_break_the_engine(mode, target, before, flips, cut):
    """A corrupted copy of any message, arriving before or after the real
    one, never raises out of the engine nor trips it.  Arriving after it,
    the negotiation still completes on both sides: clear messages are out
    of turn by then, encrypted ones fail to authenticate and change
    nothing (the IV chain included)."""
    net = Network(*configs(mode, ike="aes128-sha1-ecp256", esp="aes128-sha1"))

    def corrupt(n, d):
        if n != target:
            return 1
        dst, src = (net.r, I_ADDR) if d.addr[0] == R_ADDR else (net.i, R_ADDR)
        bad = replace(d, data=_mutate(d.data, flips, cut))
        if before:
            net.deliver(dst, src, bad)
        else:
            net.held.append((dst, src, bad))
        return 1

    net.filter = corrupt
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    for _, e in net.events["i"] + net.events["r"]:
        if isinstance(e, ev.Dropped):
            assert e.reason and not e.reason.startswith("internal error"), e.reason
    if not before:
        assert len(net.of("i", ev.QuickModeEstablished)) == 1
        assert len(net.of("r", ev.QuickModeEstablished)) == 1
