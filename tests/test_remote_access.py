"""Phase 1.5 in memory with a fake clock: XAuth (draft-beaulieu-ike-xauth-02)
and Mode Config pull and push (draft-dukes-ike-mode-cfg-02) over
Transaction exchanges, in Main and Aggressive Mode: the credentials
checked, a wrong password asked again then refused, the lease as the
client's Quick Mode selector, lost and forged Transaction messages, and a
Quick Mode before XAuth refused."""

import ipaddress

import pytest

from test_engine import I_ADDR, R_ADDR, Network, configs
from scapy_ike.constants import AuthMethod, ConfigAttribute as A, NotifyType
from scapy_ike.core import events as ev
from scapy_ike.core.config import Configuration, Identity
from scapy_ike.core.message import Message

FAST = dict(ike="aes128-sha1-ecp256", esp="aes128-sha1")
POOL = "198.51.100.64/26"


def remote_access(mode="main", xauth=True, modecfg="pull", password="secret", **server):
    client = dict(local_ts="0.0.0.0/0", remote_ts="198.51.100.1/32", modecfg=modecfg)
    gateway = dict(local_ts="198.51.100.1/32", remote_ts=POOL, modecfg=modecfg, pool=POOL)
    if xauth:
        client.update(xauth="client", xauth_user="alice", xauth_password=password)
        gateway.update(xauth="server", xauth_users=(("alice", "secret"), ("bob", "hunter2")))
    gateway.update(server)
    return Network(*configs(mode, i=client, r=gateway, **FAST))


def kinds(net, side, *types):
    return [type(e).__name__ for _, e in net.events[side] if isinstance(e, types)]


@pytest.mark.parametrize("mode", ["main", "aggressive"])
@pytest.mark.parametrize("modecfg", ["pull", "push"])
def test_xauth_then_mode_config_then_quick_mode(mode, modecfg):
    net = remote_access(mode, modecfg=modecfg)
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    steps = (ev.Phase1Established, ev.XAuthRequested, ev.XAuthStatus, ev.ModeConfigReceived,
             ev.AddressAssigned, ev.QuickModeEstablished)
    assert kinds(net, "i", *steps) == [
        "Phase1Established", "XAuthRequested", "XAuthStatus", "ModeConfigReceived",
        "AddressAssigned", "QuickModeEstablished"]
    assert kinds(net, "r", *steps) == [
        "Phase1Established", "XAuthRequested", "XAuthStatus", "AddressAssigned",
        "QuickModeEstablished"]
    (xi,), (xr,) = net.of("i", ev.XAuthStatus), net.of("r", ev.XAuthStatus)
    assert (xi.user, xi.ok, xr.user, xr.ok) == ("alice", True, "alice", True)
    assert [e.attempt for e in net.of("i", ev.XAuthRequested)] == [1]
    (ai,), (ar,) = net.of("i", ev.AddressAssigned), net.of("r", ev.AddressAssigned)
    assert (ai.address, ai.user, ar.address, ar.user) == ("198.51.100.65", "alice") * 2
    (mi,) = net.of("i", ev.ModeConfigReceived)
    assert mi.get("INTERNAL_IP4_ADDRESS") == "198.51.100.65"
    assert mi.get("INTERNAL_IP4_NETMASK") == "255.255.255.192"
    (qi,), (qr,) = net.of("i", ev.QuickModeEstablished), net.of("r", ev.QuickModeEstablished)
    assert qi.local_ts == "198.51.100.65/32" and qi.remote_ts == "198.51.100.1/32"
    assert (qi.keymat_in, qi.keymat_out) == (qr.keymat_out, qr.keymat_in)
    # Phase 1 carried XAUTHInitPreShared, the client being the initiator
    conn = net.r.connections[qi.cookies[:8]]
    assert conn.sa.auth_method == AuthMethod.XAUTH_INIT_PSK
    assert not net.of("i", ev.Failed) and not net.of("r", ev.Failed)
    # each step a Transaction exchange of its own: XAuth REQUEST, SET, then Mode Config
    transactions = [e for _, e in net.events["r"] if isinstance(e, ev.StateChanged)
                    and e.new.startswith(("IKE_XAUTH", "IKE_CONFIG", "IKE_CFG"))]
    assert len({e.message_id for e in transactions}) == 3
    # named as IOS names them: the server's XAuth REQUEST and SET, then Mode Config
    tx = [(e.old, e.new) for e in transactions]         # one ends before the next begins
    third = ([("IKE_CFG_READY", "IKE_CONFIG_MODE_REPLY_SENT")] if modecfg == "pull" else
             [("IKE_CFG_READY", "IKE_CONFIG_MODE_SET_SENT"),
              ("IKE_CONFIG_MODE_SET_SENT", "IKE_CFG_DONE")])
    assert tx == [("IKE_CFG_READY", "IKE_XAUTH_REQ_SENT"), ("IKE_XAUTH_REQ_SENT", "IKE_CFG_DONE"),
                  ("IKE_CFG_READY", "IKE_XAUTH_SET_SENT"),
                  ("IKE_XAUTH_SET_SENT", "IKE_CFG_DONE")] + third
    client = [e.new for _, e in net.events["i"] if isinstance(e, ev.StateChanged)
              and e.new.startswith(("IKE_XAUTH", "IKE_CONFIG"))]
    assert client == ["IKE_XAUTH_REPLY_SENT", "IKE_XAUTH_ACK_SENT"] + (
        ["IKE_CONFIG_MODE_REQ_SENT"] if modecfg == "pull" else ["IKE_CONFIG_MODE_ACK_SENT"])


