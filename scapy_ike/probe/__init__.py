"""Probing IKE gateways, without I/O: first messages, the classification
of replies, transform enumeration, fingerprints, and the offline search
for Aggressive Mode pre-shared keys (:mod:`~scapy_ike.probe.crack`).  The
sockets are the shell's (:mod:`scapy_ike.cli.probe`)."""
