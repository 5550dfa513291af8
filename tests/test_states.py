"""``scapy-ike states [--dot]``: the transition table of core/state.py,
every row of it, as text and as DOT that parses."""

import re
import shutil
import subprocess

from scapy_ike.cli import main
from scapy_ike.constants import ExchangeType
from scapy_ike.core import state as S


def _run(capsys, *argv):
    status = main(["states", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def _branches():
    """(kind, role, state, input name, next) for every branch of the table."""
    out = []
    for (kind, role, state, given), (_, following) in S.TABLE.items():
        name = ExchangeType(given).name if isinstance(given, int) else given
        for target in (following.values() if isinstance(following, dict) else [following]):
            out.append((kind, role, state, name, target))
    return out


def _states():
    return {b[2] for b in _branches()} | {b[4] for b in _branches()}


def test_text_lists_exactly_the_rows_of_the_table(capsys):
    status, out, err = _run(capsys)
    assert (status, err) == (0, "")
    header, *lines = out.rstrip("\n").split("\n")
    assert header.split() == ["KIND", "ROLE", "STATE", "INPUT", "HANDLER", "NEXT"]
    assert len(lines) == len(S.TABLE) == 52
    shown = set()
    for line in lines:
        kind, role, state, rest = line.split(None, 3)
        given, handler, following = re.fullmatch(r"(.+?)\s{2,}(\S+)\s+(.+)", rest).groups()
        shown.add((kind, role, state, given, handler))
    expected = {(k, r, s, ExchangeType(g).name if isinstance(g, int) else g,
                 "%s.%s" % (h.__module__.rsplit(".", 1)[-1], h.__name__))
                for (k, r, s, g), (h, _) in S.TABLE.items()}
    assert shown == expected
    (branching,) = [line for line in lines if "{" in line]
    assert branching.split(None, 5)[:5] == ["transaction", "responder", S.TX_READY,
                                            "TRANSACTION", "transaction.received"]
    assert branching.endswith("{%s}" % ", ".join("%s: %s" % item
                                                 for item in S.TX_ANSWERED.items()))
    words = set(out.split())
    assert {state.strip("{},") for state in _states()} <= {w.strip("{},") for w in words}


def _parse_dot(text):
    """The clusters of our DOT output, checked line by line against the
    grammar it uses (graph, attribute, subgraph, node and edge statements):
    ``{cluster label: (nodes {id: label}, edges [(a, b, label)])}``."""
    q = r'"((?:[^"\\]|\\.)*)"'
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == "digraph scapy_ike_states {" and lines[-1] == "}"
    assert lines[1:3] == ["  rankdir=LR;", "  node [shape=box];"]
    clusters, current, depth = {}, None, 1
    for line in lines[3:-1]:
        if m := re.fullmatch(r"  subgraph cluster_\d+ \{", line):
            assert current is None
            depth += 1
            current = "pending"
        elif m := re.fullmatch(r"    label=%s;" % q, line):
            assert current == "pending"
            current = m.group(1)
            clusters[current] = ({}, [])
        elif m := re.fullmatch(r"    %s \[label=%s\];" % (q, q), line):
            clusters[current][0][m.group(1)] = m.group(2)
        elif m := re.fullmatch(r"    %s -> %s \[label=%s\];" % (q, q, q), line):
            clusters[current][1].append(m.groups())
        else:
            assert line == "  }", line
            depth -= 1
            current = None
    assert depth == 1 and current is None
    return clusters


def test_dot_parses_and_has_an_edge_for_every_branch(capsys):
    status, out, err = _run(capsys, "--dot")
    assert (status, err) == (0, "")
    if shutil.which("dot"):
        svg = subprocess.run(["dot", "-Tsvg"], input=out, capture_output=True, text=True,
                             timeout=60)
        assert svg.returncode == 0 and "<svg" in svg.stdout, svg.stderr
    clusters = _parse_dot(out)
    assert set(clusters) == {"%s %s" % (k, r) for (k, r, _, _) in S.TABLE}
    edges = []
    for name, (nodes, cluster_edges) in clusters.items():
        kind, role = name.split()
        for a, b, label in cluster_edges:
            assert a in nodes and b in nodes            # declared in its own cluster
            given = label.split(" / ")[0].split(" [")[0]
            edges.append((kind, role, nodes[a], given, nodes[b]))
    assert sorted(edges) == sorted(_branches())
    assert len(edges) == len(S.TABLE) - 1 + len(S.TX_ANSWERED)
    labels = {label for nodes, _ in clusters.values() for label in nodes.values()}
    assert labels == _states()
    assert '[label="TRANSACTION [xauth] / transaction.received"]' in out


def test_bad_usage_is_one_line(capsys):
    status, out, err = _run(capsys, "--graphml")
    assert status == 2 and out == ""
    assert err == "scapy-ike states: unrecognized arguments: --graphml\n"
