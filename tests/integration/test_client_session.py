"""Sessions: a KS that expires mid-run is renewed; a wrong secret stops the run without leaking anything."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import aclosing

import pytest

from adapters.kaltura import FilterSpec, KalturaClient, KalturaFatalError
from engine.pacer import Pacer
from engine.retry import RetryPolicy
from testbed.kaltura_sim import SimProcess
from tests.integration.simapi import client_config

SimFactory = Callable[..., SimProcess]
TTL = 3600


class Clock:
    """Our client's clock, moved by the test (the simulator's clock is moved through its control surface)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def client_for(sim: SimProcess, clock: Clock, *, secret: str | None = None) -> KalturaClient:
    config = client_config(sim, admin_secret=secret or sim.admin_secret, ks_ttl_s=TTL)
    policy = RetryPolicy(attempts=3, base_s=0.05, max_s=0.5, budget_s=10)
    return KalturaClient(config, pacer=Pacer(200), policy=policy, clock=clock)


async def test_ks_rejected_as_expired_mid_listing_is_renewed_once(kaltura_sim_factory: SimFactory) -> None:
    """The server's clock runs past our KS's expiry while ours does not: INVALID_KS, one new KS, go on."""
    sim = kaltura_sim_factory(entries=400, seed=5)
    clock = Clock()
    run_start = int(clock.now)
    spec = FilterSpec(page_size=50, media_type=None)
    async with client_for(sim, clock) as client:
        listed: list[str] = []
        pages = client.list_pages(spec, run_start=run_start)
        async with aclosing(pages):
            async for page in pages:
                listed.extend(e.id for e in page)
                if len(listed) == 50:
                    # the server is now past the KS's end; our clock moved less: no renewal of our own
                    await sim.control.aadvance_clock(TTL + 10)
                    clock.now += TTL / 2
        assert client.ks_generated == 2
    default = {"-1", "-2", "0", "1", "2", "7", "4"}
    entries = sim.control.get_entries()
    want = [e["id"] for e in entries if e["status"] in default and e["createdAt"] <= run_start]
    assert listed == want
    assert sim.control.counters()["errors"].get("INVALID_KS") == 1


async def test_ks_is_renewed_before_it_expires_by_our_clock(kaltura_sim_factory: SimFactory) -> None:
    """Near the end of the KS's life (our clock) a new one is made first: the server never refuses."""
    sim = kaltura_sim_factory(entries=50, seed=5)
    clock = Clock()
    async with client_for(sim, clock) as client:
        await client.check_access()
        first_expiry = client.ks_expires_at
        await sim.control.aadvance_clock(TTL - 60)
        clock.now += TTL - 60
        await client.check_access()
        assert client.ks_generated == 2
        assert client.ks_expires_at > first_expiry
    assert "INVALID_KS" not in sim.control.counters()["errors"]


async def test_wrong_secret_is_fatal_and_the_message_names_the_fix(kaltura_sim_factory: SimFactory) -> None:
    sim = kaltura_sim_factory(entries=10, seed=5)
    secret = "f" * 32
    async with client_for(sim, Clock(), secret=secret) as client:
        with pytest.raises(KalturaFatalError) as caught:
            await client.check_access()
    message = str(caught.value)
    assert "KALTURA_SECRET" in message
    assert secret not in message
    assert "djJ8" not in message  # no KS (base64 of "v2|") in the text
    assert sim.control.counters()["errors"]["INVALID_KS"] == 2  # the first KS, then one fresh one
