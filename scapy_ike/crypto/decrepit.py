"""Weak or rare block ciphers, kept for interop and old captures only
(never offered by default): DES, 3DES, Blowfish, CAST-128 and Camellia.

``cryptography`` keeps them in its own decrepit corner and has no single
DES, which is 3DES with the key repeated (k1 = k2 = k3 gives
E_k(D_k(E_k(x))) = E_k(x))."""

from cryptography.hazmat.decrepit.ciphers import algorithms


def block_algorithm(name, key):
    """The ``cryptography`` algorithm object of a decrepit cipher."""
    if name == "des":
        return algorithms.TripleDES(key * 3)
    if name == "3des":
        return algorithms.TripleDES(key)
    if name == "blowfish":
        return algorithms.Blowfish(key)
    if name == "cast128":
        return algorithms.CAST5(key)
    if name == "camellia":
        return algorithms.Camellia(key)
    raise KeyError("no decrepit cipher %r" % name)
