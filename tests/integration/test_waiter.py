"""The one waiter: every pending entry is re-read in each poll, batched (a few requests for a hundred
entries), until its replacement settles or its deadline passes; the simulator's clock is moved, not waited
for."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters.kaltura import Fresh, KalturaClient
from jobs.common.waiter import Waiter, WaitTimedOut
from tests.fixtures.waits import until
from tests.integration.simapi import client_for

PLACEHOLDER = b"\x00\x00\x00\x18ftypisom" + bytes(2000)


def ready_ids(sim: Any, n: int) -> list[str]:
    ids = [
        e["id"]
        for e in sim.control.get_entries()
        if e["status"] == "2" and any(f["isOriginal"] and f["status"] == 2 for f in e["flavors"])
    ]
    assert len(ids) >= n
    return ids[:n]


def settled(fresh: Fresh) -> bool:
    return not fresh.entry.replacing_entry_id


async def start_replacements(client: KalturaClient, ids: list[str]) -> None:
    for entry_id in ids:
        token = await client.upload_file(PLACEHOLDER, "placeholder.mp4", entry_id=entry_id)
        await client.update_content(entry_id, token)


async def test_one_poll_rereads_a_hundred_pending_entries_in_a_few_requests(kaltura_sim_factory: Any) -> None:
    sim = kaltura_sim_factory(entries=150, seed=21, max_size_mb=0.2)
    sim.control.set_faults({"conversion": {"delay_s": 600}})
    ids = ready_ids(sim, 100)
    async with client_for(sim) as client:
        await start_replacements(client, ids)
        async with client.batching():
            waiter = Waiter(client, timeout_s=3600, poll_s=1)
            waits = [asyncio.ensure_future(waiter.wait(entry_id, settled)) for entry_id in ids]
            await until(lambda: waiter.pending == len(ids), "every entry handed to the waiter")
            sim.control.reset_counters()
            assert await waiter.poll() == 0  # still converting
            requests = sim.control.counters()["requests"]
            assert requests <= 4, requests  # 100 re-reads: 2 sub-calls per 50 entries, few multirequests
            assert not any(w.done() for w in waits)
            await sim.control.aadvance_clock(601)
            assert await waiter.poll() == len(ids)
            done = await asyncio.gather(*waits)
    assert [fresh.entry.id for fresh in done] == ids
    assert all(not fresh.entry.replacing_entry_id for fresh in done)
    assert waiter.pending == 0


async def test_an_entry_that_does_not_settle_by_its_deadline_times_out_with_its_last_state(
    kaltura_sim_factory: Any,
) -> None:
    sim = kaltura_sim_factory(entries=20, seed=22, max_size_mb=0.2)
    sim.control.set_faults({"conversion": {"delay_s": 600}})
    (entry_id,) = ready_ids(sim, 1)
    async with client_for(sim) as client:
        await start_replacements(client, [entry_id])
        waiter = Waiter(client, timeout_s=0, poll_s=1)
        wait = asyncio.ensure_future(waiter.wait(entry_id, settled))
        await until(lambda: waiter.pending == 1, "the entry handed to the waiter")
        assert await waiter.poll() == 1
        with pytest.raises(WaitTimedOut) as timed_out:
            await wait
    last = timed_out.value.last
    assert last is not None
    assert last.entry.replacing_entry_id


async def test_the_background_loop_settles_entries_as_the_clock_moves(kaltura_sim_factory: Any) -> None:
    sim = kaltura_sim_factory(entries=20, seed=23, max_size_mb=0.2)
    sim.control.set_faults({"conversion": {"delay_s": 600}})
    ids = ready_ids(sim, 3)
    async with client_for(sim) as client:
        await start_replacements(client, ids)
        waiter = Waiter(client, timeout_s=3600, poll_s=0.05)
        loop = asyncio.ensure_future(waiter.run())
        try:
            waits = [asyncio.ensure_future(waiter.wait(entry_id, settled)) for entry_id in ids]
            # it polls, and nothing settles while the clock stands
            await until(lambda: waiter.polls >= 2, "two polls")
            assert not any(w.done() for w in waits)
            await sim.control.aadvance_clock(601)
            done = await asyncio.wait_for(asyncio.gather(*waits), timeout=30)
        finally:
            loop.cancel()
    assert [fresh.entry.id for fresh in done] == ids
