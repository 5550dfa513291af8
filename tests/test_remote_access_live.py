"""XAuth and Mode Config on loopback through the commands: ``serve`` as
the gateway (users, a pool, DNS, a banner) and ``connect`` as the client,
which pings from the address it was given."""

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
    assert "3 of 3 echoes answered through the tunnel" in printed.out
    assert "local  ident (addr/mask/prot/port): (198.51.100.65/32/0/0)" in printed.out


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
