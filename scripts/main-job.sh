#!/usr/bin/env bash
# The main job: set up, then decode a real strongSwan session from pcaps/,
# every IKE message and ESP packet decrypted from its PSK and g^xy alone.
source "$(dirname "$0")/setup.sh"
make_venv
CAPTURE=${CAPTURE:-mm-psk-aes128-sha1-modp2048}
PSK=${PSK:-scapy-ike-mm}
GXY=$(grep -o 'g_xy=[0-9a-f]*' "$ROOT/pcaps/$CAPTURE.keys" | head -n 1 | cut -d= -f2)
exec "$VENV/bin/scapy-ike" decode "$ROOT/pcaps/$CAPTURE.pcap" --psk "$PSK" --gxy "$GXY"
