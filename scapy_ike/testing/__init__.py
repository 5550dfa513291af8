"""Test helpers for users' and the project's own tests: a real strongSwan
IKEv1 peer in network namespaces of its own (:mod:`.strongswan`) and sockets
and processes in a named network namespace (:mod:`.netns`).

Nothing is imported here, so that loading the package costs nothing.
"""
