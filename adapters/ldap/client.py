"""`LdapDirectory`: people by uid from an LDAP server, through ldap3 in a worker thread.

ldap3's synchronous strategy runs in worker threads, one call at a time (one connection), so the event loop
never waits on a socket. Uids are looked up in searches of at most `uids_per_search` (an escaped OR filter)
and remembered, found or not, in a bounded cache: a report of a million rows by a few thousand owners costs a
few dozen searches. A search broken by a dropped connection is tried again on a new connection within the
retry policy; then the run stops (`DirectoryUnreachableError`).
"""

from __future__ import annotations

import contextlib
import math
import socket
import ssl
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio
import ldap3
from ldap3.core.exceptions import LDAPCommunicationError, LDAPException, LDAPStartTLSError

from adapters.ldap.config import DirectoryConfig
from adapters.ldap.errors import (
    DirectoryBindError,
    DirectorySearchError,
    DirectoryTlsError,
    DirectoryUnreachableError,
)
from adapters.ldap.filters import any_of
from adapters.ldap.interfaces import DirectoryStats
from adapters.ldap.wire import PERSON_ATTRIBUTES, Person, person_of, uid_key
from engine.logs import get_logger
from engine.retry import retry

T = TypeVar("T")
_CLOSE_S = 5.0
_SUCCESS = 0

_log = get_logger("adapters.ldap")


class _ContextTls(ldap3.Tls):  # type: ignore[misc]  # ldap3 has no type hints
    """TLS through our own SSLContext: the chain verified against the CA bundle and the host name checked by
    Python's ssl module (ldap3's own check relies on the deprecated ssl.match_hostname)."""

    def __init__(self, context: ssl.SSLContext, host: str) -> None:
        super().__init__(validate=ssl.CERT_REQUIRED)
        self._context = context
        self._host = host
        self.failure: ssl.SSLError | None = None

    def wrap_socket(self, connection: Any, do_handshake: bool = False) -> None:
        try:
            connection.socket = self._context.wrap_socket(
                connection.socket, do_handshake_on_connect=do_handshake, server_hostname=self._host
            )
        except ssl.SSLError as exc:
            self.failure = exc
            raise


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """A client context that verifies the server: against `ca_file`, or the system's CAs when None."""
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)


