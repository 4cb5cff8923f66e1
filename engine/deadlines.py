"""Deadlines for external waits: a bounded scope, and polling with backoff until something is ready."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import anyio

from engine.errors import DeadlineError

T = TypeVar("T")


@contextmanager
def deadline(seconds: float, what: str = "operation") -> Iterator[anyio.CancelScope]:
    """Cancel the body after `seconds` and raise `DeadlineError` (retryable, and a TimeoutError).

    A TimeoutError the body raises by itself passes through unchanged.
    """
    scope: anyio.CancelScope | None = None
    try:
        with anyio.fail_after(seconds) as scope:
            yield scope
    except TimeoutError as exc:
        if scope is not None and scope.cancelled_caught:
            raise DeadlineError(f"{what} did not finish within {seconds:g} s") from exc
        raise


async def poll(
    check: Callable[[], Awaitable[T | None]],
    *,
    timeout_s: float,
    first_s: float = 1.0,
    max_s: float = 30.0,
    factor: float = 1.5,
    what: str = "condition",
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
) -> T:
    """Call `check()` until it returns something other than None, pausing longer each time; bounded.

    Raises `DeadlineError` when `timeout_s` passes first. Waiting this way holds no worker or pacer slot
    between checks beyond this task's own.
    """
    pause = first_s
    with deadline(timeout_s, f"waiting for {what}"):
        while True:
            result = await check()
            if result is not None:
                return result
            await sleep(pause)
            pause = min(max_s, pause * factor)
