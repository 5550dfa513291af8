"""Offline PSK search speed: candidates per second of ``scapy-ike crack
--jobs 1`` and ``--jobs 2`` against psk-crack (ike-scan 1.9.5, C), on the
same Aggressive Mode line and the same dictionary, MD5 and SHA-1, paired in
one run: for each hash, psk-crack, then ours with one process, then with
two, the three one after the other, so that a load on the machine weighs
on all three alike.

The MD5 line is ike-scan's own capture of charon
(``../shared/testdata/strongswan/ikescan-am-psk-3des-md5-modp1024
.psk-crack-params``); the SHA-1 line is the same one with a HASH_R
computed here with SHA-1 for a key that is not in the dictionary, so that
every tool tries every word.  The dictionary is N words ``w0000000``,
``w0000001`` ... (default 6,000,000, so that the longest run takes seconds
and start-up weighs little).  Rates are the candidates each tool reports
over the wall time of its process (start-up included: a tenth of a second
for ours, its package byte-compiled first, as an installed one is).  The
first line printed says whether ours runs its compiled loop
(``_crackloop``) or, where it was not built, checks each candidate with
``hmac``.

    python benchmarks/crack.py [--words N] [--rounds R]

prints one line per hash and round, then the ratios ours/psk-crack with
``--jobs 1`` and ``--jobs 2``/``--jobs 1`` (targets: at least 0.3 and 1.8).
"""

import argparse
import compileall
import hmac
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINE = ROOT.parent / "shared" / "testdata" / "strongswan" / \
    "ikescan-am-psk-3des-md5-modp1024.psk-crack-params"


def sha1_line(md5_line):
    """The MD5 line's fields with a SHA-1 HASH_R (RFC 2409 5.4) for a key
    outside the dictionary."""
    f = [bytes.fromhex(x) for x in md5_line.strip().split(":")]
    g_xr, g_xi, cky_r, cky_i, sai_b, idir_b, ni_b, nr_b, _ = f
    skeyid = hmac.digest(b"not-in-the-list", ni_b + nr_b, "sha1")
    hash_r = hmac.digest(skeyid, g_xr + g_xi + cky_r + cky_i + sai_b + idir_b, "sha1")
    return ":".join(x.hex() for x in f[:8] + [hash_r])


def timed(argv):
    start = time.monotonic()
    out = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=3600)
    return time.monotonic() - start, out.stdout + out.stderr


def psk_crack(line_file, words):
    seconds, out = timed(["psk-crack", "-d", str(words), str(line_file)])
    tried = int(re.search(r"Ending psk-crack: (\d+) iterations", out).group(1))
    return tried / seconds


def ours(line_file, words, jobs):
    seconds, out = timed([sys.executable, "-m", "scapy_ike", "crack", str(line_file),
                          "--wordlist", str(words), "--jobs", str(jobs)])
    tried = int(re.search(r"^(\d+) candidates in", out, re.M).group(1))
    return tried / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", type=int, default=6_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    if shutil.which("psk-crack") is None or not LINE.exists():
        sys.exit("needs psk-crack (Debian ike-scan) and %s" % LINE)
    compileall.compile_dir(ROOT / "scapy_ike", quiet=1)
    sys.path.insert(0, str(ROOT))
    from scapy_ike.probe import crack
    print("ours: %s" % ("the compiled loop" if crack._crackloop else "hmac, no compiled loop"))
    with tempfile.TemporaryDirectory() as tmp:
        words = Path(tmp) / "words"
        words.write_text("".join("w%07d\n" % i for i in range(args.words)))
        lines = {"MD5": LINE.read_text().strip()}
        lines["SHA1"] = sha1_line(lines["MD5"])
        ratios = {}
        for _ in range(args.rounds):
            for name, line in lines.items():
                line_file = Path(tmp) / name
                line_file.write_text(line + "\n")
                c = psk_crack(line_file, words)
                one = ours(line_file, words, 1)
                two = ours(line_file, words, 2)
                print("%-4s psk-crack %9.0f/s  ours --jobs 1 %9.0f/s  --jobs 2 %9.0f/s"
                      % (name, c, one, two), flush=True)
                ratios.setdefault(name, []).append((one / c, two / one))
        for name, pairs in ratios.items():
            print("%-4s --jobs 1 / psk-crack = %s   --jobs 2 / --jobs 1 = %s" % (
                name, ", ".join("%.2f" % a for a, _ in pairs),
                ", ".join("%.2f" % b for _, b in pairs)))


if __name__ == "__main__":
    main()
