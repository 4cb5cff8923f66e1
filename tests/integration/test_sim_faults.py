"""Every fault kind of the simulator, seen by a plain aiohttp client; rate limits; counters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from testbed.kaltura_sim import ControlError, SimProcess
from tests.fixtures.waits import until
from tests.integration.simapi import action_url, admin_ks, call, is_error, plain_entry


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def sim(kaltura_sim_factory: Any) -> SimProcess:
    """A private simulator with small flavors, so downloads are quick."""
    started: SimProcess = kaltura_sim_factory(entries=60, size_mb=0.5)
    return started


async def raw_post(
    http: aiohttp.ClientSession, sim: SimProcess, service: str, action: str, **params: Any
) -> tuple[int, str]:
    body = {"format": "1", "ks": admin_ks(sim), **params}
    async with http.post(action_url(sim, service, action), json=body) as resp:
        return resp.status, await resp.text()


async def test_http_503_for_the_next_calls_then_normal(sim: SimProcess, http: Any) -> None:
    await sim.control.aset_faults({"actions": {"media.count": {"http_503": {"next": 2}}}})
    answers = [await raw_post(http, sim, "media", "count") for _ in range(3)]
    assert [status for status, _ in answers] == [503, 503, 200]
    assert answers[0][1].startswith("<html>")
    assert (await sim.control.acounters())["faults"]["media.count.http_503"] == 2


async def test_http_429_with_probability_one(sim: SimProcess, http: Any) -> None:
    await sim.control.aset_faults({"actions": {"*": {"http_429": {"probability": 1.0}}}})
    status, body = await raw_post(http, sim, "media", "list")
    assert status == 429
    assert "429 Too Many Requests" in body


async def test_dropped_connection_does_not_run_the_action(sim: SimProcess, http: Any) -> None:
    entry = await plain_entry(sim)
    await sim.control.aset_faults({"actions": {"media.update": {"drop": {"next": 1}}}})
    change = {"objectType": "KalturaMediaEntry", "tags": "dropped"}
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await raw_post(http, sim, "media", "update", entryId=entry["id"], mediaEntry=change)
    after = next(e for e in await sim.control.aget_entries() if e["id"] == entry["id"])
    assert "dropped" not in after["tags"]


async def test_drop_after_runs_the_action_and_loses_the_response(sim: SimProcess, http: Any) -> None:
    entry = await plain_entry(sim)
    await sim.control.aset_faults({"actions": {"media.update": {"drop_after": {"next": 1}}}})
    change = {"objectType": "KalturaMediaEntry", "tags": "applied"}
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await raw_post(http, sim, "media", "update", entryId=entry["id"], mediaEntry=change)
    after = next(e for e in await sim.control.aget_entries() if e["id"] == entry["id"])
    assert after["tags"] == ["applied"]


async def test_hold_keeps_the_next_call_waiting_until_released(sim: SimProcess, http: Any) -> None:
    """A held call has not run (a test acts meanwhile); the next call of the action is not held."""
    await sim.control.aset_faults({"actions": {"media.count": {"hold": {"next": 1}}}})
    held = asyncio.ensure_future(raw_post(http, sim, "media", "count"))
    await until(
        lambda: held.done() or sim.control.set_faults({})["held"] == 1, "the media.count call held"
    )
    assert not held.done()
    status, _ = await raw_post(http, sim, "media", "count")  # the next one goes through meanwhile
    assert status == 200
    assert (await sim.control.aset_faults({"release": True}))["held"] == 1
    status, _ = await held
    assert status == 200
    assert sim.control.set_faults({})["held"] == 0
    assert sim.control.counters()["faults"]["media.count.hold"] == 1


async def test_internal_error_is_an_api_error_with_the_real_misspelt_code(sim: SimProcess, http: Any) -> None:
    await sim.control.aset_faults({"actions": {"media.count": {"internal_error": {"next": 1}}}})
    first = await call(http, sim, "media", "count", admin_ks(sim))
    assert first["code"] == "INTERNAL_SERVERL_ERROR"
    assert first["message"] == "Internal server error occurred"
    assert isinstance(await call(http, sim, "media", "count", admin_ks(sim)), int)


async def test_fault_rng_is_repeatable_with_a_seed(sim: SimProcess, http: Any) -> None:
    async def pattern() -> list[bool]:
        await sim.control.aset_faults(
            {"seed": 99, "actions": {"media.count": {"internal_error": {"probability": 0.5}}}}
        )
        return [is_error(await call(http, sim, "media", "count", admin_ks(sim))) for _ in range(16)]

    first = await pattern()
    assert first == await pattern()
    assert any(first)
    assert not all(first)


async def test_latency_holds_calls_in_flight(sim: SimProcess, http: Any) -> None:
    # long enough that all five are in flight together even when this process stalls while sending them
    await sim.control.aset_faults({"api_latency_ms": 1500})
    await sim.control.areset_counters()
    results = await asyncio.gather(*(call(http, sim, "media", "count", admin_ks(sim)) for _ in range(5)))
    assert all(isinstance(r, int) for r in results)
    counters = await sim.control.acounters()
    assert counters["peak_in_flight"] == 5
    assert counters["in_flight"] == 0


async def test_action_blocked_past_the_rate_limit(sim: SimProcess, http: Any) -> None:
    await sim.control.aset_faults({"rate_limits": {"media.count": 3}})
    results = await asyncio.gather(*(call(http, sim, "media", "count", admin_ks(sim)) for _ in range(12)))
    blocked = [r for r in results if is_error(r, "ACTION_BLOCKED")]
    assert 1 <= len(blocked) <= 9
    assert blocked[0]["message"] == 'Action "count" in service "media" is blocked'
    assert all(isinstance(r, int) for r in results if r not in blocked)
    assert (await sim.control.acounters())["faults"]["media.count.action_blocked"] == len(blocked)
    other = await call(http, sim, "media", "list", admin_ks(sim))
    assert other["objectType"] == "KalturaMediaListResponse"  # other actions have their own budget


async def test_multirequest_subcall_blocked_in_its_slot(sim: SimProcess, http: Any) -> None:
    await sim.control.aset_faults({"rate_limits": {"media.get": 1}})
    entry = await plain_entry(sim)
    body: dict[str, Any] = {"format": "1", "ks": admin_ks(sim)}
    for k in range(3):
        body[str(k)] = {"service": "media", "action": "get", "entryId": entry["id"]}
    async with http.post(f"{sim.service_url}/api_v3/service/multirequest", json=body) as resp:
        results = await resp.json()
    assert results[0]["id"] == entry["id"]
    assert is_error(results[1], "ACTION_BLOCKED")
    assert is_error(results[2], "ACTION_BLOCKED")


async def test_bad_fault_document_is_refused_and_changes_nothing(sim: SimProcess) -> None:
    before = await sim.control.aset_faults({"api_latency_ms": 5})
    with pytest.raises(ControlError, match="400"):
        await sim.control.aset_faults(
            {"api_latency_ms": 50, "actions": {"media.list": {"http_500": {"next": 1}}}}
        )
    assert await sim.control.aset_faults({}) == before


# --- downloads ------------------------------------------------------------------------------------------


async def source_url(sim: SimProcess, http: Any) -> tuple[str, int]:
    entry = await plain_entry(sim)
    source = next(f for f in entry["flavors"] if f["isOriginal"])
    url = await call(http, sim, "flavorasset", "getUrl", admin_ks(sim), id=source["id"])
    return str(url), int(source["sizeInBytes"])


async def test_truncated_download_sends_less_than_content_length(sim: SimProcess, http: Any) -> None:
    url, size = await source_url(sim, http)
    await sim.control.aset_faults({"download": {"truncate": {"next": 1}, "truncate_fraction": 0.25}})
    received: list[int] = []

    async def read() -> None:
        async with http.get(url) as resp:
            received.append(resp.content_length or 0)
            async for chunk in resp.content.iter_any():
                received.append(len(chunk))

    with pytest.raises(aiohttp.ClientPayloadError):
        await read()
    assert received[0] == size
    assert sum(received[1:]) == size // 4
    async with http.get(url) as resp:
        assert len(await resp.read()) == size  # only the next one was truncated


async def test_download_drop_and_503(sim: SimProcess, http: Any) -> None:
    url, _ = await source_url(sim, http)
    # aiohttp silently retries an idempotent GET once after a disconnect: drop two to see one.
    await sim.control.aset_faults({"download": {"drop": {"next": 2}, "http_503": {"next": 1}}})
    with pytest.raises(aiohttp.ServerDisconnectedError):
        async with http.get(url) as resp:
            await resp.read()
    async with http.get(url) as resp:
        assert resp.status == 503
    assert (await sim.control.acounters())["faults"] == {"download.drop": 2, "download.http_503": 1}


async def test_bandwidth_cap_paces_the_stream(sim: SimProcess, http: Any) -> None:
    url, size = await source_url(sim, http)
    await sim.control.aset_faults({"download": {"mbps": 20, "first_byte_ms": 100}})  # 2.5 MB/s
    started = time.monotonic()
    async with http.get(url) as resp:
        body = await resp.read()
    elapsed = time.monotonic() - started
    assert len(body) == size
    assert elapsed >= 0.9 * size / 2.5e6  # a lower bound only: pacing can never be faster than the cap


async def test_counters_count_calls_requests_and_bytes(sim: SimProcess, http: Any) -> None:
    url, size = await source_url(sim, http)
    await sim.control.areset_counters()
    ks = admin_ks(sim)
    for _ in range(3):
        await call(http, sim, "media", "count", ks)
    body = {
        "format": "1",
        "ks": ks,
        "0": {"service": "media", "action": "count"},
        "1": {"service": "media", "action": "list"},
    }
    async with http.post(f"{sim.service_url}/api_v3/service/multirequest", json=body) as resp:
        await resp.read()
    assert (await sim.control.acounters())["first_download_at"] is None
    before = time.time()
    async with http.get(url, headers={"Range": "bytes=0-999"}) as resp:
        await resp.read()
    # the simulator marks a download's end after its handler returns, which can be after we have every byte:
    # ask until it has (its own count says so), then read the clock
    counters = await sim.control.acounters()
    while counters["downloads_in_flight"]:
        counters = await sim.control.acounters()
    after = time.time()
    assert before <= counters["first_download_at"] <= counters["last_download_at"] <= after
    assert counters["calls"] == {"media.count": 4, "media.list": 1}
    assert counters["requests"] == 4
    assert counters["peak_rps"] >= 1
    assert (counters["downloads"], counters["bytes_served"]) == (1, 1000)
    reset = await sim.control.areset_counters()
    assert (reset["calls"], reset["requests"], reset["bytes_served"]) == ({}, 0, 0)
    assert (reset["first_download_at"], reset["last_download_at"]) == (None, None)
    assert size > 1000
