"""Scapy Automaton shells around the sans-IO engine: UDP sockets in,
Cisco-named states and log lines out, and the negotiated tunnel as a
SuperSocket."""

from scapy_ike.automaton.ike import IKEv1Automaton  # noqa: F401
from scapy_ike.automaton.tunnel import Tunnel, TunnelSocket  # noqa: F401
