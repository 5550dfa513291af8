"""The arrows of the design card point down only: each part imports only
the parts below it (read from the imports with ast)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "scapy_ike"

ALLOWED = {
    "constants": set(),
    "attributes": {"constants"},
    "names": {"constants"},
    "crypto": {"constants"},
    "layers": {"constants", "attributes", "names"},
    "esp": {"constants", "attributes", "names", "crypto", "layers"},
    "core": {"constants", "attributes", "names", "crypto", "layers", "esp"},
    "log": {"constants", "attributes", "names", "crypto", "layers", "esp", "core"},
    "decode": {"constants", "attributes", "names", "crypto", "layers", "esp", "core", "log"},
    "probe": {"constants", "attributes", "names", "crypto", "layers", "esp", "core"},
    "automaton": {"constants", "attributes", "names", "crypto", "layers", "esp", "core", "log",
                  "decode", "probe"},
    "cli": {"constants", "attributes", "names", "crypto", "layers", "esp", "core", "log",
            "decode", "probe", "automaton"},
    "testing": {"constants", "attributes", "names", "crypto", "layers", "esp", "core", "log",
                "decode", "probe", "automaton"},
}


def part_of(path):
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def imported_parts(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            if name.startswith("scapy_ike."):
                yield name.split(".")[1]


def test_imports_point_down():
    checked = 0
    for path in PACKAGE.rglob("*.py"):
        part = part_of(path)
        if part in ("__init__", "__main__"):
            continue
        assert part in ALLOWED, "%s is not in the design card's picture" % part
        for target in imported_parts(path):
            assert target == part or target in ALLOWED[part], "%s imports %s" % (path, target)
        checked += 1
    assert checked >= 5
