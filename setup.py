"""The one compiled part: the PSK search's inner loop (scapy_ike/probe/_crackloop.c),
linked with OpenSSL's libcrypto.  It is optional: without a C compiler or
OpenSSL's headers the package installs without it, and ``crack`` checks
each candidate with Python's ``hmac``."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("scapy_ike.probe._crackloop", ["scapy_ike/probe/_crackloop.c"],
                             libraries=["crypto"], optional=True)])
