"""Id selections: an id file with unknown and non-READY ids, read in idIn chunks of 100."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from adapters.kaltura import FilterSpec, KalturaClient, ListingStats
from engine.pacer import Pacer
from engine.retry import RetryPolicy
from testbed.catalog import build_categories
from tests.integration.simapi import client_config

if TYPE_CHECKING:
    from testbed.kaltura_sim import SimProcess

UNKNOWN = ["0_zzzzzzz1", "0_zzzzzzz2", "1_nothere0"]


@pytest.fixture
async def client(kaltura_sim: SimProcess) -> AsyncIterator[KalturaClient]:
    config = client_config(kaltura_sim)
    async with KalturaClient(config, pacer=Pacer(500), policy=RetryPolicy(attempts=3)) as c:
        yield c


@pytest.fixture
def chosen(kaltura_sim: SimProcess) -> list[dict[str, Any]]:
    """250 entries: every non-READY one of the catalog first, then READY ones."""
    entries = kaltura_sim.control.get_entries()
    not_ready = [e for e in entries if e["status"] != "2"]
    ready = [e for e in entries if e["status"] == "2"]
    assert len(not_ready) >= 20
    return (not_ready + ready)[:250]


def write_idfile(path: Path, ids: list[str]) -> str:
    path.write_text("\n".join(ids) + "\n\n", encoding="utf-8")
    return str(path)


async def test_idfile_lists_non_ready_entries_and_reports_unknown_ids(
    client: KalturaClient, chosen: list[dict[str, Any]], tmp_path: Path
) -> None:
    ids = [e["id"] for e in chosen]
    mixed = ids[:120] + UNKNOWN[:2] + ids[120:] + UNKNOWN[2:] + ids[:5]  # duplicates are listed once
    spec = FilterSpec(idfile=write_idfile(tmp_path / "ids.txt", mixed), media_type=None)
    unknown: list[str] = []
    stats = ListingStats()
    pages = client.list_entries(spec, run_start=int(time.time()), on_unknown=unknown.append, stats=stats)
    listed = [e async for e in pages]
    default = {"-1", "-2", "0", "1", "2", "7", "4"}
    assert [e.id for e in listed] == [e["id"] for e in chosen if e["status"] in default]
    assert any(e.status != 2 for e in listed)
    assert unknown == UNKNOWN
    assert stats.requests == 3  # 250 known + 3 unknown ids: three idIn chunks


async def test_idfile_with_a_status_filter_keeps_only_those(
    client: KalturaClient, chosen: list[dict[str, Any]], tmp_path: Path
) -> None:
    ids = [e["id"] for e in chosen]
    idfile = write_idfile(tmp_path / "ids.txt", ids + UNKNOWN)
    spec = FilterSpec(idfile=idfile, statuses=(2,), media_type=None)
    unknown: list[str] = []
    pages = client.list_entries(spec, run_start=int(time.time()), on_unknown=unknown.append)
    listed = [e.id async for e in pages]
    assert listed == [e["id"] for e in chosen if e["status"] == "2"]
    assert unknown == UNKNOWN


async def test_ids_with_a_category_ask_the_server_which_match(
    client: KalturaClient, chosen: list[dict[str, Any]]
) -> None:
    """Category descendants are the server's knowledge: ids are narrowed with a second idIn query."""
    ids = tuple(e["id"] for e in chosen[:150])
    under = {101}
    for cat in build_categories():  # depth-first: parents first
        if cat.parent_id in under:
            under.add(cat.id)
    spec = FilterSpec(ids=ids, category="101", statuses=(-2, -1, 0, 1, 2, 4, 7), media_type=None)
    listed = [e.id async for e in client.list_entries(spec, run_start=int(time.time()))]
    assert listed == [e["id"] for e in chosen[:150] if under & set(e["categoriesIds"])]
    assert 0 < len(listed) < len(ids)
