"""Responder speed against strongSwan's load-tester: handshakes per
responder CPU-second, charon's and ours, and the ratio ours/charon.

The generator is strongSwan 5.9.8's ``load-tester`` plugin, built outside
this repository by ``../shared/peers/load-tester.sh build``.  Each run is
``load-tester.sh run``: N full Main Mode PSK + Quick Mode handshakes, 32
half-open at a time, from 192.0.2.2 to the responder at 192.0.2.1, as fast
as the responder answers (IKE ``aes256-sha256-<group>``, ESP
``aes128-sha1``, PSK ``default-psk``, initiator IDs
``c<i>-r<n>.strongswan.org``, selectors 198.51.100.2/32 === 198.51.100.1/32;
the generator installs no SAs).  When it has counted N CHILD_SAs it stops,
and on its way out it deletes every SA: the responder also handles those
N + N Informational DELETEs.

The same N handshakes go, in turn, to

1. charon 5.9.8 (Debian) as responder, started by
   ``../shared/peers/strongswan-peer.sh`` in our namespace
   (``SWP_NETNS=join:``): local ID srv.strongswan.org, any remote ID, the
   same proposals and selectors, ``dos_protection = no`` (charon's default
   drops more than 5 half-open SAs per address), log level 0, and
   kernel-libipsec, the only way to install CHILD_SAs here (the kernel has
   no ESP).  Installing the N CHILD_SAs in userspace costs charon about
   10 % of its CPU time (with kernel-libipsec left out, the installation
   fails, and 1500 handshakes took 3-19 % less in three pairs of runs),
   as our responder too makes an ESP SA of each;
2. ``python -m scapy_ike serve`` with the same settings, its log on
   standard output into a file; ``--half-open-per-source 64`` when
   ``serve`` has that option (the generator keeps 32 half-open from one
   address).

Both run in a network namespace of their own, joined by a veth pair to the
generator's; nothing leaves those namespaces, which are deleted at the
end.  The figure is handshakes completed (the load-tester's count) per
CPU-second of the responder process, all its threads: utime + stime from
``/proc/PID/stat``, read once the responder is ready (so start-up is not
counted) and again after the load-tester has finished and the responder
has gone quiet (its CPU time growing by less than 10 % of a core for half
a second, at most 30 s).  CPU time, not wall time: the generator shares
the machine.  Beside it: the responder's peak resident memory (VmHWM) and
the load-tester's wall time.

``--repeat K`` runs each responder at each N K times, and the figures take
the best rate of each (the run least disturbed by other work on the
machine: a run of 300 handshakes lasts about a second, and its rate moves
by a quarter from one run to the next).  ``--sizes`` runs ours at several
N, each with a fresh responder, and gives
our rate at each N relative to the smallest: a responder that slows down
as it holds more SAs shows here.  ``--profile FILE`` adds one more run of
ours at N under cProfile (in the automaton's thread: ``python -m
cProfile`` would see only the main thread, which sleeps meanwhile),
not counted in the figures, and prints the top 25 functions by cumulative
and by own time.

Targets, printed beside the figures (missing one is no error): ours/charon
>= 1.0 with modp2048 and >= 0.5 with ecp256 at N=1500; our rate at N=3000
>= 0.8 x our rate at N=300.

Run as root: ``python benchmarks/responder.py [--n 1500] [--group modp2048
| --proposal P] [--esp P] [--sizes 300,1500,3000] [--repeat K] [--only ours|charon]
[--profile FILE] [--json]``.  Exits 1 with one line if a prerequisite is
missing or a run completed fewer than N handshakes (its files are then
kept).
"""

import argparse
import json
import os
import pstats
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT.parent / "shared" / "peers"
LOAD_TESTER = PEERS / "load-tester.sh"
STRONGSWAN_PEER = PEERS / "strongswan-peer.sh"
LOAD_TESTER_CHARON = (Path(os.environ.get("LT_PREFIX", "/var/tmp/strongswan-load-tester"))
                      / "libexec" / "ipsec" / "charon")
CHARON = Path("/usr/lib/ipsec/charon")

