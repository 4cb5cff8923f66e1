"""The 10,000-result cap on 12,000 entries, and cursor paging by createdAt that gets past it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from KalturaClient import KalturaClient, KalturaConfiguration
from KalturaClient.exceptions import KalturaException
from KalturaClient.Plugins.Core import KalturaFilterPager, KalturaMediaEntryFilter, KalturaSessionType

from testbed.kaltura_sim import SimProcess

PAGE = 500


@pytest.fixture(scope="module")
def big_sim() -> Iterator[SimProcess]:
    """12,000 entries, read-only."""
    with SimProcess(entries=12_000, seed=11, max_size_mb=10) as sim:
        yield sim


def client(sim: SimProcess) -> KalturaClient:
    c = KalturaClient(KalturaConfiguration(sim.service_url))
    c.setKs(
        KalturaClient.generateSessionV2(
            sim.admin_secret, sim.user_id, KalturaSessionType.ADMIN, sim.partner_id, 3600
        )
    )
    return c


def pager(index: int) -> KalturaFilterPager:
    p = KalturaFilterPager()
    p.pageSize, p.pageIndex = PAGE, index
    return p


def by_created(cursor: int | None = None) -> KalturaMediaEntryFilter:
    flt = KalturaMediaEntryFilter()
    flt.orderBy = "+createdAt"
    if cursor is not None:
        flt.createdAtGreaterThanOrEqual = cursor
    return flt


def ready_ids(sim: SimProcess) -> list[str]:
    return [e["id"] for e in sim.control.get_entries() if e["status"] == "2"]


def test_page_20_is_the_last_page_and_page_21_fails(big_sim: SimProcess) -> None:
    c = client(big_sim)
    total = len(ready_ids(big_sim))
    assert total > 10_000
    last = c.media.list(by_created(), pager(20))
    assert len(last.objects) == PAGE
    assert last.totalCount == total
    with pytest.raises(KalturaException) as info:
        c.media.list(by_created(), pager(21))
    assert info.value.code == "QUERY_EXCEEDED_MAX_MATCHES_ALLOWED"


def test_oversized_page_is_clamped_to_500(big_sim: SimProcess) -> None:
    p = pager(1)
    p.pageSize = 2000
    assert len(client(big_sim).media.list(by_created(), p).objects) == PAGE


def cursor_pages(c: KalturaClient) -> Iterator[Any]:
    """Every READY entry once: page 1 from the cursor second, ids already seen at that second dropped.

    A full page inside one second (bursts larger than a page) moves on by page index within that second.
    """
    cursor, index, seen_at_cursor = 0, 1, set[str]()
    while True:
        rows = c.media.list(by_created(cursor), pager(index)).objects
        for entry in rows:
            if entry.createdAt == cursor and entry.id in seen_at_cursor:
                continue
            yield entry
        if len(rows) < PAGE:
            return
        last = rows[-1].createdAt
        if last == cursor:
            index += 1
        else:
            cursor, index, seen_at_cursor = last, 1, set()
        seen_at_cursor.update(e.id for e in rows if e.createdAt == cursor)


def test_cursor_paging_reaches_every_ready_entry_once(big_sim: SimProcess) -> None:
    yielded = [e.id for e in cursor_pages(client(big_sim))]
    assert len(yielded) == len(set(yielded))
    assert set(yielded) == set(ready_ids(big_sim))


def test_catalog_has_a_same_second_burst_larger_than_a_page(big_sim: SimProcess) -> None:
    """The cursor test above is only meaningful if some second holds more entries than a page."""
    burst = big_sim.control.catalog()["edge_cases"]["same_second_burst"]
    assert len(burst) > PAGE
