"""Content calls against the simulator: a file goes up as multipart/form-data (as the official client sends
it) into a token, the token replaces an entry's content, thumbnails, and a lost updateContent answer."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import aiohttp
import pytest

from adapters.kaltura import AnswerLost, KalturaItemError
from testbed.kaltura_sim import SimProcess
from tests.integration.simapi import client_for

SimFactory = Callable[..., SimProcess]
PLACEHOLDER = bytes(range(256)) * 1200  # 307,200 B, about the size of a real placeholder


def _ready(sim: SimProcess) -> list[str]:
    """Entries that are READY with a READY source flavor."""
    return [
        e["id"]
        for e in sim.control.get_entries()
        if e["status"] == "2" and any(f["isOriginal"] and f["status"] == 2 for f in e["flavors"])
    ]


def _ready_video(sim: SimProcess) -> str:
    return _ready(sim)[0]


async def _source(client: object, entry_id: str) -> tuple[str, int, int]:
    fresh = await client.reread(entry_id)  # type: ignore[attr-defined]
    (source,) = [f for f in fresh.flavors if f.is_original]
    return source.id, source.version, source.size_bytes


async def test_placeholder_replaces_content_keeping_the_source_flavor_id(
    kaltura_sim_factory: SimFactory,
) -> None:
    """upload_file + update_content: the source keeps its id, its version goes up by one, and it serves the
    uploaded bytes."""
    sim = kaltura_sim_factory(entries=20, seed=3)
    entry_id = _ready_video(sim)
    async with client_for(sim) as client:
        before = await _source(client, entry_id)
        token = await client.upload_file(PLACEHOLDER, "placeholder.mp4", entry_id=entry_id)
        pending = await client.update_content(entry_id, token)
        assert pending.id == entry_id
        after = await _source(client, entry_id)
        assert after[0] == before[0]
        assert after[1] == before[1] + 1
        assert after[2] == len(PLACEHOLDER)
        url = await client.flavor_url(after[0], entry_id=entry_id)
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            served = await resp.read()
        assert hashlib.sha256(served).digest() == hashlib.sha256(PLACEHOLDER).digest()
    calls = sim.control.counters()["calls"]
    assert calls["uploadtoken.upload"] == 1
    assert calls["media.updatecontent"] == 1


async def test_a_token_carries_one_file_to_one_entry(kaltura_sim_factory: SimFactory) -> None:
    """A used token is closed: a second entry cannot take it (so the placeholder goes up once per entry)."""
    sim = kaltura_sim_factory(entries=20, seed=3)
    ids = _ready(sim)[:2]
    async with client_for(sim) as client:
        token = await client.upload_file(PLACEHOLDER, "placeholder.mp4")
        await client.update_content(ids[0], token)
        with pytest.raises(KalturaItemError) as caught:
            await client.update_content(ids[1], token)
        assert caught.value.code == "UPLOAD_TOKEN_INVALID_STATUS_FOR_ADD_ENTRY"


async def test_lost_update_content_answer_is_not_sent_again(kaltura_sim_factory: SimFactory) -> None:
    """The replacement happened but its answer was lost: AnswerLost, and only one replacement."""
    sim = kaltura_sim_factory(entries=20, seed=3)
    sim.control.set_faults({"conversion": {"delay_s": 600}})
    entry_id = _ready_video(sim)
    async with client_for(sim) as client:
        token = await client.upload_file(PLACEHOLDER, "placeholder.mp4")
        sim.control.set_faults({"actions": {"media.updatecontent": {"drop_after": {"next": 1}}}})
        with pytest.raises(AnswerLost):
            await client.update_content(entry_id, token)
        fresh = await client.reread(entry_id)
        assert fresh.entry.replacing_entry_id is not None
    assert sim.control.counters()["calls"]["media.updatecontent"] == 1


async def test_action_blocked_update_content_is_sent_again(kaltura_sim_factory: SimFactory) -> None:
    """ACTION_BLOCKED is answered before acting: the call is sent again and the replacement happens once."""
    sim = kaltura_sim_factory(entries=20, seed=3)
    entry_id = _ready_video(sim)
    async with client_for(sim) as client:
        before = await _source(client, entry_id)
        token = await client.upload_file(PLACEHOLDER, "placeholder.mp4")
        sim.control.set_faults({"actions": {"media.updatecontent": {"action_blocked": {"next": 2}}}})
        await client.update_content(entry_id, token)
        assert (await _source(client, entry_id))[1] == before[1] + 1
    counters = sim.control.counters()
    assert counters["errors"]["ACTION_BLOCKED"] == 2
    assert counters["calls"]["media.updatecontent"] == 3


async def test_thumbnail_becomes_the_default(kaltura_sim_factory: SimFactory) -> None:
    sim = kaltura_sim_factory(entries=20, seed=3)
    entry_id = _ready_video(sim)
    async with client_for(sim) as client:
        thumb_id = await client.add_thumbnail(entry_id, b"\xff\xd8\xff\xe0" + bytes(1000), "placeholder.jpg")
    assert thumb_id
    calls = sim.control.counters()["calls"]
    assert calls["thumbasset.addfromimage"] == 1
    assert calls["thumbasset.setasdefault"] == 1