RESPONDER, GENERATOR = "192.0.2.1", "192.0.2.2"
LOCAL_TS, REMOTE_TS = "198.51.100.1/32", "198.51.100.2/32"
LOCAL_ID, PSK = "srv.strongswan.org", "default-psk"
HALF_OPEN = 64                       # the generator keeps 32 half-open from one address
RATIO_TARGETS = {"modp2048": 1.0, "ecp256": 0.5}
SCALING_TARGET = 0.8
TICKS = os.sysconf("SC_CLK_TCK")
RESULT = re.compile(r"RESULT established=(\d+) of (\d+) wall_s=([\d.]+) per_s=([\d.]+)")

PROFILED_SERVE = """\
import cProfile, pstats, sys, threading
profiles = []
run = threading.Thread.run
def profiled(thread):
    profile = cProfile.Profile()
    profiles.append(profile)
    profile.runcall(run, thread)
threading.Thread.run = profiled
from scapy_ike.cli import main
path, sys.argv[1:] = sys.argv[1], sys.argv[2:]
code = main()
pstats.Stats(*profiles).dump_stats(path)
sys.exit(code)
"""
"""``scapy-ike serve`` with a profiler in each thread it starts (the
automaton's: the main thread only starts and stops it), merged into the
file named by the first argument when it exits."""


class Failure(Exception):
    """A missing prerequisite or a broken run: one line for the user."""


def check_prerequisites(only):
    if os.geteuid() != 0:
        raise Failure("must run as root (network namespaces, UDP port 500)")
    if not LOAD_TESTER.is_file():
        raise Failure("%s not found" % LOAD_TESTER)
    if not os.access(LOAD_TESTER_CHARON, os.X_OK):
        raise Failure("load-tester not built: run 'bash %s build' (about 2 minutes)" % LOAD_TESTER)
    if only != "ours" and not os.access(CHARON, os.X_OK):
        raise Failure("%s missing: apt-get install strongswan-charon strongswan-swanctl "
                      "libcharon-extra-plugins" % CHARON)


# -- processes ------------------------------------------------------------------

def run(cmd, timeout=30, **kwargs):
    """A short command, its output captured; a failure is a :class:`Failure`."""
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    if done.returncode != 0:
        raise Failure("%s failed: %s" % (" ".join(cmd[:4]), last_line(done.stderr)))
    return done


def last_line(text):
    lines = text.strip().splitlines()
    return lines[-1] if lines else "no message"


def stat_fields(path):
    """The fields of a /proc/PID/stat after the command's name (proc(5):
    [0] state, [1] parent, [11] utime, [12] stime, [19] start time), or
    None once the process is gone."""
    try:
        with open(path) as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid):
    """utime + stime of process *pid*, all its threads."""
    fields = stat_fields("/proc/%d/stat" % pid)
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mb(pid):
    """The peak resident set of process *pid* (VmHWM), in MB."""
    with open("/proc/%d/status" % pid) as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    return round(kb / 1024, 1)


def settle(pid, interval=0.5, busy=0.1, limit=30.0):
    """Wait until *pid* uses less than *busy* of a core over *interval*
    (at most *limit* seconds)."""
    deadline = time.monotonic() + limit
    before = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(interval)
        now = cpu_seconds(pid)
        if now - before < busy * interval:
            return
        before = now


def alive_since(pid):
    """The start time of process *pid*, or None once it is gone (or a zombie)."""
    fields = stat_fields("/proc/%d/stat" % pid)
    return None if fields is None or fields[0] in "ZX" else fields[19]


