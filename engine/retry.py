"""Retries with full-jitter exponential backoff, a cap on attempts and a time budget: the one retry loop.

By default only `RetryableError` is retried; a caller may name more errors worth another try (`retry_if`),
such as an upload S3 asks to send again. Everything else (and cancellation) goes straight through. The op
should take its own pacer slot for each attempt: the backoff sleeps here hold no slot.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio

from engine.errors import RetryableError
from engine.logs import get_logger
from engine.pacer import Pacer

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)

OnRetry = Callable[[int, BaseException, float], None]
RetryIf = Callable[[Exception], bool]

_log = get_logger("engine.retry")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: at most `attempts` tries, and no retry that would end past `budget_s`."""

    attempts: int = 5
    base_s: float = 0.5
    max_s: float = 30.0
    budget_s: float = 120.0

    def backoff_s(self, failures: int, draw: Callable[[], float] = random.random) -> float:
        """The pause after the `failures`-th failure: uniform in [0, min(max_s, base_s · 2^(failures-1))]."""
        ceiling = min(self.max_s, self.base_s * 2.0 ** min(failures - 1, 60))
        return draw() * ceiling


def is_retryable(exc: Exception) -> bool:
    """The default of `retry`: a transient fault (`RetryableError`)."""
    return isinstance(exc, RetryableError)


async def retry(
    op: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy = RetryPolicy(),  # frozen, so one shared default is safe
    pacer: Pacer | None = None,
    describe: str = "",
    on_retry: OnRetry | None = None,
    retry_if: RetryIf = is_retryable,
    annotate: bool = True,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    draw: Callable[[], float] = random.random,
) -> T:
    """Await `op()` until it succeeds, retrying the errors `retry_if` accepts (`RetryableError`) within the
    policy; re-raise the last one.

    A throttled error tells the pacer to slow down; its `retry_after` is a floor for the pause. `on_retry`
    hears (attempt that failed, error, pause in seconds) before each pause. The error that ends the retries
    is raised as a copy of the last one (same class and fields) with a note saying what was tried and for how
    long: the last one itself may be shared (a batch hands one error to every entry in it), so it is never
    changed. With `annotate` off, the last error itself is raised, as it came.
    """
    started = clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            result = await op()
        except Exception as exc:
            if not retry_if(exc):
                raise
            retry_after: float | None = getattr(exc, "retry_after", None)
            if getattr(exc, "throttled", False) and pacer is not None:
                pacer.on_throttle(retry_after)
            pause = max(policy.backoff_s(attempt, draw), retry_after or 0.0)
            spent = clock() - started
            if attempt >= policy.attempts or spent + pause > policy.budget_s:
                if not annotate:
                    raise
                what = describe or getattr(op, "__name__", "operation")
                mine = own_copy(exc)
                mine.add_note(f"gave up on {what} after {attempt} attempt(s) in {spent:.1f} s")
                raise mine from exc
            _log.debug(
                "call.retrying", what=describe, attempt=attempt, pause_s=round(pause, 3), error=str(exc)
            )
            if on_retry is not None:
                on_retry(attempt, exc, pause)
            await sleep(pause)
        else:
            if pacer is not None:
                pacer.on_success()
            return result


def own_copy(exc: E) -> E:
    """A copy of `exc` (same class, arguments, fields and notes) that this caller alone may annotate."""
    clone = type(exc).__new__(type(exc), *exc.args)
    clone.__dict__.update({k: v for k, v in vars(exc).items() if k != "__notes__"})
    for note in getattr(exc, "__notes__", ()):
        clone.add_note(note)
    return clone.with_traceback(exc.__traceback__)
