"""Sockets and processes in a named network namespace (``ip netns``).

A socket belongs to the network namespace its creating thread was in when
it was made, for its whole life (socket(7), network_namespaces(7)); setns(2)
with ``CLONE_NEWNET`` moves only the calling thread.  So a test can keep one
process, switch one thread into a namespace just long enough to create its
sockets, and switch back.  Python has ``os.setns`` only from 3.12, hence
ctypes.  Named namespaces are the files ``ip netns add`` bind-mounts under
``/run/netns`` (ip-netns(8)).  Everything here needs ``CAP_SYS_ADMIN``.
"""

import ctypes
import os
import socket
import subprocess
from contextlib import contextmanager

CLONE_NEWNET = 0x40000000        # <linux/sched.h>
NETNS_RUN_DIR = "/run/netns"     # where ip-netns(8) keeps named namespaces

_libc = ctypes.CDLL(None, use_errno=True)


def netns_path(ns):
    """The file of the named namespace *ns* (a name, not a path)."""
    if not ns or "/" in ns or ns in (".", ".."):
        raise ValueError("not a network namespace name: %r" % (ns,))
    return os.path.join(NETNS_RUN_DIR, ns)


def _setns(fd, what):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, "setns(%s): %s" % (what, os.strerror(errno)))


@contextmanager
def in_netns(ns):
    """Run the block with the calling thread in network namespace *ns*.

    Sockets created in the block belong to *ns* and stay there after it;
    other threads are not affected.  The thread's original namespace is
    restored on the way out, also when the block raises.
    """
    with open(netns_path(ns)) as target, open("/proc/thread-self/ns/net") as original:
        _setns(target.fileno(), ns)
        try:
            yield
        finally:
            _setns(original.fileno(), "the original namespace")


def socket_in_netns(ns, family=socket.AF_INET, type=socket.SOCK_DGRAM, proto=0):
    """A new socket in network namespace *ns* (the calling thread only
    visits it)."""
    with in_netns(ns):
        return socket.socket(family, type, proto)


def run_in_netns(ns, argv, **kwargs):
    """``subprocess.run(argv, **kwargs)`` in network namespace *ns*, through
    ``ip netns exec`` (which also gives the command its own ``/sys``)."""
    netns_path(ns)      # rejects what is not a namespace name
    return subprocess.run(["ip", "netns", "exec", ns, *argv], **kwargs)


@contextmanager
def netns_pair(addresses=("192.0.2.1/24", "192.0.2.2/24")):
    """Two fresh network namespaces joined by a veth pair, with
    *addresses* and loopback up, IPv6 off; both deleted on the way out.
    Yields their names."""
    base = "ike%s" % os.urandom(4).hex()
    names = (base + "-a", base + "-b")
    made = []

    def ip(*args, ns=None):
        argv = ["ip"] + (["netns", "exec", ns, "ip"] if ns else []) + list(args)
        subprocess.run(argv, check=True, capture_output=True, timeout=10)
    try:
        for name in names:
            ip("netns", "add", name)
            made.append(name)
        ip("link", "add", "veth-a", "netns", names[0], "type", "veth", "peer", "name",
           "veth-b", "netns", names[1])
        for name, link, address in zip(names, ("veth-a", "veth-b"), addresses):
            subprocess.run(["ip", "netns", "exec", name, "sysctl", "-qw",
                            "net.ipv6.conf.all.disable_ipv6=1"], check=True, timeout=10)
            ip("addr", "add", address, "dev", link, ns=name)
            ip("link", "set", link, "up", ns=name)
            ip("link", "set", "lo", "up", ns=name)
        yield names
    finally:
        for name in made:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)
