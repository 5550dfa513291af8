"""Every transition of every exchange, in one table (h11's rule).

A row is keyed by (kind, role, state, input) and gives the handler, a
function ``handler(exchange, message, now)``, and the state that follows.
Inputs are the exchange types of messages (Main Mode 2, Aggressive 4,
Informational 5, Transaction 6, Quick Mode 32) and the events below: a timeout (the last
retransmission unanswered, a half-open SA too old), an error notify or a
Delete from the peer, and ENTERED, the state-triggered rows that run when
an exchange reaches a state (Phase 1 complete: the event, then our Quick
Mode).  A message that does not authenticate has no row on purpose: it
changes no state, whatever the state (the connection applies that rule in
one place).

States are named as a Cisco IOS debug log names them (``debug crypto
isakmp``), so that our log lies beside a router's: ``IKE_I_MM1`` is
"initiator, Main Mode message 1 sent", ``IKE_R_MM2`` "responder, message 2
sent", and so on.
"""

from scapy_ike.constants import ExchangeType
from scapy_ike.core.exchanges import informational, phase1, quick, transaction

MAIN, AGGRESSIVE = ExchangeType.MAIN_MODE, ExchangeType.AGGRESSIVE
QUICK, INFO = ExchangeType.QUICK_MODE, ExchangeType.INFORMATIONAL
TRANSACTION = ExchangeType.TRANSACTION
TIMEOUT, ERROR_NOTIFY, DELETE, ENTERED = "timeout", "error notify", "delete", "entered"

READY = "IKE_READY"
P1_COMPLETE = "IKE_P1_COMPLETE"
QM_READY = "IKE_QM_READY"
QM_I_QM1 = "IKE_QM_I_QM1"
QM_R_QM2 = "IKE_QM_R_QM2"
QM_COMPLETE = "IKE_QM_PHASE2_COMPLETE"
INFO_READY, INFO_DONE = "IKE_INFO_READY", "IKE_INFO_DONE"
TX_READY, TX_DONE = "IKE_CFG_READY", "IKE_CFG_DONE"
TX_SENT = {"xauth": "IKE_XAUTH_REQ_SENT", "status": "IKE_XAUTH_SET_SENT",
           "pull": "IKE_CONFIG_MODE_REQ_SENT", "push": "IKE_CONFIG_MODE_SET_SENT"}
"""A Transaction exchange we opened, by its purpose: XAuth's REQUEST and
SET of the status (the server's), Mode Config's REQUEST (a pulling
client's) and SET (a pushing server's), as IOS names these states."""
TX_ANSWERED = {"xauth": "IKE_XAUTH_REPLY_SENT", "status": "IKE_XAUTH_ACK_SENT",
               "pull": "IKE_CONFIG_MODE_REPLY_SENT", "push": "IKE_CONFIG_MODE_ACK_SENT"}
"""A Transaction exchange the peer opened, once we answered, by what it
asked (a row whose next state is a dict takes the exchange's purpose)."""
DEAD = "IKE_DEST_SA"

FIRST_SENT = {"main": "IKE_I_MM1", "aggressive": "IKE_I_AM1"}
"""The initiator's Phase 1 state after its first message."""

P1 = phase1.Phase1.kind
QM = quick.QuickMode.kind
IN = informational.Informational.kind
TX = transaction.Transaction.kind

TABLE = {
    # Main Mode
    (P1, "initiator", "IKE_I_MM1", MAIN): (phase1.initiator_mm2, "IKE_I_MM3"),
    (P1, "initiator", "IKE_I_MM3", MAIN): (phase1.initiator_mm4, "IKE_I_MM5"),
    (P1, "initiator", "IKE_I_MM5", MAIN): (phase1.initiator_mm6, P1_COMPLETE),
    (P1, "responder", READY, MAIN): (phase1.responder_mm1, "IKE_R_MM2"),
    (P1, "responder", "IKE_R_MM2", MAIN): (phase1.responder_mm3, "IKE_R_MM4"),
    (P1, "responder", "IKE_R_MM4", MAIN): (phase1.responder_mm5, P1_COMPLETE),
    # Aggressive Mode
    (P1, "initiator", "IKE_I_AM1", AGGRESSIVE): (phase1.initiator_am2, P1_COMPLETE),
    (P1, "responder", READY, AGGRESSIVE): (phase1.responder_am1, "IKE_R_AM2"),
    (P1, "responder", "IKE_R_AM2", AGGRESSIVE): (phase1.responder_am3, P1_COMPLETE),
    # Phase 1 complete: the event, the SA's timers; an initiator's Quick Mode follows
    (P1, "initiator", P1_COMPLETE, ENTERED): (phase1.established, P1_COMPLETE),
    (P1, "responder", P1_COMPLETE, ENTERED): (phase1.established, P1_COMPLETE),
    # the IKE SA deleted by the peer
    (P1, "initiator", P1_COMPLETE, DELETE): (phase1.deleted, DEAD),
    (P1, "responder", P1_COMPLETE, DELETE): (phase1.deleted, DEAD),
    # Quick Mode
    (QM, "initiator", QM_I_QM1, QUICK): (quick.initiator_qm2, QM_COMPLETE),
    (QM, "responder", QM_READY, QUICK): (quick.responder_qm1, QM_R_QM2),
    (QM, "responder", QM_R_QM2, QUICK): (quick.responder_qm3, QM_COMPLETE),
    (QM, "initiator", QM_COMPLETE, ENTERED): (quick.established, QM_COMPLETE),
    (QM, "responder", QM_COMPLETE, ENTERED): (quick.established, QM_COMPLETE),
    (QM, "initiator", QM_I_QM1, TIMEOUT): (quick.timeout, DEAD),
    (QM, "responder", QM_R_QM2, TIMEOUT): (quick.timeout, DEAD),
    (QM, "initiator", QM_I_QM1, ERROR_NOTIFY): (quick.error_notify, DEAD),
    # Transaction (XAuth, Mode Config): ask and answer, after Phase 1
    (TX, "responder", TX_READY, TRANSACTION): (transaction.received, TX_ANSWERED),
    # Informational: one message, any time after its keys (or in clear before them)
    (IN, "responder", INFO_READY, INFO): (informational.receive, INFO_DONE),
}

PHASE1_WAITING = {
    "initiator": ("IKE_I_MM1", "IKE_I_MM3", "IKE_I_MM5", "IKE_I_AM1"),
    "responder": (READY, "IKE_R_MM2", "IKE_R_MM4", "IKE_R_AM2"),
}
"""Phase 1 states that wait for the peer: each ends on a timeout (the
initiator's last retransmission, a responder's half-open timeout) or on
the peer's error notify."""
for _role, _states in PHASE1_WAITING.items():
    for _state in _states:
        TABLE[(P1, _role, _state, TIMEOUT)] = (phase1.timeout, DEAD)
        TABLE[(P1, _role, _state, ERROR_NOTIFY)] = (phase1.error_notify, DEAD)
for _purpose, _state in TX_SENT.items():
    # ours: the answer comes, or never does; then Phase 1.5's next step
    TABLE[(TX, "initiator", _state, TRANSACTION)] = (transaction.answered, TX_DONE)
    TABLE[(TX, "initiator", _state, TIMEOUT)] = (transaction.timeout, DEAD)
    # the peer's: answered, then the next step
    _answered = TX_ANSWERED[_purpose]
    TABLE[(TX, "responder", _answered, ENTERED)] = (transaction.ended, _answered)
TABLE[(TX, "initiator", TX_DONE, ENTERED)] = (transaction.ended, TX_DONE)
