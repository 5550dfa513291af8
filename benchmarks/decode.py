"""``scapy-ike decode`` against tshark on the same captures and keys.

Two captures are made in a temporary folder:

1. ``esp-gcm``: 50,000 ESP packets (AES-GCM-128, 16-byte ICV, tunnel mode)
   carrying 1400-byte IPv4/UDP packets, both directions of one Quick Mode;
   the keys in Wireshark's ``esp_sa`` table, which both tools read.
2. ``ike``: 500 Main Mode + Quick Mode handshakes between our own
   initiator and responder in memory (UDP encapsulation, so the exchange
   moves to 4500), each followed by one ESP packet each way; the keys in
   this project's key log (``--keys``) and in Wireshark's
   ``ikev1_decryption_table`` and ``esp_sa`` tables.

Each command runs *rounds* times, ours and tshark's alternately (paired,
so that other work on the machine weighs on both alike), with its output
thrown away; the CPU time (user + system, children included) of each run
comes from ``wait4``, its peak memory from time(1).  Compared: text with
``--jobs 1`` and tshark's summary (packets per CPU-second), ``--jobs 2``
and tshark's summary (packets per wall-clock second), and with
``--verbose``, ``-V`` against ``tshark -V`` and ``--json`` against
``tshark -T json`` (*verbose_rounds* rounds).  Printed: min/median/max CPU
seconds, packets per CPU-second and per wall-clock second, peak memory,
and the ratios ours/tshark of the rates (above 1: we are faster), each
round's pair giving one: their min/median/max.

Our package is byte-compiled first, as an installed one is (an editable
install under ``PYTHONDONTWRITEBYTECODE`` would otherwise compile every
module at every start).

Run: ``python benchmarks/decode.py [--rounds N] [--verbose [--verbose-rounds N]]``.
"""

import argparse
import compileall
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scapy_ike.core import Endpoint
from scapy_ike.core import events as ev
from scapy_ike.decode.keylog import esp_sa_row, ikev1_decryption_table_row, key_log_line
from scapy_ike.esp import SecurityAssociation

sys.path.insert(0, str(Path(__file__).parent))
from handshake import configs  # noqa: E402  (the benchmark pair's configurations)

ROOT = Path(__file__).resolve().parents[1]
MACS = bytes.fromhex("020000000002" "020000000001")
PAYLOAD = 1400
ESP_PACKETS = 50_000
HANDSHAKES = 500


def ipv4(src, dst, proto, payload):
    """An IPv4 header (RFC 791) with its checksum, and *payload*."""
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
    total = sum(struct.unpack("!10H", header))
    total = (total & 0xFFFF) + (total >> 16)
    return header[:10] + struct.pack("!H", ~total & 0xFFFF) + header[12:] + payload


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def ether(packet):
    return MACS + b"\x08\x00" + packet


def write_pcap(path, frames):
    """A pcap of Ethernet *frames*, 1 ms apart."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for n, frame in enumerate(frames):
            f.write(struct.pack("<IIII", 1_800_000_000 + n // 1000, n % 1000 * 1000,
                                len(frame), len(frame)))
            f.write(frame)


def esp_capture(folder):
    """The 50,000-packet GCM capture and its esp_sa table."""
    sas = [SecurityAssociation(0x1000 + n, crypt_algo="AES-GCM", crypt_key=os.urandom(20),
                               crypt_icv_size=16) for n in range(2)]
    ends = [("192.0.2.2", "192.0.2.1"), ("192.0.2.1", "192.0.2.2")]
    inner = [ipv4(a, b, 17, udp(1000, 2000, os.urandom(PAYLOAD - 28)))
             for a, b in (("198.51.100.2", "198.51.100.1"), ("198.51.100.1", "198.51.100.2"))]
    frames = (ether(ipv4(*ends[n % 2], 50, sas[n % 2].seal(inner[n % 2])))
              for n in range(ESP_PACKETS))
    write_pcap(folder / "esp-gcm.pcap", frames)
    (folder / "esp_sa").write_text("".join(esp_sa_row(sa, *end) + "\n"
                                           for sa, end in zip(sas, ends)))
    return folder / "esp-gcm.pcap", ESP_PACKETS


def ike_capture(folder):
    """500 handshakes, with one ESP packet each way after each; the key
    log and Wireshark's two tables."""
    ci, cr = configs("ecp256")
    frames, key_log, ike_table, esp_table = [], [], [], []
    for _ in range(HANDSHAKES):
        sides = {"192.0.2.2": Endpoint(ci, "192.0.2.2"), "192.0.2.1": Endpoint(cr, "192.0.2.1")}
        sides["192.0.2.2"].initiate(("192.0.2.1", 500), 0.0)
        moving = True
        while moving:
            moving = False
            for src, dst in (("192.0.2.2", "192.0.2.1"), ("192.0.2.1", "192.0.2.2")):
                for d in sides[src].datagrams_to_send():
                    moving = True
                    frames.append(ether(ipv4(src, dst, 17, udp(d.local_port, d.addr[1], d.data))))
                    sides[dst].receive_datagram(d.data, (src, d.local_port), 0.0, d.addr[1])
        (connection,) = sides["192.0.2.2"].connections.values()
        key_log.append(key_log_line(connection.sa))
        ike_table.append(ikev1_decryption_table_row(connection.sa))
        (done,) = [e for e in sides["192.0.2.2"].events if isinstance(e, ev.QuickModeEstablished)]
        transform = done.proposal.transform
        out = transform.security_association(int.from_bytes(done.spi_out, "big"), done.keymat_out)
        back = transform.security_association(int.from_bytes(done.spi_in, "big"), done.keymat_in)
        for sa, (src, dst) in ((out, ("192.0.2.2", "192.0.2.1")), (back, ("192.0.2.1", "192.0.2.2"))):
            esp_table.append(esp_sa_row(sa, src, dst))
            inner = ipv4("198.51.100.%s" % src[-1], "198.51.100.%s" % dst[-1], 17,
                         udp(1000, 2000, bytes(100)))
            frames.append(ether(ipv4(src, dst, 17, udp(4500, 4500, sa.seal(inner)))))
    write_pcap(folder / "ike.pcap", frames)
    (folder / "ike.keys").write_text("".join(line + "\n" for line in key_log))
    (folder / "ikev1_decryption_table").write_text("".join(r + "\n" for r in ike_table))
    with open(folder / "esp_sa", "a") as f:
        f.write("".join(r + "\n" for r in esp_table))
    return folder / "ike.pcap", len(frames)


