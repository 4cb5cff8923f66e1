"""jobs.context: the run's Kaltura pacer lets a chain of dependent calls go at once, never above the rate."""

from __future__ import annotations

import anyio

from engine.pacer import Pacer
from jobs.context import KALTURA_BURST, kaltura_pacer
from jobs.settings import load_settings
from tests.unit.test_engine_pacer import FakeClock, fire, max_starts_in_any_window


async def chain(pacer: Pacer, clock: FakeClock, calls: int) -> list[float]:
    """`calls` calls one after the other, each once the one before has answered; their start times."""
    starts: list[float] = []
    for _ in range(calls):
        async with pacer.slot():
            starts.append(clock())
            await anyio.lowlevel.checkpoint()
    return starts


async def test_a_runs_first_chain_of_calls_is_not_spaced_by_the_rate() -> None:
    clock = FakeClock()
    settings = load_settings({}, {"ARCHIVER_KALTURA_RPS": "10"})
    pacer = kaltura_pacer(settings, clock=clock, sleep=clock.sleep)
    starts = await chain(pacer, clock, KALTURA_BURST + 1)
    assert starts[:KALTURA_BURST] == [starts[0]] * KALTURA_BURST  # probe, list, flavors, URLs: no wait
    assert starts[KALTURA_BURST] >= starts[0] + 0.1 - 1e-9  # then one token per 1/rate


async def test_the_burst_never_takes_a_second_over_the_setting() -> None:
    clock = FakeClock()
    for rps, most in (("10", 10), ("2", 2), ("0.5", 1)):
        settings = load_settings({}, {"ARCHIVER_KALTURA_RPS": rps})
        pacer = kaltura_pacer(settings, clock=clock, sleep=clock.sleep)
        starts = await chain(pacer, clock, 3) + await fire(pacer, 40, clock)
        assert max_starts_in_any_window(starts) == most, rps
