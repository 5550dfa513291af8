"""The Automaton shells on loopback UDP: the demo end to end (its capture
decrypts with its own key log, here and in tshark), Aggressive Mode with
PFS, the tamper hook, and failures."""

import dataclasses
import subprocess
import time

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.utils import rdpcap

from conftest import need_tool
from scapy_ike.automaton import IKEv1Automaton
from scapy_ike.cli import main
from scapy_ike.cli.connect import ping
from scapy_ike.core import events as ev
from scapy_ike.core.config import Configuration, Retransmission
from scapy_ike.decode.ike import IkeTracker
from scapy_ike.decode.keylog import read_keys
from scapy_ike.decode.session import Session
from scapy_ike.layers.isakmp import ISAKMP, bind_ports

PORT = 25500


def run_demo(tmp_path, *extra):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--port", str(PORT), *extra]) == 0
    return out


def test_demo_capture_decrypts_with_its_key_log(tmp_path, capsys):
    out = run_demo(tmp_path)
    printed = capsys.readouterr().out
    assert "Old State = IKE_I_MM6 New State = IKE_P1_COMPLETE" in printed
    assert "3 of 3 echoes answered through the tunnel" in printed
    # both roles in IOS's words, the SPIs of the key files, no Python repr
    assert "(I) MM_NO_STATE" in printed and "(R) MM_SA_SETUP" in printed
    assert "b'" not in printed and "(cookies=" not in printed
    logged = {int(line.split()[2], 16) for line in printed.splitlines()
              if line.strip().startswith("has spi 0x")}
    assert logged == {k.spi for k in read_keys((out / "demo.keys.esp_sa").read_text()).esp}
    keys = read_keys((out / "demo.keys").read_text())
    assert len(keys.ike) == 1 and keys.ike[0].skeyid_d is not None
    with bind_ports(PORT, PORT - 1000):
        packets = rdpcap(str(out / "demo.pcap"))
        esp_keys = read_keys((out / "demo.keys.esp_sa").read_text()).esp
        session = Session(esp_keys=esp_keys, ike=IkeTracker(keys.ike), ike_port=PORT,
                          natt_port=PORT - 1000)
        records = [session.decode(n, p) for n, p in enumerate(packets, 1)]
    encrypted = [r for r in records if r.packet.haslayer(ISAKMP) and r.packet[ISAKMP].flags & 1]
    assert len(encrypted) == 7 and all(r.decrypted for r in encrypted)   # + 2 Deletes
    assert [r.inner[0][ISAKMP].exch_type for r in encrypted[-2:]] == [5, 5]
    echoes = [r.inner[0][ICMP].type for r in records if r.esp]
    assert echoes == [8, 0] * 3


@pytest.mark.interop
def test_tshark_decrypts_the_demo(tmp_path):
    tshark = need_tool("tshark")
    out = run_demo(tmp_path)
    config = tmp_path / "wireshark"
    config.mkdir()
    for table in ("ikev1_decryption_table", "esp_sa"):
        (config / table).write_text((out / ("demo.keys." + table)).read_text())
    fields = subprocess.run(
        [tshark, "-n", "-r", str(out / "demo.pcap"), "-d", "udp.port==%d,isakmp" % PORT,
         "-d", "udp.port==%d,udpencap" % (PORT - 1000), "-o", "esp.enable_encryption_decode:TRUE",
         "-o", "esp.enable_authentication_check:TRUE", "-T", "fields", "-e", "isakmp.typepayload",
         "-e", "icmp.type", "-e", "esp.icv_good"],
        capture_output=True, text=True, timeout=60, check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "WIRESHARK_CONFIG_DIR": str(config)},
    ).stdout.splitlines()
    rows = [line.split("\t") for line in fields]
    assert [r[0] for r in rows[:9]] == ["1,2,3,13,13,13", "1,2,3,13,13", "4,10,20,20",
                                        "4,10,20,20", "5,11,8", "5,8", "8,1,2,3,10,5,5",
                                        "8,1,2,3,10,5,5", "8"]
    assert [(r[1], r[2]) for r in rows[9:15]] == [("8", "1"), ("0", "1")] * 3
    assert [r[0] for r in rows[15:]] == ["8,12", "8,12"]          # Delete ESP, then ISAKMP


def test_aggressive_mode_with_pfs(tmp_path, capsys):
    run_demo(tmp_path, "--mode", "aggressive", "--esp", "aes128gcm16-ecp256",
             "--ike", "aes128-sha256-ecp256")
    assert "Old State = IKE_I_AM1 New State = IKE_P1_COMPLETE" in capsys.readouterr().out


