"""A real strongSwan IKEv1 peer for tests: charon in network namespaces of its own.

:class:`StrongSwanPeer` starts strongSwan's IKE daemon charon (5.9, as Debian 12
ships it) with a private configuration directory, in a fresh network
namespace joined by a veth pair to a second one, where the test's own peer
runs::

    namespace <base>-p                        namespace <base>-t
    charon                                    the peer under test
    swp-p 192.0.2.1/24  <--- veth pair --->   swp-t 192.0.2.2/24
    lo    198.51.100.1/32 (inner address)     lo    198.51.100.2/32 (inner address)
    ipsec0 (TUN of kernel-libipsec)

Only documentation addresses (RFC 5737) are used, IPv6 is off in both
namespaces, nothing is routed outside the pair and the root namespace is not
touched.  A charon may instead join an existing namespace
(``PeerConfig.netns``): :meth:`StrongSwanPeer.counterpart` gives the
configuration of a second charon in the test namespace, so charon can meet
charon.  The directory holds ``strongswan.conf``, ``swanctl.conf``,
``charon.log`` and, with ``capture=True``, ``capture.pcap``; it is kept after
:meth:`~StrongSwanPeer.stop`.

What charon needs here, and what this module does about it:

- ESP runs in user space (the kernel-libipsec plugin, over TUN), so no kernel
  ESP/XFRM support is needed.  It must be loaded before kernel-netlink: the
  first kernel-ipsec backend loaded wins.  kernel-libipsec asks for UDP
  encapsulation, so charon fakes NAT detection ("faking NAT situation to
  enforce UDP encapsulation"): every IKE SA floats to port 4500 after
  MM4/AM2 and all ESP is ESP-in-UDP (RFC 3948).  Tunnel mode only.
- charon writes the hard-coded ``/var/run/charon.pid`` and will not start
  while another charon's PID is in it: each charon gets a private mount
  namespace with ``<directory>/run`` bind-mounted over ``/run``.
- charon's vici socket is ``<directory>/charon.vici``, a Unix socket, so the
  directory path may have at most 90 characters.
- charon keeps running when it cannot bind its UDP ports; :meth:`start`
  checks that charon owns 500 and 4500.
- charon's DoS protection (``dos_protection``, on by default) drops, without
  an answer, new IKE SAs from an address that already has 5 half-open ones;
  load and parallel tests turn it off.
- As a responder charon refuses Aggressive Mode with a PSK unless told
  ``i_dont_care_about_security_and_use_aggressive_mode_psk``.
- A watchdog (coreutils ``timeout``) sends SIGTERM to charon, and to tcpdump,
  after ``PeerConfig.lifetime`` seconds even if :meth:`stop` is never
  called.  :meth:`stop` signals only the PIDs it recorded, after checking
  their start time against PID reuse; a zombie counts as gone.  Only
  :meth:`stop` deletes the namespaces (``ip netns del`` for a peer that was
  abandoned).
- At ike/chd log level 4 charon logs every IKEv1 secret (g^xy, SKEYID*,
  Ka, the IV, Quick Mode's own g^xy, the ESP keys).  :func:`charon_keys`
  turns that log into this project's key log lines (``scapy_ike.decode.keylog``).

Needs root, ``ip`` (iproute2), ``unshare`` (util-linux), ``timeout``
(coreutils), ``/dev/net/tun`` and the Debian packages strongswan-charon,
strongswan-swanctl, libstrongswan-standard-plugins, libcharon-extra-plugins
(kernel-libipsec) and libcharon-extauth-plugins (XAuth); tcpdump to capture,
ping for :meth:`StrongSwanPeer.ping`.  :func:`available` says what is missing.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from scapy_ike.decode.charon_log import charon_keys
from scapy_ike.testing.netns import netns_path, run_in_netns

CHARON = "/usr/lib/ipsec/charon"       # Debian's path; its plugins are in plugins/ beside it
CONNECTION, CHILD = "swp", "net"        # the swanctl connection and its child
PEER_ADDR, TEST_ADDR = "192.0.2.1", "192.0.2.2"
PEER_INNER, TEST_INNER = "198.51.100.1", "198.51.100.2"
PEER_IFACE, TEST_IFACE = "swp-p", "swp-t"
MAX_DIRECTORY = 90                      # sun_path's 108 bytes hold it, "/charon.vici" and a NUL
_PLUGINS = ("random nonce openssl pem pkcs1 x509 pubkey gmp hmac sha1 sha2 md5 aes kdf xcbc "
            "attr xauth-generic kernel-libipsec kernel-netlink socket-default vici")
_COMMAND_TIMEOUT = 10                   # seconds, for ip, sysctl and swanctl calls
_GRACE = 5                              # seconds between SIGTERM and SIGKILL


class PeerError(RuntimeError):
    """charon or its surroundings failed; where charon ran, the message ends
    with the tail of its log."""


@dataclass
class PeerConfig:
    """Everything a test sets about one charon; strongSwan syntax where it
    has one (proposals, IDs, traffic selectors)."""

    role: str = "responder"              # or "initiator"
    mode: str = "main"                   # or "aggressive"; a responder accepts only this mode
    psk: str = "scapy-ike-test-psk"
    ike_proposals: str = "aes256-sha256-modp2048"
    esp_proposals: str = "aes256-sha256"  # add a DH group for PFS: "aes256-sha256-modp2048"
    local_id: Optional[str] = None       # default: the local IKE address
    remote_id: Optional[str] = None      # default: %any
    local_ts: str = PEER_INNER + "/32"
    remote_ts: str = TEST_INNER + "/32"
    dpd_delay: int = 0                   # seconds between R-U-THERE; 0 = no DPD
    dpd_timeout: int = 30
    ike_rekey: int = 14400               # seconds; IKEv1 IKE rekeying is a new Phase 1
    child_rekey: int = 3600              # seconds; a new Quick Mode
    encap: bool = False                  # force UDP encapsulation (kernel-libipsec does anyway)
    xauth: bool = False                  # responder: ask for XAuth; initiator: answer it
    xauth_user: str = "scapy-ike"
    xauth_password: str = "scapy-ike-xauth"
    modecfg: bool = False                # responder: lease from pool; initiator: ask for an address
    modecfg_push: bool = False           # the responder sends CFG_SET instead of answering CFG_REQUEST
    pool: str = "198.51.100.64/26"
    dns: Optional[str] = None            # the DNS server Mode Config hands out
    netns: Optional[str] = None          # join this existing namespace instead of making two
    local_addr: Optional[str] = None     # with netns: charon's IKE address
    remote_addr: Optional[str] = None    # with netns: the other side's (a responder: default %any)
    dos_protection: bool = True
    capture: bool = False                # tcpdump IKE and ESP into <directory>/capture.pcap
    log_level: int = 4                   # ike/chd level; 4 logs the secrets keys() reads
    extra_plugins: str = ""              # more charon plugins, e.g. "unity"
    extra_charon: str = ""               # raw lines for strongswan.conf's charon { }
    extra_conn: str = ""                 # raw lines for the swanctl connection { }
    lifetime: int = 600                  # watchdog: SIGTERM to charon after this many seconds
    charon: str = CHARON

    def __post_init__(self):
        if self.role not in ("responder", "initiator"):
            raise ValueError("role must be 'responder' or 'initiator', not %r" % (self.role,))
        if self.mode not in ("main", "aggressive"):
            raise ValueError("mode must be 'main' or 'aggressive', not %r" % (self.mode,))
        if self.netns is None and (self.local_addr or self.remote_addr):
            raise ValueError("local_addr and remote_addr go with netns; the pair has fixed addresses")
        if self.netns is not None and not self.local_addr:
            raise ValueError("netns needs local_addr, charon's address in that namespace")
        if self.netns is not None and self.role == "initiator" and not self.remote_addr:
            raise ValueError("an initiator in netns needs remote_addr")
        if self.lifetime <= 0:
            raise ValueError("lifetime must be positive")


def available(charon: str = CHARON) -> Optional[str]:
    """None when a peer can be started here, else the reason it cannot
    (for ``pytest.skip``)."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, UDP port 500)"
    if not os.access(charon, os.X_OK):
        return "%s missing (Debian: strongswan-charon)" % charon
    if not _plugin_path(charon, "kernel-libipsec").exists():
        return "charon's kernel-libipsec plugin missing (Debian: libcharon-extra-plugins)"
    for tool, package in (("swanctl", "strongswan-swanctl"), ("ip", "iproute2"),
                          ("unshare", "util-linux"), ("timeout", "coreutils")):
        if shutil.which(tool) is None:
            return "%s missing (Debian: %s)" % (tool, package)
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun missing (kernel-libipsec needs TUN)"
    return None


