"""``scapy-ike crack``: search for the pre-shared key behind Aggressive
Mode hashes captured by ``scapy-ike probe --pskcrack`` or ``ike-scan
--pskcrack`` (MD5, SHA-1 and SHA2-256/384/512), offline.  Exit status 0
when every line's key was found, 1 when one was not, 2 for bad usage.

    scapy-ike crack FILE [--wordlist F] [--bruteforce N [--charset C]] [--jobs N]
        [--json] [--hashcat OUT]
"""

import json
import os
import sys
import time

from scapy_ike.cli.common import ArgumentParser, CommandError, positive
from scapy_ike.probe import crack


def _parser():
    parser = ArgumentParser(prog="scapy-ike crack", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", metavar="FILE", help="psk-crack lines, one per captured hash")
    parser.add_argument("--wordlist", metavar="FILE", help="candidate keys, one per line")
    parser.add_argument("--bruteforce", type=positive, metavar="N",
                        help="then every key of 1 to N characters")
    parser.add_argument("--charset", default=crack.DEFAULT_CHARSET,
                        help="the brute force's characters (default: %(default)s)")
    parser.add_argument("--jobs", type=positive, default=os.cpu_count() or 1, metavar="N",
                        help="processes (default: one per CPU, %(default)s)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--hashcat", metavar="OUT",
                        help="also write the MD5 and SHA-1 lines for hashcat (modes 5300, 5400)")
    return parser


def _read(parser, path):
    try:
        with open(path) as f:
            return crack.read_lines(f.read())
    except OSError as exc:
        parser.error("%s: %s" % (path, exc.strerror))
    except (crack.LineError, UnicodeDecodeError) as exc:
        parser.error("%s: %s" % (path, exc))


def _write_hashcat(path, targets):
    """The lines hashcat reads (psk-crack's), by mode; the SHA-2 ones left out."""
    modes = {}
    try:
        with open(path, "w") as f:
            for _, target in targets:
                mode = crack.HASHCAT_MODES.get(target.hash)
                if mode is not None:
                    f.write(crack.format_line(target) + "\n")
                    modes[mode] = modes.get(mode, 0) + 1
    except OSError as exc:
        raise CommandError("%s: %s" % (path, exc.strerror)) from None
    return modes


def _ticker():
    """Progress and rate on a terminal (standard error), else nothing."""
    if not sys.stderr.isatty():
        return None, lambda: None
    start = time.monotonic()

    def tick(tried):
        elapsed = time.monotonic() - start
        print("\r%d candidates, %.0f/s" % (tried, tried / elapsed if elapsed else 0),
              end="", file=sys.stderr, flush=True)
    return tick, lambda: print(file=sys.stderr)


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.wordlist is None and args.bruteforce is None:
        parser.error("give --wordlist FILE or --bruteforce N (or both)")
    if args.wordlist is not None and not os.path.isfile(args.wordlist):
        parser.error("--wordlist %s: no such file" % args.wordlist)
    if not args.charset or len(set(args.charset)) != len(args.charset) \
            or not args.charset.isascii():
        parser.error("--charset needs distinct ASCII characters")
    targets = _read(parser, args.file)
    if not targets:
        parser.error("%s: no psk-crack lines" % args.file)
    if args.hashcat:
        for mode, count in sorted(_write_hashcat(args.hashcat, targets).items()):
            if not args.json:
                print("%d line(s) for hashcat -m %d in %s" % (count, mode, args.hashcat))
    all_found = True
    for number, target in targets:
        tick, done = _ticker()
        start = time.monotonic()
        result = crack.crack(target, jobs=args.jobs, wordlist=args.wordlist,
                             bruteforce=args.bruteforce or 0, charset=args.charset, tick=tick)
        done()
        seconds = time.monotonic() - start
        all_found = all_found and result.key is not None
        if args.json:
            print(json.dumps({
                "line": number, "hash": target.hash, "hash_r": target.hash_r.hex(),
                "key": None if result.key is None else result.key.decode("latin-1"),
                "candidates": result.tried, "seconds": round(seconds, 3),
                "rate": round(result.tried / seconds) if seconds else None}))
        elif result.key is not None:
            print('key "%s" matches %s hash %s' % (result.key.decode("latin-1"), target.label,
                                                   target.hash_r.hex()))
        else:
            print("no match found for %s hash %s" % (target.label, target.hash_r.hex()))
        if not args.json:
            print("%d candidates in %.3f seconds (%.0f/s)"
                  % (result.tried, seconds, result.tried / seconds if seconds else 0))
    return 0 if all_found else 1
