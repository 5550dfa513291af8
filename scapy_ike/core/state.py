"""Every state transition of the engine, in one table (h11's rule), keyed
by (role, state, exchange received) and naming the handler that processes
the message and the state that follows.  States are named as a Cisco IOS
debug log names them (``debug crypto isakmp``), so that our log lies
beside a router's: ``IKE_I_MM1`` is "initiator, Main Mode message 1 sent",
``IKE_R_MM2`` "responder, message 2 sent", and so on.
"""

MAIN, AGGRESSIVE, QUICK, INFO = 2, 4, 32, 5

READY = "IKE_READY"
P1_COMPLETE = "IKE_P1_COMPLETE"
QM_READY = "IKE_QM_READY"
QM_COMPLETE = "IKE_QM_PHASE2_COMPLETE"
DEAD = "IKE_DEST_SA"

PHASE1 = {
    # (role, state, exchange received): (handler, state after)
    ("initiator", "IKE_I_MM1", MAIN): ("initiator_mm2", "IKE_I_MM3"),
    ("initiator", "IKE_I_MM3", MAIN): ("initiator_mm4", "IKE_I_MM5"),
    ("initiator", "IKE_I_MM5", MAIN): ("initiator_mm6", P1_COMPLETE),
    ("responder", READY, MAIN): ("responder_mm1", "IKE_R_MM2"),
    ("responder", "IKE_R_MM2", MAIN): ("responder_mm3", "IKE_R_MM4"),
    ("responder", "IKE_R_MM4", MAIN): ("responder_mm5", P1_COMPLETE),
    ("initiator", "IKE_I_AM1", AGGRESSIVE): ("initiator_am2", P1_COMPLETE),
    ("responder", READY, AGGRESSIVE): ("responder_am1", "IKE_R_AM2"),
    ("responder", "IKE_R_AM2", AGGRESSIVE): ("responder_am3", P1_COMPLETE),
}

QUICK_MODE = {
    ("initiator", "IKE_QM_I_QM1", QUICK): ("initiator_qm2", QM_COMPLETE),
    ("responder", QM_READY, QUICK): ("responder_qm1", "IKE_QM_R_QM2"),
    ("responder", "IKE_QM_R_QM2", QUICK): ("responder_qm3", QM_COMPLETE),
}

FIRST_SENT = {("initiator", "main"): "IKE_I_MM1", ("initiator", "aggressive"): "IKE_I_AM1"}
"""The state after the initiator's first message."""

QM_FIRST_SENT = "IKE_QM_I_QM1"