def peer(config: Optional[PeerConfig] = None, directory=None, **settings) -> StrongSwanPeer:
    """A started :class:`StrongSwanPeer`; *settings* change fields of *config*."""
    config = dataclasses.replace(config or PeerConfig(), **settings)
    return StrongSwanPeer(config, directory).start()


class StrongSwanPeer:
    """One charon, its namespaces, its capture; see the module docstring.

    ``peer_addr``/``peer_inner`` are charon's IKE and inner addresses,
    ``test_addr``/``test_inner`` those of the other side (None where charon
    learns them only from the peer: a responder's remote address, a Mode
    Config lease).  ``test_ns`` is None when charon joined a namespace.
    """

    def __init__(self, config: Optional[PeerConfig] = None, directory=None):
        self.config = config or PeerConfig()
        self.directory = _checked_directory(directory)
        self.pid: Optional[int] = None
        self.capture_file: Optional[Path] = None
        self._created_ns: list[str] = []
        self._charon: Optional[_Process] = None
        self._watchdog: Optional[subprocess.Popen] = None
        self._tcpdump: Optional[subprocess.Popen] = None
        self._place()

    def _place(self):
        c = self.config
        dynamic_local = c.modecfg and c.role == "initiator"
        dynamic_remote = c.modecfg and c.role == "responder"
        if c.netns is None:
            base = "swp" + secrets.token_hex(4)
            self.peer_ns, self.test_ns = base + "-p", base + "-t"
            self.peer_addr, self.test_addr = PEER_ADDR, TEST_ADDR
            self.peer_inner, self.test_inner = PEER_INNER, TEST_INNER
        else:
            self.peer_ns, self.test_ns = c.netns, None
            self.peer_addr, self.test_addr = c.local_addr, c.remote_addr
            self.peer_inner, self.test_inner = _host(c.local_ts), _host(c.remote_ts)
        if dynamic_local:
            self.peer_inner = None
        if dynamic_remote:
            self.test_inner = None

    # ------------------------------------------------------------ life cycle

    def start(self) -> StrongSwanPeer:
        """Make the namespaces, start charon (and tcpdump), wait until vici
        answers, load the configuration.  On failure everything started is
        stopped again and :class:`PeerError` raised."""
        if self._watchdog is not None:
            raise PeerError("this peer was already started")
        try:
            self._make_namespaces()
            self._write_configuration()
            if self.config.capture:
                self._start_capture()
            self._start_charon()
            self._wait_for_vici()
            self._check_ports()
            self.swanctl("--load-all", "--noprompt", "--file", str(self.directory / "swanctl.conf"))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop charon (SIGTERM to its PID, SIGKILL after 5 s) and tcpdump,
        delete the namespaces this peer made.  Safe to call again."""
        problems = []
        if self._charon is not None:
            if not self._charon.terminate(_GRACE):
                problems.append("charon (PID %d) survived SIGKILL" % self.pid)
            self._charon = None
        elif self._watchdog is not None:
            self._watchdog.send_signal(signal.SIGTERM)  # charon's PID unknown: timeout passes it on
        if self._watchdog is not None:
            _reap(self._watchdog, _GRACE + 2)
            self._watchdog = None
            (self.directory / "charon.vici").unlink(missing_ok=True)   # charon leaves it behind
        if self._tcpdump is not None:
            time.sleep(0.2)             # charon's last DELETEs are on the wire: let tcpdump write them
            self._tcpdump.send_signal(signal.SIGTERM)   # its timeout wrapper passes it on
            _reap(self._tcpdump, _GRACE + 2)
            self._tcpdump = None
        while self._created_ns:
            ns = self._created_ns.pop()
            if _run(["ip", "netns", "del", ns], check=False).returncode != 0:
                problems.append("could not delete network namespace %s" % ns)
        if problems:
            raise PeerError("; ".join(problems))

    def __enter__(self) -> StrongSwanPeer:
        return self if self._watchdog is not None else self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -------------------------------------------------------------- controls

    def swanctl(self, *args: str, timeout: float = _COMMAND_TIMEOUT) -> str:
        """Run ``swanctl ARGS`` against this charon; its output, or PeerError."""
        argv = ["swanctl", *args, "--uri", self.vici_uri]
        done = _run(argv, check=False, timeout=timeout, env=self._environment())
        if done.returncode != 0:
            raise PeerError(self._failure("swanctl %s failed (exit %d):\n%s%s" % (
                " ".join(args), done.returncode, done.stdout, done.stderr)))
        return done.stdout

    def initiate(self, timeout: float = 10) -> None:
        """(initiator) Phase 1 and Quick Mode now; returns once the CHILD_SA
        is up.  In Aggressive Mode a charon responder sometimes handles QM1
        before AM3 and waits for the retransmission, 2 s later."""
        if self.config.role != "initiator":
            raise PeerError("initiate() needs role='initiator'")
        self.swanctl("--initiate", "--child", CHILD, "--timeout", str(int(timeout)),
                     timeout=timeout + 5)

    def list_sas(self) -> list[dict]:
        """The IKE SAs, as ``swanctl --list-sas --raw`` gives them: one dict
        per IKE SA (vici's keys, string values, lists for lists, nested
        dicts for sections such as ``child-sas``), plus ``name``, the
        connection's."""
        return parse_list_sas(self.swanctl("--list-sas", "--raw"))

    def ping(self, count: int = 3, timeout: float = 10) -> subprocess.CompletedProcess:
        """Ping through the tunnel from charon's namespace, from charon's inner
        address to the other side's (a Mode Config lease where there is one).
        Exit status 0 means all *count* echoes were answered within *timeout*."""
        source = self.peer_inner or self._virtual_ip("local-vips")
        target = self.test_inner or self._virtual_ip("remote-vips")
        argv = ["ping", "-n", "-q", "-c", str(count), "-i", "0.2", "-w", str(int(timeout)),
                "-I", source, target]
        return run_in_netns(self.peer_ns, argv, capture_output=True, text=True, timeout=timeout + 5)

    def keys(self) -> str:
        """The secrets charon logged so far, as key log lines (see
        :func:`charon_keys`); complete only with ``log_level`` 4."""
        return charon_keys(self.log_file.read_text(errors="replace"))

    def counterpart(self, **changes) -> PeerConfig:
        """The configuration of a charon for the other end, in this peer's
        test namespace: opposite role, same mode, PSK, proposals and XAuth/Mode
        Config settings, addresses, traffic selectors and IDs mirrored.
        *changes* set further fields."""
        if self.test_ns is None:
            raise PeerError("counterpart() needs a peer with its own test namespace")
        c = self.config
        mirrored = dataclasses.replace(
            c, role="initiator" if c.role == "responder" else "responder",
            netns=self.test_ns, local_addr=self.test_addr, remote_addr=self.peer_addr,
            local_ts=c.remote_ts, remote_ts=c.local_ts, local_id=c.remote_id, remote_id=c.local_id,
            capture=False)
        return dataclasses.replace(mirrored, **changes)

    # ------------------------------------------------------------ properties

    @property
    def log_file(self) -> Path:
        return self.directory / "charon.log"

    @property
    def vici_uri(self) -> str:
        return "unix://%s" % (self.directory / "charon.vici")

    # ------------------------------------------------------- start, in steps

    def _make_namespaces(self):
        if self.test_ns is None:
            if not os.path.exists(netns_path(self.peer_ns)):
                raise PeerError("network namespace %s does not exist" % self.peer_ns)
            return
        for ns in (self.peer_ns, self.test_ns):
            _run(["ip", "netns", "add", ns])
            self._created_ns.append(ns)
        _run(["ip", "link", "add", "name", PEER_IFACE, "netns", self.peer_ns, "type", "veth",
              "peer", "name", TEST_IFACE, "netns", self.test_ns])
        for ns, iface, addr, inner in ((self.peer_ns, PEER_IFACE, PEER_ADDR, PEER_INNER),
                                       (self.test_ns, TEST_IFACE, TEST_ADDR, TEST_INNER)):
            _run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                  "net.ipv6.conf.default.disable_ipv6=1"])
            _run(["ip", "-n", ns, "-batch", "-"], input="\n".join((
                "link set lo up", "addr add %s/24 dev %s" % (addr, iface),
                "addr add %s/32 dev lo" % inner, "link set %s up" % iface)) + "\n")

    def _write_configuration(self):
        c = self.config
        remote = c.remote_addr or (TEST_ADDR if c.role == "initiator" else "%any")
        (self.directory / "strongswan.conf").write_text(strongswan_conf(c, self.directory))
        (self.directory / "swanctl.conf").write_text(swanctl_conf(c, self.peer_addr, remote))

    def _start_capture(self):
        if shutil.which("tcpdump") is None:
            raise PeerError("capture=True needs tcpdump")
        self.capture_file = self.directory / "capture.pcap"
        output = self.directory / "tcpdump.out"
        iface = PEER_IFACE if self.test_ns else "any"
        # --immediate-mode: otherwise packets wait in the ring buffer and a quick stop loses them
        argv = ["ip", "netns", "exec", self.peer_ns, "timeout", "-s", "TERM", "-k", str(_GRACE),
                str(self.config.lifetime), "tcpdump", "-i", iface, "--immediate-mode", "-U", "-n",
                "-s", "0", "-w", str(self.capture_file), "udp port 500 or udp port 4500 or esp"]
        with open(output, "wb") as out:
            self._tcpdump = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        if not wait_until(lambda: b"listening on" in output.read_bytes() or
                           self._tcpdump.poll() is not None, 5):
            raise PeerError("tcpdump did not start listening within 5 s")
        if self._tcpdump.poll() is not None:
            raise PeerError("tcpdump failed: %s" % output.read_text(errors="replace").strip())

    def _start_charon(self):
        run = self.directory / "run"
        run.mkdir(exist_ok=True)
        pid_file = run / "charon.pid"
        if pid_file.exists():
            pid_file.unlink()           # left by an earlier charon in this directory
        # mount namespace of its own, DIR/run over /run; then timeout (the
        # watchdog, this Popen's PID) runs charon as its child
        argv = ["ip", "netns", "exec", self.peer_ns, "unshare", "--mount", "--propagation",
                "private", "sh", "-c", 'mount --bind "$0" /run && exec "$@"', str(run),
                "timeout", "-s", "TERM", "-k", str(_GRACE), str(self.config.lifetime),
                self.config.charon]
        with open(self.directory / "charon.stdout", "wb") as out:
            self._watchdog = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                              stderr=subprocess.STDOUT, env=self._environment())
        wait_until(lambda: self._charon_pid(pid_file) or self._watchdog.poll() is not None, 5)
        pid = self._charon_pid(pid_file)
        if pid is None:
            raise PeerError(self._failure("charon did not start"))
        self.pid = pid
        self._charon = _Process(pid)

    def _charon_pid(self, pid_file):
        """charon's PID from its PID file, once the file names a child of the watchdog."""
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            return None
        stat = _proc_stat(pid)
        return pid if stat is not None and stat[1] == self._watchdog.pid else None

    def _wait_for_vici(self):
        def answers():
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                try:
                    s.connect(str(self.directory / "charon.vici"))
                except OSError:
                    return False
                return True
        if not wait_until(lambda: answers() or not self._charon.alive(), 10) or not answers():
            raise PeerError(self._failure("charon's vici socket did not answer within 10 s"))

    def _check_ports(self):
        try:
            ports = _udp_ports(self.pid)
        except OSError:             # charon is gone
            ports = set()
        for port in (500, 4500):
            if port not in ports:
                raise PeerError(self._failure("charon could not bind UDP port %d (in use?)" % port))

    # --------------------------------------------------------------- helpers

    def _environment(self):
        return dict(os.environ, STRONGSWAN_CONF=str(self.directory / "strongswan.conf"))

    def _virtual_ip(self, key):
        for sa in self.list_sas():
            if sa.get(key):
                return sa[key][0]
        raise PeerError("no inner address: no IKE SA with %s yet" % key)

    def _failure(self, message):
        for name in ("charon.log", "charon.stdout"):
            path = self.directory / name
            if path.exists() and path.stat().st_size:
                tail = path.read_text(errors="replace").splitlines()[-20:]
                return "%s\n--- %s (last lines) ---\n%s" % (message, path, "\n".join(tail))
        return message


