"""Scapy layers: IKEv1/ISAKMP payloads and their UDP 500/4500 bindings."""

from scapy_ike.layers.isakmp import *  # noqa: F401,F403
from scapy_ike.layers.isakmp import __all__  # noqa: F401
