#!/usr/bin/env bash
# The main job: set up, then dissect a real strongSwan capture from pcaps/,
# decrypting its ESP with the keys recorded beside it.
source "$(dirname "$0")/setup.sh"
make_venv
CAPTURE=${CAPTURE:-mm-psk-aes128-sha1-modp2048}
exec "$VENV/bin/scapy-ike" decode "$ROOT/pcaps/$CAPTURE.pcap" --keys "$ROOT/pcaps/$CAPTURE.esp_sa"
