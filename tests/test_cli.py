"""The ``scapy-ike`` command and its ``decode`` subcommand."""

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


@pytest.mark.parametrize("argv,line", [
    (["serve", "--psk", "x", "--port", "4500"],
     "scapy-ike serve: --port and --natt-port must differ"),
    (["connect", "192.0.2.1", "--psk", "x", "--local-natt-port", "500"],
     "scapy-ike connect: --local-port and --local-natt-port must differ"),
], ids=["serve", "connect"])
def test_one_port_for_ike_and_natt(argv, line, capsys):
    assert main(argv) == 2
    assert capsys.readouterr() == ("", line + "\n")
