"""XAuth and Mode Config live against real strongSwan (charon 5.9.8 in a
test namespace), both ways: charon as the gateway (XAuth server, Mode
Config pull and push) with our initiator as the client, in Main and
Aggressive Mode; and charon as the client of our gateway.  Each ends with
pings through the tunnel from the leased address."""

import pytest

from scapy_ike.cli.connect import ping
from scapy_ike.constants import ConfigAttribute as A
from scapy_ike.core import events as ev
from test_interop_resilience import reasons, wait_for
from test_interop_strongswan import PSK, finish, ours

IKE, ESP = "aes256-sha256-modp2048", "aes256-sha256"
USER, PASSWORD = "scapy-ike", "scapy-ike-xauth"
CHARON_INNER = "198.51.100.1"


@pytest.mark.interop
@pytest.mark.parametrize("mode", ["main", "aggressive"])
@pytest.mark.parametrize("push", [False, True], ids=["pull", "push"])
def test_our_client_of_charons_gateway(strongswan_peer, mode, push):
    extra = "i_dont_care_about_security_and_use_aggressive_mode_psk = yes" \
        if mode == "aggressive" else ""
    peer = strongswan_peer(psk=PSK, mode=mode, ike_proposals=IKE, esp_proposals=ESP,
                           xauth=True, xauth_user=USER, xauth_password=PASSWORD, modecfg=True,
                           modecfg_push=push, dns="192.0.2.53", extra_charon=extra)
    automaton = ours("initiator", mode, IKE, ESP, peer, local_ts="0.0.0.0/0",
                     xauth="client", xauth_user=USER, xauth_password=PASSWORD,
                     modecfg="push" if push else "pull")
    try:
        quick = wait_for(automaton, (ev.QuickModeEstablished, ev.Failed))
        assert isinstance(quick, ev.QuickModeEstablished), reasons(automaton)
        (xauth,) = [e for e in automaton.events if isinstance(e, ev.XAuthStatus)]
        assert (xauth.user, xauth.ok) == (USER, True)
        (lease,) = [e for e in automaton.events if isinstance(e, ev.AddressAssigned)]
        assert lease.address == "198.51.100.65"
        (got,) = [e for e in automaton.events if isinstance(e, ev.ModeConfigReceived)]
        assert got.get("INTERNAL_IP4_DNS") == "192.0.2.53"
        assert got.get("INTERNAL_IP4_ADDRESS") == "198.51.100.65"
        assert quick.local_ts == "198.51.100.65/32"
        (sa,) = peer.list_sas()
        assert sa["remote-xauth-id"] == USER and sa["remote-vips"] == ["198.51.100.65"]
        assert ping(automaton.tunnel_socket(), "198.51.100.65", CHARON_INNER, 3) == 3
        done = peer.ping(count=3)
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        finish(automaton)


@pytest.mark.interop
@pytest.mark.parametrize("push", [False, True], ids=["pull", "push"])
def test_charon_as_the_client_of_our_gateway(strongswan_peer, push):
    peer = strongswan_peer(role="initiator", psk=PSK, ike_proposals=IKE, esp_proposals=ESP,
                           xauth=True, xauth_user=USER, xauth_password=PASSWORD, modecfg=True,
                           modecfg_push=push)
    automaton = ours("responder", "main", IKE, ESP, peer, remote_ts="198.51.100.64/26",
                     local_ts="198.51.100.2/32",
                     xauth="server", xauth_users=((USER, PASSWORD),),
                     modecfg="push" if push else "pull", pool="198.51.100.64/26",
                     modecfg_attributes=((A.INTERNAL_IP4_DNS, "192.0.2.53"),))
    try:
        peer.initiate(timeout=20)
        quick = wait_for(automaton, (ev.QuickModeEstablished, ev.Failed))
        assert isinstance(quick, ev.QuickModeEstablished), reasons(automaton)
        (xauth,) = [e for e in automaton.events if isinstance(e, ev.XAuthStatus)]
        assert (xauth.user, xauth.ok) == (USER, True)
        (lease,) = [e for e in automaton.events if isinstance(e, ev.AddressAssigned)]
        assert (lease.address, lease.user) == ("198.51.100.65", USER)
        (sa,) = peer.list_sas()
        assert sa["local-vips"] == ["198.51.100.65"]
        assert quick.remote_ts == "198.51.100.64/26"
        done = peer.ping(count=3)            # charon, from its lease, to our inner address
        assert done.returncode == 0, done.stdout + done.stderr
        assert " 3 received" in done.stdout
    finally:
        finish(automaton)


@pytest.mark.interop
def test_a_wrong_password_against_charons_gateway(strongswan_peer):
    """charon refuses our credentials: XAuth fails on our side with the
    reason, no Quick Mode, and charon's log says the same."""
    peer = strongswan_peer(psk=PSK, ike_proposals=IKE, esp_proposals=ESP, xauth=True,
                           xauth_user=USER, xauth_password=PASSWORD, modecfg=True)
    automaton = ours("initiator", "main", IKE, ESP, peer, local_ts="0.0.0.0/0",
                     xauth="client", xauth_user=USER, xauth_password="not-" + PASSWORD,
                     modecfg="pull")
    try:
        failed = wait_for(automaton, (ev.QuickModeEstablished, ev.Failed))
        assert isinstance(failed, ev.Failed), reasons(automaton)
        assert failed.reason == "XAuth failed: the server refused user %r" % USER
        assert [(e.user, e.ok) for e in automaton.events if isinstance(e, ev.XAuthStatus)] == [
            (USER, False)]
        log = peer.log_file.read_text(errors="replace")
        assert "XAuth authentication of '%s' failed" % USER in log
        assert not [e for e in automaton.events if isinstance(e, ev.QuickModeEstablished)]
    finally:
        finish(automaton)
