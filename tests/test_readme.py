"""Every Python snippet of the README runs as written: a ``>>>`` snippet
in a fresh Scapy session (``scapy.main.init_session``, what the prompt
runs in) from the project's root, its outputs compared as doctest does;
the others compile, and run unless they need root and network namespaces.

The Automaton snippet binds loopback ports 17810-17811 only."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import scapy

ROOT = Path(__file__).resolve().parents[1]
SNIPPETS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
EXTENSION_LOADER = tuple(int(x) for x in scapy.VERSION.split(".")[:2]) >= (2, 7)

RUN = """
import doctest, sys
import scapy.main
session = scapy.main.init_session(None, ret=True)
test = doctest.DocTestParser().get_doctest(sys.stdin.read(), session, "README", "README.md", 0)
result = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS).run(test)
print("RESULT", result.failed, result.attempted, len(test.examples))
"""


def test_the_readme_has_its_snippets():
    prompt = [s for s in SNIPPETS if s.startswith(">>>")]
    assert len(SNIPPETS) == 5 and len(prompt) == 4


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda s: s.split("\n")[0][:40])
def test_snippet_runs_as_written(snippet, tmp_path):
    if not snippet.startswith(">>>"):
        code = compile(snippet, "README.md", "exec")
        if "strongswan_peer" in code.co_names or "strongswan_peer" in snippet:
            pytest.skip("needs root and network namespaces (the strongswan_peer fixture)")
        exec(code, {})
        return
    if "conf.exts.load(" in snippet and not EXTENSION_LOADER:
        pytest.skip("Scapy %s has no conf.exts.load(name): it loads the extension "
                    "when it starts" % scapy.VERSION)
    out = subprocess.run([sys.executable, "-c", RUN], input=snippet, capture_output=True,
                         text=True, timeout=120, cwd=ROOT, env=dict(os.environ, HOME=str(tmp_path)))
    last = out.stdout.strip().split("\n")[-1].split()
    assert last[:1] == ["RESULT"], out.stdout + out.stderr
    failed, attempted, examples = map(int, last[1:])
    assert (failed, attempted) == (0, examples), out.stdout
