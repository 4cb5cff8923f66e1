"""engine.retry and engine.deadlines: what is retried, how long it waits, when it gives up."""

from __future__ import annotations

import anyio
import pytest

from engine.deadlines import deadline, poll
from engine.errors import DeadlineError, FatalError, RetryableError
from engine.pacer import Pacer
from engine.retry import RetryPolicy, retry


class FakeTime:
    """A clock and a sleep that records pauses and moves the clock by them."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()


class Flaky:
    """An op that fails with the given errors, in order, then returns "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        await anyio.lowlevel.checkpoint()
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


class Blocked(RetryableError):
    """A retryable error whose constructor takes other arguments than its message (as the adapters' do)."""

    def __init__(self, operation: str, code: str) -> None:
        super().__init__(f"{operation}: {code}", throttled=True)
        self.code = code


def always_max() -> float:
    return 1.0


async def test_retryable_errors_are_retried_until_success() -> None:
    clock = FakeTime()
    op = Flaky(RetryableError("reset"), RetryableError("503"))
    heard: list[tuple[int, str, float]] = []
    result = await retry(
        op, clock=clock, sleep=clock.sleep, draw=always_max,
        on_retry=lambda n, exc, pause: heard.append((n, str(exc), pause)),
    )  # fmt: skip
    assert result == "ok"
    assert op.calls == 3
    assert heard == [(1, "reset", 0.5), (2, "503", 1.0)]


async def test_other_errors_are_not_retried() -> None:
    op = Flaky(ValueError("bug"))
    with pytest.raises(ValueError, match="bug"):
        await retry(op)
    assert op.calls == 1


async def test_fatal_error_is_not_retried() -> None:
    op = Flaky(FatalError("bad credentials"))
    with pytest.raises(FatalError):
        await retry(op)
    assert op.calls == 1


async def test_gives_up_after_attempts_raising_the_last_error_with_a_note() -> None:
    clock = FakeTime()
    op = Flaky(*(RetryableError(f"fail {i}") for i in range(10)))
    with pytest.raises(RetryableError, match="fail 2") as caught:
        await retry(op, policy=RetryPolicy(attempts=3), describe="media.list", clock=clock, sleep=clock.sleep)
    assert op.calls == 3
    assert len(clock.pauses) == 2
    assert caught.value.__notes__ == [f"gave up on media.list after 3 attempt(s) in {clock.now:.1f} s"]


async def test_time_budget_stops_retries_before_the_attempts_run_out() -> None:
    clock = FakeTime()
    op = Flaky(*(RetryableError("slow") for _ in range(10)))
    policy = RetryPolicy(attempts=10, base_s=1.0, max_s=1.0, budget_s=2.5)
    with pytest.raises(RetryableError):
        await retry(op, policy=policy, clock=clock, sleep=clock.sleep, draw=always_max)
    assert op.calls == 3  # pauses of 1 s at 1 and 2; a third would end past 2.5 s
    assert clock.now <= 2.5


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    policy = RetryPolicy(base_s=0.5, max_s=4.0)
    assert [policy.backoff_s(n, always_max) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert policy.backoff_s(3, lambda: 0.0) == 0.0
    assert policy.backoff_s(3, lambda: 0.25) == 0.5
    assert policy.backoff_s(10_000, always_max) == 4.0  # no overflow on absurd counts


async def test_retry_after_is_a_floor_for_the_pause() -> None:
    clock = FakeTime()
    op = Flaky(RetryableError("slow down", retry_after=7.0))
    await retry(op, clock=clock, sleep=clock.sleep, draw=lambda: 0.0)
    assert clock.pauses == [7.0]


async def test_throttled_error_slows_the_pacer_and_success_lets_it_recover() -> None:
    clock = FakeTime()
    pacer = Pacer(20, clock=clock, recovery_s=100)
    op = Flaky(RetryableError("ACTION_BLOCKED", throttled=True))
    await retry(op, pacer=pacer, clock=clock, sleep=clock.sleep, draw=always_max)
    stats = pacer.statistics()
    assert stats.throttles == 1
    assert 10 < stats.rate < 20  # halved, then a little back after the success 0.5 s later


async def test_unthrottled_error_leaves_the_pacer_alone() -> None:
    clock = FakeTime()
    pacer = Pacer(20, clock=clock)
    await retry(Flaky(RetryableError("reset")), pacer=pacer, clock=clock, sleep=clock.sleep)
    assert pacer.statistics().throttles == 0


async def test_cancellation_is_not_retried() -> None:
    op = Flaky()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await retry(op)
    assert scope.cancelled_caught
    assert op.calls == 1


async def test_deadline_raises_a_retryable_timeout_naming_the_wait() -> None:
    with pytest.raises(DeadlineError) as caught, deadline(0.01, "flavor 0_abc to be READY"):
        await anyio.sleep(5)
    assert isinstance(caught.value, TimeoutError)
    assert isinstance(caught.value, RetryableError)
    assert str(caught.value) == "flavor 0_abc to be READY did not finish within 0.01 s"


async def test_deadline_lets_the_body_own_timeout_error_through() -> None:
    with pytest.raises(TimeoutError, match="socket") as caught, deadline(5):
        raise TimeoutError("socket read timed out")
    assert not isinstance(caught.value, DeadlineError)


async def test_deadline_met_returns_normally() -> None:
    with deadline(5) as scope:
        await anyio.lowlevel.checkpoint()
    assert not scope.cancelled_caught


async def test_poll_returns_the_first_ready_value_with_growing_pauses() -> None:
    clock = FakeTime()
    answers = [None, None, None, None, "READY"]

    async def check() -> str | None:
        return answers.pop(0)

    result = await poll(check, timeout_s=60, first_s=1.0, max_s=3.0, factor=2.0, sleep=clock.sleep)
    assert result == "READY"
    assert clock.pauses == [1.0, 2.0, 3.0, 3.0]


async def test_poll_gives_up_at_its_deadline() -> None:
    calls = 0

    async def never() -> None:
        nonlocal calls
        calls += 1

    with pytest.raises(DeadlineError, match=r"waiting for replacement did not finish within 0\.05 s"):
        await poll(never, timeout_s=0.05, first_s=0.01, what="replacement")
    assert calls >= 1


async def test_an_error_shared_by_many_callers_gets_no_note_and_each_caller_one() -> None:
    """A batch hands one error object to every entry in it: each entry's reason names its own give-up once."""
    shared = Blocked("flavorAsset.getUrl", "ACTION_BLOCKED")
    raised: list[BaseException] = []

    async def fail() -> None:
        await anyio.lowlevel.checkpoint()
        raise shared

    async def caller(name: str) -> None:
        clock = FakeTime()
        try:
            await retry(
                fail,
                policy=RetryPolicy(attempts=2),
                describe=name,
                clock=clock,
                sleep=clock.sleep,
                draw=always_max,
            )
        except RetryableError as exc:
            raised.append(exc)

    async with anyio.create_task_group() as tg:
        for i in range(50):
            tg.start_soon(caller, f"entry {i}")
    assert not hasattr(shared, "__notes__")
    assert len(raised) == 50
    for i, exc in enumerate(sorted(raised, key=lambda e: int(e.__notes__[0].split()[4]))):
        assert type(exc) is Blocked
        assert (str(exc), exc.code, exc.throttled) == (str(shared), "ACTION_BLOCKED", True)
        assert exc.__notes__ == [f"gave up on entry {i} after 2 attempt(s) in 0.5 s"]
        assert exc.__cause__ is shared
