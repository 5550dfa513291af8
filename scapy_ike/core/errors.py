"""Errors as h11 splits them.

:class:`LocalProtocolError` is our caller's misuse of the engine (a bad
configuration, a call in the wrong state): it is raised to the caller.
:class:`RemoteProtocolError` is the peer's fault: the endpoint turns it
into a ``Dropped`` or ``Failed`` event, and never lets it out.
"""


class LocalProtocolError(ValueError):
    """The engine was asked something it cannot do."""


class RemoteProtocolError(Exception):
    """The peer's message is wrong: *reason* says how, *notify* is the
    notify type to answer with (None: answer nothing).

    The connection knows whether the message was accepted (its HASH
    verified and its IV chain moved) before the error, and applies the
    rule that input that does not authenticate changes no state and gets
    no answer: an encrypted message's error before acceptance is dropped.
    """

    def __init__(self, reason, notify=None):
        super().__init__(reason)
        self.reason = reason
        self.notify = notify


class Unauthenticated(RemoteProtocolError):
    """The message does not decrypt to a valid message, or its HASH does
    not verify: it may be anyone's (a forgery, a reflection, a wrong
    pre-shared key), so it is dropped, changes no state and is never
    answered, clear or not."""