class Dropper(IKEv1Automaton):
    """Drops its first datagram: the engine retransmits it."""

    def tamper(self, datagram):
        self.seen = getattr(self, "seen", 0) + 1
        return None if self.seen == 1 else datagram


def pair(tmp_path, initiator_class=IKEv1Automaton, **initiator):
    fast = Retransmission(timeout=0.3, base=1.5, tries=4)
    common = dict(psk=b"tamper", retransmission=fast, half_open_timeout=2.0)
    r = IKEv1Automaton(Configuration(role="responder", local_ts="198.51.100.1/32",
                                     remote_ts="198.51.100.2/32", **common),
                       local_address="127.0.0.1", ike_port=PORT + 1, natt_port=PORT - 999)
    i = initiator_class(Configuration(**{"role": "initiator", "local_ts": "198.51.100.2/32",
                                         "remote_ts": "198.51.100.1/32", "force_encap": True,
                                         **common, **initiator}),
                        peer=("127.0.0.1", PORT + 1), local_address="127.0.0.2",
                        ike_port=PORT + 1, natt_port=PORT - 999, peer_natt_port=PORT - 999)
    return i, r


def outcome(automaton, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        done = [e for e in automaton.events if isinstance(e, (ev.QuickModeEstablished, ev.Failed))]
        if done:
            return done[0]
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def test_tamper_hook_drop_is_retransmitted(tmp_path):
    i, r = pair(tmp_path, Dropper)
    r.runbg()
    i.runbg()
    try:
        assert isinstance(outcome(i), ev.QuickModeEstablished)
        assert [type(e) for e in i.events if isinstance(e, ev.Retransmitted)] == [ev.Retransmitted]
    finally:
        for a in (i, r):
            a.stop()
            a.close()


def _quick_mode(data):
    """Whether a datagram we send is a Quick Mode message (RFC 2409 5.5),
    behind the non-ESP marker or not (RFC 3948 2.2)."""
    isakmp = data[4:] if data[:4] == bytes(4) else data
    return len(isakmp) > 18 and isakmp[18] == 32


def test_esp_read_with_the_quick_mode_that_keys_it_reaches_its_pair(tmp_path):
    """The initiator sends on a new pair once QM3 is out (RFC 2409 5.5, no
    commit bit), so QM3 and the first ESP packet can wait at the responder
    together and be read in one batch: the pair QM3 completes is installed
    before the next datagram is read, and the echo is answered.  QM3 is
    held back until the initiator has its pair, then sent with the echo
    right behind it to a responder that reads nothing meanwhile."""
    i, r = pair(tmp_path)
    held = []

    def hold_qm3(datagram):
        if not _quick_mode(datagram.data):
            return datagram
        held.append(datagram)
        return None if len(held) > 1 else datagram      # QM1 goes, QM3 is held
    i.tamper = hold_qm3
    i.runbg()
    try:
        deadline = time.monotonic() + 10
        while outcome(i, timeout=0) is None and time.monotonic() < deadline:
            r.pump(0.05)
        established = outcome(i, timeout=0)
        assert isinstance(established, ev.QuickModeEstablished)
        assert not [e for e in r.events if isinstance(e, ev.QuickModeEstablished)]
        qm3 = held[1]
        i.sockets[qm3.local_port].sendto(qm3.data, qm3.addr)
        sock = i.tunnel_socket()
        sock.send(IP(src="198.51.100.2", dst="198.51.100.1") / ICMP(id=7, seq=1) / b"queued")
        time.sleep(0.2)
        r.pump(0.5)
        assert [e.spi_in for e in r.events if isinstance(e, ev.QuickModeEstablished)] == [
            established.spi_out]
        reply = sock.recv() if sock.select([sock], 2.0) else None
        assert reply is not None and reply[ICMP].type == 0 and reply[ICMP].seq == 1
        assert (reply[IP].src, reply[ICMP].id) == ("198.51.100.1", 7)
    finally:
        for a in (i, r):
            a.stop()
            a.close()


def test_wrong_psk_fails_cleanly(tmp_path):
    i, r = pair(tmp_path, psk=b"wrong")
    r.runbg()
    i.runbg()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(isinstance(e, ev.Failed) for e in r.events):
            time.sleep(0.05)
        failed = [e for e in r.events if isinstance(e, ev.Failed)]
        assert failed and failed[0].reason.startswith(
            "timeout: half-open SA in IKE_R_MM4 did not complete; ")
        assert failed[0].reason.endswith("did not authenticate (wrong pre-shared key?)")
        assert not any(isinstance(e, ev.Phase1Established) for e in i.events)
        assert not any(isinstance(e, ev.NotifyReceived) for e in i.events)
    finally:
        for a in (i, r):
            a.stop()
            a.close()


def test_serve_keeps_serving_after_a_refusal_and_a_delete(capsys):
    """``serve`` says where it listens, refuses a proposal it does not
    accept (the initiator is told why), then serves the next peer, and the
    one after that peer's Delete."""
    import threading
    serve_port = PORT + 10
    outcome = {}
    server = threading.Thread(target=lambda: outcome.setdefault("serve", main([
        "serve", "--listen", "127.0.0.1", "--port", str(serve_port),
        "--natt-port", str(serve_port - 1000), "--psk", "serve-psk", "--timeout", "6"])))
    server.start()
    try:
        time.sleep(0.5)
        common = ["127.0.0.1", "--port", str(serve_port), "--natt-port", str(serve_port - 1000),
                  "--psk", "serve-psk", "--force-encap", "--timeout", "4"]
        results = []
        for n, extra in enumerate([["--ike", "3des-md5-modp1024"], [], []]):
            results.append(main(["connect", *common, "--local", "127.0.0.%d" % (n + 2),
                                 "--local-port", str(serve_port + 1 + n),
                                 "--local-natt-port", str(serve_port - 999 + n), *extra]))
    finally:
        server.join(10)
    printed = capsys.readouterr()
    assert results == [1, 0, 0] and outcome["serve"] == 0
    assert "listening on 127.0.0.1:%d (NAT-T %d)" % (serve_port, serve_port - 1000) in printed.out
    assert printed.err == "scapy-ike connect: peer notify NO-PROPOSAL-CHOSEN\n"


def test_without_nat_esp_goes_over_ip_and_the_responder_names_the_address_reached():
    """No NAT and no forced encapsulation: ESP travels as IP protocol 50
    (a raw socket, as root), not to the IKE port; a responder listening on
    every address identifies itself by the one the initiator reached."""
    import os
    from scapy_ike.cli.connect import ping
    if os.geteuid() != 0:
        pytest.skip("ESP over IP needs a raw socket (root)")
    base = PORT + 20
    fast = Retransmission(timeout=0.3, base=1.5, tries=4)
    r = IKEv1Automaton(Configuration(role="responder", psk=b"raw", local_ts="198.51.100.1/32",
                                     remote_ts="198.51.100.2/32", retransmission=fast),
                       local_address="0.0.0.0", ike_port=base, natt_port=base + 1)
    i = IKEv1Automaton(Configuration(role="initiator", psk=b"raw", local_ts="198.51.100.2/32",
                                     remote_ts="198.51.100.1/32", retransmission=fast),
                       peer=("127.0.0.1", base), local_address="127.0.0.2", ike_port=base + 2,
                       natt_port=base + 3, peer_natt_port=base + 1)
    r.runbg()
    i.runbg()
    try:
        established = outcome(i)
        assert isinstance(established, ev.QuickModeEstablished) and not established.udp_encap
        (p1,) = [e for e in i.events if isinstance(e, ev.Phase1Established)]
        assert p1.remote_id == b"\x01\x00\x00\x00" + bytes([127, 0, 0, 1])
        assert ping(i.tunnel_socket(), "198.51.100.2", "198.51.100.1", 3) == 3
        assert not [e for e in r.events if isinstance(e, ev.Dropped)]
    finally:
        for a in (i, r):
            a.stop()
            a.close()


class Commanded(IKEv1Automaton):
    """Runs the callables queued in ``commands`` in its own thread, between
    two turns of the pump (the endpoint is not shared between threads)."""

    def pump(self, timeout):
        commands = self.__dict__.setdefault("commands", [])
        while commands:
            commands.pop(0)()
        super().pump(timeout)


def test_ike_sa_delete_leaves_its_esp_sas(tmp_path):
    """A Delete of the IKE SA alone (charon's IKEv1 rekeying sends one for
    the old SA and keeps its CHILD SAs) leaves the tunnel up: the ended SA
    keeps its ESP pair until the next IKE SA with that peer adopts it, and
    is pruned after that; the next SA's keys are written with the old
    tunnel's."""
    from scapy_ike.constants import ProtocolId
    from scapy_ike.core.exchanges import informational
    i, r = pair(tmp_path, Commanded)
    r.config = r.endpoint.config = dataclasses.replace(r.config, linger=0.3)
    r.keylog = str(tmp_path / "r.keys")

    def delete_ike_sa_only():
        conn = next(iter(i.endpoint.connections.values()))
        informational.send(conn, informational.delete_payload(ProtocolId.ISAKMP, [conn.cookies]),
                           time.monotonic())
        conn.end(time.monotonic(), "closed")
    r.runbg()
    i.runbg()
    try:
        first = outcome(i)
        assert isinstance(first, ev.QuickModeEstablished)
        assert outcome(r) is not None
        i.commands.append(delete_ike_sa_only)
        old = r.endpoint.connections[first.cookies[:8]]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not [e for e in r.events
                                                   if isinstance(e, ev.DeleteReceived)]:
            time.sleep(0.05)            # the engine's events reach the list a moment later
        assert old.ended is not None and [c.spi_in for c in old.children] == [first.spi_out]
        assert [(e.protocol, e.spis, e.removed) for e in r.events
                if isinstance(e, ev.DeleteReceived)] == [(1, (first.cookies,), (first.cookies,))]
        assert [t.established.cookies for t in r.tunnels] == [first.cookies]
        assert ping(i.tunnel_socket(), "198.51.100.2", "198.51.100.1", 3) == 3

        i.commands.append(lambda: i.connect(("127.0.0.1", PORT + 1)))
        def esp_rows():
            with open(r.keylog + ".esp_sa") as f:
                return len(f.read().splitlines())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and esp_rows() < 4:
            time.sleep(0.05)            # the keys are written just after the pair is made
        # the same selectors: the new pair succeeds the old one in its tunnel
        (tunnel,) = r.tunnels
        assert r.state.state == "SERVING" and esp_rows() == 4
        second = tunnel.established
        assert second.replaces == first.spi_out and second.current
        assert list(tunnel.pairs) == [first.spi_out, second.spi_in]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and first.cookies[:8] in r.endpoint.connections:
            time.sleep(0.05)            # adopted by the new SA, then pruned after the linger
        assert first.cookies[:8] not in r.endpoint.connections
        (new,) = r.endpoint.connections.values()
        assert sorted(c.spi_in for c in new.children) == sorted(tunnel.pairs)
        with open(r.keylog) as f:       # and both IKE SAs, the pruned one too
            assert [line.split()[0] for line in f.read().splitlines()] == ["ike", "ike"]
        assert ping(i.tunnel_socket(), "198.51.100.2", "198.51.100.1", 3) == 3
    finally:
        for a in (i, r):
            a.stop()
            a.close()


def test_set_up_errors_reach_the_caller():
    """A port in use or a capture that cannot be written is an OSError from
    the constructor, in the caller's thread, and leaves no socket open."""
    import socket
    base = PORT + 30
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", base))
    try:
        with pytest.raises(OSError, match="cannot bind 127.0.0.1:%d/udp: Address already in use"
                           % base):
            IKEv1Automaton(Configuration(role="responder"), local_address="127.0.0.1",
                           ike_port=base + 1, natt_port=base)
        with pytest.raises(OSError):
            IKEv1Automaton(Configuration(role="responder"), local_address="127.0.0.1",
                           ike_port=base + 2, natt_port=base + 3, pcap="/no/such/dir/x.pcap")
        for free in (base + 1, base + 2, base + 3):       # nothing was left bound
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            probe.bind(("127.0.0.1", free))
            probe.close()
    finally:
        holder.close()


def test_connect_pings_through_serve_without_nat(capsys):
    """``connect --ping`` to ``serve`` on loopback with no NAT and no forced
    encapsulation: the echoes go as ESP over IP and all come back."""
    import os
    import threading
    if os.geteuid() != 0:
        pytest.skip("ESP over IP needs a raw socket (root)")
    base = PORT + 40
    done = {}
    server = threading.Thread(target=lambda: done.setdefault("serve", main([
        "serve", "--listen", "127.0.0.1", "--port", str(base), "--natt-port", str(base + 1),
        "--psk", "no-nat", "--local-ts", "198.51.100.1/32", "--remote-ts", "198.51.100.2/32",
        "--timeout", "5"])))
    server.start()
    try:
        time.sleep(0.5)
        status = main(["connect", "127.0.0.1", "--port", str(base), "--natt-port", str(base + 1),
                       "--local", "127.0.0.2", "--local-port", str(base + 2),
                       "--local-natt-port", str(base + 3), "--psk", "no-nat",
                       "--local-ts", "198.51.100.2/32", "--remote-ts", "198.51.100.1/32",
                       "--ping", "198.51.100.1", "--timeout", "4"])
    finally:
        server.join(10)
    printed = capsys.readouterr().out
    assert status == 0 and done["serve"] == 0
    assert "3 of 3 echoes answered through the tunnel" in printed
    assert "in use settings ={Tunnel, }" in printed
