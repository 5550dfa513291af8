"""The sans-IO IKEv1 core: an :class:`Endpoint` of IKE SAs
(:mod:`~scapy_ike.core.connection`), each running its exchanges
(:mod:`~scapy_ike.core.exchanges`) by the one transition table
(:mod:`~scapy_ike.core.state`), configured by one :class:`Configuration`
and telling what happens in :mod:`~scapy_ike.core.events`."""

from scapy_ike.core.config import Configuration
from scapy_ike.core.endpoint import Endpoint
from scapy_ike.core.exchanges import Datagram

__all__ = ["Configuration", "Endpoint", "Datagram"]