@pytest.mark.parametrize("modecfg", ["pull", "push"])
def test_mode_config_alone(modecfg):
    net = remote_access(xauth=False, modecfg=modecfg,
                        modecfg_attributes=((A.INTERNAL_IP4_DNS, "192.0.2.53"),
                                            (A.INTERNAL_IP4_DNS, "192.0.2.54"),
                                            (A.UNITY_BANNER, "Welcome, tester"),
                                            (A.UNITY_DEF_DOMAIN, "example.test")))
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    assert not net.of("i", ev.XAuthStatus) and not net.of("r", ev.XAuthRequested)
    (received,) = net.of("i", ev.ModeConfigReceived)
    got = received.attributes
    assert [e.address for e in net.of("i", ev.AddressAssigned)] == ["198.51.100.65"]
    assert [(e.address, e.user) for e in net.of("r", ev.AddressAssigned)] == [
        ("198.51.100.65", I_ADDR)]
    assert [v for n, v in got if n == "INTERNAL_IP4_DNS"] == ["192.0.2.53", "192.0.2.54"]
    assert ("UNITY_BANNER", "Welcome, tester") in got
    assert ("UNITY_DEF_DOMAIN", "example.test") in got
    (qi,) = net.of("i", ev.QuickModeEstablished)
    assert qi.local_ts == "198.51.100.65/32"


def test_a_wrong_password_is_asked_again_then_refused():
    """Three tries (``xauth_tries``), then STATUS FAIL, the ACK, and the
    server deletes the IKE SA; no Quick Mode."""
    net = remote_access(password="wrong")
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    server = [(e.user, e.ok, e.final) for e in net.of("r", ev.XAuthStatus)]
    assert server == [("alice", False, False)] * 2 + [("alice", False, True)]
    assert [e.attempt for e in net.of("r", ev.XAuthRequested)] == [1, 2, 3]
    assert [e.attempt for e in net.of("i", ev.XAuthRequested)] == [1, 2, 3]
    assert [(e.ok, e.final) for e in net.of("i", ev.XAuthStatus)] == [(False, True)]
    assert [f.reason for f in net.of("i", ev.Failed)] == [
        "XAuth failed: the server refused user 'alice'"]
    assert [d.protocol for d in net.of("i", ev.DeleteReceived)] == [1]
    assert [c.reason for c in net.of("r", ev.IkeSaClosed)] == ["XAuth failed for 'alice'"]
    assert not net.of("i", ev.QuickModeEstablished) and not net.of("r", ev.AddressAssigned)