# ------------------------------------------------------------ configuration

def strongswan_conf(config: PeerConfig, directory: Path) -> str:
    """charon's and swanctl's strongswan.conf (strongswan.conf(5))."""
    level = config.log_level
    low, mid = min(level, 1), min(level, 2)
    vici = "unix://%s" % (directory / "charon.vici")
    return f"""\
charon {{
    # kernel-libipsec before kernel-netlink: the first kernel-ipsec backend wins
    load = {_PLUGINS} {config.extra_plugins}
    port = 500
    port_nat_t = 4500
    i_dont_care_about_security_and_use_aggressive_mode_psk = yes
    max_ikev1_exchanges = 8
    retransmit_tries = 3
    retransmit_timeout = 2.0
    dos_protection = {_yes(config.dos_protection)}
    filelog {{
        main {{
            path = {directory / "charon.log"}
            time_format = %T
            time_add_ms = yes
            default = {low}
            ike = {level}
            chd = {level}
            mgr = {mid}
            cfg = {mid}
            net = {mid}
            knl = {mid}
            esp = {mid}
            ike_name = yes
            flush_line = yes
            append = no
        }}
    }}
    plugins {{
        vici {{
            socket = {vici}
        }}
    }}
{config.extra_charon}
}}
swanctl {{
    load = random nonce openssl pem pkcs1 x509 pubkey
    socket = {vici}
}}
"""


