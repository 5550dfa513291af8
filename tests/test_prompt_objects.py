"""What a user meets at the prompt beside the layers: the configuration,
the Automaton, the ESP SA and the capture decoder each show what they are
in their repr (never a secret), and each docstring's example runs as
written."""

import doctest

import pytest

from scapy_ike.automaton.ike import IKEv1Automaton
from scapy_ike.core.config import Configuration
from scapy_ike.decode.session import Session
from scapy_ike.esp import SecurityAssociation


@pytest.mark.parametrize("cls", [Configuration, IKEv1Automaton, SecurityAssociation, Session])
def test_the_docstring_example_runs(cls):
    """The examples bind only loopback ports 17850-17851."""
    examples = doctest.DocTestFinder(recurse=False).find(cls, cls.__name__, globs={cls.__name__: cls})
    assert len(examples) == 1 and examples[0].examples
    result = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS).run(examples[0])
    assert (result.failed, result.attempted) == (0, len(examples[0].examples))


def test_configuration_repr_shows_what_differs_and_hides_secrets():
    assert repr(Configuration()) == "Configuration()"
    config = Configuration(role="responder", psk="not this", xauth="server",
                           xauth_users=[("alice", "nor this")], xauth_password="pw",
                           pool="10.9.0.0/24")
    assert repr(config) == ("Configuration(role='responder', psk=<hidden 8 bytes>, "
                            "xauth='server', xauth_password=<hidden 2 bytes>, "
                            "xauth_users=<1 users>, pool=('10.9.0.0/24',))")


def test_security_association_repr_names_algorithms_not_keys():
    sa = SecurityAssociation(7, crypt_algo="AES-CBC", crypt_key=b"k" * 16,
                             auth_algo="HMAC-SHA1-96", auth_key=b"a" * 20)
    assert repr(sa) == "<SecurityAssociation spi=0x00000007 AES-CBC HMAC-SHA1-96 transport seq=1>"
