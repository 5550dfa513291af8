"""Our classes at the Scapy prompt: Scapy's own interactive session
(``python -m scapy``, reading commands from standard input) after
``load_contrib("ikev1")`` knows our layers by Scapy's names, for ``ls()``,
``help()``, tab completion, ``explore()`` and ``summary()``."""

import os
import re
import subprocess
import sys

import scapy

import scapy_ike.layers.isakmp as L

EXTENSION_LOADER = tuple(int(x) for x in scapy.VERSION.split(".")[:2]) >= (2, 7)
"""Scapy 2.7 loads an extension by name; 2.6 loads every installed one
whose classifiers say ``Framework :: Scapy`` when it starts."""

COMMANDS = """\
load_contrib("ikev1")
import scapy_ike.layers.isakmp as ours, rlcompleter
print("SAME", all(eval(n) is getattr(ours, n) for n in ours.__all__))
print("FIELDS", ",".join(f.name for f in ISAKMP_payload_ID.fields_desc))
print("DOC", ISAKMP_payload_SA.__doc__.split("\\n")[0])
print("COMPLETE", rlcompleter.Completer(globals()).complete("ISAKMP_payload_ID.from_n", 0))
print("EXPLORE", ",".join(c.__name__ for c in conf.layers.ldict["scapy.contrib.ikev1"]))
explore("ikev1")
print("SUMMARY", (IP(src="192.0.2.2", dst="192.0.2.1") / UDP() / ISAKMP()).summary())
d = IP(bytes(IP() / UDP() / ISAKMP() / ISAKMP_payload_ID(IDtype="ID_FQDN", IdentData=b"a.example")))
print("DISSECTED", type(d[ISAKMP_payload_ID]) is ISAKMP_payload_ID, d[ISAKMP_payload_ID].IDtype)
ISAKMP_payload_ID(IDtype="ID_HOSTNAME")
print("DONE")
"""


def run_prompt(tmp_path, commands):
    env = dict(os.environ, HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "scapy", "-H"], input=commands, env=env,
                         capture_output=True, text=True, timeout=180, cwd=tmp_path)
    results = {}
    stdout = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout)
    for line in stdout.splitlines():
        key, _, value = line.rpartition(">>> ")[2].partition(" ")
        results[key] = value
    return results, out.stderr + stdout         # IPython, when installed, prints errors there


def test_the_prompt_knows_our_classes(tmp_path):
    loader = 'conf.exts.load("scapy-ike")\n' if EXTENSION_LOADER else ""
    results, stderr = run_prompt(tmp_path, loader + COMMANDS)
    assert results["SAME"] == "True", stderr
    assert results["FIELDS"] == "next_payload,res,length,IDtype,ProtoID,Port,IdentData"
    assert results["DOC"] == L.ISAKMP_payload_SA.__doc__.split("\n")[0]
    assert results["COMPLETE"] == "ISAKMP_payload_ID.from_netaddr("
    assert results["EXPLORE"].split(",") == [
        n for n in L.__all__ if isinstance(getattr(L, n), type)]
    assert results["SUMMARY"] == ("IP / UDP 192.0.2.2:isakmp > 192.0.2.1:isakmp"
                                  " / ISAKMP None  >  id=0x0")
    assert results["DISSECTED"] == "True 2"
    assert results["DONE"] == ""
    errors = [line for line in stderr.splitlines()
              if re.match(r"(Value|Key|Type|Attribute)Error: ", line)]
    assert errors == ["ValueError: IDtype: unknown name 'ID_HOSTNAME'; valid: IPV4-ADDR, FQDN, "
                      "USER-FQDN, IPV4-ADDR-SUBNET, IPV6-ADDR, IPV6-ADDR-SUBNET, IPV4-ADDR-RANGE, "
                      "IPV6-ADDR-RANGE, DER-ASN1-DN, DER-ASN1-GN, KEY-ID, LIST"]


def test_without_load_contrib_the_prompt_keeps_scapys_classes(tmp_path):
    """Loading the extension alone changes no name of the session."""
    loader = 'conf.exts.load("scapy-ike")\n' if EXTENSION_LOADER else ""
    results, stderr = run_prompt(tmp_path, loader + (
        'print("MODULE", ISAKMP_payload_SA.__module__)\n'
        'import sys; print("LOADED", "scapy_ike.layers" in sys.modules)\n'))
    assert results["MODULE"] == "scapy.layers.isakmp", stderr
    assert results["LOADED"] == "False"
