"""engine.pacer: rate per 1-s window, calls in flight, FIFO order, cancellation, back-off and recovery."""

from __future__ import annotations

import itertools
import time

import anyio
import pytest
import structlog

from engine.pacer import Pacer
from tests.starts import max_starts_in_any_window


class FakeClock:
    """Virtual time that moves only when someone sleeps on it: pacing logic without waiting for it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await anyio.lowlevel.checkpoint()


async def fire(pacer: Pacer, calls: int, clock: FakeClock | None = None) -> list[float]:
    """Run `calls` concurrent callers through `pacer`; return the recorded start times."""
    starts: list[float] = []
    read = clock if clock is not None else time.monotonic

    async def call() -> None:
        async with pacer.slot():
            starts.append(read())
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        for _ in range(calls):
            tg.start_soon(call)
    return starts


async def test_200_calls_at_50_per_second_never_exceed_50_in_any_second() -> None:
    clock = FakeClock()
    pacer = Pacer(50, clock=clock, sleep=clock.sleep)
    starts = await fire(pacer, 200, clock)
    assert len(starts) == 200
    assert max_starts_in_any_window(starts) == 50
    assert max(starts) - min(starts) >= 199 / 50 - 1e-6  # paced, not merely counted
    assert pacer.statistics().total_calls == 200


async def test_burst_never_breaks_the_one_second_window() -> None:
    clock = FakeClock()
    pacer = Pacer(10, burst=10, clock=clock, sleep=clock.sleep)
    starts = await fire(pacer, 60, clock)
    assert max_starts_in_any_window(starts) == 10
    assert sorted(starts)[9] == starts[0]  # the burst itself starts at once


async def test_a_start_that_arrives_up_to_50_ms_late_never_crowds_the_next_second() -> None:
    """The service counts arrivals, which trail starts by a varying delay: a burst then steady calls keep
    every window of 1.05 s of starts within the rate, so arrivals jittered by up to 50 ms still fit one
    second each."""
    clock = FakeClock()
    pacer = Pacer(10, burst=10, clock=clock, sleep=clock.sleep)
    starts = await fire(pacer, 60, clock)
    assert max_starts_in_any_window(starts, window=1.05) == 10
    # the worst case: each start of the first second arrives 50 ms late, those of the next ones on time
    arrivals = [t + 0.05 if t < starts[0] + 1.0 else t for t in starts]
    assert max_starts_in_any_window(arrivals) <= 10


async def test_real_clock_windows_hold_at_most_the_rate() -> None:
    pacer = Pacer(100, burst=5)
    starts = await fire(pacer, 150)
    assert max_starts_in_any_window(starts) <= 100


async def test_fractional_rate_spaces_calls() -> None:
    clock = FakeClock()
    pacer = Pacer(0.5, clock=clock, sleep=clock.sleep)
    starts = sorted(await fire(pacer, 3, clock))
    assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [2.0, 2.0]


async def test_calls_in_flight_never_exceed_the_cap() -> None:
    pacer = Pacer(10_000, burst=100, max_in_flight=3)
    current = peak = 0

    async def call() -> None:
        nonlocal current, peak
        async with pacer.slot():
            current += 1
            peak = max(peak, current)
            for _ in range(5):
                await anyio.lowlevel.checkpoint()
            current -= 1

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(call)
    assert peak == 3
    stats = pacer.statistics()
    assert (stats.peak_in_flight, stats.in_flight, stats.waiting, stats.total_calls) == (3, 0, 0, 20)


async def test_waiters_are_served_in_arrival_order() -> None:
    pacer = Pacer(10_000, burst=100, max_in_flight=1)
    order: list[int] = []
    release = anyio.Event()

    async def call(i: int) -> None:
        async with pacer.slot():
            order.append(i)
            if i == 0:
                await release.wait()

    async with anyio.create_task_group() as tg:
        for i in range(8):
            tg.start_soon(call, i)
            await anyio.wait_all_tasks_blocked()  # i is queued before i + 1 arrives
        assert pacer.statistics().waiting == 7
        release.set()
    assert order == list(range(8))


async def test_cancel_during_acquire_of_a_place() -> None:
    pacer = Pacer(10_000, burst=100, max_in_flight=1)
    release = anyio.Event()
    ran: list[str] = []

    async def holder() -> None:
        async with pacer.slot():
            await release.wait()

    async def waiter(scope: anyio.CancelScope) -> None:
        with scope:
            async with pacer.slot():
                ran.append("cancelled waiter")

    async with anyio.create_task_group() as tg:
        tg.start_soon(holder)
        await anyio.wait_all_tasks_blocked()
        scope = anyio.CancelScope()
        tg.start_soon(waiter, scope)
        await anyio.wait_all_tasks_blocked()
        assert pacer.statistics().waiting == 1
        scope.cancel()
        await anyio.wait_all_tasks_blocked()
        assert pacer.statistics().waiting == 0
        release.set()
    async with pacer.slot():  # the place the cancelled waiter queued for is free
        ran.append("later caller")
    assert ran == ["later caller"]
    assert pacer.statistics().in_flight == 0


async def test_cancel_during_acquire_of_a_token() -> None:
    pacer = Pacer(0.01, max_in_flight=4)  # the second call waits 100 s for its token: no stall lets it run
    ran: list[int] = []

    async def call(i: int) -> None:
        async with pacer.slot():
            ran.append(i)

    async with anyio.create_task_group() as tg:
        await call(0)
        tg.start_soon(call, 1)
        await anyio.wait_all_tasks_blocked()
        assert pacer.statistics().waiting == 1
        tg.cancel_scope.cancel()
    stats = pacer.statistics()
    assert ran == [0]
    assert (stats.waiting, stats.in_flight, stats.total_calls) == (0, 0, 1)


async def test_cancellation_inside_the_call_frees_the_place() -> None:
    pacer = Pacer(10_000, burst=100, max_in_flight=1)
    with anyio.move_on_after(0):
        async with pacer.slot():
            await anyio.sleep(10)
    with anyio.fail_after(5):
        async with pacer.slot():
            pass
    assert pacer.statistics().in_flight == 0


async def test_throttle_halves_the_rate_once_per_volley_and_not_below_min() -> None:
    clock = FakeClock()
    pacer = Pacer(40, min_rate=10, clock=clock, sleep=clock.sleep)
    pacer.on_throttle()
    pacer.on_throttle()  # same instant: the same push-back seen by another call in flight
    assert pacer.statistics().rate == 20
    clock.now += 1.5
    pacer.on_throttle()
    clock.now += 1.5
    pacer.on_throttle()
    stats = pacer.statistics()
    assert (stats.rate, stats.configured_rate, stats.throttles) == (10, 40, 4)


async def test_success_recovers_linearly_up_to_the_configured_rate() -> None:
    clock = FakeClock()
    pacer = Pacer(40, recovery_s=10, clock=clock, sleep=clock.sleep)
    pacer.on_throttle()
    clock.now += 2.5
    pacer.on_success()
    assert pacer.statistics().rate == pytest.approx(30)
    clock.now += 10
    pacer.on_success()
    assert pacer.statistics().rate == 40


async def test_slower_rate_after_throttle_spaces_new_calls() -> None:
    clock = FakeClock()
    pacer = Pacer(10, clock=clock, sleep=clock.sleep)
    pacer.on_throttle()
    starts = sorted(await fire(pacer, 6, clock))
    assert max_starts_in_any_window(starts) == 5


async def test_retry_after_holds_new_starts_back() -> None:
    clock = FakeClock()
    pacer = Pacer(100, clock=clock, sleep=clock.sleep)
    hinted_at = clock.now
    pacer.on_throttle(retry_after=5)
    starts = await fire(pacer, 1, clock)
    assert starts[0] >= hinted_at + 5


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        Pacer(0)
    with pytest.raises(ValueError, match="max_in_flight"):
        Pacer(1, max_in_flight=0)


async def test_slowing_down_and_recovering_are_logged() -> None:
    clock = FakeClock()
    pacer = Pacer(8, recovery_s=4, clock=clock, sleep=clock.sleep, name="kaltura")
    with structlog.testing.capture_logs() as events:
        pacer.on_throttle(retry_after=2.0)
        clock.now += 10
        pacer.on_success()
    assert [(e["event"], e["pacer"], e["rate"]) for e in events] == [
        ("pacer.slowed", "kaltura", 4.0),
        ("pacer.recovered", "kaltura", 8.0),
    ]


async def test_ready_waits_for_a_token_without_taking_it() -> None:
    clock = FakeClock()
    pacer = Pacer(2.0, clock=clock, sleep=clock.sleep)
    async with pacer.slot():
        pass
    started = clock.now
    await pacer.ready()
    assert clock.now - started == pytest.approx(0.5)  # the next token is due half a second later
    await pacer.ready()
    assert clock.now - started == pytest.approx(0.5)  # ready() took nothing: still ready
    assert pacer.statistics().total_calls == 1


async def test_a_lone_call_does_not_wait_for_a_token_and_the_calls_after_it_repay_it() -> None:
    """Calls one after another (each waiting for the answer before) start at once while the window is under
    half full; then the bucket, gone below zero, spaces them so the average stays at the rate."""
    clock = FakeClock()
    pacer = Pacer(10, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(8):
        async with pacer.slot():
            starts.append(clock())
    t0 = starts[0]
    assert [round(t - t0, 6) for t in starts] == [0, 0, 0, 0, 0, 0.5, 0.6, 0.7]
    assert max_starts_in_any_window(starts, window=1.05) <= 10


async def test_calls_that_overlap_are_spaced_even_after_a_quiet_spell() -> None:
    """Only a lone call skips the token: callers at once after a pause start 1/rate apart, as before."""
    clock = FakeClock()
    pacer = Pacer(10, clock=clock, sleep=clock.sleep)
    starts = sorted(await fire(pacer, 20, clock))
    assert min(round(b - a, 6) for a, b in itertools.pairwise(starts)) == 0.1


async def test_ready_makes_no_exception_for_a_lone_call() -> None:
    """A batcher waits in `ready` to gather company; a lone call's exemption would send its batches one call
    each, so there the token is still awaited."""
    clock = FakeClock()
    pacer = Pacer(10, clock=clock, sleep=clock.sleep)
    async with pacer.slot():
        pass
    before = clock()
    await pacer.ready()
    assert round(clock() - before, 6) == 0.1
    async with pacer.slot():  # its token is due now: the call goes at once
        assert clock() == before + 0.1


async def test_below_two_calls_a_second_even_a_lone_call_waits_for_its_token() -> None:
    """There a lone call could start each time the window empties, and nothing would repay the bucket: calls
    one after another keep the rate."""
    clock = FakeClock()
    rate = 0.5
    pacer = Pacer(rate, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(12):
        async with pacer.slot():
            starts.append(clock())
        await clock.sleep(1.1)  # each call is answered, then the next one is asked 1.1 s later
    assert len(starts) / (starts[-1] - starts[0] + 1 / rate) <= rate + 1e-9
