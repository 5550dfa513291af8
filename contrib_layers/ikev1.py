# SPDX-License-Identifier: GPL-2.0-only
# This file is part of scapy-ike.

# scapy.contrib.description = IKEv1 / ISAKMP, every payload (scapy-ike)
# scapy.contrib.status = loads

"""IKEv1/ISAKMP layers of scapy-ike, for ``load_contrib("ikev1")`` after
``conf.exts.load("scapy-ike")``.  The definitions live in
:mod:`scapy_ike.layers.isakmp`; this module only re-exports them."""

from scapy_ike.layers.isakmp import *  # noqa: F401,F403
