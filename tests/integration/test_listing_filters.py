"""Each selection option lists exactly the entries it means: checked against the simulator's whole catalog.

The expected sets are computed here from `GET /__sim/entries` (and the category tree and media types, read
with the official client), independently of our filter code.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from KalturaClient.Base import KalturaConfiguration
from KalturaClient.Client import KalturaClient as OfficialClient
from KalturaClient.Plugins import Core

from adapters.kaltura import FilterSpec, KalturaClient
from adapters.kaltura.filters import years_ago
from engine.pacer import Pacer
from engine.retry import RetryPolicy
from testbed.catalog import build_categories
from tests.integration.simapi import client_config

if TYPE_CHECKING:
    from testbed.kaltura_sim import SimProcess

Entry = dict[str, Any]
DEFAULT = {"-1", "-2", "0", "1", "2", "7", "4"}


@pytest.fixture(scope="module")
def catalog(kaltura_sim: SimProcess) -> list[Entry]:
    entries: list[Entry] = kaltura_sim.control.get_entries()
    return entries


@pytest.fixture(scope="module")
def videos(kaltura_sim: SimProcess) -> set[str]:
    """Ids of video entries, read with the official client (the snapshot has no media type)."""
    client = OfficialClient(KalturaConfiguration(serviceUrl=kaltura_sim.service_url))
    ks = OfficialClient.generateSessionV2(
        kaltura_sim.admin_secret, kaltura_sim.user_id, 2, kaltura_sim.partner_id, 3600, "disableentitlement"
    )
    client.setKs(ks.decode())
    found: set[str] = set()
    flt = Core.KalturaMediaEntryFilter(mediaTypeEqual=1, statusIn="-2,-1,0,1,2,4,5,6,7")
    page = 1
    while True:
        result = client.media.list(flt, Core.KalturaFilterPager(pageSize=500, pageIndex=page))
        found.update(e.id for e in result.objects)
        if len(result.objects) < 500:
            return found
        page += 1


@pytest.fixture
async def client(kaltura_sim: SimProcess) -> AsyncIterator[KalturaClient]:
    config = client_config(kaltura_sim)
    async with KalturaClient(config, pacer=Pacer(500, max_in_flight=8), policy=RetryPolicy(attempts=3)) as c:
        yield c


def descendants(category_id: int) -> set[int]:
    tree = build_categories()
    found = {category_id}
    for cat in tree:  # depth-first order: parents come before their children
        if cat.parent_id in found:
            found.add(cat.id)
    return found


def expected(
    catalog: list[Entry], videos: set[str], run_start: int, keep: Callable[[Entry], bool]
) -> list[str]:
    """Ids in createdAt order (ties by id, as listed) of default-status videos created by run start."""
    chosen = [
        e for e in catalog
        if e["id"] in videos and e["status"] in DEFAULT and e["createdAt"] <= run_start and keep(e)
    ]  # fmt: skip
    return [e["id"] for e in sorted(chosen, key=lambda e: (e["createdAt"], e["id"]))]


def never_or_before(e: Entry, ts: int) -> bool:
    return e["lastPlayedAt"] is None or e["lastPlayedAt"] <= ts


def unplayed(e: Entry, ts: int) -> bool:
    """--unplayed_for: never played or not since `ts`, and created by `ts`."""
    return never_or_before(e, ts) and e["createdAt"] <= ts


def cases(now: int) -> Iterator[tuple[str, FilterSpec, Callable[[Entry], bool]]]:
    y2, y3, y1 = years_ago(now, 2), years_ago(now, 3), years_ago(now, 1)
    yield "default", FilterSpec(), lambda e: True
    yield "unplayed_for", FilterSpec(unplayed_for=2), lambda e: unplayed(e, y2)
    yield "played_within", FilterSpec(played_within=1), lambda e: (e["lastPlayedAt"] or 0) >= y1
    yield "created_within", FilterSpec(created_within=2), lambda e: e["createdAt"] >= y2
    yield "created_before", FilterSpec(created_before=3), lambda e: e["createdAt"] <= y3
    yield "tag", FilterSpec(tags=("foo",)), lambda e: "foo" in e["tags"]
    both = {"math", "graduation"}
    yield "two tags", FilterSpec(tags=tuple(sorted(both))), lambda e: both <= set(e["tags"])
    yield "not tag", FilterSpec(not_tags=("foo",)), lambda e: "foo" not in e["tags"]
    yield "plays", FilterSpec(plays_below=2), lambda e: e["plays"] < 2
    faculties = descendants(102)
    yield "category", FilterSpec(category="102"), lambda e: bool(faculties & set(e["categoriesIds"]))
    yield (
        "archive run",
        FilterSpec(unplayed_for=3, not_tags=("archived_to_s3",), plays_below=5),
        lambda e: unplayed(e, y3) and "archived_to_s3" not in e["tags"] and e["plays"] < 5,
    )


CASE_NAMES = [name for name, _, _ in cases(int(time.time()))]


@pytest.mark.parametrize("name", CASE_NAMES)
async def test_filter_lists_exactly_its_entries(
    name: str, client: KalturaClient, catalog: list[Entry], videos: set[str]
) -> None:
    run_start = int(time.time())
    spec, keep = next((s, k) for n, s, k in cases(run_start) if n == name)
    want = expected(catalog, videos, run_start, keep)
    got = [e.id async for e in client.list_entries(spec, run_start=run_start)]
    assert got == want
    assert want  # the catalog has such entries, so the check means something


async def test_tag_filter_drops_entries_whose_tag_only_contains_the_word(
    client: KalturaClient, catalog: list[Entry]
) -> None:
    """Kaltura's word search finds `foo` in `foo bar`; the catalog has such entries and we leave them out."""
    only_phrase = {e["id"] for e in catalog if "foo bar" in e["tags"] and "foo" not in e["tags"]}
    assert only_phrase
    got = {e.id async for e in client.list_entries(FilterSpec(tags=("foo",)), run_start=int(time.time()))}
    assert not got & only_phrase


async def test_status_option_selects_those_statuses(
    client: KalturaClient, catalog: list[Entry], videos: set[str]
) -> None:
    run_start = int(time.time())
    spec = FilterSpec(statuses=(-1, 4, 7))
    want = {e["id"] for e in catalog if e["id"] in videos and e["status"] in {"-1", "4", "7"}}
    got = {e.id async for e in client.list_entries(spec, run_start=run_start)}
    assert got == want
    assert want


async def test_count_agrees_with_listing(client: KalturaClient) -> None:
    """media.count (server-side filter) and counting by listing (our checks) give the listed numbers."""
    run_start = int(time.time())
    for spec in (FilterSpec(unplayed_for=2), FilterSpec(unplayed_for=2, not_tags=("foo",))):
        listed = [e async for e in client.list_entries(spec, run_start=run_start)]
        assert await client.count_entries(spec, run_start=run_start) == len(listed)
