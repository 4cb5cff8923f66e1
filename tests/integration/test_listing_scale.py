"""Listing at scale: past the 10,000 cap, through a crowded second, while the run's own tag writes go on."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest

from adapters.kaltura import FilterSpec, KalturaClient, ListingStats
from engine.pacer import Pacer
from engine.retry import RetryPolicy
from testbed.kaltura_sim import SimOptions, SimProcess
from tests.integration.simapi import client_config

pytestmark = pytest.mark.slow

ENTRIES = 25_000
DEFAULT = {"-1", "-2", "0", "1", "2", "7", "4"}


@pytest.fixture(scope="module")
def big_sim() -> Iterator[SimProcess]:
    """One 25,000-entry simulator for this module (its catalog has a 600-entry same-second burst)."""
    with SimProcess(SimOptions(entries=ENTRIES, seed=11)) as sim:
        yield sim


@pytest.fixture(scope="module")
def snapshot(big_sim: SimProcess) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = big_sim.control.get_entries()
    return entries


@pytest.fixture
async def client(big_sim: SimProcess) -> AsyncIterator[KalturaClient]:
    config = client_config(big_sim)
    async with KalturaClient(config, pacer=Pacer(1000, max_in_flight=8), policy=RetryPolicy(attempts=3)) as c:
        yield c


async def test_same_second_burst_is_listed_once_each(
    client: KalturaClient, big_sim: SimProcess, snapshot: list[dict[str, Any]]
) -> None:
    """600 entries share one createdAt second (more than a 500 page): each is listed, once."""
    burst = set(big_sim.control.catalog()["edge_cases"]["same_second_burst"])
    assert len(burst) == 600
    second = next(e["createdAt"] for e in snapshot if e["id"] in burst)
    assert all(e["createdAt"] == second for e in snapshot if e["id"] in burst)
    stats = ListingStats()
    around = FilterSpec(media_type=None, extra_created_after=second - 5, extra_created_until=second + 5)
    listed = [e.id async for e in client.list_entries(around, run_start=int(time.time()), stats=stats)]
    assert len(listed) == len(set(listed))
    assert burst <= set(listed)
    assert stats.crowded_seconds >= 1


async def test_listing_passes_the_cap_with_no_duplicate_and_no_gap_while_tags_change(
    client: KalturaClient, big_sim: SimProcess, snapshot: list[dict[str, Any]]
) -> None:
    """All 25,000 entries' worth of pages; meanwhile a task tags entries already listed (as s3copy does)."""
    run_start = int(time.time())
    spec = FilterSpec(media_type=None)
    want = [e["id"] for e in snapshot if e["status"] in DEFAULT and e["createdAt"] <= run_start]
    assert len(want) > 10_000
    listed: list[str] = []
    to_tag = anyio.create_memory_object_stream[str](10_000)
    send, receive = to_tag
    tagged = 0

    async def tagger() -> None:
        nonlocal tagged
        async with receive:
            async for entry_id in receive:
                await big_sim.control.apatch_entry(entry_id, tags="archived_to_s3, lecture")
                tagged += 1

    async with anyio.create_task_group() as tg:
        tg.start_soon(tagger)
        async with send:
            async for page in client.list_pages(spec, run_start=run_start):
                listed.extend(e.id for e in page)
                for entry in page[:: max(1, len(page) // 10)]:
                    send.send_nowait(entry.id)
    assert tagged > 400
    assert len(listed) == len(set(listed)), "an entry was listed twice"
    assert set(listed) == set(want), "an entry was skipped (or one not selected was listed)"
    assert listed == want  # createdAt order, ties by id
