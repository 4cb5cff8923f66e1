"""The one retry function retries the errors a caller names as worth another try, and only those."""

from __future__ import annotations

import pytest

from engine.retry import RetryPolicy, retry


class SendAgain(Exception):
    """An error the caller's fix for is to send again."""


async def no_sleep(_: float) -> None:
    return None


async def test_retry_if_retries_a_named_error_and_annotate_off_raises_the_last_one_as_it_came() -> None:
    raised: list[Exception] = []

    async def op() -> str:
        raised.append(SendAgain(f"attempt {len(raised) + 1}"))
        raise raised[-1]

    heard: list[int] = []
    with pytest.raises(SendAgain) as caught:
        await retry(
            op, policy=RetryPolicy(attempts=3), retry_if=lambda e: isinstance(e, SendAgain), annotate=False,
            on_retry=lambda attempt, _e, _p: heard.append(attempt), sleep=no_sleep,
        )  # fmt: skip
    assert heard == [1, 2]
    assert caught.value is raised[-1]
    assert not getattr(caught.value, "__notes__", None)


async def test_an_error_not_named_goes_straight_through() -> None:
    calls = 0

    async def op() -> None:
        nonlocal calls
        calls += 1
        raise SendAgain("not named")

    with pytest.raises(SendAgain):
        await retry(op, sleep=no_sleep)
    assert calls == 1
