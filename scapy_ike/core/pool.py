"""The addresses a Mode Config server leases (draft-dukes-ike-mode-cfg-02
2): one prefix per address family, a lease per user (or per peer without
XAuth), held while an IKE SA of that user lives and released when the
last one is gone.  A user who comes back gets the address it had when it
is still free (as charon's in-memory pools do), so a reconnecting client
keeps its address; a new user takes an address never leased before, then
the longest free one."""

import ipaddress
from collections import OrderedDict


class PoolExhausted(Exception):
    """Every address of a prefix is leased."""


class AddressPool:
    """Leases from *prefixes* (one per address family, as the
    configuration checks)."""

    def __init__(self, prefixes):
        self.networks = [ipaddress.ip_network(p) for p in prefixes]
        self._fresh = [n.hosts() for n in self.networks]    # never leased yet
        self._free = [OrderedDict() for _ in self.networks]  # released: address -> last user
        self._leases = {}        # user -> its addresses, one per network
        self._holders = {}       # user -> the holders (IKE SAs) of its lease
        self._held = {}          # holder -> the users whose leases it holds
        self._last = {}          # user -> its released addresses still free

    def lease(self, user, holder):
        """*user*'s addresses, one per prefix, held by *holder* until
        :meth:`release`; PoolExhausted when a prefix has none left."""
        if user not in self._leases:
            taken = []
            try:
                for i in range(len(self.networks)):
                    taken.append(self._take(i, user))
            except PoolExhausted:
                self._put_back(user, taken)
                raise
            self._last.pop(user, None)
            self._leases[user] = tuple(taken)
        self._holders.setdefault(user, set()).add(holder)
        self._held.setdefault(holder, set()).add(user)
        return self._leases[user]

    def _take(self, i, user):
        free = self._free[i]
        for address in self._last.get(user, ()):
            if free.get(address) == user:
                del free[address]
                return address
        address = next(self._fresh[i], None)
        if address is not None:
            return address
        if not free:
            raise PoolExhausted("no address left in %s" % self.networks[i])
        address, before = free.popitem(last=False)
        last = self._last.get(before)
        if last is not None:                # its user will not find it again
            last.discard(address)
            if not last:
                del self._last[before]
        return address

    def _put_back(self, user, addresses):
        for address in addresses:
            self._free[self._index(address)][address] = user
        if addresses:
            self._last.setdefault(user, set()).update(addresses)

    def _index(self, address):
        return next(i for i, n in enumerate(self.networks) if address in n)

    def release(self, holder):
        """*holder* is gone: the leases it was the last to hold are free."""
        for user in self._held.pop(holder, ()):
            holders = self._holders[user]
            holders.discard(holder)
            if not holders:
                del self._holders[user]
                self._put_back(user, self._leases.pop(user, ()))

    def leased(self):
        """``{user: addresses}`` of the leases held now."""
        return dict(self._leases)
