"""Kaltura failures (API error codes, HTTP statuses, broken connections) as the engine's error classes.

One table per backend (docs/architecture.md, conventions 6): throttling and transient server faults are
retryable, session and permission problems stop the run, anything else belongs to the one item it names.
`INVALID_KS` is special: the client regenerates the KS once and retries before it becomes fatal.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.kaltura.wire import ApiFault
from engine.errors import ArchiverError, FatalError, ItemFailedError, RetryableError

INVALID_KS = "INVALID_KS"

# Inside the adapter a call about no one entry (a batch of several, a caller that named none) has entry id
# None; this is how its errors show that.
NO_ENTRY = "-"

# code -> throttled?  (ACTION_BLOCKED is Kaltura's rate limit; the misspelling is the server's)
RETRYABLE_CODES: dict[str, bool] = {
    "ACTION_BLOCKED": True,
    "INTERNAL_SERVERL_ERROR": False,
    "INTERNAL_SERVER_ERROR": False,
}

FATAL_CODES: dict[str, str] = {
    INVALID_KS: "Kaltura rejected the session (INVALID_KS): check KALTURA_PARTNERID and KALTURA_SECRET",
    "SERVICE_FORBIDDEN": "Kaltura refused the call (SERVICE_FORBIDDEN): the KS lacks the permission",
    "INVALID_PARTNER_ID": "Kaltura does not know this partner: check KALTURA_PARTNERID",
    "PARTNER_BLOCKED": "the Kaltura partner is blocked",
}


def entry_shown(entry_id: str | None) -> str:
    """How an error names the entry it is about: its id, or NO_ENTRY when it is about no one entry."""
    return entry_id or NO_ENTRY


def item_failed(operation: str, entry_id: str | None, cause: str) -> ItemFailedError:
    """An item failure about `entry_id` (None: about no one entry)."""
    return ItemFailedError(operation, entry_shown(entry_id), cause)


def only_entry(entry_ids: Sequence[str]) -> str | None:
    """The entry a call about `entry_ids` is about: the one id, or None when there are several."""
    return entry_ids[0] if len(entry_ids) == 1 else None


class KalturaItemError(ItemFailedError):
    """An API error about one item (`ENTRY_ID_NOT_FOUND`, `FLAVOR_ASSET_IS_NOT_READY`, …).

    `code` is Kaltura's, so callers can tell "already gone" from a real failure.
    """

    def __init__(self, operation: str, entry_id: str | None, code: str, message: str) -> None:
        super().__init__(operation, entry_shown(entry_id), f"{code}: {message}")
        self.code = code


class KalturaFatalError(FatalError):
    """An API error that stops the run (session, permission, partner); `code` is Kaltura's."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class KalturaRetryableFault(RetryableError):
    """An API error worth another try (`ACTION_BLOCKED`, an internal error); `code` is Kaltura's. Kaltura
    answers these without acting, so even a call that is not safe to repeat may be sent again."""

    def __init__(self, message: str, code: str, *, throttled: bool) -> None:
        super().__init__(message, throttled=throttled)
        self.code = code


ACTION_BLOCKED = "ACTION_BLOCKED"


class AnswerLost(RetryableError):
    """A call that must not run twice (`media.updateContent`) failed without a definite answer: it may or may
    not have happened. Never sent again blindly; the caller re-reads to learn which."""


def definite_refusal(exc: Exception) -> bool:
    """Kaltura refused the call before acting on it (its rate limit): safe to send again, even a call that
    must not run twice."""
    return isinstance(exc, KalturaRetryableFault) and exc.code == ACTION_BLOCKED


def from_fault(fault: ApiFault, *, operation: str, entry_id: str | None = None) -> ArchiverError:
    """The engine error for an API error answered by `operation` (e.g. `media.get`)."""
    if fault.code in RETRYABLE_CODES:
        return KalturaRetryableFault(
            f"{operation}: {fault.code}", fault.code, throttled=RETRYABLE_CODES[fault.code]
        )
    if fault.code in FATAL_CODES:
        # never echo the server's text for these: INVALID_KS messages quote the KS itself
        return KalturaFatalError(f"{operation}: {FATAL_CODES[fault.code]}", fault.code)
    return KalturaItemError(operation, entry_id, fault.code, fault.message)


class KalturaHttpError(FatalError):
    """The service URL answered, but not as the Kaltura API does (404, 401, …): stops the run."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def from_http_status(status: int, *, operation: str, retry_after: str | None = None) -> ArchiverError:
    """The engine error for a non-200 HTTP answer (proxies answer 429/502/503 with HTML)."""
    if status == 429 or status >= 500:
        return RetryableError(
            f"{operation}: HTTP {status}", throttled=True, retry_after=parse_retry_after(retry_after)
        )
    return KalturaHttpError(f"{operation}: HTTP {status} from Kaltura: check KALTURA_SERVICE_URL", status)


class KalturaUnreachableError(RetryableError):
    """No usable answer at all (refused, reset, timed out, truncated): retryable; at start-up, a setting."""


def from_connection_error(exc: BaseException, *, operation: str) -> KalturaUnreachableError:
    """Connection refused/reset, timeouts, truncated or unparsable bodies: worth another try.

    Resets, timeouts and cut bodies are what an overloaded server does: the pacer slows down. A refused
    connection says nothing is listening (a wrong URL, a server down), not that we go too fast.
    """
    kind = type(exc).__name__
    refused = isinstance(exc, ConnectionRefusedError) or isinstance(
        getattr(exc, "os_error", None), ConnectionRefusedError
    )
    return KalturaUnreachableError(f"{operation}: connection failed ({kind})", throttled=not refused)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (the HTTP-date form is ignored)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
