"""The small, flat set of error classes every layer speaks (docs/architecture.md, conventions 6), and the one
table that turns the error ending a run into the process's exit code.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import IntEnum


class ArchiverError(Exception):
    """Base of every error the tool raises on purpose."""


class ConfigError(ArchiverError):
    """Bad input from the user: one line naming the problem and the fix; exit code 2."""


class FatalError(ArchiverError):
    """Stops the whole run (bad credentials, missing bucket); exit code 3."""


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


class ExitCode(IntEnum):
    """What the process tells the scheduler that started it (a Fargate task's exit code)."""

    OK = 0
    FAILED = 1  # some entries failed or were unhealthy; the run itself went through
    USAGE = 2  # bad command line, setting or input file: one line naming the fix, nothing changed
    FATAL = 3  # the run could not go on (credentials, bucket, a service that never answered)
    SIGINT = 130  # interrupted (128 + SIGINT)
    OUTPUT_CLOSED = 141  # the reader of the report went away (`| head`), as a SIGPIPE would (128 + 13)
    SIGTERM = 143  # stopped by SIGTERM after draining (128 + SIGTERM)


# The error that ends a run -> its exit code, most specific class first. The CLI reads this table and nothing
# else; a class not in it is a defect of ours, reported as fatal (its trace only at DEBUG).
EXIT_CODES: tuple[tuple[type[BaseException], ExitCode], ...] = (
    (ConfigError, ExitCode.USAGE),
    (ItemFailedError, ExitCode.FAILED),
    (SkippedError, ExitCode.FAILED),
    (RetryableError, ExitCode.FATAL),  # retries ran out on a call the whole run needed
    (FatalError, ExitCode.FATAL),
    (ArchiverError, ExitCode.FATAL),
    (BrokenPipeError, ExitCode.OUTPUT_CLOSED),
    (KeyboardInterrupt, ExitCode.SIGINT),
)
# when several errors end a run at once (a task group, `config`'s checks), the most serious one is reported:
# a service's refusal before a setting to fix, both before the report's reader leaving or one entry failing
_SEVERITY = (ExitCode.FATAL, ExitCode.USAGE, ExitCode.OUTPUT_CLOSED, ExitCode.SIGINT, ExitCode.FAILED)


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code of a run ended by `exc` (an exception group: by its most pressing leaf)."""
    return exit_code_for(primary(exc)) if isinstance(exc, BaseExceptionGroup) else _lookup(exc)


def _lookup(exc: BaseException) -> ExitCode:
    for cls, code in EXIT_CODES:
        if isinstance(exc, cls):
            return code
    return ExitCode.FATAL


def primary(exc: BaseException) -> BaseException:
    """The error to report for `exc`: itself, or for an exception group (errors raised inside a task group)
    the most serious leaf, by `_SEVERITY` (the first of equals); cancellations are never chosen over an
    error."""
    if not isinstance(exc, BaseExceptionGroup):
        return exc
    leaves = list(leaf_errors(exc)) or [exc]

    def rank(leaf: BaseException) -> int:
        if not isinstance(leaf, Exception | KeyboardInterrupt):  # a cancellation rides along with the cause
            return len(_SEVERITY) + 1
        code = _lookup(leaf)
        return _SEVERITY.index(code) if code in _SEVERITY else len(_SEVERITY)

    return min(leaves, key=rank)


def leaf_errors(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    """Every error in `group` and its nested groups, in order."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from leaf_errors(exc)
        else:
            yield exc
