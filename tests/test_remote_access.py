"""Phase 1.5 in memory with a fake clock: XAuth (draft-beaulieu-ike-xauth-02)
and Mode Config pull and push (draft-dukes-ike-mode-cfg-02) over
Transaction exchanges, in Main and Aggressive Mode: the credentials
checked, a wrong password asked again then refused, the lease as the
client's Quick Mode selector, lost and forged Transaction messages, and a
Quick Mode before XAuth refused."""

import ipaddress

import pytest

from test_engine import I_ADDR, R_ADDR, Network, configs
from scapy_ike.constants import AuthMethod, ConfigAttribute as A
from scapy_ike.core import events as ev
from scapy_ike.core.config import Configuration, Identity
from scapy_ike.core.message import Message

FAST = dict(ike="aes128-sha1-ecp256", esp="aes128-sha1")
POOL = "198.51.100.64/26"


def remote_access(mode="main", xauth=True, modecfg="pull", password="secret", **server):
    client = dict(local_ts="0.0.0.0/0", remote_ts="198.51.100.1/32", modecfg=modecfg)
    gateway = dict(local_ts="198.51.100.1/32", remote_ts=POOL, modecfg=modecfg, pool=POOL,
                   **server)
    if xauth:
        client.update(xauth="client", xauth_user="alice", xauth_password=password)
        gateway.update(xauth="server", xauth_users=(("alice", "secret"), ("bob", "hunter2")))
    return Network(*configs(mode, i=client, r=gateway, **FAST))


def kinds(net, side, *types):
    return [type(e).__name__ for _, e in net.events[side] if isinstance(e, types)]


@pytest.mark.parametrize("mode", ["main", "aggressive"])
@pytest.mark.parametrize("modecfg", ["pull", "push"])
def test_xauth_then_mode_config_then_quick_mode(mode, modecfg):
    net = remote_access(mode, modecfg=modecfg)
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    steps = (ev.Phase1Established, ev.XauthCompleted, ev.ModeConfigApplied,
             ev.QuickModeEstablished)
    assert kinds(net, "i", *steps) == kinds(net, "r", *steps) == [
        "Phase1Established", "XauthCompleted", "ModeConfigApplied", "QuickModeEstablished"]
    (xi,), (xr,) = net.of("i", ev.XauthCompleted), net.of("r", ev.XauthCompleted)
    assert (xi.user, xi.ok, xr.user, xr.ok) == ("alice", True, "alice", True)
    (mi,), (mr,) = net.of("i", ev.ModeConfigApplied), net.of("r", ev.ModeConfigApplied)
    assert mi.address == mr.address == "198.51.100.65"
    assert dict(mi.attributes)[A.INTERNAL_IP4_NETMASK] == bytes([255, 255, 255, 192])
    (qi,), (qr,) = net.of("i", ev.QuickModeEstablished), net.of("r", ev.QuickModeEstablished)
    assert qi.local_ts == "198.51.100.65/32" and qi.remote_ts == "198.51.100.1/32"
    assert (qi.keymat_in, qi.keymat_out) == (qr.keymat_out, qr.keymat_in)
    # Phase 1 carried XAUTHInitPreShared, the client being the initiator
    conn = net.r.connections[qi.cookies[:8]]
    assert conn.sa.auth_method == AuthMethod.XAUTH_INIT_PSK
    assert not net.of("i", ev.Failed) and not net.of("r", ev.Failed)
    # each step a Transaction exchange of its own: XAuth REQUEST, SET, then Mode Config
    transactions = [e for _, e in net.events["r"] if isinstance(e, ev.StateChanged)
                    and e.new in ("IKE_CFG_SENT", "IKE_CFG_DONE")]
    assert len({e.message_id for e in transactions}) == 3


@pytest.mark.parametrize("modecfg", ["pull", "push"])
def test_mode_config_alone(modecfg):
    net = remote_access(xauth=False, modecfg=modecfg,
                        modecfg_attributes=((A.INTERNAL_IP4_DNS, "192.0.2.53"),
                                            (A.INTERNAL_IP4_DNS, "192.0.2.54"),
                                            (A.UNITY_BANNER, "Welcome, tester"),
                                            (A.UNITY_DEF_DOMAIN, "example.test")))
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    assert not net.of("i", ev.XauthCompleted)
    (applied,) = net.of("i", ev.ModeConfigApplied)
    got = applied.attributes
    assert applied.address == "198.51.100.65"
    assert [v for t, v in got if t == A.INTERNAL_IP4_DNS] == [
        ipaddress.ip_address("192.0.2.53").packed, ipaddress.ip_address("192.0.2.54").packed]
    assert (A.UNITY_BANNER, b"Welcome, tester") in got
    assert (A.UNITY_DEF_DOMAIN, b"example.test") in got
    (qi,) = net.of("i", ev.QuickModeEstablished)
    assert qi.local_ts == "198.51.100.65/32"


