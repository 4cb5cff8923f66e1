"""The simulator fetches a KalturaUrlResource's bytes (outside the request, as Kaltura's import job does) and
converts what it got; a URL it cannot fetch (a 403, a refused connection) fails the replacement."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from testbed.kaltura_sim import SimProcess
from tests.fixtures.waits import until
from tests.integration.simapi import admin_ks, call, client_for, is_error

BODY = bytes(range(256)) * 1200 + b"the end"  # 307,207 B, not the size of any catalog source


@pytest.fixture
async def origin() -> AsyncIterator[str]:
    """A plain HTTP server: `/video.mp4` answers BODY, `/expired.mp4` S3's 403 for an expired URL."""

    async def video(request: web.Request) -> web.Response:
        return web.Response(body=BODY, content_type="video/mp4")

    async def expired(request: web.Request) -> web.Response:
        return web.Response(status=403, text="<Error><Code>AccessDenied</Code></Error>")

    app = web.Application()
    app.router.add_get("/video.mp4", video)
    app.router.add_get("/expired.mp4", expired)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


def refused_url() -> str:
    """A URL on a port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/video.mp4"


async def replace_from(sim: SimProcess, entry_id: str, url: str) -> dict[str, Any]:
    """media.updateContent with a KalturaUrlResource; the entry once its replacement settled."""
    resource = {"objectType": "KalturaUrlResource", "url": url}
    ks = admin_ks(sim)
    async with aiohttp.ClientSession() as http:
        got = await call(http, sim, "media", "updateContent", ks, entryId=entry_id, resource=resource)
        assert not is_error(got), got
        settled: dict[str, Any] = {}

        async def done() -> bool:
            entry = await call(http, sim, "media", "get", ks, entryId=entry_id)
            settled.update(entry)
            return not entry.get("replacingEntryId") or entry.get("replacementStatus") == "4"

        await until(done, "the URL replacement to settle")
    return settled


def source_of(sim: SimProcess, entry_id: str) -> dict[str, Any]:
    entry = next(e for e in sim.control.get_entries() if e["id"] == entry_id)
    return next(dict(f) for f in entry["flavors"] if f["isOriginal"])


def plain_ids(sim: SimProcess, count: int) -> list[str]:
    special = {i for ids in sim.control.catalog()["edge_cases"].values() for i in ids}
    ready = [
        e["id"]
        for e in sim.control.get_entries()
        if e["status"] == "2" and e["id"] not in special and any(f["isOriginal"] for f in e["flavors"])
    ]
    return ready[:count]


async def test_a_url_resource_becomes_the_fetched_bytes_size_and_served_body(
    kaltura_sim_factory: Any, origin: str
) -> None:
    sim = kaltura_sim_factory(entries=10, seed=61, max_size_mb=0.5)
    (entry_id,) = plain_ids(sim, 1)
    before = source_of(sim, entry_id)
    entry = await replace_from(sim, entry_id, f"{origin}/video.mp4")
    assert entry["replacementStatus"] == "0"
    after = source_of(sim, entry_id)
    assert (after["id"], after["sizeInBytes"]) == (before["id"], len(BODY))
    assert int(after["version"]) == int(before["version"]) + 1
    digest = hashlib.sha256()
    async with client_for(sim) as client:
        async for chunk in client.download(await client.flavor_url(after["id"])):
            digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(BODY).hexdigest()


async def test_a_url_answering_403_or_refusing_fails_the_replacement_and_keeps_the_old_content(
    kaltura_sim_factory: Any, origin: str
) -> None:
    sim = kaltura_sim_factory(entries=10, seed=62, max_size_mb=0.5)
    for entry_id, url in zip(plain_ids(sim, 2), (f"{origin}/expired.mp4", refused_url()), strict=True):
        before = source_of(sim, entry_id)
        entry = await replace_from(sim, entry_id, url)
        assert entry["replacementStatus"] == "4"  # FAILED, as Kaltura reports a failed import
        assert source_of(sim, entry_id) == before
