"""The IOS-style debug log (``debug crypto isakmp``) made from the
engine's events, both roles, Main and Aggressive Mode then Quick Mode:
each line kind of the seed's logs appears, in the seed's order, with the
facts the events and the wire say (the transform's attributes, message
IDs, SPIs, lifetimes, addresses and ports), and no line is a Python repr."""

import pytest

from test_engine import I_ADDR, R_ADDR, Network, configs
from scapy_ike.core import events as ev
from scapy_ike.core.message import Message
from scapy_ike.log import Log, LogLine
from scapy_ike.log import words

FAST = dict(ike="aes256-sha256-modp2048", esp="aes128-sha1")


class LoggedNetwork(Network):
    """The in-memory pair, each side's events logged one input at a time
    (as the Automaton does), the datagrams kept."""

    def __init__(self, *configs, style="ios"):
        super().__init__(*configs)
        self.i.debug = self.r.debug = style == "ios"
        self.logs = {"i": Log(style), "r": Log(style, first=2001)}
        self.lines = {"i": [], "r": []}
        self.wire = []

    def deliver(self, dst, addr, d):
        self.wire.append((addr, d))
        super().deliver(dst, addr, d)
        self.collect()

    def collect(self):
        for name, endpoint in (("i", self.i), ("r", self.r)):
            batch = []
            while (x := endpoint.next_event()) is not None:
                batch.append(x)
                self.events[name].append((self.now, x))
            self.lines[name] += self.logs[name].feed(batch)


def handshake(mode="main", style="ios"):
    net = LoggedNetwork(*configs(mode, **FAST), style=style)
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    return net


def in_order(lines, expected):
    """Each ``(kind, facts)`` of *expected* matched by a line after the
    previous match; the matched lines."""
    found, at = [], 0
    for kind, facts in expected:
        for n in range(at, len(lines)):
            line = lines[n]
            if line.kind == kind and all(line.fact(k) == v for k, v in facts.items()):
                found.append(line)
                at = n + 1
                break
        else:
            raise AssertionError("no %s line with %s after line %d:\n%s" % (
                kind, facts, at, "\n".join(x.text for x in lines[at:at + 40])))
    return found


def checked_attributes(net, side):
    """What IOS prints of the transform the responder chose, from the SA
    payload of MM2 as the wire carried it."""
    (check,) = [e for e in net.of(side, ev.TransformChecked) if e.phase == 1 and e.accepted]
    return words.phase1_attributes(check.attributes)


