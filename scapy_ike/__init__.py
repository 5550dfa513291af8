"""scapy-ike: IKEv1 (ISAKMP/Oakley, RFC 2407/2408/2409) and ESP (RFC 4303)
for Scapy.

``import scapy_ike.layers`` (or, at the Scapy prompt,
``conf.exts.load("scapy-ike")`` then ``load_contrib("ikev1")``) gives every
IKEv1 payload as a Scapy layer.
"""

__version__ = "0.1.0"


def scapy_ext(plg):
    """Scapy's extension hook: registers the ``ikev1`` contrib module."""
    from importlib.resources import files

    from scapy.config import ScapyExt

    plg.config("scapy-ike", __version__)
    plg.register("ikev1", ScapyExt.MODE.CONTRIB,
                 str(files("scapy_ike.contrib") / "ikev1.py"))