def test_a_wrong_password_is_asked_again_then_refused():
    """Three tries (``xauth_tries``), then STATUS FAIL, the ACK, and the
    server deletes the IKE SA; no Quick Mode."""
    net = remote_access(password="wrong")
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    server = [(e.user, e.ok, e.final) for e in net.of("r", ev.XauthCompleted)]
    assert server == [("alice", False, False)] * 2 + [("alice", False, True)]
    assert [(e.ok, e.final) for e in net.of("i", ev.XauthCompleted)] == [(False, True)]
    assert [f.reason for f in net.of("i", ev.Failed)] == [
        "XAuth failed: the server refused user 'alice'"]
    assert [d.protocol for d in net.of("i", ev.DeleteReceived)] == [1]
    assert [c.reason for c in net.of("r", ev.IkeSaClosed)] == ["XAuth failed for 'alice'"]
    assert not net.of("i", ev.QuickModeEstablished) and not net.of("r", ev.ModeConfigApplied)


def test_the_same_user_gets_the_same_address_and_another_user_the_next():
    net = remote_access()
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    assert [e.address for e in net.of("i", ev.ModeConfigApplied)] == ["198.51.100.65"] * 2
    bob = Network(Configuration(**{**vars_of(net.i.config), "xauth_user": "bob",
                                   "xauth_password": "hunter2", "initial_contact": False}),
                  net.r.config)
    bob.r = net.r
    bob.i.initiate((R_ADDR, 500), net.now)
    bob.run()
    assert [e.address for e in bob.of("i", ev.ModeConfigApplied)] == ["198.51.100.66"]


def vars_of(config):
    import dataclasses
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}


@pytest.mark.parametrize("lost", [1, 2, 3, 4, 5, 6])
def test_lost_transaction_messages_are_retransmitted(lost):
    """The n-th Transaction message is lost: its sender repeats it (a
    request) or the peer's repeat of its request brings the answer again."""
    seen = []

    def drop(n, d):
        data = d.data[4:] if d.local_port == 4500 else d.data
        if len(data) >= 28 and Message.parse(data).exch_type == 6:
            seen.append(d)
            if len(seen) == lost:
                return 0
        return 1
    net = remote_access()
    net.filter = drop
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    assert len(net.of("i", ev.QuickModeEstablished)) == 1
    assert [e.ok for e in net.of("r", ev.XauthCompleted)] == [True]
    assert not net.of("i", ev.Failed) and not net.of("r", ev.Failed)


def test_an_unanswered_xauth_request_ends_the_ike_sa():
    """Nothing of the client's arrives after Phase 1 (its answers, its
    own Delete when it gives up waiting): the server's REQUEST is
    retransmitted, then times out with a Failed event and the IKE SA
    ends."""
    def drop(n, d):
        data = d.data[4:] if d.local_port == 4500 else d.data
        return 0 if d.addr[0] == R_ADDR and len(data) >= 28 \
            and Message.parse(data).exch_type in (5, 6) else 1
    net = remote_access()
    net.filter = drop
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    (failed,) = net.of("r", ev.Failed)
    assert failed.reason == "timeout: no answer to our CFG_REQUEST"
    assert len([e for e in net.of("r", ev.Retransmitted) if e.message_id == failed.message_id]) == 4
    assert [c.reason for c in net.of("r", ev.IkeSaClosed)] == [
        "Phase 1.5 failed: timeout: no answer to our CFG_REQUEST"]
    assert not net.of("r", ev.XauthCompleted) and not net.of("i", ev.QuickModeEstablished)


def test_forged_transaction_messages_change_nothing():
    """A bit flipped in each Transaction message, delivered before the
    real one: dropped as not authentic, nothing answered, the real one
    goes through."""
    forged = []

    def forge(n, d):
        data = d.data[4:] if d.local_port == 4500 else d.data
        if len(data) >= 28 and Message.parse(data).exch_type == 6:
            bad = bytearray(d.data)
            bad[-3] ^= 0x10
            dst, src = (net.r, I_ADDR) if d.addr[0] == R_ADDR else (net.i, R_ADDR)
            before = len(dst.outgoing)
            dst.receive_datagram(bytes(bad), (src, d.local_port), net.now,
                                 local_port=d.local_port)
            forged.append(len(dst.outgoing) - before)
        return 1
    net = remote_access()
    net.filter = forge
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    assert len(forged) == 6 and forged == [0] * 6
    assert len(net.of("i", ev.QuickModeEstablished)) == 1
    assert not net.of("i", ev.Retransmitted) and not net.of("r", ev.Retransmitted)


def test_no_quick_mode_before_xauth():
    """A client that starts its Quick Mode before XAuth: the server drops
    it (and answers nothing) until XAuth succeeded."""
    net = remote_access()
    net.i.initiate((R_ADDR, 500), net.now)
    while not net.of("i", ev.Phase1Established):
        net.step()
    conn = next(iter(net.i.connections.values()))
    conn.start_quick_mode(net.now)
    net.step()
    assert "Quick Mode before XAuth authenticated the peer" in [
        e.reason for e in net.of("r", ev.Dropped)]
    net.run()
    assert len(net.of("r", ev.QuickModeEstablished)) == 1      # the one after XAuth


def test_key_id_identities():
    """``keyid:NAME`` is ID_KEY_ID (a Cisco group name), not an FQDN."""
    assert Identity.parse("keyid:vpngroup") == Identity(11, b"vpngroup")
    assert str(Identity.parse("keyid:vpngroup")) == "vpngroup"