def test_main_mode_initiator_as_the_seed():
    net = handshake("main")
    (qm,) = net.of("i", ev.QuickModeEstablished)
    attributes = checked_attributes(net, "i")
    assert attributes == ["encryption AES-CBC", "keylength of 256", "hash SHA256",
                          "default group 14", "auth pre-share", "life type in seconds",
                          "life duration (basic) of 28800"]
    expected = [
        ("input", {"input": "IKE_MESG_FROM_IPSEC, IKE_SA_REQ_MM"}),
        ("state", {"old": "IKE_READY", "new": "IKE_I_MM1"}),
        ("beginning", {"mode": "Main"}),
        ("sending", {"phase": "MM_NO_STATE", "peer": R_ADDR, "local_port": 500,
                     "peer_port": 500}),
        ("received", {"phase": "MM_NO_STATE", "peer": R_ADDR}),
        ("input", {"input": "IKE_MESG_FROM_PEER, IKE_MM_EXCH"}),
        ("state", {"old": "IKE_I_MM1", "new": "IKE_I_MM2"}),
        ("processing", {"payload": "SA", "message_id": 0}),
        ("transform", {"transform": 1, "policy": 1}),
    ] + [("attribute", {"attribute": a}) for a in attributes] + [
        ("acceptable", {"accepted": True}),
        ("processing", {"payload": "vendor id"}),
        ("vendor id", {"vendor_id": "NAT-T RFC 3947"}),
        ("input", {"input": "IKE_MESG_INTERNAL, IKE_PROCESS_MAIN_MODE"}),
        ("state", {"old": "IKE_I_MM2", "new": "IKE_I_MM2"}),
        ("sending", {"phase": "MM_SA_SETUP"}),
        ("state", {"old": "IKE_I_MM2", "new": "IKE_I_MM3"}),
        ("received", {"phase": "MM_SA_SETUP"}),
        ("state", {"old": "IKE_I_MM3", "new": "IKE_I_MM4"}),
        ("processing", {"payload": "KE"}),
        ("processing", {"payload": "NONCE"}),
        ("state", {"old": "IKE_I_MM4", "new": "IKE_I_MM4"}),
        ("initial contact", {}),
        ("sending", {"phase": "MM_KEY_EXCH"}),
        ("state", {"old": "IKE_I_MM4", "new": "IKE_I_MM5"}),
        ("received", {"phase": "MM_KEY_EXCH"}),
        ("processing", {"payload": "ID"}),
        ("processing", {"payload": "HASH"}),
        ("authenticated", {"peer": R_ADDR}),
        ("state", {"old": "IKE_I_MM5", "new": "IKE_I_MM6"}),
        ("state", {"old": "IKE_I_MM6", "new": "IKE_P1_COMPLETE"}),
        ("beginning", {"mode": "Quick", "message_id": qm.message_id}),
        ("sending", {"phase": "QM_IDLE", "message_id": qm.message_id}),
        ("state", {"old": "IKE_QM_READY", "new": "IKE_QM_I_QM1"}),
        ("received", {"phase": "QM_IDLE", "message_id": qm.message_id}),
        ("processing", {"payload": "HASH", "message_id": qm.message_id}),
        ("processing", {"payload": "SA", "message_id": qm.message_id}),
        ("transform", {"proposal": 1}),
        ("attribute", {"attribute": "authenticator is HMAC-SHA"}),
        ("attribute", {"attribute": "key length is 128"}),
        ("acceptable", {"accepted": True}),
        ("processing", {"payload": "NONCE"}),
        ("processing", {"payload": "ID"}),
        ("processing", {"payload": "ID"}),
        ("creating sa", {}),
        ("sa", {"direction": "inbound", "spi": qm.spi_in}),
        ("sa", {"direction": "inbound", "seconds": qm.proposal.lifetime}),
        ("sa", {"direction": "outbound", "spi": qm.spi_out}),
        ("sending", {"phase": "QM_IDLE", "message_id": qm.message_id}),
        ("node deleted", {"message_id": qm.message_id, "reason": "No Error"}),
        ("state", {"old": "IKE_QM_I_QM1", "new": "IKE_QM_PHASE2_COMPLETE"}),
        ("create sa", {"spi": qm.spi_in, "dest": I_ADDR}),
        ("create sa", {"spi": qm.spi_out, "dest": R_ADDR}),
    ]
    in_order(net.lines["i"], expected)


def test_the_conn_id_shows_once_the_keys_exist():
    net = handshake("main")
    lines = net.lines["i"]
    nonce = next(n for n, x in enumerate(lines) if x.fact("payload") == "NONCE")
    assert {x.conn_id for x in lines[:nonce + 1]} == {0}
    assert {x.conn_id for x in lines[nonce + 1:]} == {1001}
    assert lines[nonce + 1].text.startswith("ISAKMP:(1001):")
    received = [x.text for x in lines if x.kind == "received"]
    assert received[0].startswith("ISAKMP (0:0): received packet from %s dport 500 sport 500 "
                                  "Global (I) MM_NO_STATE" % R_ADDR)
    assert received[-1].startswith("ISAKMP (0:1001): received packet from")


def test_main_mode_responder():
    net = handshake("main")
    (qm,) = net.of("r", ev.QuickModeEstablished)
    in_order(net.lines["r"], [
        ("received", {"phase": "NEW SA", "peer": I_ADDR}),
        ("processing", {"payload": "SA"}),
        ("transform", {"transform": 1}),
        ("acceptable", {"accepted": True}),
        ("state", {"old": "IKE_READY", "new": "IKE_R_MM1"}),
        ("sending", {"phase": "MM_SA_SETUP"}),
        ("state", {"old": "IKE_R_MM1", "new": "IKE_R_MM2"}),
        ("received", {"phase": "MM_SA_SETUP"}),
        ("state", {"old": "IKE_R_MM2", "new": "IKE_R_MM3"}),
        ("processing", {"payload": "KE"}),
        ("sending", {"phase": "MM_KEY_EXCH"}),
        ("state", {"old": "IKE_R_MM3", "new": "IKE_R_MM4"}),
        ("received", {"phase": "MM_KEY_EXCH"}),
        ("processing", {"payload": "ID"}),
        ("processing", {"payload": "HASH"}),
        ("authenticated", {"peer": I_ADDR}),
        ("state", {"old": "IKE_R_MM4", "new": "IKE_R_MM5"}),
        ("id", {"id_type": "ID_IPV4_ADDR"}),
        ("sending", {"phase": "MM_KEY_EXCH"}),
        ("state", {"old": "IKE_R_MM5", "new": "IKE_P1_COMPLETE"}),
        ("received", {"phase": "QM_IDLE", "message_id": qm.message_id}),
        ("new node", {"message_id": qm.message_id}),
        ("transform", {"proposal": 1}),
        ("sending", {"phase": "QM_IDLE"}),
        ("state", {"old": "IKE_QM_READY", "new": "IKE_QM_R_QM2"}),
        ("received", {"phase": "QM_IDLE"}),
        ("creating sa", {}),
        ("sa", {"direction": "inbound", "spi": qm.spi_in}),
        ("node deleted", {"reason": "quick mode done (await)"}),
        ("state", {"old": "IKE_QM_R_QM2", "new": "IKE_QM_PHASE2_COMPLETE"}),
    ])
    assert {x.conn_id for x in net.lines["r"] if x.kind == "create sa"} == {2001}


