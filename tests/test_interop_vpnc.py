"""vpnc (Debian's Cisco-compatible client: Aggressive Mode with a group
name as ID_KEY_ID, XAuth, Mode Config, its own userspace ESP over a TUN
device) against our ``serve`` as the gateway, in two namespaces the test
makes: vpnc gets its address, DNS and banner, and pings through."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import need_tool, stop
from scapy_ike.testing.netns import netns_pair, run_in_netns

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = """#!/bin/sh
# what vpnc was given, then its TUN device set up (nothing else touched)
env | grep -E '^(reason|TUNDEV|INTERNAL_IP4_|CISCO_)' | sort >> "$VPNC_RECORD"
if [ "$reason" = connect ]; then
    ip addr add "$INTERNAL_IP4_ADDRESS/32" dev "$TUNDEV"
    ip link set "$TUNDEV" up mtu 1300
    ip route add 198.51.100.1/32 dev "$TUNDEV"
fi
exit 0
"""


UNITY = ["--split", "198.51.100.0/25", "--default-domain", "example.test", "--require-pfs",
         "--esp", "aes256-sha1-modp1024"]
"""Cisco Unity's split include, default domain and PFS, with ESP proposals
that only a client using PFS meets: vpnc (``--pfs server``) must read our
UNITY_PFS to get through."""


def vpnc_client(vpnc, client_ns, script, record, tmp_path, natt, password):
    return subprocess.Popen(
        ["ip", "netns", "exec", client_ns, vpnc, "--gateway", "192.0.2.2", "--id",
         "vpngroup", "--secret", "group-secret", "--username", "alice", "--password",
         password, "--no-detach", "--non-inter", "--script", str(script),
         "--natt-mode", natt, "--local-port", "0", "--dh", "dh2", "--pfs", "server",
         "--pid-file", str(tmp_path / "vpnc.pid")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "VPNC_RECORD": str(record)})


@pytest.mark.interop
@pytest.mark.parametrize("natt, unity", [("force-natt", False), ("none", True)],
                         ids=["force-natt", "esp-unity"])
def test_vpnc_connects_through_xauth_and_mode_config(tmp_path, natt, unity):
    """A vpnc with a wrong password first: refused; then the right one, on
    the same gateway, gets its lease and pings through."""
    vpnc = need_tool("vpnc")
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        pytest.skip("vpnc needs root and /dev/net/tun")
    script = tmp_path / "vpnc-script"
    script.write_text(SCRIPT)
    script.chmod(0o700)
    record = tmp_path / "record"
    record.write_text("")
    with netns_pair() as (client_ns, gateway_ns):
        gateway = subprocess.Popen(
            ["ip", "netns", "exec", gateway_ns, sys.executable, "-m", "scapy_ike", "serve",
             "--listen", "192.0.2.2", "--psk", "group-secret", "--mode", "aggressive",
             "--ike", "aes256-sha1-modp1024", "--local-ts", "0.0.0.0/0",
             "--remote-ts", "198.51.100.64/26", "--xauth", "alice:secret", "--xauth-tries", "1",
             "--pool", "198.51.100.64/26", "--dns", "192.0.2.53", "--banner", "Hello, vpnc",
             "--timeout", "60", *(UNITY if unity else [])],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        client = refused = None
        try:
            assert gateway.stdout.readline().startswith("listening on 192.0.2.2:500")
            wrong = vpnc_client(vpnc, client_ns, script, record, tmp_path, natt, "guess")
            try:
                refused = wrong.wait(timeout=20)
            except subprocess.TimeoutExpired:
                refused = None
            refused_output = stop(wrong)
            client = vpnc_client(vpnc, client_ns, script, record, tmp_path, natt, "secret")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and "reason=connect" not in record.read_text():
                time.sleep(0.2)
            pinged = run_in_netns(client_ns, ["ping", "-n", "-c", "3", "-i", "0.3", "-W", "2",
                                              "198.51.100.1"],
                                  capture_output=True, text=True, timeout=20)
        finally:
            if client is not None:
                stop(client)
            log = stop(gateway)
        assert refused not in (0, None) and "authentication unsuccessful" in refused_output, refused_output
        assert "XAuth status for user alice: FAIL\n" in log
        assert "XAuth status for user alice: OK\n" in log
        assert "secret" not in log.replace("group-secret", "") and "guess" not in log
        got = record.read_text().split("reason=connect\n")[1].split("reason=")[0]
        assert "INTERNAL_IP4_ADDRESS=198.51.100.65\n" in got
        assert "INTERNAL_IP4_DNS=192.0.2.53\n" in got
        assert "CISCO_BANNER=Hello, vpnc\n" in got
        if unity:
            assert "CISCO_DEF_DOMAIN=example.test\n" in got
            assert "CISCO_SPLIT_INC=1\n" in got
            assert "CISCO_SPLIT_INC_0_ADDR=198.51.100.0\n" in got
            assert "CISCO_SPLIT_INC_0_MASK=255.255.255.128\n" in got
            assert "CISCO_SPLIT_INC_0_MASKLEN=25\n" in got
        # (with --esp aes256-sha1-modp1024 only a Quick Mode with PFS gets this far)
        assert "IPSEC(create_sa): sa created" in log
        assert " 0% packet loss" in pinged.stdout, pinged.stdout + pinged.stderr
