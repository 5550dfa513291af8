"""Decoding captures: the key material that opens their ESP and IKE
traffic, read from the files other tools keep it in."""