@pytest.mark.parametrize("side", ["i", "r"])
def test_aggressive_mode(side):
    net = handshake("aggressive")
    peer = R_ADDR if side == "i" else I_ADDR
    if side == "i":
        steps = [("beginning", {"mode": "Aggressive"}), ("sending", {"phase": "AG_INIT_EXCH"}),
                 ("received", {"phase": "AG_INIT_EXCH"}), ("processing", {"payload": "SA"}),
                 ("acceptable", {"accepted": True}), ("processing", {"payload": "KE"}),
                 ("processing", {"payload": "HASH"}), ("authenticated", {"peer": peer}),
                 ("sending", {"phase": "AG_INIT_EXCH"}),
                 ("input", {"input": "IKE_MESG_FROM_PEER, IKE_AM_EXCH"}),
                 ("state", {"old": "IKE_I_AM1", "new": "IKE_P1_COMPLETE"})]
    else:
        steps = [("received", {"phase": "NEW SA"}), ("processing", {"payload": "SA"}),
                 ("acceptable", {"accepted": True}), ("processing", {"payload": "ID"}),
                 ("state", {"old": "IKE_READY", "new": "IKE_R_AM1"}),
                 ("sending", {"phase": "AG_INIT_EXCH"}),
                 ("state", {"old": "IKE_R_AM1", "new": "IKE_R_AM2"}),
                 ("received", {"phase": "AG_INIT_EXCH"}), ("processing", {"payload": "HASH"}),
                 ("authenticated", {"peer": peer}),
                 ("state", {"old": "IKE_R_AM2", "new": "IKE_P1_COMPLETE"})]
    in_order(net.lines[side], steps + [("creating sa", {}), ("create sa", {})])


@pytest.mark.parametrize("mode", ["main", "aggressive"])
@pytest.mark.parametrize("style", ["ios", "quiet"])
def test_no_line_is_a_python_repr(mode, style):
    net = handshake(mode, style)
    for side in ("i", "r"):
        texts = [x.text for x in net.lines[side]]
        assert texts and all(isinstance(x, LogLine) for x in net.lines[side])
        names = {type(e).__name__ for _, e in net.events[side]}
        for text in texts:
            assert "b'" not in text and "=<" not in text and "Enum" not in text, text
            assert not any(name + "(" in text for name in names), text


def test_the_wire_agrees_with_the_received_lines():
    """Each ``received packet`` line names the message ID and ports the
    datagram had."""
    net = handshake("main")
    to_initiator = [(a, d) for a, d in net.wire if a == R_ADDR]
    lines = [x for x in net.lines["i"] if x.kind == "received"]
    assert len(lines) == len(to_initiator)
    for line, (addr, d) in zip(lines, to_initiator):
        data = d.data[4:] if d.local_port == 4500 else d.data
        assert line.fact("message_id") == Message.parse(data).message_id
        assert (line.fact("peer"), line.fact("peer_port")) == (addr, d.local_port)


def test_message_ids_are_printed_signed_as_ios_does():
    assert words.message_id(446518647) == 446518647
    assert words.message_id(4051661689) == -243305607          # the seed's M-ID of -243305607


def test_quiet_is_one_line_per_event_without_debug_facts():
    net = handshake("main", style="quiet")
    assert not net.of("i", ev.MessageSent) and not net.of("i", ev.TransformChecked)
    kinds = [x.kind for x in net.lines["i"]]
    assert "Phase1Established" in kinds and "QuickModeEstablished" in kinds
    assert kinds.count("StateChanged") == len(net.of("i", ev.StateChanged))