def descendants(pid):
    """(pid, start time) of every live process below *pid*."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = stat_fields(stat)
        if fields is not None and fields[0] not in "ZX":
            parents.setdefault(int(fields[1]), []).append((int(stat.parent.name), fields[19]))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child[0])
    return found


def stop(proc, first=signal.SIGINT, grace=60.0):
    """Stop *proc* by its PID: *first*, then SIGTERM, then SIGKILL, each
    wait bounded."""
    for sig, wait in ((first, grace), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def stop_tree(proc):
    """Stop *proc* and the processes it started, each by its PID (only if
    its start time is unchanged: no reused PID)."""
    below = descendants(proc.pid)
    stop(proc, signal.SIGTERM, 5.0)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        deadline = time.monotonic() + 5.0
        below = [(pid, st) for pid, st in below if alive_since(pid) == st]
        for pid, _ in below:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        while below and time.monotonic() < deadline:
            time.sleep(0.1)
            below = [(pid, st) for pid, st in below if alive_since(pid) == st]


# -- the network ------------------------------------------------------------------

@contextmanager
def network():
    """Two fresh namespaces, the responder's and the generator's, joined by
    a veth pair: 192.0.2.1/24 and 192.0.2.2/24 (198.51.100.1/32 on the
    responder's loopback, where charon's kernel-libipsec routes its
    CHILD_SAs); deleted at the end."""
    tag = "rb%d" % os.getpid()
    responder, generator = tag + "r", tag + "g"
    created = []
    try:
        for ns in (responder, generator):
            run(["ip", "netns", "add", ns])
            created.append(ns)
        # each end of the pair is named after its namespace
        run(["ip", "link", "add", "name", responder, "netns", responder, "type", "veth",
             "peer", "name", generator, "netns", generator])
        for ns, addr in ((responder, RESPONDER), (generator, GENERATOR)):
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            run(["ip", "-n", ns, "addr", "add", addr + "/24", "dev", ns])
            run(["ip", "-n", ns, "link", "set", ns, "up"])
        run(["ip", "-n", responder, "addr", "add", LOCAL_TS, "dev", "lo"])
        yield responder, generator
    finally:
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


# -- one run ------------------------------------------------------------------

def load(generator, n, args, work):
    """The load-tester's N handshakes: (established, wall seconds, per second)."""
    env = dict(os.environ, LT_PROPOSAL=args.proposal, LT_ESP=args.esp, LT_PSK=PSK,
               LT_TIMEOUT=str(args.timeout))
    proc = subprocess.Popen(["bash", str(LOAD_TESTER), "run", generator, GENERATOR, RESPONDER,
                             str(n), str(work)], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=args.timeout + 60)
    except subprocess.TimeoutExpired:
        raise Failure("the load-tester did not finish in %d s" % (args.timeout + 60)) from None
    finally:
        if proc.poll() is None:
            stop_tree(proc)
    match = RESULT.search(out)
    if match is None:
        raise Failure("no RESULT from the load-tester: %s" % last_line(err))
    return int(match[1]), float(match[3]), float(match[4])


def measure(name, pid, generator, n, args, work):
    """The load-tester against the responder *pid*, and that responder's
    CPU time for it."""
    before = cpu_seconds(pid)
    established, wall, per_s = load(generator, n, args, work / "load-tester")
    try:
        settle(pid)
        cpu, peak = cpu_seconds(pid) - before, peak_rss_mb(pid)
    except OSError:
        raise Failure("%s exited during the run" % name) from None
    return dict(responder=name, n=n, established=established, failed=n - established,
                cpu_s=round(cpu, 2), per_cpu_s=round(established / cpu, 1) if cpu else None,
                wall_s=wall, per_s=per_s, peak_rss_mb=peak)


def charon(responder, generator, n, args, work):
    """charon as responder, through strongswan-peer.sh."""
    env = dict(os.environ, SWP_NETNS="join:" + responder, SWP_LOCAL_ADDR=RESPONDER,
               SWP_LOCAL_TS=LOCAL_TS, SWP_REMOTE_TS=REMOTE_TS, SWP_LOCAL_ID=LOCAL_ID,
               SWP_REMOTE_ID="%any", SWP_PSK=PSK, SWP_IKE_PROPOSALS=args.proposal,
               SWP_ESP_PROPOSALS=args.esp, SWP_DOS_PROTECTION="no", SWP_LOGLEVEL="0",
               SWP_LIBIPSEC="1", SWP_LIFETIME=str(args.timeout + 300))
    peer = work / "charon"
    try:
        started = subprocess.run(["bash", str(STRONGSWAN_PEER), "start", str(peer)], env=env,
                                 stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                 timeout=60, start_new_session=True)
        if started.returncode != 0:
            raise Failure("charon did not start: %s" % last_line(started.stderr))
        info = dict(line.split("=", 1) for line in started.stdout.splitlines() if "=" in line)
        return measure("charon", int(info["SWP_PID"]), generator, n, args, work)
    finally:
        subprocess.run(["bash", str(STRONGSWAN_PEER), "stop", str(peer)], capture_output=True,
                       timeout=60)


