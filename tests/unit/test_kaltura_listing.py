"""The cursor paging algorithm, against a small in-memory catalog that pages the way media.list does."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest
from KalturaClient.Plugins import Core

from adapters.kaltura.filters import FilterSpec
from adapters.kaltura.listing import ListingStats, count_entries, list_entries
from adapters.kaltura.wire import MediaEntry, Page
from engine.errors import FatalError

RUN_START = 2_000_000_000


def make(entry_id: str, created_at: int, *, status: int = 2, tags: tuple[str, ...] = ()) -> MediaEntry:
    return MediaEntry(
        id=entry_id, name=entry_id, created_at=created_at, updated_at=None, status=status, media_type=1,
        tags=tags, categories="", categories_ids=(), plays=0, views=0, last_played_at=None, creator_id="",
        user_id="", duration=None, replacing_entry_id=None, replacement_status=0,
    )  # fmt: skip


class MemoryCatalog:
    """media.list/count over a list: +createdAt (ties by id), createdAt bounds, idIn, statusIn, the cap."""

    def __init__(self, entries: Iterable[MediaEntry]) -> None:
        self.entries = sorted(entries, key=lambda e: (e.created_at, e.id))
        self.list_calls = 0
        self.count_calls = 0

    def _match(self, f: Core.KalturaMediaEntryFilter) -> list[MediaEntry]:
        p = f.toParams().get()
        lo = int(p.get("createdAtGreaterThanOrEqual", -(10**12)))
        hi = int(p.get("createdAtLessThanOrEqual", 10**12))
        ids = set(p["idIn"].split(",")) if "idIn" in p else None
        statuses = {int(s) for s in p.get("statusIn", "2").split(",")}
        return [
            e for e in self.entries
            if lo <= e.created_at <= hi and e.status in statuses and (ids is None or e.id in ids)
        ]  # fmt: skip

    async def list_media(
        self, media_filter: Core.KalturaMediaEntryFilter, *, page_size: int = 30, page_index: int = 1
    ) -> Page[MediaEntry]:
        self.list_calls += 1
        offset = (page_index - 1) * page_size
        if offset >= 10_000:
            raise AssertionError("QUERY_EXCEEDED_MAX_MATCHES_ALLOWED")
        rows = self._match(media_filter)
        return Page(tuple(rows[offset : min(offset + page_size, 10_000)]), len(rows))

    async def count_media(self, media_filter: Core.KalturaMediaEntryFilter) -> int:
        self.count_calls += 1
        return len(self._match(media_filter))


async def ids_listed(
    catalog: MemoryCatalog, spec: FilterSpec, stats: ListingStats | None = None
) -> list[str]:
    return [e.id async for e in list_entries(catalog, spec, run_start=RUN_START, stats=stats)]


async def test_boundary_seconds_are_neither_repeated_nor_skipped() -> None:
    """Seconds shared across page boundaries: every entry exactly once, in createdAt order."""
    entries = [make(f"0_{i:05d}", 1000 + i // 7) for i in range(2000)]
    listed = await ids_listed(MemoryCatalog(entries), FilterSpec(page_size=100))
    assert listed == [e.id for e in sorted(entries, key=lambda e: (e.created_at, e.id))]


async def test_a_page_full_of_one_second_is_paged_on_its_own() -> None:
    """1,300 entries in one second (more than two pages): the cursor cannot move, the second is paged."""
    entries = [make(f"0_a{i:04d}", 500 + i) for i in range(10)]
    entries += [make(f"0_b{i:04d}", 600) for i in range(1300)]
    entries += [make(f"0_c{i:04d}", 601 + i) for i in range(10)]
    stats = ListingStats()
    listed = await ids_listed(MemoryCatalog(entries), FilterSpec(), stats)
    assert sorted(listed) == sorted(e.id for e in entries)
    assert len(listed) == len(set(listed))
    assert stats.crowded_seconds == 1


async def test_more_than_the_cap_in_one_second_stops_instead_of_skipping() -> None:
    entries = [make(f"0_{i:05d}", 700) for i in range(10_001)]
    with pytest.raises(FatalError, match="single second 700"):
        await ids_listed(MemoryCatalog(entries), FilterSpec())


async def test_entries_created_after_run_start_are_left_for_the_next_run() -> None:
    entries = [make("0_old", RUN_START - 1), make("0_now", RUN_START), make("0_new", RUN_START + 1)]
    assert await ids_listed(MemoryCatalog(entries), FilterSpec()) == ["0_old", "0_now"]


async def test_skip_and_max_entries_cut_the_stream() -> None:
    entries = [make(f"0_{i:03d}", 100 + i) for i in range(50)]
    listed = await ids_listed(MemoryCatalog(entries), FilterSpec(skip=10, max_entries=5, page_size=7))
    assert listed == [f"0_{i:03d}" for i in range(10, 15)]


async def test_unknown_ids_are_reported_and_non_ready_ones_listed() -> None:
    catalog = MemoryCatalog(
        [make("0_ready", 10), make("0_pending", 11, status=4), make("0_blocked", 12, status=6)]
    )
    unknown: list[str] = []
    spec = FilterSpec(ids=("0_pending", "0_nope", "0_ready", "0_blocked"))
    listed = [e.id async for e in list_entries(catalog, spec, run_start=RUN_START, on_unknown=unknown.append)]
    assert listed == ["0_pending", "0_ready"]  # in the order given; 6 (BLOCKED) is not a default status
    assert unknown == ["0_nope"]


async def test_an_idfile_is_listed_in_lower_case_with_comments_cut_off(tmp_path: Path) -> None:
    catalog = MemoryCatalog([make("0_aaaaaaaa", 10), make("0_bbbbbbbb", 11)])
    idfile = tmp_path / "ids.txt"
    idfile.write_text("0_BBBBBBBB  # the second\n# none\n\n0_aaaaaaaa\n0_bbbbbbbb\n", encoding="utf-8")
    listed = [e.id async for e in list_entries(catalog, FilterSpec(idfile=str(idfile)), run_start=RUN_START)]
    assert listed == ["0_bbbbbbbb", "0_aaaaaaaa"]


async def test_an_idfile_spoilt_after_its_check_stops_the_listing_as_fatal(tmp_path: Path) -> None:
    catalog = MemoryCatalog([make(f"0_{i:08d}", 10 + i) for i in range(150)])
    idfile = tmp_path / "ids.txt"
    idfile.write_bytes("".join(f"0_{i:08d}\n" for i in range(150)).encode() + b"\xff\n")
    listed: list[str] = []

    async def walk() -> None:
        async for entry in list_entries(catalog, FilterSpec(idfile=str(idfile)), run_start=RUN_START):
            listed.append(entry.id)

    with pytest.raises(FatalError, match=r"--idfile '.*' changed during the run: line 151 is not UTF-8 text"):
        await walk()
    assert len(listed) == 100  # the first idIn chunk, read before the bad line


async def test_count_is_one_call_when_the_filter_is_all_server_side() -> None:
    catalog = MemoryCatalog([make(f"0_{i}", 10 + i) for i in range(30)])
    assert await count_entries(catalog, FilterSpec(max_entries=3), run_start=RUN_START) == 30
    assert (catalog.count_calls, catalog.list_calls) == (1, 0)


async def test_count_lists_when_we_check_tags_ourselves() -> None:
    entries = [make(f"0_{i}", 10 + i, tags=("archived_to_s3",) if i % 3 == 0 else ()) for i in range(30)]
    catalog = MemoryCatalog(entries)
    assert await count_entries(catalog, FilterSpec(not_tags=("archived_to_s3",)), run_start=RUN_START) == 20
    assert catalog.count_calls == 0
