# SPDX-License-Identifier: GPL-2.0-only
# This file is part of scapy-ike.

# scapy.contrib.description = IKEv1 / ISAKMP, every payload (scapy-ike)
# scapy.contrib.status = loads

"""IKEv1/ISAKMP layers of scapy-ike, for ``load_contrib("ikev1")`` after
``conf.exts.load("scapy-ike")``.  The definitions live in
:mod:`scapy_ike.layers.isakmp`; this module only re-exports them and
offers them to the prompt (:mod:`scapy_ike.contrib.prompt`): after
``load_contrib("ikev1")``, ``ls(ISAKMP_payload_ID)`` lists our fields and
``explore("ikev1")`` our layers."""

from scapy_ike.contrib.prompt import offer_to_prompt
from scapy_ike.layers import isakmp as _layers
from scapy_ike.layers.isakmp import *  # noqa: F401,F403
from scapy_ike.layers.isakmp import __all__  # noqa: F401

offer_to_prompt(__name__, _layers)
