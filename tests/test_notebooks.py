"""Every notebook in the repository is kept stripped (no outputs, no
execution counts) and bounds its cells' time; notebooks/README.md lists
each of notebooks/ with a line; and the test command runs them with
nbmake (setup.cfg's [tool:pytest] adds notebooks/ and --nbmake)."""

import configparser
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in ROOT.rglob("*.ipynb")
                   if not any(part.startswith(".") for part in p.relative_to(ROOT).parts))


def test_the_readme_lists_every_notebook():
    readme = (ROOT / "notebooks" / "README.md").read_text()
    listed = set(re.findall(r"^- `([\w.-]+\.ipynb)`", readme, flags=re.M))
    assert listed and listed == {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_is_stripped_and_bounded(path):
    notebook = json.loads(path.read_text())
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code
    assert [(cell["outputs"], cell["execution_count"]) for cell in code] == [([], None)] * len(code)
    assert "widgets" not in notebook["metadata"]
    assert 0 < notebook["metadata"]["execution"]["timeout"] <= 120


def test_the_test_command_runs_the_notebooks():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    pytest_section = cfg["tool:pytest"]
    assert "notebooks" in pytest_section["testpaths"].split()
    assert "--nbmake" in pytest_section["addopts"].split()
    assert "nbmake" in cfg["options.extras_require"]["test"]
