"""The small, flat set of error classes every layer speaks (docs/architecture.md, conventions 6)."""

from __future__ import annotations

from typing import ClassVar


class ArchiverError(Exception):
    """Base of every error the tool raises on purpose."""

    exit_code: ClassVar[int] = 1


class ConfigError(ArchiverError):
    """Bad input from the user: one line naming the problem and the fix; exit code 2."""

    exit_code: ClassVar[int] = 2


class FatalError(ArchiverError):
    """Stops the whole run (bad credentials, missing bucket); exit code 3."""

    exit_code: ClassVar[int] = 3


class RetryableError(ArchiverError):
    """A transient fault (throttling, 5xx, connection reset) worth another try within the budget.

    `throttled` tells the pacer to slow down; `retry_after` is a server hint in seconds, if any.
    """

    def __init__(self, message: str, *, throttled: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.throttled = throttled
        self.retry_after = retry_after


class DeadlineError(RetryableError, TimeoutError):
    """An operation ran past its deadline; retryable, and also a TimeoutError for generic callers."""


class SkippedError(ArchiverError):
    """The entry is deliberately left alone (counted, not a failure)."""

    def __init__(self, entry_id: str, reason: str) -> None:
        super().__init__(f"{entry_id}: skipped: {reason}")
        self.entry_id = entry_id
        self.reason = reason


class ItemFailedError(ArchiverError):
    """One entry failed; the batch goes on. Carries the operation, the entry id and the cause."""

    def __init__(self, operation: str, entry_id: str, cause: str) -> None:
        super().__init__(f"{operation} {entry_id}: {cause}")
        self.operation = operation
        self.entry_id = entry_id
        self.cause = cause
