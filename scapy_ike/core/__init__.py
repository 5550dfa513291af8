"""The sans-IO IKEv1 core: an :class:`Endpoint` of IKE SAs
(:mod:`~scapy_ike.core.connection`), each running its exchanges
(:mod:`~scapy_ike.core.exchanges`) by the one transition table
(:mod:`~scapy_ike.core.state`), configured by one :class:`Configuration`
and telling what happens in :mod:`~scapy_ike.core.events`.

The three classes are imported on first use (PEP 562), so that a reader
of messages (:mod:`~scapy_ike.core.message`, :mod:`~scapy_ike.core.sa`)
does not load the engine, and the Scapy layers its offers are built with."""

import importlib

_MODULES = {"Configuration": "scapy_ike.core.config",
            "Endpoint": "scapy_ike.core.endpoint",
            "Datagram": "scapy_ike.core.exchanges"}

__all__ = list(_MODULES)


def __getattr__(name):
    if name not in _MODULES:
        raise AttributeError("module %r has no attribute %r" % (__name__, name))
    value = getattr(importlib.import_module(_MODULES[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
