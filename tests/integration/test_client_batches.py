"""The client's per-entry calls against the simulator: re-read, tag write, batched flavor URLs and sizes."""

from __future__ import annotations

import functools
from typing import Any

import anyio

from adapters.kaltura import KalturaClient
from engine.pacer import Pacer
from engine.retry import RetryPolicy
from testbed.kaltura_sim import SimProcess
from tests.integration.simapi import client_config, client_for


def ready_originals(sim: SimProcess, n: int) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for entry in sim.control.get_entries():
        for flavor in entry["flavors"]:
            if flavor["isOriginal"] and flavor["status"] == 2 and flavor["sizeInBytes"] > 0:
                found.append((entry["id"], flavor))
    return found[:n]


async def test_reread_then_write_tags_keeps_the_old_tags_and_returns_them_as_stored(
    kaltura_sim_factory: Any,
) -> None:
    sim = kaltura_sim_factory(entries=20, seed=3, size_mb=1)
    ((entry_id, flavor),) = ready_originals(sim, 1)
    sim.control.patch_entry(entry_id, tags="Lecture, math")
    async with client_for(sim) as client:
        fresh = await client.reread(entry_id)
        assert fresh.entry.id == entry_id
        assert flavor["id"] in {f.id for f in fresh.flavors}
        stored = await client.write_tags(entry_id, [*fresh.entry.tags, "Archived_To_S3", "math"])
    assert stored.tags == ("lecture", "math", "archived_to_s3")
    (now,) = [e for e in sim.control.get_entries() if e["id"] == entry_id]
    assert now["tags"] == ["lecture", "math", "archived_to_s3"]


async def test_concurrent_flavor_urls_share_multirequests_while_batching(kaltura_sim_factory: Any) -> None:
    sim = kaltura_sim_factory(entries=40, seed=3, size_mb=1, api_latency_ms=50)
    originals = ready_originals(sim, 12)
    assert len(originals) == 12
    urls: dict[str, str] = {}
    sizes: dict[str, int] = {}
    client: KalturaClient
    async with client_for(sim) as client, client.batching():
        sim.control.reset_counters()

        async def one(entry_id: str, flavor_id: str) -> None:
            urls[flavor_id] = await client.flavor_url(flavor_id, entry_id=entry_id)
            sizes[flavor_id] = await client.content_length(urls[flavor_id], entry_id=entry_id)

        async with anyio.create_task_group() as tg:
            for entry_id, flavor in originals:
                tg.start_soon(one, entry_id, flavor["id"])
    counters = sim.control.counters()
    assert counters["calls"].get("flavorasset.geturl", 0) == 12
    assert counters["requests"] < 12  # several getUrl per multirequest
    assert sizes == {f["id"]: f["sizeInBytes"] for _, f in originals}
    assert counters["bytes_served"] <= 12  # one byte per size look-up, never the file


def client_at(sim: SimProcess, rps: float) -> KalturaClient:
    config = client_config(sim)
    policy = RetryPolicy(attempts=8, base_s=0.05, max_s=0.5, budget_s=30)
    return KalturaClient(config, pacer=Pacer(rps, recovery_s=60), policy=policy)


async def test_calls_queued_while_the_rate_binds_go_in_one_multirequest(kaltura_sim_factory: Any) -> None:
    sim = kaltura_sim_factory(entries=60, seed=3, size_mb=1)
    originals = ready_originals(sim, 40)
    assert len(originals) == 40
    async with client_at(sim, 2) as client, client.batching():
        sim.control.reset_counters()
        async with anyio.create_task_group() as tg:
            for entry_id, flavor in originals:
                tg.start_soon(client.reread, entry_id)
                tg.start_soon(functools.partial(client.flavor_url, flavor["id"], entry_id=entry_id))
    counters = sim.control.counters()
    assert counters["calls"]["flavorasset.geturl"] == 40
    assert counters["calls"]["media.list"] <= 3  # re-reads share one media.list per batch
    assert counters["requests"] <= 4  # 80 jobs: a lone first one, then what queued meanwhile


async def test_a_batch_over_an_action_rate_limit_still_gets_every_answer(kaltura_sim_factory: Any) -> None:
    sim = kaltura_sim_factory(entries=60, seed=3, size_mb=1)
    originals = ready_originals(sim, 40)
    sim.control.set_faults({"rate_limits": {"flavorasset.geturl": 20}})  # fewer than one batch holds
    urls: dict[str, str] = {}
    async with client_at(sim, 5) as client, client.batching():

        async def one(entry_id: str, flavor_id: str) -> None:
            urls[flavor_id] = await client.flavor_url(flavor_id, entry_id=entry_id)

        async with anyio.create_task_group() as tg:
            for entry_id, flavor in originals:
                tg.start_soon(one, entry_id, flavor["id"])
        assert client.pacer.statistics().throttles > 0  # blocked at first, then batches shrank
    assert set(urls) == {f["id"] for _, f in originals}
