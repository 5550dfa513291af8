"""Phase 1.5, between Phase 1 and Quick Mode, over Transaction exchanges:
XAuth (draft-beaulieu-ike-xauth-02), which authenticates the user behind a
client inside the IKE SA, and Mode Config (draft-dukes-ike-mode-cfg-02),
which gives the client its address, DNS and the like, in either style:
pull (the client's REQUEST, the server's REPLY: strongSwan's way) or push
(the server's SET, the client's ACK: Cisco's way).

The XAuth server is whichever side the configuration says (normally the
gateway, the responder); it is also the Mode Config server.  Without
XAuth, the responder serves Mode Config.  The server asks (REQUEST with
XAUTH-TYPE, USER-NAME, USER-PASSWORD), the client replies, the server
says OK or FAIL by SET (XAUTH-STATUS) and the client ACKs (4, 5); wrong
credentials are asked again up to ``xauth_tries`` times, and after a
final FAIL the server deletes the IKE SA.  A server takes no Quick Mode
before XAuth succeeded; a client begins its Quick Mode once Phase 1.5 is
over, with its assigned address as its selector."""

import hmac
import ipaddress

from scapy_ike.constants import ConfigAttribute as A, ConfigType as C, XauthStatus
from scapy_ike.core import events as ev
from scapy_ike.core.errors import RemoteProtocolError
from scapy_ike.core.exchanges import transaction

XAUTH = (A.XAUTH_TYPE, A.XAUTH_USER_NAME, A.XAUTH_USER_PASSWORD)
PULLED = (A.INTERNAL_IP4_ADDRESS, A.INTERNAL_IP4_NETMASK, A.INTERNAL_IP4_DNS,
          A.INTERNAL_IP4_NBNS, A.INTERNAL_IP4_SUBNET, A.UNITY_BANNER, A.UNITY_DEF_DOMAIN,
          A.UNITY_SPLIT_INCLUDE, A.UNITY_SAVE_PASSWD, A.UNITY_PFS, A.UNITY_BACKUP_SERVERS)
"""What a pulling client asks for (an empty value each: "give me one")."""
WAIT = 30.0
"""How long a client waits for the server's XAuth REQUEST or Mode Config
SET after Phase 1 (and after XAuth) before it gives up."""


