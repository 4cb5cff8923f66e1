"""The directory's failures as engine errors: a server that does not answer may be retried; a refused bind,
an untrusted certificate or a refused search stops the run. No message carries the bind password."""

from __future__ import annotations

from engine.errors import FatalError, RetryableError


class DirectoryUnreachableError(RetryableError):
    """No connection, or it broke: refused, timed out, reset, closed by the server."""


class DirectoryTlsError(FatalError):
    """The server's certificate could not be verified (untrusted CA, wrong host name) or TLS failed."""


class DirectoryBindError(FatalError):
    """The server refused the bind (wrong DN or password, account locked); `reason` is LDAP's word for it."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class DirectorySearchError(FatalError):
    """The server refused a search; `reason` is LDAP's word for it (`noSuchObject` for a wrong base DN)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
