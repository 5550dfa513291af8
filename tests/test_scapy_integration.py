"""Scapy integration, each in a fresh interpreter: the extension loader,
``load_contrib("ikev1")``, and coexistence with ``scapy.contrib.ikev2``
whichever is imported first."""

import subprocess
import sys
import textwrap

import pytest


def run(code):
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


DISSECT = """
from scapy.layers.inet import IP, UDP
from scapy.layers.ipsec import NON_ESP
from scapy.contrib.ikev2 import IKEv2, IKEv2_SA
import scapy_ike.layers.isakmp as L
v1 = bytes(L.ISAKMP(init_cookie=b"12345678", exch_type=2) / L.ISAKMP_payload_SA(
    prop=L.ISAKMP_payload_Proposal(trans=L.ISAKMP_payload_Transform())))
v2 = bytes(IKEv2(init_SPI=b"12345678", exch_type=34) / IKEv2_SA())
for sport, dport, marker in ((500, 500, b""), (4500, 4500, b"\\0\\0\\0\\0")):
    for wire in (v1, v2):
        pkt = IP(bytes(IP() / UDP(sport=sport, dport=dport) / (marker + wire)))
        top = pkt[UDP].payload
        if marker:
            top = top.payload
        print(type(top).__module__ + "." + type(top).__name__, type(top.payload).__name__)
"""

EXPECTED = [
    "scapy_ike.layers.isakmp.ISAKMP", "ISAKMP_payload_SA",
    "scapy.contrib.ikev2.IKEv2", "IKEv2_SA",
    "scapy_ike.layers.isakmp.ISAKMP", "ISAKMP_payload_SA",
    "scapy.contrib.ikev2.IKEv2", "IKEv2_SA",
]


@pytest.mark.parametrize("first", ["scapy.contrib.ikev2", "scapy_ike.layers"])
def test_coexists_with_ikev2_in_either_import_order(first):
    assert run("import %s\n" % first + DISSECT) == EXPECTED


def test_scapy_alone_keeps_its_classes():
    """Without scapy-ike, Scapy's ISAKMP dissects as before (nothing of ours
    is loaded behind its back: Scapy 2.6 imports our top package, which
    only registers the contrib module, when it starts)."""
    out = run("""
        import sys
        from scapy.layers.isakmp import ISAKMP
        p = ISAKMP(bytes(ISAKMP()))
        print(type(p).__module__, "scapy_ike.layers" in sys.modules)
    """)
    assert out == ["scapy.layers.isakmp", "False"]


def test_load_contrib_gives_our_classes_on_every_scapy():
    """``load_contrib("ikev1")`` after ``conf.exts.load("scapy-ike")`` on
    Scapy 2.7 and later; on 2.6, which has no ``conf.exts.load(name)``, with
    nothing before it: 2.6 loads, when it starts, every installed package
    classified ``Framework :: Scapy`` and GPLv2."""
    out = run("""
        from scapy.all import conf, load_contrib
        import scapy_ike.layers.isakmp as L
        if hasattr(conf.exts, "loadall"):
            conf.exts.load("scapy-ike")
        import builtins
        load_contrib("ikev1")
        print(builtins.ISAKMP_payload_SA is L.ISAKMP_payload_SA)
    """)
    assert out == ["True"]


def test_extension_loader_and_load_contrib():
    """In a fresh Scapy session, conf.exts.load("scapy-ike") then
    load_contrib("ikev1") give every layer."""
    import scapy
    if tuple(int(x) for x in scapy.VERSION.split(".")[:2]) < (2, 7):
        pytest.skip("Scapy %s has no per-extension conf.exts.load(name)" % scapy.VERSION)
    out = run("""
        import builtins
        from scapy.all import conf, load_contrib
        conf.exts.load("scapy-ike")
        load_contrib("ikev1")
        from scapy_ike.layers.isakmp import __all__ as names
        missing = [n for n in names if n not in vars(builtins)]
        print(len(names), len(missing), builtins.ISAKMP_payload_Attributes.__module__)
        p = builtins.ISAKMP() / builtins.ISAKMP_payload_NAT_D(hash=b"h" * 20)
        print(bytes(p).hex())
    """)
    from scapy_ike.layers.isakmp import __all__ as names
    assert out[:3] == [str(len(names)), "0", "scapy_ike.layers.isakmp"]
    assert len(names) >= 33
    assert out[3] == "00" * 16 + "14100000" + "00000000" + "00000034" + "00000018" + "68" * 20
