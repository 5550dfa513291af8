"""What ``load_contrib("ikev1")`` adds to the Scapy prompt beyond copying
names, which Scapy's loader does (into ``builtins``).

The prompt's own namespace (``scapy_session``, made by
``scapy.main.init_session``) already holds Scapy's ``ISAKMP``,
``ISAKMP_payload_SA`` ... from ``scapy.all``, and it comes before
``builtins``: so those names are pointed at our classes, the ones that
dissection produces, for ``ls()``, ``help()`` and tab completion.  And
``explore("ikev1")`` looks the module up by name among the registered
layers, where ours are filed under their defining module.
"""

import builtins

from scapy.base_classes import Packet_metaclass
from scapy.config import conf
from scapy.layers import isakmp as _scapy


def offer_to_prompt(contrib_name, module):
    """File *module*'s layers under *contrib_name* for ``explore()`` and
    give the prompt's names that are Scapy's classes our own."""
    layers = [getattr(module, n) for n in module.__all__
              if isinstance(getattr(module, n), Packet_metaclass)]
    conf.layers.ldict[contrib_name] = layers
    session = builtins.__dict__.get("scapy_session")
    if session is None:             # not at the prompt
        return
    for name in module.__all__:
        theirs = getattr(_scapy, name, None)
        if theirs is not None and session.get(name) is theirs:
            session[name] = getattr(module, name)