def swanctl_conf(config: PeerConfig, local_addr: str, remote_addr: str) -> str:
    """The connection ``swp`` with its child ``net``, the pool and the
    secrets (swanctl.conf(5))."""
    c = config
    responder = c.role == "responder"
    local_ts = "dynamic" if c.modecfg and not responder else c.local_ts
    remote_ts = "dynamic" if c.modecfg and responder else c.remote_ts
    lines = []
    if c.modecfg:
        lines.append("pools = swp-pool" if responder else "vips = 0.0.0.0")
        lines.append("pull = %s" % _yes(not c.modecfg_push))
    rounds = [("local-1", ["auth = psk", "id = %s" % (c.local_id or local_addr)]),
              ("remote-1", ["auth = psk", "id = %s" % (c.remote_id or "%any")])]
    if c.xauth:
        rounds.append(("remote-2", ["auth = xauth"]) if responder else
                      ("local-2", ["auth = xauth", "xauth_id = %s" % c.xauth_user]))
    pool = ""
    if c.modecfg and responder:
        dns = "\n        dns = %s" % c.dns if c.dns else ""
        pool = "pools {\n    swp-pool {\n        addrs = %s%s\n    }\n}\n" % (c.pool, dns)
    return f"""\
connections {{
    {CONNECTION} {{
        version = 1
        aggressive = {_yes(c.mode == "aggressive")}
        local_addrs = {local_addr}
        remote_addrs = {remote_addr}
        proposals = {c.ike_proposals}
        encap = {_yes(c.encap)}
        dpd_delay = {c.dpd_delay}s
        dpd_timeout = {c.dpd_timeout}s
        rekey_time = {c.ike_rekey}s
        over_time = {c.ike_rekey // 10 + 2}s
        rand_time = 0s
        reauth_time = 0
{_indent(lines, 8)}{_sections(rounds)}
        children {{
            {CHILD} {{
                mode = tunnel
                local_ts = {local_ts}
                remote_ts = {remote_ts}
                esp_proposals = {c.esp_proposals}
                rekey_time = {c.child_rekey}s
                # above rekey_time, or a short rekey_time would just expire the SA
                life_time = {c.child_rekey + c.child_rekey // 10 + 2}s
                rand_time = 0s
                dpd_action = clear
                start_action = none
            }}
        }}
{c.extra_conn}
    }}
}}
{pool}secrets {{
    ike-{CONNECTION} {{
        secret = {_quoted(c.psk)}
    }}
    xauth-{CONNECTION} {{
        id = {c.xauth_user}
        secret = {_quoted(c.xauth_password)}
    }}
}}
"""


