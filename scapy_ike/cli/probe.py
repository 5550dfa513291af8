"""``scapy-ike probe``: discover, enumerate and fingerprint IKE gateways.

    scapy-ike probe TARGET... [--port N] [--json] [--enumerate] [--fingerprint]
        [--aggressive [--id ID] [--id-type T] [--id-list FILE] [--pskcrack FILE]]
        [--shard I/N] [--rate PPS] [--retries N] [--timeout S]

Targets are addresses, CIDR prefixes, names, files of them (one a line),
or ``-`` for standard input.  Many targets are probed at once over one
socket, their probes paced to ``--rate`` datagrams a second in all; each
target's steps are :func:`scapy_ike.probe.session.probe`.  Exit status 0
when some target answered, 1 when none did, 2 for bad usage.
"""

import argparse
import heapq
import ipaddress
import itertools
import json
import os
import select
import socket
import sys
import time
from collections import deque

from scapy_ike.cli.common import ArgumentParser, CommandError, port
from scapy_ike.constants import IdType
from scapy_ike.core.config import Identity
from scapy_ike.probe import candidates as C, crack, session
from scapy_ike.probe.report import report

MAX_PREFIX_HOSTS = 1 << 16
"""The most addresses one CIDR target may stand for."""

IN_FLIGHT = 256
"""Targets probed at once."""

_ID_TYPES = {"ipv4": IdType.IPV4_ADDR, "fqdn": IdType.FQDN, "user_fqdn": IdType.USER_FQDN,
             "keyid": IdType.KEY_ID, "ipv6": IdType.IPV6_ADDR}


def _shard(text):
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        i = n = 0
    if not 1 <= i <= n:
        raise argparse.ArgumentTypeError("%r is not I/N with 1 <= I <= N" % text)
    return i, n


def _rate(text):
    try:
        value = float(text)
    except ValueError:
        value = 0
    if not value > 0:
        raise argparse.ArgumentTypeError("%r is not a positive rate" % text)
    return value


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = -1
    if not value > 0:
        raise argparse.ArgumentTypeError("%r is not a positive number of seconds" % text)
    return value


def _count(text):
    if not text.isdigit():
        raise argparse.ArgumentTypeError("%r is not a whole number" % text)
    return int(text)


def _parser():
    parser = ArgumentParser(prog="scapy-ike probe", description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="+", metavar="TARGET")
    parser.add_argument("--port", type=port, default=500, help="the gateways' IKE port")
    parser.add_argument("--json", action="store_true", help="one JSON object per target")
    parser.add_argument("--enumerate", action="store_true",
                        help="every Phase 1 transform accepted, in each mode probed")
    parser.add_argument("--fingerprint", action="store_true",
                        help="time the repeats of an unanswered reply (backoff)")
    parser.add_argument("--backoff-wait", type=_seconds, default=60.0, metavar="S",
                        help="how long to time them (default %(default)s s)")
    parser.add_argument("--aggressive", action="store_true", help="probe Aggressive Mode too")
    parser.add_argument("--id", default="scapy-ike.probe",
                        help="Aggressive Mode's ID (default %(default)s)")
    parser.add_argument("--id-type", choices=sorted(_ID_TYPES),
                        help="the ID's type (default: from its form)")
    parser.add_argument("--id-list", metavar="FILE",
                        help="IDs (group names) to try, one a line: valid ones answer otherwise")
    parser.add_argument("--pskcrack", metavar="FILE",
                        help="write each Aggressive Mode HASH_R as a psk-crack line")
    parser.add_argument("--shard", type=_shard, metavar="I/N",
                        help="probe only targets I, I+N, I+2N ... of the list")
    parser.add_argument("--rate", type=_rate, default=20.0, metavar="PPS",
                        help="datagrams a second, all targets together (default %(default)s)")
    parser.add_argument("--retries", type=_count, default=2, metavar="N",
                        help="sends more of an unanswered probe (default %(default)s)")
    parser.add_argument("--timeout", type=_seconds, default=2.0, metavar="S",
                        help="the first wait for an answer; doubled on each retry "
                             "(default %(default)s)")
    parser.add_argument("--no-ikev2", dest="ikev2", action="store_false",
                        help="do not ask whether IKEv2 answers")
    return parser