def test_the_same_user_gets_the_same_address_and_another_user_the_next():
    net = remote_access()
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    assert [e.address for e in net.of("i", ev.AddressAssigned)] == ["198.51.100.65"] * 2
    bob = Network(Configuration(**{**vars_of(net.i.config), "xauth_user": "bob",
                                   "xauth_password": "hunter2", "initial_contact": False}),
                  net.r.config)
    bob.r = net.r
    bob.i.initiate((R_ADDR, 500), net.now)
    bob.run()
    assert [e.address for e in bob.of("i", ev.AddressAssigned)] == ["198.51.100.66"]


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
    assert [e.ok for e in net.of("r", ev.XAuthStatus)] == [True]
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
    assert not net.of("r", ev.XAuthStatus) and not net.of("i", ev.QuickModeEstablished)


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


USERS = (("alice", "secret"), ("bob", "hunter2"), ("carol", "x"))


def gateway(pool, **server):
    """A gateway (a responder Network) for several clients from one
    address, without INITIAL-CONTACT so that one does not end another."""
    net = remote_access(pool=pool, xauth_users=USERS, **server)
    net.r = type(net.r)(net.r.config, R_ADDR)
    return net


def join(net, user, password=None):
    """*user* connects to *net*'s gateway from its own endpoint: its
    Network (sharing the gateway and the clock)."""
    password = password or dict(USERS)[user]
    client = Network(Configuration(**{**vars_of(net.i.config), "xauth_user": user,
                                      "xauth_password": password, "initial_contact": False}),
                     net.r.config)
    client.r, client.now = net.r, net.now
    client.i.initiate((R_ADDR, 500), client.now)
    client.run()
    net.now = client.now
    return client


def leave(net, client):
    """*client* deletes its SAs; the gateway prunes them after the linger."""
    client.i.close(client.now)
    client.run()
    net.now = client.now + net.r.config.linger + 1
    net.r.handle_timer(net.now)


def addresses(client):
    return [e.address for e in client.of("i", ev.AddressAssigned)]


def test_a_pool_that_runs_out_fails_clearly_and_leases_come_back():
    """Two addresses for three users: the third is refused with a clear
    reason and the IKE SA deleted; a lease returns to the pool when its
    IKE SA is gone, and its user gets it back while it is free."""
    net = gateway("198.51.100.64/30")
    alice, bob = join(net, "alice"), join(net, "bob")
    assert (addresses(alice), addresses(bob)) == (["198.51.100.65"], ["198.51.100.66"])
    carol = join(net, "carol")
    (failed,) = carol.of("r", ev.Failed)
    assert failed.reason == "Mode Config failed: no address left in 198.51.100.64/30"
    assert [d.protocol for d in carol.of("i", ev.DeleteReceived)] == [1]
    assert not addresses(carol) and not carol.of("i", ev.QuickModeEstablished)
    assert net.r.pool.leased() == {"alice": (ipaddress.ip_address("198.51.100.65"),),
                                   "bob": (ipaddress.ip_address("198.51.100.66"),)}
    leave(net, alice)
    assert set(net.r.pool.leased()) == {"bob"}
    assert addresses(join(net, "alice")) == ["198.51.100.65"]      # its own again
    leave(net, bob)
    carol = join(net, "carol")                                     # bob's, the one free
    assert addresses(carol) == ["198.51.100.66"]
    assert len(carol.of("i", ev.QuickModeEstablished)) == 1


def test_a_new_user_takes_a_fresh_address_before_a_released_one():
    net = gateway("198.51.100.64/29")
    alice = join(net, "alice")
    leave(net, alice)
    assert addresses(join(net, "bob")) == ["198.51.100.66"]
    assert addresses(join(net, "alice")) == ["198.51.100.65"]


def test_the_xauth_message_reaches_the_client():
    net = remote_access(xauth_message="Enter your token")
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    assert [(e.attempt, e.message) for e in net.of("i", ev.XAuthRequested)] == [
        (1, "Enter your token")]
    assert [e.message for e in net.of("r", ev.XAuthRequested)] == ["Enter your token"]
    assert len(net.of("i", ev.QuickModeEstablished)) == 1


