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

import ipaddress

from scapy_ike import __version__
from scapy_ike.constants import ConfigAttribute as A, ConfigType as C, XauthStatus
from scapy_ike.core import events as ev, modecfg
from scapy_ike.core.errors import RemoteProtocolError
from scapy_ike.core.exchanges import transaction
from scapy_ike.core.pool import PoolExhausted

PULLED = (A.INTERNAL_IP4_ADDRESS, A.INTERNAL_IP4_NETMASK, A.INTERNAL_IP4_DNS,
          A.INTERNAL_IP4_NBNS, A.INTERNAL_IP4_SUBNET, A.INTERNAL_IP6_ADDRESS,
          A.INTERNAL_IP6_DNS, A.INTERNAL_IP6_SUBNET, A.UNITY_BANNER, A.UNITY_DEF_DOMAIN,
          A.UNITY_SPLIT_INCLUDE, A.UNITY_SAVE_PASSWD, A.UNITY_PFS, A.UNITY_BACKUP_SERVERS)
"""What a pulling client asks for (an empty value each: "give me one"),
beside its APPLICATION_VERSION."""
VERSION = ("scapy-ike " + __version__).encode()
"""Our APPLICATION_VERSION (draft-dukes-ike-mode-cfg-02 3.3)."""
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
        self.tries = 0                               # XAuth REQUESTs sent, or received
        self.user = None
        self.status = None                           # the XAUTH-STATUS we set
        self.attributes = ()                         # the Mode Config ones given or got
        self.complete = not config.phase15
        self.waiting_until = None
        self._next = None                            # the step after this exchange's end

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
            return self._done(now)                   # a pull server: the client asks when it will
        if self.xauth or self.modecfg == "push":
            self.waiting_until = now + WAIT
            return None
        return self._pull(now)

    def asked(self, ex, cfg, now):
        """The peer opened a Transaction exchange (its purpose read by
        :func:`transaction.purpose_of`): answer it."""
        self._next = None
        if ex.purpose == "xauth":
            return self._credentials(ex, cfg, now)
        if ex.purpose == "status":
            return self._status(ex, cfg, now)
        if ex.purpose == "pull" and self.server:
            return self._reply_lease(ex, cfg, now)
        if ex.purpose == "push" and not self.server:
            transaction.answer(ex, [(t, b"" if isinstance(v, bytes) else v)
                                    for t, v in cfg.attributes], now)
            return self._apply(cfg)
        raise RemoteProtocolError("a %s we cannot answer: we are the %s" % (
            C(cfg.cfg_type).name, "server" if self.server else "client"))

    def answered(self, ex, cfg, now):
        """Our REQUEST or SET got its REPLY or ACK."""
        self._next = None
        if ex.purpose == "xauth":
            return self._check_credentials(cfg)
        if ex.purpose == "status":
            return self._status_acknowledged()
        if ex.purpose == "push":
            return self._later(self._done)
        return self._apply(cfg)                      # our pull's REPLY

    def _later(self, step):
        """*step(now)* runs once the exchange that led to it has reached its
        next state (:meth:`proceed`), so that the log shows one exchange
        end before the next begins."""
        self._next = step

    def proceed(self, now):
        """The Transaction exchange ended: the step it led to, if any."""
        step, self._next = self._next, None
        if step is not None:
            step(now)

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
        message = self.conn.config.xauth_message
        asked = [(A.XAUTH_TYPE, 0), (A.XAUTH_USER_NAME, b""), (A.XAUTH_USER_PASSWORD, b"")]
        if message:
            asked.append((A.XAUTH_MESSAGE, message.encode()))
        self.conn.new_transaction(C.CFG_REQUEST, asked, "xauth", now)
        self.conn.event(ev.XAuthRequested(self.conn.cookies, self.tries, message))

    def _check_credentials(self, cfg):
        user = cfg.first(A.XAUTH_USER_NAME, b"")
        password = cfg.first(A.XAUTH_USER_PASSWORD, b"")
        self.user = bytes(user).decode(errors="replace") if isinstance(user, bytes) else str(user)
        good = isinstance(password, bytes) and self.conn.config.xauth_accepts(self.user, password)
        if not good and self.tries < self.conn.config.xauth_tries:
            self.conn.event(ev.XAuthStatus(self.conn.cookies, False, self.user, final=False))
            return self._later(self._request_credentials)
        self.status = XauthStatus.OK if good else XauthStatus.FAIL
        status = [(A.XAUTH_STATUS, self.status)]
        self._later(lambda now: self.conn.new_transaction(C.CFG_SET, status, "status", now))

    def _status_acknowledged(self):
        good = self.status == XauthStatus.OK
        self.conn.event(ev.XAuthStatus(self.conn.cookies, good, self.user))
        if not good:
            reason = "XAuth failed for %r" % self.user
            return self._later(lambda now: self.conn.delete(now, reason))
        self.authenticated = True
        return self._later(self._push if self.modecfg == "push" else self._done)

    # -- XAuth, the client -----------------------------------------------------------

    def _credentials(self, ex, cfg, now):
        if self.xauth != "client":
            raise RemoteProtocolError("an XAuth request, but we are no XAuth client")
        self.tries += 1
        config = self.conn.config
        values = {A.XAUTH_TYPE: cfg.first(A.XAUTH_TYPE, 0),
                  A.XAUTH_USER_NAME: config.xauth_user.encode(),
                  A.XAUTH_USER_PASSWORD: config.xauth_password.encode()}
        transaction.answer(ex, [(t, values[t]) for t, _ in cfg.attributes if t in values], now)
        message = modecfg.value(A.XAUTH_MESSAGE, cfg.first(A.XAUTH_MESSAGE, b"")) or ""
        self.conn.event(ev.XAuthRequested(self.conn.cookies, self.tries, message))
        self.waiting_until = now + WAIT

    def _status(self, ex, cfg, now):
        if self.xauth != "client":
            raise RemoteProtocolError("an XAuth status, but we are no XAuth client")
        status = cfg.first(A.XAUTH_STATUS)
        transaction.answer(ex, [(A.XAUTH_STATUS, status)], now)
        good = status == XauthStatus.OK
        self.conn.event(ev.XAuthStatus(self.conn.cookies, good, self.conn.config.xauth_user))
        if not good:
            self.waiting_until = None       # the server deletes the IKE SA
            self.conn.event(ev.Failed(self.conn.cookies, ex.message_id,
                                      "XAuth failed: the server refused user %r"
                                      % self.conn.config.xauth_user))
            return None
        self.authenticated = True
        self.waiting_until = now + WAIT if self.modecfg == "push" else None
        if self.modecfg != "push":
            self._later(self._pull if self.modecfg == "pull" else self._done)

    # -- Mode Config, the server ---------------------------------------------------------

    def _push(self, now):
        attributes = self._lease(None, now)
        if attributes is not None:
            self.conn.new_transaction(C.CFG_SET, attributes, "push", now)

    def _reply_lease(self, ex, cfg, now):
        attributes = self._lease(cfg, now)
        if attributes is not None:
            transaction.answer(ex, attributes, now)
            self._later(self._done)

    def _lease(self, cfg, now):
        """The attributes the client gets: its addresses from the pool (the
        same ones again for the same user, or peer without XAuth) and the
        configured ones; for a REQUEST, those it asked for (and always
        the addresses).  None, and the IKE SA deleted, when the pool has
        no address left."""
        conn, config = self.conn, self.conn.config
        out = []
        if conn.endpoint.pool is not None:
            try:
                addresses = conn.endpoint.pool.lease(self._user_key(), conn)
            except PoolExhausted as exc:
                conn.event(ev.Failed(conn.cookies, 0, "Mode Config failed: %s" % exc))
                conn.delete(now, "Mode Config failed: %s" % exc)
                return None
            conn.leased = addresses[0]
            for address, network in zip(addresses, conn.endpoint.pool.networks):
                if address.version == 4:
                    out += [(A.INTERNAL_IP4_ADDRESS, address.packed),
                            (A.INTERNAL_IP4_NETMASK, network.netmask.packed)]
                else:
                    out.append((A.INTERNAL_IP6_ADDRESS, modecfg.wire(
                        A.INTERNAL_IP6_ADDRESS, "%s/%d" % (address, network.prefixlen))))
        out += [(t, modecfg.wire(t, v)) for t, v in config.modecfg_attributes]
        if cfg is not None:
            asked = {t for t, _ in cfg.attributes}
            out = [(t, v) for t, v in out if t in asked or t in ADDRESSES]
            if A.APPLICATION_VERSION in asked:
                out.append((A.APPLICATION_VERSION, VERSION))
        self.attributes = out
        return out

    def _user_key(self):
        """Whose lease it is: the XAuth user, else the peer."""
        return self.user if self.user is not None else self.conn.peer_key

    # -- Mode Config, the client ---------------------------------------------------------

    def _pull(self, now):
        self.conn.new_transaction(C.CFG_REQUEST, [(A.APPLICATION_VERSION, VERSION)]
                                  + [(t, b"") for t in PULLED], "pull", now)

    def _apply(self, cfg):
        """A client's lease: the address of our selectors' family becomes
        our Quick Mode selector; a Cisco gateway's UNITY_PFS asks our
        Quick Modes for PFS in Phase 1's group."""
        self.attributes = cfg.attributes
        conn = self.conn
        conn.event(ev.ModeConfigReceived(conn.cookies, modecfg.named(cfg.attributes)))
        family = conn.config.selectors()[1].version
        for t in (A.INTERNAL_IP4_ADDRESS, A.INTERNAL_IP6_ADDRESS):
            try:
                address = ipaddress.ip_interface(modecfg.value(t, cfg.first(t, b""))).ip
            except ValueError:              # none, or not an address
                continue
            if address.version == family:
                conn.virtual_ip = address
        if cfg.first(A.UNITY_PFS) == 1:
            conn.pfs_group = conn.sa.group
        self._later(self._done)

    def _done(self, now):
        """Phase 1.5 is over for us; the address Mode Config gave, told."""
        self.complete = True
        self.waiting_until = None
        conn = self.conn
        address = conn.leased if self.server else conn.virtual_ip
        if self.modecfg is not None and address is not None:
            user = (self.user or conn.peer[0]) if self.server else conn.config.xauth_user
            conn.event(ev.AddressAssigned(conn.cookies, str(address), user))
        conn.phase15_done(now)


ADDRESSES = (A.INTERNAL_IP4_ADDRESS, A.INTERNAL_IP4_NETMASK, A.INTERNAL_IP6_ADDRESS)
"""What a server's REPLY always carries, asked for or not."""