class RemoteAccess:
    """The Phase 1.5 of one IKE SA."""

    def __init__(self, conn):
        self.conn = conn
        config = conn.config
        self.xauth = config.xauth                    # our XAuth role, or None
        self.server = config.xauth == "server" if config.xauth else conn.role == "responder"
        self.modecfg = config.modecfg
        self.authenticated = config.xauth != "server"   # a server: once XAuth succeeded
        self.tries = 0
        self.user = None
        self.status = None                           # the XAUTH-STATUS we set
        self.attributes = ()                         # the Mode Config ones given or got
        self.complete = not config.phase15
        self.waiting_until = None

    # -- the steps ---------------------------------------------------------------

    def begin(self, now):
        """Phase 1 is complete: the server asks for credentials (or pushes
        the address), a pulling client asks for its address."""
        if self.complete:
            return self.conn.phase15_done(now)
        if self.server and self.xauth:
            return self._request_credentials(now)
        if self.server:
            if self.modecfg == "push":
                return self._push(now)
            return self._done(now, leased=False)     # a pull server: the client asks when it will
        if self.xauth or self.modecfg == "push":
            self.waiting_until = now + WAIT
            return None
        return self._pull(now)

    def asked(self, ex, cfg, now):
        """The peer opened a Transaction exchange: answer it."""
        if cfg.cfg_type == C.CFG_REQUEST and any(t in XAUTH for t, _ in cfg.attributes):
            return self._credentials(ex, cfg, now)
        if cfg.cfg_type == C.CFG_SET and cfg.first(A.XAUTH_STATUS) is not None:
            return self._status(ex, cfg, now)
        if cfg.cfg_type == C.CFG_REQUEST and self.server:
            return self._reply_lease(ex, cfg, now)
        if cfg.cfg_type == C.CFG_SET and not self.server:
            transaction.answer(ex, [(t, b"" if isinstance(v, bytes) else v)
                                    for t, v in cfg.attributes], now)
            return self._apply(cfg, now)
        raise RemoteProtocolError("a %s we cannot answer: we are the %s" % (
            C(cfg.cfg_type).name, "server" if self.server else "client"))

    def answered(self, ex, cfg, now):
        """Our REQUEST or SET got its REPLY or ACK."""
        if ex.purpose == "xauth":
            return self._check_credentials(cfg, now)
        if ex.purpose == "status":
            return self._status_acknowledged(now)
        if ex.purpose == "push":
            return self._done(now)
        if ex.purpose == "pull":
            return self._apply(cfg, now)
        return None

    def failed(self, ex, reason, now):
        """Our REQUEST or SET went unanswered: the IKE SA goes."""
        self.conn.event(ev.Failed(self.conn.cookies, ex.message_id, reason))
        self.conn.delete(now, "Phase 1.5 failed: " + reason)

    def timer(self):
        return self.waiting_until

    def handle_timer(self, now):
        if self.waiting_until is not None and now >= self.waiting_until:
            self.waiting_until = None
            self.conn.event(ev.Failed(self.conn.cookies, 0, "timeout: no %s from the server"
                                      % ("XAuth request" if self.xauth else "Mode Config SET")))
            self.conn.delete(now, "Phase 1.5 timed out")

    # -- XAuth, the server ---------------------------------------------------------

    def _request_credentials(self, now):
        self.tries += 1
        self.conn.new_transaction(C.CFG_REQUEST, [(A.XAUTH_TYPE, 0), (A.XAUTH_USER_NAME, b""),
                                                  (A.XAUTH_USER_PASSWORD, b"")], "xauth", now)

    def _check_credentials(self, cfg, now):
        user = cfg.first(A.XAUTH_USER_NAME, b"")
        password = cfg.first(A.XAUTH_USER_PASSWORD, b"")
        self.user = user.decode(errors="replace")
        known = dict(self.conn.config.xauth_users).get(self.user)
        good = known is not None and hmac.compare_digest(known.encode(), password)
        if not good and self.tries < self.conn.config.xauth_tries:
            self.conn.event(ev.XauthCompleted(self.conn.cookies, self.user, False,
                                              final=False))
            return self._request_credentials(now)
        self.status = XauthStatus.OK if good else XauthStatus.FAIL
        self.conn.new_transaction(C.CFG_SET, [(A.XAUTH_STATUS, self.status)], "status", now)

    def _status_acknowledged(self, now):
        good = self.status == XauthStatus.OK
        self.conn.event(ev.XauthCompleted(self.conn.cookies, self.user, good))
        if not good:
            return self.conn.delete(now, "XAuth failed for %r" % self.user)
        self.authenticated = True
        if self.modecfg == "push":
            return self._push(now)
        return self._done(now, leased=self.modecfg is None)   # pull: the client asks next

    # -- XAuth, the client -----------------------------------------------------------

    def _credentials(self, ex, cfg, now):
        if self.xauth != "client":
            raise RemoteProtocolError("an XAuth request, but we are no XAuth client")
        config = self.conn.config
        values = {A.XAUTH_TYPE: cfg.first(A.XAUTH_TYPE, 0),
                  A.XAUTH_USER_NAME: config.xauth_user.encode(),
                  A.XAUTH_USER_PASSWORD: config.xauth_password.encode()}
        transaction.answer(ex, [(t, values[t]) for t, _ in cfg.attributes if t in values], now)
        self.waiting_until = now + WAIT

    def _status(self, ex, cfg, now):
        status = cfg.first(A.XAUTH_STATUS)
        transaction.answer(ex, [(A.XAUTH_STATUS, status)], now)
        good = status == XauthStatus.OK
        self.conn.event(ev.XauthCompleted(self.conn.cookies, self.conn.config.xauth_user, good))
        if not good:
            self.waiting_until = None       # the server deletes the IKE SA
            self.conn.event(ev.Failed(self.conn.cookies, ex.message_id,
                                      "XAuth failed: the server refused user %r"
                                      % self.conn.config.xauth_user))
            return None
        self.authenticated = True
        if self.modecfg == "pull":
            self.waiting_until = None
            return self._pull(now)
        if self.modecfg == "push":
            self.waiting_until = now + WAIT
            return None
        self.waiting_until = None
        return self._done(now)

    # -- Mode Config -------------------------------------------------------------------

    def _pull(self, now):
        self.conn.new_transaction(C.CFG_REQUEST, [(t, b"") for t in PULLED], "pull", now)

    def _push(self, now):
        self.conn.new_transaction(C.CFG_SET, self._lease(None), "push", now)

    def _reply_lease(self, ex, cfg, now):
        transaction.answer(ex, self._lease(cfg), now)
        self._done(now)

    def _lease(self, cfg):
        """The attributes the client gets: an address from the pool (the
        same one again for the same user or identity) and the configured
        ones; for a REQUEST, those it asked for (and always the address)."""
        config = self.conn.config
        out = []
        address = self.conn.endpoint.lease(self.user or self.conn.peer_key)
        if address is not None:
            self.conn.leased = address
            out += [(A.INTERNAL_IP4_ADDRESS, address.packed),
                    (A.INTERNAL_IP4_NETMASK, ipaddress.ip_network(config.pool).netmask.packed)]
        out += [(t, _wire_value(v)) for t, v in config.modecfg_attributes]
        if cfg is not None:
            asked = {t for t, _ in cfg.attributes} | {A.INTERNAL_IP4_ADDRESS}
            out = [(t, v) for t, v in out if t in asked]
        self.attributes = out
        return out

    def _apply(self, cfg, now):
        """A client's lease: the address becomes our Quick Mode selector."""
        address = cfg.first(A.INTERNAL_IP4_ADDRESS)
        if address:
            self.conn.virtual_ip = ipaddress.ip_address(bytes(address))
        self.attributes = cfg.attributes
        return self._done(now)

    def _done(self, now, leased=True):
        """Phase 1.5 is over for us (*leased*: with Mode Config's answer)."""
        self.complete = True
        self.waiting_until = None
        conn = self.conn
        address = conn.leased if self.server else conn.virtual_ip
        if self.modecfg is not None and leased:
            conn.event(ev.ModeConfigApplied(conn.cookies, str(address) if address else "",
                                            tuple(self.attributes)))
        conn.phase15_done(now)


def _wire_value(value):
    """A configured attribute value as the wire carries it: an address or
    a subnet as text becomes its bytes, text its UTF-8, a number stays."""
    if isinstance(value, str):
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            return value.encode()
        if "/" in value:
            return network.network_address.packed + network.netmask.packed
        return network.network_address.packed
    return value
