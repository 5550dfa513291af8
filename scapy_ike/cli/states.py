"""``scapy-ike states [--dot]``: the transition table of
:mod:`scapy_ike.core.state`, every exchange kind, state and input, as text
(one line per row) or as a Graphviz DOT digraph (one cluster per exchange
kind and role, one edge per transition), to be set beside the state
machines learned from real implementations.

A row whose next state depends on the exchange's purpose (a Transaction
the peer opened: XAuth or Mode Config, draft-beaulieu-ike-xauth-02 and
draft-dukes-ike-mode-cfg-02) shows every branch: ``{purpose: state, ...}``
in the text, one edge per purpose in DOT.  Inputs are exchange types
(RFC 2408 3.1, RFC 2409) by name, or the table's own events (timeout,
error notify, delete, entered).
"""

from scapy_ike.cli.common import ArgumentParser
from scapy_ike.constants import ExchangeType
from scapy_ike.core import state as S


def _input(value):
    return ExchangeType(value).name if isinstance(value, int) else value


def _handler(function):
    return "%s.%s" % (function.__module__.rsplit(".", 1)[-1], function.__name__)


def rows(table=None):
    """``(kind, role, state, input, handler, next)`` for every row of the
    table, in its order, grouped by exchange kind; *next* a state, or
    ``{purpose: state}``."""
    table = S.TABLE if table is None else table
    kinds = list(dict.fromkeys(key[0] for key in table))
    return sorted(((kind, role, state, _input(given), _handler(handler), following)
                   for (kind, role, state, given), (handler, following) in table.items()),
                  key=lambda row: kinds.index(row[0]))


def _next(following):
    if isinstance(following, dict):
        return "{%s}" % ", ".join("%s: %s" % item for item in following.items())
    return following


def text(table=None):
    """One line per row: kind, role, state, input, handler, next state."""
    lines = [("KIND", "ROLE", "STATE", "INPUT", "HANDLER", "NEXT")]
    lines += [row[:5] + (_next(row[5]),) for row in rows(table)]
    widths = [max(len(line[i]) for line in lines) for i in range(5)]
    return "\n".join("  ".join([cell.ljust(width) for cell, width in zip(line, widths)]
                               + [line[5]]) for line in lines)


def _quote(name):
    return '"%s"' % name.replace("\\", "\\\\").replace('"', '\\"')


def dot(table=None):
    """A DOT digraph: a cluster per (kind, role), its states as nodes
    (named ``kind/role/STATE``, labelled ``STATE``), an edge per
    transition labelled ``input / handler`` (``input [purpose] /
    handler`` for a branch)."""
    groups = {}
    for kind, role, state, given, handler, following in rows(table):
        edges = groups.setdefault((kind, role), [])
        branches = following.items() if isinstance(following, dict) else [(None, following)]
        for purpose, target in branches:
            label = given if purpose is None else "%s [%s]" % (given, purpose)
            edges.append((state, target, "%s / %s" % (label, handler)))
    out = ["digraph scapy_ike_states {", "  rankdir=LR;", "  node [shape=box];"]
    for number, ((kind, role), edges) in enumerate(groups.items()):
        out += ["  subgraph cluster_%d {" % number,
                "    label=%s;" % _quote("%s %s" % (kind, role))]
        states = dict.fromkeys(s for edge in edges for s in edge[:2])
        out += ["    %s [label=%s];" % (_quote("%s/%s/%s" % (kind, role, s)), _quote(s))
                for s in states]
        out += ["    %s -> %s [label=%s];" % (_quote("%s/%s/%s" % (kind, role, a)),
                                             _quote("%s/%s/%s" % (kind, role, b)), _quote(label))
                for a, b, label in edges]
        out.append("  }")
    out.append("}")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = ArgumentParser(prog="scapy-ike states", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dot", action="store_true", help="Graphviz DOT instead of text")
    args = parser.parse_args(argv)
    print(dot() if args.dot else text())
    return 0