def test_a_callable_checks_the_credentials():
    asked = []

    def check(user, password):
        asked.append((user, password))
        return (user, password) == ("alice", b"secret")
    net = remote_access(xauth_users=check)
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    assert asked == [("alice", b"secret")]
    assert [(e.user, e.ok) for e in net.of("r", ev.XAuthStatus)] == [("alice", True)]
    assert len(net.of("i", ev.QuickModeEstablished)) == 1


def test_unity_pfs_makes_the_client_offer_pfs():
    """A gateway that wants PFS (its ESP proposal has a group) and says so
    by UNITY_PFS: the client, configured without PFS, offers Phase 1's
    group, and Quick Mode succeeds with it."""
    net = remote_access(esp="aes128-sha1-ecp256", modecfg_attributes=((A.UNITY_PFS, 1),))
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    (received,) = net.of("i", ev.ModeConfigReceived)
    assert received.get("UNITY_PFS") == 1
    (qi,), (qr,) = net.of("i", ev.QuickModeEstablished), net.of("r", ev.QuickModeEstablished)
    assert qi.proposal.group == qr.proposal.group == 19
    assert qi.proposal.describe() == "aes128-sha1-ecp256"


def test_without_unity_pfs_that_gateway_refuses_the_client():
    net = remote_access(esp="aes128-sha1-ecp256")
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    assert not net.of("i", ev.QuickModeEstablished)
    assert [f.notify_type for f in net.of("r", ev.Failed)] == [NotifyType.NO_PROPOSAL_CHOSEN]


def test_cisco_attributes_and_application_versions():
    net = remote_access(modecfg_attributes=(
        (A.UNITY_SPLIT_INCLUDE, ("198.51.100.0/25", "203.0.113.0/24")),
        (A.INTERNAL_IP4_SUBNET, "198.51.100.0/25"), (A.UNITY_SAVE_PASSWD, 1),
        (A.UNITY_BACKUP_SERVERS, "gw2.example.test,gw3.example.test"),
        (A.INTERNAL_IP4_NBNS, "192.0.2.137")))
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    (received,) = net.of("i", ev.ModeConfigReceived)
    got = dict(received.attributes)
    assert got["UNITY_SPLIT_INCLUDE"] == ["198.51.100.0/25", "203.0.113.0/24"]
    assert got["INTERNAL_IP4_SUBNET"] == "198.51.100.0/25"
    assert got["UNITY_SAVE_PASSWD"] == 1
    assert got["UNITY_BACKUP_SERVERS"] == "gw2.example.test,gw3.example.test"
    assert got["INTERNAL_IP4_NBNS"] == "192.0.2.137"
    assert got["APPLICATION_VERSION"] == "scapy-ike 0.1.0"     # the server's, as asked


def test_an_ipv6_pool_leases_beside_the_ipv4_one():
    """Pools of both families: the client gets an address of each, and
    takes the IPv6 one as its selector when it tunnels IPv6."""
    six = dict(local_ts="2001:db8:1::1/128", remote_ts="2001:db8:5::/120")
    client = dict(local_ts="::/0", remote_ts="2001:db8:1::1/128", modecfg="pull",
                  xauth="client", xauth_user="alice", xauth_password="secret")
    server = dict(modecfg="pull", pool=("198.51.100.64/26", "2001:db8:5::/120"),
                  xauth="server", xauth_users=USERS, **six)
    net = Network(*configs("main", i=client, r=server, **FAST))
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    (received,) = net.of("i", ev.ModeConfigReceived)
    assert received.get("INTERNAL_IP4_ADDRESS") == "198.51.100.65"
    assert received.get("INTERNAL_IP6_ADDRESS") == "2001:db8:5::1/120"
    assert addresses(net) == ["2001:db8:5::1"]
    (qi,) = net.of("i", ev.QuickModeEstablished)
    assert (qi.local_ts, qi.remote_ts) == ("2001:db8:5::1/128", "2001:db8:1::1/128")


def test_pool_configuration_is_checked():
    with pytest.raises(ValueError, match="one prefix per address family"):
        Configuration(role="responder", psk="k", pool=("198.51.100.0/24", "203.0.113.0/24"))
    assert Configuration(role="responder", psk="k", pool="198.51.100.0/24").pool == (
        "198.51.100.0/24",)