def measure(argv, env=None):
    """``(CPU seconds, peak memory in MiB, wall seconds)`` of one run.  The
    memory is what time(1) reports for the command: a child's own peak
    would count the copy of this process it was forked from."""
    peak = tempfile.NamedTemporaryFile("r")
    start = time.perf_counter()
    child = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", peak.name] + argv,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=env, cwd=ROOT)
    err = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    child.stderr.close()
    if child.returncode not in (0,):
        raise SystemExit("%s exited %d: %s" % (argv[:3], child.returncode, err.decode()[-500:]))
    with peak:
        kib = int(peak.read().split()[-1])
    return usage.ru_utime + usage.ru_stime, kib / 1024, time.perf_counter() - start


def paired(commands, rounds):
    """Each named command's runs, alternating between them *rounds* times."""
    results = {name: [] for name in commands}
    for _ in range(rounds):
        for name, (argv, env) in commands.items():
            results[name].append(measure(argv, env))
    return results


def report(title, packets, results, pairs):
    print("== %s: %d packets" % (title, packets))
    for name, runs in results.items():
        cpu = sorted(r[0] for r in runs)
        wall = statistics.median(r[2] for r in runs)
        print("  %-18s CPU s min/median/max %.2f/%.2f/%.2f  %7.0f packets/CPU-s  "
              "%7.0f packets/s  peak %5.1f MiB"
              % (name, cpu[0], statistics.median(cpu), cpu[-1], packets / statistics.median(cpu),
                 packets / wall, max(r[1] for r in runs)))
    for ours, theirs, column in pairs:
        ratios = sorted(other[column] / mine[column]
                        for mine, other in zip(results[ours], results[theirs]))
        print("  %s / %s: %.2fx tshark's packets per %s second (rounds: min/median/max "
              "%.2f/%.2f/%.2f)" % (ours, theirs, statistics.median(ratios),
                                   "CPU" if column == 0 else "wall-clock", ratios[0],
                                   statistics.median(ratios), ratios[-1]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--verbose", action="store_true",
                        help="also -V against tshark -V and --json against tshark -T json")
    parser.add_argument("--verbose-rounds", type=int, default=1)
    args = parser.parse_args()
    tshark = shutil.which("tshark")
    if tshark is None or not os.path.exists("/usr/bin/time"):
        raise SystemExit("tshark and /usr/bin/time are needed")
    compileall.compile_dir(ROOT / "scapy_ike", quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = folder / "wireshark"
        config.mkdir()
        esp, esp_count = esp_capture(folder)
        ike, ike_count = ike_capture(folder)
        for table in ("esp_sa", "ikev1_decryption_table"):
            shutil.copy(folder / table, config / table)
        env = dict(os.environ, WIRESHARK_CONFIG_DIR=str(config), HOME=str(folder))
        ours = [sys.executable, "-m", "scapy_ike", "decode"]
        theirs = [tshark, "-n", "-o", "esp.enable_encryption_decode:TRUE", "-r"]
        for title, capture, count, keys in (("ESP AES-GCM", esp, esp_count, [folder / "esp_sa"]),
                                            ("IKE-heavy", ike, ike_count, [folder / "ike.keys"])):
            key_args = [a for k in keys for a in ("--keys", str(k))]
            mine = ours + [str(capture)] + key_args
            commands = {"scapy-ike --jobs 1": (mine + ["--jobs", "1"], None),
                        "scapy-ike --jobs 2": (mine + ["--jobs", "2"], None),
                        "tshark": (theirs + [str(capture)], env)}
            report(title, count, paired(commands, args.rounds),
                   [("scapy-ike --jobs 1", "tshark", 0), ("scapy-ike --jobs 2", "tshark", 2)])
            if args.verbose:
                commands = {"scapy-ike -V": (mine + ["--jobs", "1", "-V"], None),
                            "tshark -V": (theirs + [str(capture), "-V"], env),
                            "scapy-ike --json": (mine + ["--jobs", "1", "--json"], None),
                            "tshark -T json": (theirs + [str(capture), "-T", "json"], env)}
                report(title, count, paired(commands, args.verbose_rounds),
                       [("scapy-ike -V", "tshark -V", 0), ("scapy-ike --json", "tshark -T json", 0)])


if __name__ == "__main__":
    main()