def _identity(text, id_type, parser):
    if id_type is None:
        return Identity.parse(text)
    kind = _ID_TYPES[id_type]
    if kind in (IdType.IPV4_ADDR, IdType.IPV6_ADDR):
        try:
            return Identity(kind, ipaddress.ip_address(text).packed)
        except ValueError:
            parser.error("--id %r is not an address for --id-type %s" % (text, id_type))
    return Identity(kind, text.encode())


def _lines(path):
    if path == "-":
        return [line.strip() for line in sys.stdin]
    try:
        with open(path) as f:
            return [line.strip() for line in f]
    except OSError as exc:
        raise CommandError("%s: %s" % (path, exc.strerror)) from None


def expand(specs):
    """Each target as ``(text, address)``: CIDR prefixes become their
    hosts, files and ``-`` their lines; a name is resolved (IPv4)."""
    for spec in specs:
        if spec == "-" or os.path.isfile(spec):
            yield from expand([s for s in _lines(spec) if s and not s.startswith("#")])
            continue
        try:
            network = ipaddress.ip_network(spec, strict=False)
        except ValueError:
            network = None
        if network is not None:
            if network.num_addresses > MAX_PREFIX_HOSTS:
                raise CommandError("%s has %d addresses: at most %d a prefix"
                                   % (spec, network.num_addresses, MAX_PREFIX_HOSTS))
            hosts = [network.network_address] if network.num_addresses == 1 else network.hosts()
            for address in hosts:
                yield str(address), str(address)
            continue
        try:
            address = socket.getaddrinfo(spec, None, socket.AF_INET, socket.SOCK_DGRAM)[0][4][0]
        except (socket.gaierror, UnicodeError):
            print("scapy-ike probe: cannot resolve %r" % spec, file=sys.stderr)
            continue
        yield spec, address


def sharded(targets, shard):
    """Every N-th target from the I-th (1-based), as zmap's shards."""
    if shard is None:
        return targets
    i, n = shard
    return itertools.islice(targets, i - 1, None, n)


class _Task:
    """One target's generator and what it waits for."""

    def __init__(self, text, address, generator):
        self.text, self.address, self.generator = text, address, generator
        self.send = None
        self.sent_at = self.deadline = None
        self.answers = []


class Driver:
    """Runs many :func:`session.probe` generators over one UDP socket
    per address family: sends paced to *rate* datagrams a second, replies
    matched to their task by source address and initiator cookie."""

    def __init__(self, port, rate, clock=time.monotonic):
        self.port, self.interval, self.clock = port, 1.0 / rate, clock
        self.sockets = {}
        self.waiting = {}           # (address, cookie) -> task
        self.timers = []            # (deadline, sequence, task)
        self.ready = deque()        # tasks with a datagram to send
        self.next_send = 0.0
        self.sequence = itertools.count()
        self.sent = []              # send times, for --rate checks

    def _socket(self, address):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        if family not in self.sockets:
            s = socket.socket(family, socket.SOCK_DGRAM)
            s.setblocking(False)
            self.sockets[family] = s
        return self.sockets[family]

    def close(self):
        for s in self.sockets.values():
            s.close()

    def start(self, task, value=None):
        """Resume *task* with *value*; True when its generator finished."""
        try:
            task.send = task.generator.send(value) if value is not None \
                else next(task.generator)
        except StopIteration as stop:
            task.findings = stop.value
            return True
        task.answers = []
        if task.send.probe is None:
            self._wait(task, self.clock() + task.send.wait)
        else:
            self.ready.append(task)
        return False

    def _wait(self, task, deadline):
        task.deadline = deadline
        heapq.heappush(self.timers, (deadline, next(self.sequence), task))

    def _transmit(self, now):
        while self.ready and now >= self.next_send:
            task = self.ready.popleft()
            try:
                self._socket(task.address).sendto(task.send.probe.data, (task.address, self.port))
            except OSError as exc:
                print("scapy-ike probe: %s: %s" % (task.text, exc.strerror), file=sys.stderr)
            self.sent.append(now)
            self.next_send = max(self.next_send, now) + self.interval
            task.sent_at = now
            self.waiting[(task.address, task.send.probe.cky_i)] = task
            self._wait(task, now + task.send.wait)

    def _receive(self, now, done):
        for s in self.sockets.values():
            while True:
                try:
                    data, addr = s.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:         # an ICMP error reported on the socket
                    break
                task = self.waiting.get((addr[0], data[:8]))
                if task is None or task.sent_at is None:
                    continue
                task.answers.append((now - task.sent_at, data))
                if not task.send.collect:
                    self._resume(task, done)

    def _resume(self, task, done):
        if task.send.probe is not None:
            self.waiting.pop((task.address, task.send.probe.cky_i), None)
        task.deadline, task.sent_at = None, None
        if self.start(task, task.answers):
            done.append(task)

    def run(self, tasks, in_flight=IN_FLIGHT):
        """Yield each task when its generator has finished."""
        pending = iter(tasks)
        active = 0
        while True:
            done = []
            while active < in_flight:
                task = next(pending, None)
                if task is None:
                    break
                active += 1
                if self.start(task):
                    done.append(task)
            if active == 0:
                return
            now = self.clock()
            self._transmit(now)
            while self.timers and self.timers[0][0] <= now:
                _, _, task = heapq.heappop(self.timers)
                if task.deadline is not None and task.deadline <= now:
                    self._resume(task, done)
            self._receive(now, done)
            for task in done:
                active -= 1
                yield task
            if done:
                continue
            wake = [self.timers[0][0]] if self.timers else []
            if self.ready:
                wake.append(self.next_send)
            delay = max(0.0, min(wake) - self.clock()) if wake else 0.05
            readable = list(self.sockets.values())
            if readable:
                select.select(readable, [], [], min(delay, 0.5))
            else:
                time.sleep(min(delay, 0.5))