def _sections(rounds):
    return "".join("        %s {\n%s        }\n" % (name, _indent(body, 12)) for name, body in rounds)


def _indent(lines, spaces):
    return "".join(" " * spaces + line + "\n" for line in lines)


def _yes(flag):
    return "yes" if flag else "no"


def _quoted(text):
    if "\n" in text:
        raise ValueError("a secret cannot hold a newline")
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def _host(ts):
    """The address of a one-address traffic selector ("198.51.100.1/32")."""
    return ts.split("/", 1)[0]


def _checked_directory(directory):
    path = Path(tempfile.mkdtemp(prefix="swp-", dir="/tmp") if directory is None else directory)
    path = path.absolute()
    if len(str(path)) > MAX_DIRECTORY:
        raise ValueError("directory path longer than %d characters (charon.vici is a Unix socket): %s"
                         % (MAX_DIRECTORY, path))
    if path.resolve().parts[1:2] == ("run",):
        raise ValueError("directory must not be under /run (charon gets a private /run): %s" % path)
    path.mkdir(parents=True, exist_ok=True)
    return path


# -------------------------------------------------------------- processes

def _run(argv, check=True, timeout=_COMMAND_TIMEOUT, **kwargs):
    """A bounded subprocess.run with text output; PeerError when *check*ed and failing."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired:
        raise PeerError("%s did not finish within %s s" % (" ".join(argv), timeout)) from None
    if check and done.returncode != 0:
        raise PeerError("%s failed (exit %d): %s" % (" ".join(argv), done.returncode,
                                                    done.stderr.strip()))
    return done


def wait_until(condition, timeout, interval=0.02):
    """Poll *condition* until it is true or *timeout* seconds passed; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def _proc_stat(pid):
    """(state, parent PID, start time) of *pid* from /proc/PID/stat (proc(5)), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1]), int(fields[19])


class _Process:
    """A process known by PID and start time, so that a reused PID is left alone."""

    def __init__(self, pid):
        self.pid = pid
        stat = _proc_stat(pid)
        self.start_time = stat[2] if stat else None

    def alive(self):
        stat = _proc_stat(self.pid)
        return stat is not None and stat[2] == self.start_time and stat[0] not in ("Z", "X")

    def terminate(self, grace):
        """SIGTERM, then SIGKILL if it is still there after *grace* seconds;
        whether it is gone."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2)):
            if not self.alive():
                return True
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                return True
            wait_until(lambda: not self.alive(), wait)
        return not self.alive()


