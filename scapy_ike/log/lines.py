"""One log line per engine event, in IOS's manner (``ISAKMP:(1002): ...``,
``IPSEC(delete_sa): ...``): the quiet form of the log, and the lines of
the IOS-style debug log for events that are not one of a message's facts
(lifecycle, XAuth and Mode Config, failures).  Every event has a line or
is silent on purpose; none is ever shown as a Python repr.  Secrets never
appear: the events carry none (Mode Config's come hidden)."""

from scapy_ike.constants import NotifyType
from scapy_ike.core import events as ev, state as S
from scapy_ike.log import words

PROTOCOLS = {1: "ISAKMP", 2: "AH", 3: "ESP", 4: "IPCOMP"}
DEBUG_ONLY = (ev.MessageSent, ev.MessageReceived, ev.TransformChecked)
"""Events only the IOS-style debug log shows (as its own lines)."""


def spis(values):
    return ", ".join("0x" + spi.hex() for spi in values) or "none"


def notify_name(number):
    try:
        return NotifyType(number).name.replace("_", "-")
    except ValueError:
        return "notify type %d" % number


def line(event, conn=None):
    """The line for *event*, or None when it has none (the debug-only
    facts; Informational's bookkeeping states).  *conn* is the SA's name
    in the line (IOS's conn-id), by default its initiator cookie in hex."""
    if isinstance(event, DEBUG_ONLY):
        return None
    if conn is None:
        conn = event.cookies[:8].hex() if hasattr(event, "cookies") else "0"
    for kinds, render in _RENDER:
        if isinstance(event, kinds):
            return render(event, conn)
    return "ISAKMP:(%s): %s" % (conn, type(event).__name__)


def _state(e, conn):
    if e.new in (S.INFO_READY, S.INFO_DONE):
        return None
    node = "Node %d, " % words.message_id(e.message_id) if e.message_id else ""
    return "ISAKMP:(%s):%sOld State = %s New State = %s" % (conn, node, e.old, e.new)


def _phase1(e, conn):
    return "ISAKMP:(%s):SA has been authenticated with %s%s" % (
        conn, e.peer[0], " (NAT-T)" if e.natted else "")


def _quick(e, conn):
    return ("IPSEC(create_sa): sa created, spi in 0x%s out 0x%s, %s, (proxy %s to %s)"
            % (e.spi_in.hex(), e.spi_out.hex(), e.proposal.describe(), e.local_ts, e.remote_ts))


def _notify(e, conn):
    return "ISAKMP:(%s): received NOTIFY %s%s" % (
        conn, notify_name(e.notify_type), " data 0x%s" % e.data.hex() if e.data else "")


def _failed(e, conn):
    notify = " (%s)" % notify_name(e.notify_type) if e.notify_type is not None else ""
    node = " node %d" % words.message_id(e.message_id) if e.message_id else ""
    return "ISAKMP:(%s):%s failed: %s%s" % (conn, node, e.reason, notify)


def _dropped(e, conn):
    return "ISAKMP: dropped a packet from %s port %d: %s" % (e.peer[0], e.peer[1], e.reason)


def _retransmitted(e, conn):
    return "ISAKMP:(%s): retransmitting node %d, attempt %d" % (
        conn, words.message_id(e.message_id), e.attempt)


def _dead(e, conn):
    return ("ISAKMP:(%s): peer %s dead (DPD): silent for %.0f s, R-U-THERE unanswered; "
            "its SAs deleted" % (conn, e.peer[0], e.silent_for))


def _rekeyed(e, conn):
    if e.protocol == 1:
        return "ISAKMP:(%s): IKE SA renewed by %s" % (conn, e.new[0].hex())
    return ("IPSEC(rekey): spi in 0x%s out 0x%s replaced by in 0x%s out 0x%s"
            % (e.old[0].hex(), e.old[1].hex(), e.new[0].hex(), e.new[1].hex()))


def _child_closed(e, conn):
    return "IPSEC(delete_sa): spi in 0x%s out 0x%s (%s)" % (e.spi_in.hex(), e.spi_out.hex(),
                                                           e.reason)


def _ike_closed(e, conn):
    return "ISAKMP:(%s): IKE SA closed (%s)" % (conn, e.reason)


def _delete_received(e, conn):
    removed = [spi for pair in e.removed for spi in (pair if isinstance(pair, tuple) else (pair,))]
    return ("ISAKMP:(%s): received DELETE of %s SPI %s, removed %s"
            % (conn, PROTOCOLS.get(e.protocol, e.protocol), spis(e.spis),
               spis(removed) if removed else "nothing (not known here)"))


def _delete_sent(e, conn):
    return "ISAKMP:(%s): sending DELETE of %s SPI %s" % (
        conn, PROTOCOLS.get(e.protocol, e.protocol), spis(e.spis))


def _expired(e, conn):
    kind = "hard" if e.hard else "soft"
    if not e.spi_in:
        return "ISAKMP:(%s): IKE SA reached its %s lifetime%s" % (
            conn, kind, "" if e.hard else ": renewing")
    return "IPSEC(lifetime): spi in 0x%s out 0x%s reached their %s lifetime%s" % (
        e.spi_in.hex(), e.spi_out.hex(), kind, "" if e.hard else ": rekeying")


def _xauth_requested(e, conn):
    return "ISAKMP:(%s): XAuth request, attempt %d%s" % (
        conn, e.attempt, ': "%s"' % e.message if e.message else "")


def _xauth_status(e, conn):
    verdict = "OK" if e.ok else "FAIL" if e.final else "FAIL, asking again"
    return "ISAKMP:(%s): XAuth status for user %s: %s" % (conn, e.user, verdict)


def _modecfg(e, conn):
    shown = ", ".join("%s %s" % (name, ",".join(value) if isinstance(value, list) else value)
                      for name, value in e.attributes if value is not None)
    return "ISAKMP:(%s): Mode Config attributes: %s" % (conn, shown or "none")


def _address(e, conn):
    return "ISAKMP:(%s): Mode Config address %s assigned to %s" % (conn, e.address,
                                                                  e.user or "us")


_RENDER = (
    (ev.StateChanged, _state), (ev.Phase1Established, _phase1),
    (ev.QuickModeEstablished, _quick), (ev.NotifyReceived, _notify), (ev.Failed, _failed),
    (ev.Dropped, _dropped), (ev.Retransmitted, _retransmitted), (ev.PeerDead, _dead),
    (ev.Rekeyed, _rekeyed), (ev.ChildSaClosed, _child_closed), (ev.IkeSaClosed, _ike_closed),
    (ev.DeleteReceived, _delete_received), (ev.DeleteSent, _delete_sent),
    (ev.Expired, _expired), (ev.XAuthRequested, _xauth_requested),
    (ev.XAuthStatus, _xauth_status), (ev.ModeConfigReceived, _modecfg),
    (ev.AddressAssigned, _address),
)
