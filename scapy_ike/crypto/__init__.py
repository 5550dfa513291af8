"""Cryptography as pure functions and per-SA engines: the algorithm table,
ciphers and MACs (``cryptography`` does the primitives)."""
