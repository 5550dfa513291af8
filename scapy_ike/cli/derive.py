"""``scapy-ike derive``: the IKEv1 key schedule by hand, for checking a
gateway's debug output (RFC 2409 5 and Appendix B).

    scapy-ike derive --auth psk --prf sha1 --psk TEXT --ni HEX --nr HEX \\
        --gxy HEX --cky-i HEX --cky-r HEX [--cipher aes256 --gxi HEX --gxr HEX] [--json]
"""

import argparse
import json
import re

from scapy_ike.cli.common import ArgumentParser, hex_bytes, secret
from scapy_ike.crypto import keys, registry
from scapy_ike.crypto.prf import HASHES


def _cipher(name):
    """A strongSwan cipher keyword (aes128, aes256, 3des, ...): the Phase 1
    cipher and its key size."""
    match = re.fullmatch(r"([a-z0-9]+?)(\d{3})?", name)
    try:
        cipher = registry.cipher(match.group(1))
    except (AttributeError, KeyError):
        raise argparse.ArgumentTypeError("unknown cipher %r (aes128, aes256, 3des, ...)" % name)
    size = int(match.group(2)) // 8 if match.group(2) else cipher.key_sizes[0]
    if cipher.ike_id is None or size not in cipher.key_sizes:
        raise argparse.ArgumentTypeError("%r is not a Phase 1 cipher" % name)
    return cipher, size


def derive(args):
    """``{name: bytes}`` of everything the arguments allow."""
    h = args.prf
    if args.auth == "psk":
        skeyid = keys.skeyid_psk(h, args.psk, args.ni, args.nr)
    else:
        skeyid = keys.skeyid_sig(h, args.ni, args.nr, args.gxy)
    d, a, e = keys.skeyid_dae(h, skeyid, args.gxy, args.cky_i, args.cky_r)
    out = {"SKEYID": skeyid, "SKEYID_d": d, "SKEYID_a": a, "SKEYID_e": e}
    if args.cipher:
        cipher, size = args.cipher
        out["Ka"] = keys.encryption_key(h, e, size)
        if args.gxi and args.gxr:
            out["IV"] = keys.phase1_iv(h, args.gxi, args.gxr, cipher.block_size)
    return out


def main(argv=None) -> int:
    parser = ArgumentParser(prog="scapy-ike derive", description=__doc__.split("\n\n")[0])
    parser.add_argument("--auth", choices=("psk", "sig"), required=True)
    parser.add_argument("--prf", choices=sorted(HASHES), required=True,
                        help="the negotiated hash, whose HMAC is the prf")
    parser.add_argument("--psk", type=secret, help="pre-shared key (0x... for hex)")
    for name in ("ni", "nr", "gxy", "cky-i", "cky-r"):
        parser.add_argument("--" + name, type=hex_bytes, required=True, metavar="HEX")
    parser.add_argument("--cipher", type=_cipher, help="for Ka and the IV: aes128, aes256, 3des, ...")
    parser.add_argument("--gxi", type=hex_bytes, metavar="HEX", help="initiator's KE data, for the IV")
    parser.add_argument("--gxr", type=hex_bytes, metavar="HEX", help="responder's KE data, for the IV")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.auth == "psk" and args.psk is None:
        parser.error("--auth psk needs --psk")
    if (args.gxi or args.gxr) and not args.cipher:
        parser.error("--gxi/--gxr need --cipher (the IV is one cipher block)")
    values = derive(args)
    if args.json:
        print(json.dumps({k: v.hex() for k, v in values.items()}))
    else:
        for name, value in values.items():
            print("%-9s %s" % (name, value.hex()))
    return 0
