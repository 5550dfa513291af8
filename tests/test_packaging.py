"""setup.cfg lists every package (``packages = find:`` misses the mapped
folders, so the list is explicit and must stay complete)."""

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "scapy_ike").rglob("__init__.py")}
    assert found <= listed
    assert {"scapy_ike.contrib", "scapy_ike.pcaps"} <= listed
