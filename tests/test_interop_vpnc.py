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


@pytest.mark.interop
@pytest.mark.parametrize("natt", ["force-natt", "none"])
def test_vpnc_connects_through_xauth_and_mode_config(tmp_path, natt):
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
             "--remote-ts", "198.51.100.64/26", "--xauth", "alice:secret",
             "--pool", "198.51.100.64/26", "--dns", "192.0.2.53", "--banner", "Hello, vpnc",
             "--timeout", "60"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        client = None
        try:
            assert gateway.stdout.readline().startswith("listening on 192.0.2.2:500")
            client = subprocess.Popen(
                ["ip", "netns", "exec", client_ns, vpnc, "--gateway", "192.0.2.2", "--id",
                 "vpngroup", "--secret", "group-secret", "--username", "alice", "--password",
                 "secret", "--no-detach", "--non-inter", "--script", str(script),
                 "--natt-mode", natt, "--local-port", "0", "--dh", "dh2", "--pfs", "nopfs",
                 "--pid-file", str(tmp_path / "vpnc.pid")],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                env={**os.environ, "VPNC_RECORD": str(record)})
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and "reason=connect" not in record.read_text():
                time.sleep(0.2)
            pinged = run_in_netns(client_ns, ["ping", "-n", "-c", "3", "-i", "0.3", "-W", "2",
                                              "198.51.100.1"],
                                  capture_output=True, text=True, timeout=20)
        finally:
            if client is not None:
                stop(client)
            stop(gateway)
        got = record.read_text().split("reason=connect\n")[1].split("reason=")[0]
        assert "INTERNAL_IP4_ADDRESS=198.51.100.65\n" in got
        assert "INTERNAL_IP4_DNS=192.0.2.53\n" in got
        assert "CISCO_BANNER=Hello, vpnc\n" in got
        assert " 0% packet loss" in pinged.stdout, pinged.stdout + pinged.stderr
