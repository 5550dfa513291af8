"""Scapy-contrib-format modules of scapy-ike, registered by
:func:`scapy_ike.scapy_ext` so that ``load_contrib("ikev1")`` works."""
