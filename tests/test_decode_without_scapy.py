"""``scapy-ike decode`` in text mode reads IKE and ESP with :mod:`struct`
alone: a fresh interpreter decrypting a capture with its keys, one job or
two, never imports Scapy; a packet only Scapy can describe has it loaded
then, and described as when Scapy was loaded from the start."""

import ast
import subprocess
import sys

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import GRE, Ether
from scapy.packet import Raw
from scapy.utils import rdpcap, wrpcap

from conftest import PCAPS, ROOT
from scapy_ike.decode.keylog import read_esp_keys
from scapy_ike.layers.isakmp import ISAKMP, ISAKMP_payload_SA

CAPTURE = PCAPS / "mm-psk-aes128-sha1-modp2048.pcap"
KEYS = CAPTURE.with_suffix(".keys")
COOKIES = "c0d9e1bfeb42ee1f>0737f90b1bc0d53c"
DECRYPTED = [
    "ISAKMP identity protection %s id=00000000 [ID Hash]" % COOKIES,
    "ISAKMP identity protection %s id=00000000 [ID Hash]" % COOKIES,
    "ISAKMP quick mode %s id=e68c3792 [Hash SA Proposal Transform Nonce ID ID]" % COOKIES,
    "ISAKMP quick mode %s id=e68c3792 [Hash SA Proposal Transform Nonce ID ID]" % COOKIES,
    "ISAKMP quick mode %s id=e68c3792 [Hash]" % COOKIES,
    "ICMP 198.51.100.2 > 198.51.100.1 echo-request id=16860 seq=1",
    "ICMP 198.51.100.1 > 198.51.100.2 echo-reply id=16860 seq=1",
    "ICMP 198.51.100.2 > 198.51.100.1 echo-request id=16860 seq=2",
    "ICMP 198.51.100.1 > 198.51.100.2 echo-reply id=16860 seq=2",
    "ICMP 198.51.100.2 > 198.51.100.1 echo-request id=16860 seq=3",
    "ICMP 198.51.100.1 > 198.51.100.2 echo-reply id=16860 seq=3",
    "ISAKMP informational %s id=9f09593b [Hash Delete]" % COOKIES,
    "ISAKMP informational %s id=0b78a0b2 [Hash Delete]" % COOKIES,
]
"""What each encrypted frame of the capture shows after its ``->``."""

DECODE = ("import sys\n"
          "from scapy_ike.cli.decode import main\n"
          "status = main(sys.argv[1:])\n"
          "print(status, [m for m in sys.modules if m == 'scapy' or m.startswith('scapy.')],"
          " file=sys.stderr)\n")


def decode(capture, jobs):
    """``(exit status, Scapy's modules imported, output lines)`` of a fresh
    ``decode CAPTURE --keys KEYS --jobs N``; run with ``-X importtime``, so
    that the modules its worker processes import count too."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", DECODE, str(capture),
                           "--keys", str(KEYS), "--jobs", str(jobs)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    *imports, last = done.stderr.splitlines()
    names = [line.rsplit("|", 1)[1].strip() for line in imports if line.startswith("import time:")]
    status, modules = last.split(" ", 1)
    scapy = sorted(set(ast.literal_eval(modules)) | {n for n in names if n.split(".")[0] == "scapy"})
    return int(status), scapy, done.stdout.splitlines()


@pytest.mark.parametrize("jobs", [1, 2])
def test_text_decode_of_ike_and_esp_imports_no_scapy(jobs):
    status, scapy, lines = decode(CAPTURE, jobs)
    assert status == 0
    assert scapy == []
    assert len(lines) == 17
    assert [line.split(" -> ")[1] for line in lines if " -> " in line] == DECRYPTED


def test_what_only_scapy_describes_loads_it_and_reads_the_same(tmp_path):
    """Two more ESP packets on the capture's SA, carrying what the struct
    path leaves to Scapy: an IKE message inside the tunnel and GRE."""
    (key,) = [k for k in read_esp_keys(CAPTURE.with_suffix(".esp_sa").read_text())
              if k.spi == 0xedb7bbf8]
    sa = key.security_association(seq_num=4)
    inner = [IP(src="198.51.100.2", dst="198.51.100.1") / UDP(sport=500, dport=500)
             / ISAKMP(init_cookie=b"\x01" * 8, exch_type=2) / ISAKMP_payload_SA(),
             IP(src="198.51.100.2", dst="198.51.100.1") / GRE() / Raw(b"\x00" * 8)]
    frames = list(rdpcap(str(CAPTURE)))
    for pkt in inner:
        frame = Ether() / IP(src="192.0.2.2", dst="192.0.2.1") / UDP(sport=4500, dport=4500) \
            / Raw(sa.seal(bytes(pkt)))
        frame.time = frames[-1].time + 1
        frames.append(frame)
    extended = tmp_path / "extended.pcap"
    wrpcap(str(extended), frames)
    status, scapy, lines = decode(extended, 1)
    assert status == 0
    assert "scapy.layers.inet" in scapy
    assert [line.split(" -> ")[1] for line in lines[17:]] == [
        "ISAKMP 198.51.100.2:500 > 198.51.100.1:500 identity protection "
        "0101010101010101>0000000000000000 id=00000000 [SA]",
        "198.51.100.2 > 198.51.100.1 gre / GRE / Raw",
    ]
