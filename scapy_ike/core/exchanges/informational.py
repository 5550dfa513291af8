"""Informational exchanges (RFC 2408 4.8, RFC 2409 5.7): HASH(1) then
Notify or Delete payloads, one message under a fresh message ID; and Dead
Peer Detection on top of them (RFC 3706: R-U-THERE, R-U-THERE-ACK).

A received Informational is an exchange of one message: checked, then
its notifies and Deletes go to the exchanges they concern (an error
notify to the Phase 1 or the Quick Modes waiting for an answer, a Delete
of the ISAKMP SA to the Phase 1)."""

import struct

from scapy_ike.constants import ExchangeType, NotifyType, PayloadType as T, ProtocolId
from scapy_ike.core.exchanges import Exchange
from scapy_ike.core.exchanges.quick import _hash_rest, check_hash
from scapy_ike.core.message import encode_delete, encode_notify, encode_payloads
from scapy_ike.crypto import keys

INFO = ExchangeType.INFORMATIONAL
STATUS_FROM = 16384
"""Notify types from here on are status, not errors (RFC 2408 3.14.1)."""


class Informational(Exchange):
    """One received Informational message."""

    kind = "informational"


def receive(ex, msg, now):
    """Check HASH(1) (RFC 2409 5.7) when keys exist, then act on each
    notify and Delete."""
    conn, sa = ex.conn, ex.conn.sa
    if msg.encrypted:
        received, rest = _hash_rest(msg)
        check_hash(keys.message_hash(sa.hash, sa.skeyid_a, msg.message_id, rest), received,
                   "Informational HASH(1)")
    notifies, deletes = msg.notifies(), msg.deletes()
    msg.accept()
    for n in notifies:
        conn.notify_received(n)
        if n.notify_msg_type == NotifyType.R_U_THERE and msg.encrypted:
            _are_you_there(conn, n, now)
        elif n.notify_msg_type == NotifyType.R_U_THERE_ACK and msg.encrypted:
            if bytes(n.SPI) == conn.cookies and len(n.notify_data) == 4:
                conn.are_you_there_ack(struct.unpack("!I", n.notify_data)[0])
        elif n.notify_msg_type < STATUS_FROM:
            conn.error_notify(n, now)
    for d in deletes:
        conn.delete_received(d, now)


def _are_you_there(conn, n, now):
    """Answer R-U-THERE with R-U-THERE-ACK echoing its sequence number,
    for our cookies only and for a sequence number we have not answered
    yet (RFC 3706 5.2, 7)."""
    if bytes(n.SPI) != conn.sa.cky_i + conn.sa.cky_r or len(n.notify_data) != 4:
        return
    seq = struct.unpack("!I", n.notify_data)[0]
    if conn.dpd_seq is not None and not 0 < (seq - conn.dpd_seq) % 2 ** 32 < 2 ** 31:
        return                         # not after the last one answered: a replay
    conn.dpd_seq = seq
    send(conn, notify_payload(conn, NotifyType.R_U_THERE_ACK, n.notify_data), now)


def notify_payload(conn, notify_type, data=b""):
    """``(type, body)`` of an ISAKMP notify about this IKE SA."""
    return T.NOTIFICATION, encode_notify(ProtocolId.ISAKMP, conn.cookies, notify_type, data)


def delete_payload(protocol, spis):
    """``(type, body)`` of a Delete (RFC 2408 3.15)."""
    return T.DELETE, encode_delete(protocol, list(spis))


def send(conn, payload, now):
    """An Informational exchange of our own: HASH(1) then *payload*,
    encrypted under a fresh message ID (RFC 2409 5.7); sent once."""
    sa = conn.sa
    mid = conn.new_message_id()
    digest = keys.message_hash(sa.hash, sa.skeyid_a, mid, encode_payloads([payload]))
    conn.endpoint.outgoing.append(conn.datagram(
        conn.encrypted(INFO, [(T.HASH, digest), payload], mid)))
    sa.forget(mid)                     # one message: its IV chain ends with it
