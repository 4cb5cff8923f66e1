"""Every call goes through the pacer: the configured rate holds, and throttling is ridden out."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from adapters.kaltura import FilterSpec, KalturaClient
from engine.pacer import Pacer
from engine.retry import RetryPolicy
from testbed.kaltura_sim import SimProcess
from tests.integration.simapi import client_config
from tests.starts import max_starts_in_any_window

SimFactory = Callable[..., SimProcess]


class StartLog(Pacer):
    """A pacer that notes when each call it lets through starts."""

    def __init__(self, rate: float, *, max_in_flight: int) -> None:
        super().__init__(rate, max_in_flight=max_in_flight)
        self.starts: list[float] = []

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with super().slot():
            self.starts.append(time.monotonic())
            yield


def client_for(
    sim: SimProcess, *, rate: float, in_flight: int = 4, attempts: int = 12, pacer: Pacer | None = None
) -> KalturaClient:
    config = client_config(sim)
    policy = RetryPolicy(attempts=attempts, base_s=0.1, max_s=1.0, budget_s=60)
    return KalturaClient(config, pacer=pacer or Pacer(rate, max_in_flight=in_flight), policy=policy)


async def list_all(client: KalturaClient, page_size: int) -> list[str]:
    spec = FilterSpec(page_size=page_size, media_type=None)
    return [e.id async for e in client.list_entries(spec, run_start=int(time.time()))]


async def test_pacer_never_exceeds_the_configured_rate(kaltura_sim_factory: SimFactory) -> None:
    """About 35 requests at 10/s: no second ever holds more than 10 of their starts. The simulator, which
    counts arrivals in whole seconds of its own clock, sees at most one more: a request that reaches it late
    (a stalled process on a busy machine) can share its second with the ten that follow it."""
    sim = kaltura_sim_factory(entries=300, seed=3)
    pacer = StartLog(10, max_in_flight=4)
    async with client_for(sim, rate=10, pacer=pacer) as client:
        ids = await list_all(client, page_size=10)
        await client.flavors_of(ids[:150])  # one multirequest: one more request
    counters = sim.control.counters()
    assert counters["requests"] >= 30
    assert len(pacer.starts) == counters["requests"]
    assert max_starts_in_any_window(pacer.starts) <= 10
    assert counters["peak_rps"] <= 11


async def test_action_blocked_bursts_are_ridden_out(kaltura_sim_factory: SimFactory) -> None:
    """The server allows 4 media.list calls a second, we start at 50: ACTION_BLOCKED, slow down, finish."""
    sim = kaltura_sim_factory(entries=300, seed=3)
    sim.control.set_faults({"rate_limits": {"media.list": 4}})
    async with client_for(sim, rate=50, in_flight=4) as client:
        listed = await list_all(client, page_size=20)
        throttles = client.pacer.statistics().throttles
    assert len(listed) == len(set(listed))
    default = {"-1", "-2", "0", "1", "2", "7", "4"}
    assert len(listed) == sum(1 for e in sim.control.get_entries() if e["status"] in default)
    assert sim.control.counters()["faults"].get("media.list.action_blocked", 0) > 0
    assert throttles > 0


async def test_http_overload_and_dropped_connections_are_retried(kaltura_sim_factory: SimFactory) -> None:
    sim = kaltura_sim_factory(entries=100, seed=3)
    sim.control.set_faults(
        {"actions": {"media.list": {"http_503": {"next": 1}, "http_429": {"next": 1}, "drop": {"next": 1}},
                     "flavorasset.list": {"internal_error": {"next": 2}}}}
    )  # fmt: skip
    async with client_for(sim, rate=200) as client:
        listed = await list_all(client, page_size=500)
        flavors = await client.flavors_of(listed[:10])
    assert len(listed) > 50
    live = {e["id"]: len(e["flavors"]) for e in sim.control.get_entries()}
    assert {i: len(flavors[i]) for i in listed[:10]} == {i: live[i] for i in listed[:10]}
    faults = sim.control.counters()["faults"]
    assert faults["media.list.http_503"] == faults["media.list.http_429"] == faults["media.list.drop"] == 1
    assert faults["flavorasset.list.internal_error"] == 2
