#!/usr/bin/env bash
# The main job: set up, then dissect a real strongSwan capture from pcaps/.
source "$(dirname "$0")/setup.sh"
make_venv
exec "$VENV/bin/scapy-ike" decode "$ROOT/pcaps/${CAPTURE:-mm-psk-aes128-sha1-modp2048.pcap}"
