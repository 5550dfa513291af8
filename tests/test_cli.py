"""The ``scapy-ike`` command and its ``decode`` subcommand."""

import socket
import subprocess
import sys

import pytest

from conftest import shared_file
from scapy_ike.cli import main
from scapy_ike.decode.session import describe
from scapy_ike.layers import isakmp as L


def test_decode_one_line_per_packet(capsys):
    capture = shared_file("tcpdump", "isakmp4500.pcap")
    assert main(["decode", str(capture)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [int(line.split()[0]) for line in lines] == list(range(1, 36))


def test_describe_names_payloads_and_flags():
    from conftest import read_capture
    packets = read_capture(shared_file("tcpdump", "ISAKMP_sa_setup.pcap"))
    info = describe(packets[2])
    assert info.startswith("ISAKMP 10.0.0.1:500 > 10.0.0.2:500 identity protection")
    assert info.endswith("[KE Nonce VendorID VendorID VendorID VendorID NAT-D-OLD-DRAFT NAT-D-OLD-DRAFT]")
    bad = read_capture(shared_file("zeek-spicy-ipsec", "ipsec-ikev1-zero-length.pcap"))[0]
    assert describe(bad).endswith("[malformed: ISAKMP: length 0 is shorter than the header]")
    assert L.malformed(bad[L.ISAKMP])


def test_bad_usage_and_unreadable_files(tmp_path, capsys):
    assert main(["decode", str(tmp_path / "missing.pcap")]) == 2
    assert main(["no-such-command"]) == 2
    assert main([]) == 2
    assert main(["--version"]) == 0
    assert "cannot read" in capsys.readouterr().err


def test_console_script_and_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "scapy_ike", "--version"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.split()[0] == "scapy-ike"


def test_live_commands_leave_the_log_as_they_found_it(tmp_path):
    """demo/connect/serve print the engine's log while they run, then
    take their handler away (a later log line must not reach a closed
    stream)."""
    import logging
    from scapy_ike.cli.options import log_to_stdout
    logger = logging.getLogger("scapy_ike")
    before = (list(logger.handlers), logger.level, logger.propagate)
    with log_to_stdout():
        assert len(logger.handlers) == len(before[0]) + 1 and logger.level == logging.INFO
        assert logger.propagate is False
    assert (list(logger.handlers), logger.level, logger.propagate) == before


def test_decode_writes_its_key_files_for_the_owner_only(tmp_path, capsys):
    """decode --keylog-out FILE writes FILE, FILE.ikev1_decryption_table and
    FILE.esp_sa with mode 0600, replacing older 0644 files."""
    import os
    import stat
    from scapy_ike.decode.keylog import read_keys
    capture = shared_file("strongswan", "mm-psk-aes256-sha256-modp2048.pcap")
    logged = read_keys(capture.with_suffix(".keys").read_text())
    out = tmp_path / "keys.log"
    names = [str(out) + suffix for suffix in ("", ".ikev1_decryption_table", ".esp_sa")]
    for name in names:
        with open(name, "w") as f:
            f.write("stale\n")
        os.chmod(name, 0o644)
    assert main(["decode", str(capture), "--psk", "swp-mm-psk-1",
                 "--gxy", logged.ike[0].gxy.hex(), "--keylog-out", str(out)]) == 0
    capsys.readouterr()
    assert [stat.S_IMODE(os.stat(name).st_mode) for name in names] == [0o600] * 3
    written = read_keys(open(names[0]).read()).ike
    assert [(k.cky_i.hex(), k.ka) for k in written] == [("445b72fd880d7520", logged.ike[0].ka)]
    assert open(names[1]).read() == "445b72fd880d7520,%s\n" % logged.ike[0].ka.hex()
    assert sorted(k.spi for k in read_keys(open(names[2]).read()).esp) == [0x34891E13, 0xD7FF82CA]


# -- bad input: one line on stderr, exit status 2 (usage) or 1 (at run time) ----

def free_ports(count):
    """*count* UDP ports free on 127.0.0.1 a moment ago."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(count)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in socks]
    for sock in socks:
        sock.close()
    return ports


NOT_A_NETWORK = "'300.1.1.1/32' does not appear to be an IPv4 or IPv6 network"


@pytest.mark.parametrize("argv,line", [
    (["connect", "192.0.2.1", "--psk", "x", "--local-ts", "300.1.1.1/32"],
     "scapy-ike connect: argument --local-ts: " + NOT_A_NETWORK),
    (["connect", "192.0.2.1", "--psk", "x", "--remote-ts", "300.1.1.1/32"],
     "scapy-ike connect: argument --remote-ts: " + NOT_A_NETWORK),
    (["serve", "--psk", "x", "--local-ts", "300.1.1.1/32"],
     "scapy-ike serve: argument --local-ts: " + NOT_A_NETWORK),
    (["serve", "--psk", "x", "--remote-ts", "10.0.0.1/24"],
     "scapy-ike serve: argument --remote-ts: 10.0.0.1/24 has host bits set"),
    (["connect", "192.0.2.1", "--psk", "x", "--port", "-1"],
     "scapy-ike connect: argument --port: -1 is not a port (1-65535)"),
    (["connect", "192.0.2.1", "--psk", "x", "--port", "70000"],
     "scapy-ike connect: argument --port: 70000 is not a port (1-65535)"),
    (["connect", "192.0.2.1", "--psk", "x", "--natt-port", "0"],
     "scapy-ike connect: argument --natt-port: 0 is not a port (1-65535)"),
    (["connect", "192.0.2.1", "--psk", "x", "--local-port", "500x"],
     "scapy-ike connect: argument --local-port: '500x' is not a port (1-65535)"),
    (["connect", "192.0.2.1", "--psk", "x", "--local-natt-port", "65536"],
     "scapy-ike connect: argument --local-natt-port: 65536 is not a port (1-65535)"),
    (["serve", "--psk", "x", "--port", "70000"],
     "scapy-ike serve: argument --port: 70000 is not a port (1-65535)"),
    (["serve", "--psk", "x", "--natt-port", "-1"],
     "scapy-ike serve: argument --natt-port: -1 is not a port (1-65535)"),
    (["demo", "--port", "70000"], "scapy-ike demo: argument --port: 70000 is not a port (1-65535)"),
    (["demo", "--port", "1000"],
     "scapy-ike demo: argument --port: 1000 leaves no NAT-T port (port - 1000): 1001 or more"),
    (["decode", "x.pcap", "--ike-port", "70000"],
     "scapy-ike decode: argument --ike-port: 70000 is not a port (1-65535)"),
    (["connect", "192.0.2.1", "--psk", ""],
     "scapy-ike connect: argument --psk: empty; give the secret as text, or hex after 0x"),
    (["serve", "--psk", "0x"],
     "scapy-ike serve: argument --psk: empty; give the secret as text, or hex after 0x"),
    (["serve", "--psk", "x", "--listen", "300.1.1.1"],
     "scapy-ike serve: argument --listen: '300.1.1.1' is not an IPv4 address"),
    (["connect", "192.0.2.1", "--psk", "x", "--local", "here"],
     "scapy-ike connect: argument --local: 'here' is not an IPv4 address"),
    (["connect", "192.0.2.1"], "scapy-ike connect: the following arguments are required: --psk"),
], ids=lambda value: "_".join(value[:1] + value[-2:-1]) if isinstance(value, list) else "")
def test_usage_errors(argv, line, capsys):
    assert main(argv) == 2
    assert capsys.readouterr() == ("", line + "\n")


def test_unresolvable_peer(capsys):
    assert main(["connect", "no-such-host.invalid", "--psk", "x"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith("scapy-ike connect: argument peer: cannot resolve "
                          "'no-such-host.invalid': ")


def test_peer_names_resolve_to_addresses():
    from scapy_ike.cli.common import ipv4_host
    assert ipv4_host("localhost") == "127.0.0.1"
    assert ipv4_host("192.0.2.1") == "192.0.2.1"


@pytest.fixture
def taken():
    """A UDP socket bound on 127.0.0.1 to an ephemeral port, without
    SO_REUSEADDR: nobody else can bind that port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


def bind_error(command, address, port, reason):
    return "scapy-ike %s: cannot bind %s:%d/udp: %s\n" % (command, address, port, reason)


IN_USE, NOT_HERE = "Address already in use", "Cannot assign requested address"


def test_serve_on_a_port_in_use(taken, capsys):
    natt, = free_ports(1)
    assert main(["serve", "--listen", "127.0.0.1", "--port", str(taken),
                 "--natt-port", str(natt), "--psk", "x", "--timeout", "1"]) == 1
    assert capsys.readouterr() == ("", bind_error("serve", "127.0.0.1", taken, IN_USE))


def test_serve_on_a_natt_port_in_use_frees_its_ike_port(taken, capsys):
    ike, = free_ports(1)
    assert main(["serve", "--listen", "127.0.0.1", "--port", str(ike),
                 "--natt-port", str(taken), "--psk", "x", "--timeout", "1"]) == 1
    assert capsys.readouterr() == ("", bind_error("serve", "127.0.0.1", taken, IN_USE))
    again = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    again.bind(("127.0.0.1", ike))            # the IKE port was closed again
    again.close()


def test_demo_on_a_port_in_use(taken, tmp_path, capsys):
    assert main(["demo", "--port", str(taken), "--out", str(tmp_path)]) == 1
    assert capsys.readouterr() == ("", bind_error("demo", "127.0.0.1", taken, IN_USE))


def test_addresses_this_machine_does_not_have(capsys):
    """192.0.2.77 (TEST-NET-1) is on none of this machine's interfaces."""
    ike, natt = free_ports(2)
    ports = ["--natt-port", str(natt), "--psk", "x", "--timeout", "1"]
    assert main(["serve", "--listen", "192.0.2.77", "--port", str(ike), *ports]) == 1
    assert capsys.readouterr() == ("", bind_error("serve", "192.0.2.77", ike, NOT_HERE))
    assert main(["connect", "192.0.2.1", "--local", "192.0.2.77", "--local-port", str(ike),
                 "--local-natt-port", str(natt), "--psk", "x", "--timeout", "1"]) == 1
    assert capsys.readouterr() == ("", bind_error("connect", "192.0.2.77", ike, NOT_HERE))


class FakeAutomaton:
    """Stands for IKEv1Automaton in connect: records what the command asks
    of it, and closes the sockets it was given."""

    def __init__(self, config, sockets, events=(), **kwargs):
        self.sockets, self.events, self.calls = sockets, list(events), []
        FakeAutomaton.made.append(self)

    def runbg(self):
        self.calls.append("runbg")

    def stop(self):
        self.calls.append("stop")

    def close(self):
        self.calls.append("close")
        for sock in self.sockets.values():
            sock.close()


@pytest.fixture
def fake_connect(monkeypatch):
    """connect's argv on loopback ports, with FakeAutomaton made."""
    import scapy_ike.cli.connect as connect
    FakeAutomaton.made = []
    monkeypatch.setattr(connect, "IKEv1Automaton", FakeAutomaton)
    ike, natt = free_ports(2)
    return connect, ["connect", "127.0.0.1", "--local", "127.0.0.1", "--psk", "x",
                     "--local-port", str(ike), "--local-natt-port", str(natt)]


def test_interrupted_connect_still_deletes(fake_connect, monkeypatch, capsys):
    """Ctrl-C while negotiating: exit status 130, one line, and the
    automaton stopped and closed (which sends the Deletes)."""
    connect, argv = fake_connect

    def interrupted(automaton, timeout):
        raise KeyboardInterrupt
    monkeypatch.setattr(connect, "wait_for", interrupted)
    assert main(argv) == 130
    assert capsys.readouterr().err == "scapy-ike connect: interrupted\n"
    assert [a.calls for a in FakeAutomaton.made] == [["runbg", "stop", "close"]]


def test_failed_negotiation_is_one_line_on_stderr(fake_connect, monkeypatch, capsys):
    from scapy_ike.core import events as ev
    connect, argv = fake_connect
    failed = ev.Failed(bytes(16), 0, "authentication failed")
    monkeypatch.setattr(connect, "IKEv1Automaton",
                        lambda config, sockets, **kw: FakeAutomaton(config, sockets, [failed]))
    assert main(argv + ["--timeout", "1"]) == 1
    assert capsys.readouterr() == ("", "scapy-ike connect: authentication failed\n")
    assert [a.calls for a in FakeAutomaton.made] == [["runbg", "stop", "close"]]


def test_version_and_unknown_command(capsys):
    from scapy_ike import __version__
    from scapy_ike.cli import USAGE
    assert main(["--version"]) == 0
    assert capsys.readouterr() == ("scapy-ike %s\n" % __version__, "")
    assert main(["no-such-command"]) == 2
    assert capsys.readouterr() == ("", "scapy-ike: unknown command 'no-such-command'\n\n" + USAGE)


@pytest.mark.parametrize("argv,line", [
    (["serve", "--psk", "x", "--port", "4500"],
     "scapy-ike serve: --port and --natt-port must differ"),
    (["connect", "192.0.2.1", "--psk", "x", "--local-natt-port", "500"],
     "scapy-ike connect: --local-port and --local-natt-port must differ"),
], ids=["serve", "connect"])
def test_one_port_for_ike_and_natt(argv, line, capsys):
    assert main(argv) == 2
    assert capsys.readouterr() == ("", line + "\n")


def test_peer_out_of_reach(capsys):
    """The kernel refuses a route to the broadcast address (no
    SO_BROADCAST): nothing is bound, one line."""
    assert main(["connect", "255.255.255.255", "--psk", "x"]) == 1
    assert capsys.readouterr() == (
        "", "scapy-ike connect: cannot reach 255.255.255.255: Permission denied\n")


def test_decode_cannot_write_its_key_files(tmp_path, capsys):
    capture = shared_file("tcpdump", "isakmp4500.pcap")
    out = tmp_path / "missing" / "keys.log"
    assert main(["decode", str(capture), "--keylog-out", str(out)]) == 2
    assert capsys.readouterr().err == (
        "scapy-ike decode: cannot write %s: No such file or directory\n" % out)