def serve_options(args):
    options = ["serve", "--listen", RESPONDER, "--port", "500", "--natt-port", "4500",
               "--psk", PSK, "--local-id", LOCAL_ID, "--ike", args.proposal, "--esp", args.esp,
               "--local-ts", LOCAL_TS, "--remote-ts", REMOTE_TS]
    usage = run([sys.executable, "-m", "scapy_ike", "serve", "--help"], cwd=ROOT,
                env=dict(os.environ, PYTHONPATH=str(ROOT))).stdout
    if "--half-open-per-source" in usage:
        options += ["--half-open-per-source", str(HALF_OPEN)]
    return options


def wait_listening(proc, responder, out, err, limit=30.0):
    """Until ``serve`` says it listens, or has both UDP ports bound."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Failure("serve exited (%d): %s" % (proc.returncode, last_line(err.read_text())))
        if "listening on" in out.read_text(errors="replace")[:4096]:
            return
        sockets = run(["ip", "netns", "exec", responder, "ss", "-Hulpn"]).stdout
        if all(re.search(r"%s:%d .*pid=%d," % (RESPONDER, port, proc.pid), sockets)
               for port in (500, 4500)):
            return
        time.sleep(0.05)
    raise Failure("serve did not listen within %d s" % limit)


def ours(responder, generator, n, args, work, profile=None):
    """``scapy-ike serve`` as responder (under the profiler when *profile*
    names a file)."""
    work.mkdir(parents=True)
    program = ["-m", "scapy_ike"]
    if profile:
        profile.unlink(missing_ok=True)
        program = ["-c", PROFILED_SERVE, str(profile)]
    out, err = work / "serve.out", work / "serve.err"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        proc = subprocess.Popen(["ip", "netns", "exec", responder, sys.executable] + program
                                + serve_options(args), cwd=ROOT,
                                env=dict(os.environ, PYTHONPATH=str(ROOT)),
                                stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                start_new_session=True)
    try:
        wait_listening(proc, responder, out, err)
        result = measure("ours", proc.pid, generator, n, args, work)
        exited = proc.poll()
    finally:
        stop(proc)
    if exited is not None:
        raise Failure("serve exited (%d) during the run: %s" % (exited, last_line(err.read_text())))
    if profile and not profile.is_file():
        raise Failure("serve wrote no profile (it did not exit on SIGINT)")
    return result


# -- the report ---------------------------------------------------------------

def summary(runs, args):
    """Ratio ours/charon at N, and our rate at each N relative to the smallest."""
    rates = {}                  # the best of the repeated runs: the least disturbed
    for r in runs:
        if not r.get("profiled"):
            key = (r["responder"], r["n"])
            rates[key] = max(rates.get(key, 0.0), r["per_cpu_s"])
    group = args.proposal.split(",")[0].rsplit("-", 1)[-1]
    mine, theirs = rates.get(("ours", args.n)), rates.get(("charon", args.n))
    sizes = sorted(n for who, n in rates if who == "ours")
    smallest = rates.get(("ours", sizes[0])) if sizes else None
    return dict(
        group=group,
        ratio=round(mine / theirs, 2) if mine and theirs else None,
        ratio_target=RATIO_TARGETS.get(group),
        scaling={str(n): round(rates[("ours", n)] / smallest, 2)
                 for n in sizes[1:] if smallest and rates[("ours", n)]},
        scaling_base=sizes[0] if sizes else None,
        scaling_target=SCALING_TARGET)


def report(runs, figures, args):
    print("responder speed, strongSwan load-tester: Main Mode PSK + Quick Mode, "
          "IKE %s, ESP %s" % (args.proposal, args.esp))
    print("  %-16s %6s %9s %6s %8s %10s %8s %18s" % (
        "responder", "N", "completed", "failed", "CPU s", "per CPU-s", "peak MB",
        "load-tester wall"))
    for r in runs:
        print("  %-16s %6d %9d %6d %8.2f %10s %8.1f %9.2f s %5.1f/s" % (
            r["responder"] + (" (cProfile)" if r.get("profiled") else ""), r["n"],
            r["established"], r["failed"], r["cpu_s"], r["per_cpu_s"], r["peak_rss_mb"],
            r["wall_s"], r["per_s"]))
    if figures["ratio"] is not None:
        target = figures["ratio_target"]
        print("  ours/charon at N=%d: %.2f%s" % (args.n, figures["ratio"], (
            "   (target >= %.1f with %s)" % (target, figures["group"])
            if target is not None else "")))
    for n, relative in figures["scaling"].items():
        print("  ours at N=%s / ours at N=%d: %.2f   (target >= %.1f)" % (
            n, figures["scaling_base"], relative, SCALING_TARGET))


def show_profile(path):
    for order in ("cumulative", "tottime"):
        print("\nour responder under load, top 25 by %s (%s)" % (order, path))
        pstats.Stats(str(path)).sort_stats(order).print_stats(25)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1500, help="handshakes per run (default 1500)")
    parser.add_argument("--group", default="modp2048",
                        help="DH group of the IKE proposal aes256-sha256-GROUP (default modp2048)")
    parser.add_argument("--proposal", help="the whole IKE proposal instead, strongSwan syntax")
    parser.add_argument("--esp", default="aes128-sha1", help="ESP proposal (default aes128-sha1)")
    parser.add_argument("--sizes", type=lambda s: [int(n) for n in s.split(",")],
                        help="run ours at each of these N too (300,1500,3000)")
    parser.add_argument("--only", choices=("ours", "charon"))
    parser.add_argument("--repeat", type=int, default=1, metavar="K",
                        help="run each responder at each N K times; the figures take the "
                             "best (default 1)")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="one more run of ours at N under cProfile, into FILE")
    parser.add_argument("--timeout", type=int, default=600,
                        help="seconds the load-tester may take per run (default 600)")
    parser.add_argument("--json", action="store_true", help="the figures as JSON")
    args = parser.parse_args(argv)
    args.proposal = args.proposal or "aes256-sha256-" + args.group
    return args


def benchmark(args, work):
    """charon at N, then ours at each size (and at N too when charon
    runs, for the ratio), then the profiled run: the list of runs."""
    sizes = [] if args.only == "charon" else sorted(
        set(args.sizes or [args.n]) | ({args.n} if args.only is None else set()))
    runs = []
    with network() as (responder, generator):
        for k in range(args.repeat):
            if args.only != "ours":
                runs.append(charon(responder, generator, args.n, args, work / ("charon-%d" % k)))
            for n in sizes:
                runs.append(ours(responder, generator, n, args, work / ("ours-%d-%d" % (n, k))))
        if args.profile:
            profiled = ours(responder, generator, args.n, args, work / "ours-profiled",
                            profile=args.profile.resolve())
            runs.append(dict(profiled, profiled=True))
    return runs


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)   # also when started in background
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        check_prerequisites(args.only)
    except Failure as exc:
        print("responder.py: %s" % exc, file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="responder-bench.", dir="/var/tmp"))
    keep = False
    try:
        runs = benchmark(args, work)
        figures = summary(runs, args)
        if args.json:
            print(json.dumps(dict(ike=args.proposal, esp=args.esp, runs=runs,
                                  profile=str(args.profile) if args.profile else None,
                                  **figures), indent=2))
        else:
            report(runs, figures, args)
            if args.profile:
                show_profile(args.profile)
        short = [r for r in runs if r["failed"]]
        if short:
            raise Failure("; ".join("%s completed %d of %d handshakes" % (
                r["responder"], r["established"], r["n"]) for r in short))
        return 0
    except (Failure, subprocess.TimeoutExpired) as exc:
        keep = True
        print("responder.py: %s (files kept in %s)" % (exc, work), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("responder.py: interrupted", file=sys.stderr)
        return 130
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
