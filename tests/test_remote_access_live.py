"""XAuth and Mode Config on loopback through the commands: ``serve`` as
the gateway (users, a pool, DNS, a banner) and ``connect`` as the client,
which pings from the address it was given."""

import json
import subprocess
import sys
from pathlib import Path

from conftest import stop
from scapy_ike.cli import main

PORT = 17700
ROOT = Path(__file__).resolve().parent.parent


def serve(*extra):
    return subprocess.Popen(
        [sys.executable, "-m", "scapy_ike", "serve", "--listen", "127.0.0.1", "--port",
         str(PORT), "--natt-port", str(PORT + 1), "--psk", "group-secret", "--local-ts",
         "198.51.100.1/32", "--remote-ts", "198.51.100.64/26", "--pool", "198.51.100.64/26",
         "--dns", "192.0.2.53", "--banner", "Authorised users only", "--timeout", "30", *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def connect(*extra):
    return main(["connect", "127.0.0.1", "--port", str(PORT), "--natt-port", str(PORT + 1),
                 "--local", "127.0.0.2", "--local-port", str(PORT + 2), "--local-natt-port",
                 str(PORT + 3), "--psk", "group-secret", "--force-encap", "--remote-ts",
                 "198.51.100.1/32", "--ping", "198.51.100.1", "--count", "3", "--interval",
                 "0.2", "--timeout", "10", *extra])


def test_xauth_and_mode_config_through_serve_and_connect(capsys):
    gateway = serve("--xauth", "alice:secret", "--xauth", "bob:hunter2")
    try:
        assert gateway.stdout.readline().startswith("listening on 127.0.0.1:%d" % PORT)
        status = connect("--xauth-user", "bob", "--xauth-password", "hunter2",
                         "--modecfg", "pull")
        printed = capsys.readouterr()
    finally:
        stop(gateway)
    assert status == 0, printed.err
    assert "Mode Config: our address is 198.51.100.65\n" in printed.out
    assert "3 of 3 echoes answered through the tunnel" in printed.out
    assert "local  ident (addr/mask/prot/port): (198.51.100.65/255.255.255.255/0/0)" \
        in printed.out
    # the log names the user and the address, never the password
    assert "XAuth status for user bob: OK" in printed.out
    assert "Mode Config address 198.51.100.65 assigned to bob" in printed.out
    assert "hunter2" not in printed.out


def test_connect_json_with_users_from_a_file(tmp_path, capsys):
    """``serve --xauth-users FILE --split --dns --banner``; ``connect --json``
    prints one object on standard output, the log on standard error."""
    users = tmp_path / "users"
    users.write_text("# gateway users\nalice:secret\n\ncarol:pa:ss\n")
    gateway = serve("--xauth-users", str(users), "--split", "198.51.100.0/25", "--save-password")
    try:
        assert gateway.stdout.readline().startswith("listening on")
        status = connect("--xauth-user", "carol", "--xauth-password", "pa:ss", "--json",
                         "--modecfg", "pull", "--ike", "aes128-sha256-modp2048",
                         "--pcap", str(tmp_path / "ra.pcap"), "--keylog", str(tmp_path / "keys"))
        printed = capsys.readouterr()
    finally:
        stop(gateway)
    assert status == 0, printed.err
    report = json.loads(printed.out)
    assert report["error"] is None and report["address"] == "198.51.100.65"
    assert report["phase1"]["proposal"] == "aes128-sha256-modp2048"
    assert report["phase1"]["auth"] == "XAUTHInitPreShared"
    assert len(report["phase1"]["cookies"]) == 32
    assert report["quick_mode"]["local_ts"] == "198.51.100.65/32"
    assert len(report["quick_mode"]["spi_in"]) == len(report["quick_mode"]["spi_out"]) == 8
    assert report["xauth"] == {"user": "carol", "ok": True}
    assert report["modecfg"]["INTERNAL_IP4_ADDRESS"] == "198.51.100.65"
    assert report["modecfg"]["INTERNAL_IP4_NETMASK"] == "255.255.255.192"
    assert report["modecfg"]["INTERNAL_IP4_DNS"] == "192.0.2.53"
    assert report["modecfg"]["INTERNAL_IP4_SUBNET"] == "198.51.100.0/25"
    assert report["modecfg"]["UNITY_SPLIT_INCLUDE"] == ["198.51.100.0/25"]
    assert report["modecfg"]["UNITY_BANNER"] == "Authorised users only"
    assert report["modecfg"]["UNITY_SAVE_PASSWD"] == 1
    assert report["modecfg"]["APPLICATION_VERSION"].startswith("scapy-ike ")
    assert report["ping"] == {"to": "198.51.100.1", "from": "198.51.100.65", "sent": 3,
                              "answered": 3}
    assert "IKE_XAUTH_REPLY_SENT" in printed.err
    # decode shows the XAuth and Mode Config attributes by name, the password hidden
    assert main(["decode", str(tmp_path / "ra.pcap"), "--keys", str(tmp_path / "keys"),
                 "--ike-port", str(PORT), "--natt-port", str(PORT + 1), "-V"]) == 0
    tree = capsys.readouterr().out
    assert "XAUTH_USER_NAME: carol" in tree
    assert "XAUTH_USER_PASSWORD: <hidden 5 bytes>" in tree and "pa:ss" not in tree
    assert "INTERNAL_IP4_ADDRESS: 198.51.100.65" in tree
    assert "UNITY_SPLIT_INCLUDE: 198.51.100.0/25" in tree
    assert "INTERNAL_IP4_SUBNET: 198.51.100.0/25" in tree


def test_a_wrong_xauth_password_fails_connect(capsys):
    gateway = serve("--xauth", "alice:secret", "--xauth-tries", "2")
    try:
        assert gateway.stdout.readline().startswith("listening on")
        status = connect("--xauth-user", "alice", "--xauth-password", "guess",
                         "--modecfg", "pull")
        printed = capsys.readouterr()
    finally:
        stop(gateway)
    assert status == 1
    assert printed.err == "scapy-ike connect: XAuth failed: the server refused user 'alice'\n"


def test_a_wrong_password_with_json_reports_the_failure(capsys):
    gateway = serve("--xauth", "alice:secret", "--xauth-tries", "1")
    try:
        assert gateway.stdout.readline().startswith("listening on")
        status = connect("--xauth-user", "alice", "--xauth-password", "guess", "--json",
                         "--modecfg", "push")
        printed = capsys.readouterr()
    finally:
        stop(gateway)
    assert status == 1
    report = json.loads(printed.out)
    assert report["error"] == "XAuth failed: the server refused user 'alice'"
    assert report["xauth"] == {"user": "alice", "ok": False}
    assert report["quick_mode"] is None and report["address"] is None
    assert printed.err.endswith("scapy-ike connect: XAuth failed: the server refused user "
                                "'alice'\n")