def _summary(record):
    """A readable account of one target's record."""
    lines = ["%s (port %d): %s" % (record["target"], record["port"],
                                   ", ".join(record["versions"]) or "no answer")]
    for mode in ("main", "aggressive"):
        found = record[mode]
        if found is None:
            continue
        lines.append("  %s mode: %s, %d probe(s)" % (mode, found["answer"] or "no answer",
                                                     found["probes"]))
        for t in found["transforms"]:
            lines.append("    accepted %s auth %s" % (t["proposal"], t["auth"]))
        for t in found["uncertain"]:
            lines.append("    uncertain %s auth %s" % (t["proposal"], t["auth"]))
        for entry in found.get("ids", []):
            lines.append("    id %s: %s%s" % (entry["id"], entry["answer"],
                                              " (valid)" if entry["valid"] else ""))
    if record["answers"]["ikev2"]:
        lines.append("  IKEv2: %s" % record["answers"]["ikev2"])
    for vid in record["vendor_ids"]:
        lines.append("  VID %s (%s)" % (vid["hex"], vid["name"] or "unknown"))
    if record["backoff"] is not None:
        lines.append("  backoff %s: %s" % (record["backoff"]["intervals"],
                                           record["backoff"]["match"] or "no known pattern"))
    if record["guess"]["implementation"]:
        lines.append("  guess: %s" % record["guess"]["implementation"])
    for risk in record["risks"]:
        lines.append("  risk: %s" % risk)
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if (args.id_list or args.pskcrack or args.id_type) and not args.aggressive:
        parser.error("--id-type, --id-list and --pskcrack go with --aggressive")
    identity = _identity(args.id, args.id_type, parser)
    id_list = ()
    if args.id_list:
        id_list = tuple(_identity(line, args.id_type, parser)
                        for line in _lines(args.id_list) if line)
    options = session.Options(enumerate=args.enumerate, fingerprint=args.fingerprint,
                              aggressive=args.aggressive, identity=identity, id_list=id_list,
                              ikev2=args.ikev2, retries=args.retries, timeout=args.timeout,
                              backoff_wait=args.backoff_wait, auths=tuple(C.AUTH_NAMES))
    pskcrack = None
    if args.pskcrack:
        try:
            pskcrack = open(args.pskcrack, "w")
        except OSError as exc:
            parser.error("--pskcrack %s: %s" % (args.pskcrack, exc.strerror))
    driver = Driver(args.port, args.rate)
    tasks = (_Task(text, address, session.probe(options, os.urandom))
             for text, address in sharded(expand(args.targets), args.shard))
    answered = False
    try:
        for task in driver.run(tasks):
            record = report(task.text, args.port, task.findings, options)
            answered = answered or task.findings.answered
            if pskcrack is not None and task.findings.crack is not None:
                pskcrack.write(crack.format_line(task.findings.crack) + "\n")
                pskcrack.flush()
            print(json.dumps(record) if args.json else _summary(record), flush=True)
    finally:
        driver.close()
        if pskcrack is not None:
            pskcrack.close()
    return 0 if answered else 1