def test_dpd_and_delete_as_ios_logs_them():
    """R-U-THERE and its ACK with their sequence, then the Deletes of a
    closing initiator: each Informational's node set, sent and purged."""
    import dataclasses
    from scapy_ike.constants import NotifyType
    i, r = configs("main", **FAST)
    net = LoggedNetwork(dataclasses.replace(i, dpd_delay=10), r)
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    (qm,) = net.of("i", ev.QuickModeEstablished)
    start_i, start_r = len(net.lines["i"]), len(net.lines["r"])
    net.now = 11.0
    net.i.handle_timer(net.now)
    net.run(until=12)
    net.i.close(net.now)
    net.run(until=13)
    ours, theirs = net.lines["i"][start_i:], net.lines["r"][start_r:]
    (sent,) = [x for x in ours if x.kind == "notify"]
    assert sent.fact("notify") == NotifyType.R_U_THERE
    (asked,) = [x for x in theirs if x.kind == "dpd" and x.fact("notify") == NotifyType.R_U_THERE]
    (acked,) = [x for x in ours if x.kind == "dpd"]
    assert acked.fact("notify") == NotifyType.R_U_THERE_ACK
    assert asked.fact("sequence") == acked.fact("sequence")
    deletes = [x for x in ours if x.kind == "delete"]
    assert [(x.fact("protocol"), x.fact("spis")) for x in deletes] == [
        (3, (qm.spi_in,)), (1, (qm.cookies,))]
    for x in deletes:
        in_order(ours, [("new node", {"message_id": x.fact("message_id")}),
                        ("delete", {"message_id": x.fact("message_id")}),
                        ("sending", {"message_id": x.fact("message_id")}),
                        ("node purged", {"message_id": x.fact("message_id")})])
    in_order(ours, [("input", {"input": "IKE_MESG_INTERNAL, IKE_PHASE1_DEL"}),
                    ("state", {"old": "IKE_P1_COMPLETE", "new": "IKE_DEST_SA"}),
                    ("IkeSaClosed", {})])
    in_order(theirs, [("received", {}), ("processing", {"payload": "DELETE"}),
                      ("delete", {"spis": (qm.spi_in,)}), ("node deleted", {}),
                      ("ChildSaClosed", {}), ("received", {}), ("new node", {}),
                      ("processing", {"payload": "DELETE"}), ("node deleted", {}),
                      ("state", {"new": "IKE_DEST_SA"}), ("IkeSaClosed", {})])


def test_a_forged_message_is_logged_as_dropped():
    """A flipped bit in MM5: the received packet, then why it was dropped;
    no state line for it, and the real MM5 goes on."""
    seen = []

    def forge(n, d):
        data = d.data[4:] if d.local_port == 4500 else d.data
        if d.addr[0] == R_ADDR and Message.parse(data).flags & 1 and not seen:
            seen.append(d)
            bad = bytearray(d.data)
            bad[-1] ^= 1
            net.r.receive_datagram(bytes(bad), (I_ADDR, d.local_port), net.now,
                                   local_port=d.local_port)
            net.collect()
        return 1
    net = LoggedNetwork(*configs("main", **FAST))
    net.filter = forge
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    lines = net.lines["r"]
    dropped = next(n for n, x in enumerate(lines) if x.kind == "Dropped")
    assert lines[dropped - 1].kind in ("received", "processing")
    assert lines[dropped].text == ("ISAKMP: dropped a packet from %s port 4500: HASH_I does not "
                                   "verify" % I_ADDR)
    received = max(n for n in range(dropped) if lines[n].kind == "received")
    assert not [x for x in lines[received:dropped] if x.kind == "state"]
    assert len(net.of("r", ev.QuickModeEstablished)) == 1


def test_the_log_forgets_its_oldest_sas(monkeypatch):
    """A responder logs for days: the renderer keeps at most KEPT SAs and
    messages, the newest, and the numbers go on from where they were."""
    from scapy_ike.log import ios
    monkeypatch.setattr(ios, "KEPT", 3)
    log = ios.IosLog()
    numbers = [log.number(bytes([n]) * 8) for n in range(5)]
    assert numbers == [1001, 1002, 1003, 1004, 1005]
    assert list(log._own) == [bytes([n]) * 8 for n in (2, 3, 4)]
    assert log.number(bytes([4]) * 8) == 1005 and log.number(bytes([9]) * 8) == 1006
