"""``python -m scapy_ike`` is the ``scapy-ike`` command."""

import sys

from scapy_ike.cli import main

sys.exit(main())
