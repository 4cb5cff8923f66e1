"""Downloads: the original streams byte for byte, resumes with Range after a cut, and starts at an offset."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from adapters.kaltura import KalturaClient
from testbed.kaltura_sim import SimProcess
from testbed.kaltura_sim.content import GeneratedBody
from tests.integration.simapi import client_for

SimFactory = Callable[..., SimProcess]
SIZE = 3_000_000  # --size-mb 3: every source this many bytes


def ready_original(sim: SimProcess) -> tuple[str, dict[str, Any]]:
    for entry in sim.control.get_entries():
        for flavor in entry["flavors"]:
            if flavor["isOriginal"] and flavor["status"] == 2:
                return entry["id"], flavor
    raise AssertionError("no READY original in the catalog")


async def fetch(client: KalturaClient, url: str, offset: int = 0) -> bytes:
    return b"".join([chunk async for chunk in client.download(url, offset=offset, chunk_size=256 * 1024)])


async def test_original_downloads_whole_and_resumes_after_a_truncated_response(
    kaltura_sim_factory: SimFactory,
) -> None:
    sim = kaltura_sim_factory(entries=20, seed=4, size_mb=3)
    entry_id, flavor = ready_original(sim)
    want = GeneratedBody(entry_id, flavor["id"], str(flavor["version"]), SIZE)
    sim.control.set_faults({"download": {"truncate": {"next": 1}, "truncate_fraction": 0.4}})
    async with client_for(sim) as client:
        url = await client.flavor_url(flavor["id"], entry_id=entry_id)
        data = await fetch(client, url)
    assert len(data) == SIZE
    assert hashlib.sha256(data).hexdigest() == want.sha256()
    counters = sim.control.counters()
    assert counters["downloads"] == 2  # the cut one, then the rest with Range
    assert counters["faults"].get("download.truncate") == 1


async def test_download_from_an_offset_returns_the_tail(kaltura_sim_factory: SimFactory) -> None:
    sim = kaltura_sim_factory(entries=20, seed=4, size_mb=3)
    entry_id, flavor = ready_original(sim)
    want = GeneratedBody(entry_id, flavor["id"], str(flavor["version"]), SIZE)
    async with client_for(sim) as client:
        url = await client.flavor_url(flavor["id"], entry_id=entry_id)
        tail = await fetch(client, url, offset=SIZE - 1000)
        nothing = await fetch(client, url, offset=SIZE)
    assert tail == want.read(SIZE - 1000)
    assert nothing == b""
