"""Packets dissected on first use.

``dissect_later(IP, data)`` is an ``IP`` packet that has not read *data*
yet: ``bytes()`` and ``len()`` answer from *data* directly, and any other
use (a field, a layer lookup, ``show()``, ``==``, a copy) first dissects
it, after which it is a plain ``IP`` of ``IP(data)`` in every respect,
its class included.  ESP decryption returns such packets: most are only
forwarded or written out, and Scapy's dissection costs more than the
decryption itself.
"""

import functools
import time

from scapy.base_classes import Packet_metaclass


class _Undissected:
    """The hook: any attribute looked up on the packet dissects it."""

    __slots__ = ()

    def __getattribute__(self, attr):
        cls = type(self).dissected_as
        data = object.__getattribute__(self, "original")
        stamp = object.__getattribute__(self, "time")
        object.__setattr__(self, "__class__", cls)
        cls.__init__(self, data)
        self.time = stamp
        return getattr(self, attr)

    def __bytes__(self):
        return object.__getattribute__(self, "original")

    def __len__(self):
        return len(object.__getattribute__(self, "original"))


@functools.lru_cache(maxsize=None)
def _undissected_class(cls):
    # type.__new__ directly: the class only hooks attribute lookup, so
    # Scapy's metaclass must not register it as a layer of its own
    lazy = type.__new__(Packet_metaclass, cls.__name__, (_Undissected, cls),
                        {"__slots__": (), "__module__": cls.__module__,
                         "__qualname__": cls.__qualname__})
    lazy.dissected_as = cls
    return lazy


def dissect_later(cls, data):
    """A *cls* packet of *data*, dissected when first used."""
    pkt = object.__new__(_undissected_class(cls))
    object.__setattr__(pkt, "original", bytes(data))
    object.__setattr__(pkt, "time", time.time())
    return pkt
