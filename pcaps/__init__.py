"""Captures recorded with real strongSwan peers, each with its keys; see
README.md beside this file.  Find them with
``importlib.resources.files("scapy_ike.pcaps")``."""
