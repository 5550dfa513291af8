"""The log of the engine's events, as a Cisco IOS router would print it:
the ``debug crypto isakmp`` form (:mod:`scapy_ike.log.ios`, every step of
every exchange) or the quiet form (:mod:`scapy_ike.log.lines`, one line
per event).  Pure functions of the events: the Automaton logs what they
return, ``decode --ios-log`` will print the same from a capture."""

from scapy_ike.log.ios import IosLog, LogLine
from scapy_ike.log.lines import line

STYLES = ("ios", "quiet")


class Log:
    """Lines for batches of events (one input's each) in *style*;
    *numbers(initiator cookie)* gives an IKE SA's conn-id (by default
    *first*, then the next numbers, in order of first sight)."""

    def __init__(self, style="ios", numbers=None, first=1001):
        if style not in STYLES:
            raise ValueError("log style is %s, not %r" % (" or ".join(STYLES), style))
        self.style = style
        self.ios = IosLog(numbers, first)

    @property
    def debug(self):
        """Whether the engine must emit its debug facts for this style."""
        return self.style == "ios"

    def feed(self, events):
        """The :class:`LogLine` list of one input's *events*."""
        if self.style == "ios":
            return self.ios.feed(events)
        out = []
        for e in events:
            cid = self.ios.number(e.cookies) if hasattr(e, "cookies") else 0
            text = line(e, cid)
            if text is not None:
                out.append(LogLine(type(e).__name__, cid, text))
        return out


__all__ = ["Log", "LogLine", "IosLog", "line", "STYLES"]