def _reap(popen, timeout):
    """Wait for a child we started; kill it if it outlives *timeout*."""
    try:
        popen.wait(timeout)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait(2)


def _udp_ports(pid):
    """The local UDP ports of the sockets process *pid* holds (in its namespace)."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    ports = set()
    for table in ("udp", "udp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, table)) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _plugin_path(charon, name):
    return Path(charon).parent / "plugins" / ("libstrongswan-%s.so" % name)


# ------------------------------------------------------- swanctl --raw output

_RAW_TOKEN = re.compile(r"""\s*(?:
      (?P<open>[^\s={}]+)\ \{                                 # section {
    | (?P<close>\})                                           # }
    | (?P<key>[^\s={}]+)=(?:\[(?P<list>[^\]]*)\]|(?P<value>[^\s}]*))  # key=[a b] or key=value
    )""", re.X)
_EVENT = "list-sa event {"


def parse_list_sas(text: str) -> list[dict]:
    """``swanctl --list-sas --raw``: one dict per IKE SA (its ``list-sa``
    event), with the connection's name as ``name``.  Values are strings;
    a value holding spaces (an ASN.1 DN identity) is split into wrong keys."""
    sas = []
    for line in text.splitlines():
        if line.startswith(_EVENT):
            for name, fields in _raw_message(line[len(_EVENT):]).items():
                sas.append(dict(fields, name=name))
    return sas


def _raw_message(body):
    """The sections and values of one message, *body* starting after its ``{``."""
    root = {}
    stack, position = [root], 0
    while stack:
        token = _RAW_TOKEN.match(body, position)
        if token is None:
            raise PeerError("cannot read swanctl --raw output at %r" % body[position:position + 40])
        position = token.end()
        if token["open"]:
            stack[-1][token["open"]] = section = {}
            stack.append(section)
        elif token["close"]:
            stack.pop()
        elif token["list"] is not None:
            stack[-1][token["key"]] = token["list"].split()
        else:
            stack[-1][token["key"]] = token["value"]
    return root
