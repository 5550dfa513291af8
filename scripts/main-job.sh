#!/usr/bin/env bash
# The main job: set up, then a full IKEv1 handshake (Main Mode + Quick Mode)
# between our initiator and our responder on loopback, pings through the ESP
# tunnel, and a capture plus key log that tshark decrypts (in ./demo).
source "$(dirname "$0")/setup.sh"
make_venv
cd "$ROOT"
exec "$VENV/bin/scapy-ike" demo --out "${DEMO_OUT:-demo}" "$@"
