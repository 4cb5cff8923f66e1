"""The client's per-entry calls against the simulator: re-read, tag write, batched flavor URLs and sizes."""

from __future__ import annotations

from typing import Any

import anyio

from adapters.kaltura import KalturaClient
from testbed.kaltura_sim import SimProcess
from tests.integration.test_client_download import client_for


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