class LdapDirectory:
    """The `Directory` port over LDAP (an async context manager: binds on entry, unbinds on exit)."""

    def __init__(self, config: DirectoryConfig) -> None:
        if not config.password:
            raise ValueError("a bind password is required: an empty one would bind anonymously")
        self._config = config
        self._stats = DirectoryStats()
        self._cache: OrderedDict[str, Person | None] = OrderedDict()
        self._limiter = anyio.CapacityLimiter(1)  # one ldap3 connection: one call at a time
        self._connection: Any = None
        self._tls: _ContextTls | None = None
        self._attributes = list(
            dict.fromkeys([config.uid_attribute, *PERSON_ATTRIBUTES, *config.active.attributes])
        )

    def __repr__(self) -> str:  # never the password
        return f"LdapDirectory({self._config.url}, bind_dn={self._config.bind_dn!r})"

    @property
    def stats(self) -> DirectoryStats:
        return self._stats

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def connect(self) -> None:
        """Open the connection and bind (DirectoryUnreachableError, DirectoryTlsError, DirectoryBindError)."""
        await self._in_thread(self._open)

    async def aclose(self) -> None:
        """Unbind and close (shielded, with its own deadline)."""
        with anyio.move_on_after(_CLOSE_S, shield=True):
            await self._in_thread(self._drop)

    def cached(self, uid: str) -> bool:
        key = uid_key(uid)
        return not key.strip() or key in self._cache

    async def look_up(self, uids: Iterable[str]) -> Mapping[str, Person | None]:
        """Each uid's person (None: unknown to the directory, or blank), cached ones without a search."""
        found: dict[str, Person | None] = {}
        wanted: dict[str, list[str]] = {}
        for uid in uids:
            key = uid_key(uid)
            if not key.strip():
                found[uid] = None
            elif key in self._cache:
                self._cache.move_to_end(key)
                self._stats.cache_hits += 1
                found[uid] = self._cache[key]
            else:
                wanted.setdefault(key, []).append(uid)
        keys = list(wanted)
        step = self._config.uids_per_search
        for start in range(0, len(keys), step):
            chunk = keys[start : start + step]
            people = await self._search_with_retries([wanted[key][0] for key in chunk])
            for key in chunk:
                person = people.get(key)
                self._remember(key, person)
                for uid in wanted[key]:
                    found[uid] = person
        return found

    # -- in the event loop ----------------------------------------------------------------------------------

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    async def _search_with_retries(self, uids: Sequence[str]) -> dict[str, Person]:
        async def attempt() -> dict[str, Person]:
            return await self._in_thread(self._search, uids)

        def on_retry(failed: int, exc: BaseException, pause_s: float) -> None:
            _log.warning("ldap.search_retry", attempt=failed, error=str(exc), pause_s=round(pause_s, 3))

        return await retry(
            attempt, policy=self._config.policy, describe=f"LDAP search on {self._config.url}",
            on_retry=on_retry,
        )  # fmt: skip

    def _remember(self, key: str, person: Person | None) -> None:
        self._cache[key] = person
        if len(self._cache) > self._config.cache_size:
            self._cache.popitem(last=False)

    # -- in the worker thread -------------------------------------------------------------------------------

    def _open(self) -> None:
        config = self._config
        self._reachable()
        self._tls = _ContextTls(tls_context(config.ca_file), config.host) if config.tls != "plain" else None
        server = ldap3.Server(
            config.host, port=config.port, use_ssl=config.tls == "ldaps", tls=self._tls,
            get_info=ldap3.NONE, connect_timeout=config.timeout_s,
        )  # fmt: skip
        connection = ldap3.Connection(
            server, user=config.bind_dn, password=config.password, auto_bind=ldap3.AUTO_BIND_NONE,
            client_strategy=ldap3.SYNC, read_only=True, raise_exceptions=False,
            receive_timeout=math.ceil(config.timeout_s), check_names=False, return_empty_attributes=True,
        )  # fmt: skip  (ldap3 packs receive_timeout as a whole number of seconds)
        self._connection = connection
        try:
            connection.open()
            if config.tls == "starttls" and not connection.start_tls():
                raise DirectoryTlsError(f"{config.url} did not start TLS (STARTTLS refused)")
            bound = connection.bind()
        except LDAPException as exc:
            self._drop()
            raise self._connection_error(exc) from exc
        except DirectoryTlsError:
            self._drop()
            raise
        if not bound:
            reason = str(connection.result.get("description") or "refused")
            self._drop()
            message = f"{config.url} refused the bind as {config.bind_dn!r} ({reason})"
            raise DirectoryBindError(message, reason)
        _log.debug("ldap.bound", server=config.url, bind_dn=config.bind_dn, tls=config.tls)

    def _reachable(self) -> None:
        """Connect once with a plain socket first: ldap3 leaks its socket when a connection is refused."""
        config = self._config
        try:
            with socket.create_connection((config.host, config.port), timeout=config.timeout_s):
                pass
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise DirectoryUnreachableError(f"{config.url} does not answer ({reason})") from exc

    def _connection_error(self, exc: LDAPException) -> Exception:
        url = self._config.url
        failure = self._tls.failure if self._tls is not None else None
        if failure is not None:
            reason = getattr(failure, "verify_message", None) or failure.reason or str(failure)
            return DirectoryTlsError(f"{url}: TLS failed ({reason})")
        if isinstance(exc, LDAPStartTLSError):
            return DirectoryTlsError(f"{url}: STARTTLS failed ({exc})")
        if isinstance(exc, LDAPCommunicationError):
            return DirectoryUnreachableError(f"{url} broke the connection ({type(exc).__name__})")
        return DirectoryUnreachableError(f"{url}: {type(exc).__name__}")

    def _search(self, uids: Sequence[str]) -> dict[str, Person]:
        if self._connection is None or self._connection.closed:
            self._open()
        config = self._config
        search_filter = any_of(config.uid_attribute, uids)
        self._stats.searches += 1
        self._stats.uids_searched += len(uids)
        try:
            ok = self._connection.search(
                config.base_dn, search_filter, search_scope=ldap3.SUBTREE, attributes=self._attributes,
                time_limit=int(config.timeout_s),
            )  # fmt: skip
        except LDAPException as exc:
            self._drop()
            raise self._connection_error(exc) from exc
        result = self._connection.result
        if not ok and result.get("result") != _SUCCESS:
            reason = str(result.get("description") or result.get("result"))
            raise DirectorySearchError(f"{config.url} refused the search under {config.base_dn!r} ({reason})",
                                       reason)  # fmt: skip
        people: dict[str, Person] = {}
        for item in self._connection.response or ():
            if item.get("type") != "searchResEntry":
                continue  # referrals: not followed
            for uid, person in person_of(item.get("attributes") or {}, config.uid_attribute, config.active):
                key = uid_key(uid)
                if key not in people or (person.active and not people[key].active):  # duplicates: the active
                    people[key] = person
        _log.debug("ldap.search", uids=len(uids), found=len(people))
        return people

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        with contextlib.suppress(LDAPException, OSError):
            connection.unbind()
        sock = getattr(connection, "socket", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
