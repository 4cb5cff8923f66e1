"""Listing entries as an async iterator of pages: createdAt cursor paging that the 10,000 cap never bites.

How a selection is walked (docs/architecture.md, Pipeline; docs/kaltura.md, "The 10,000 cap"):

- Order `+createdAt`, always page 1, `createdAtGreaterThanOrEqual` = the cursor, `createdAtLessThanOrEqual` =
  the run's start (a snapshot: entries created later are left for the next run) or an earlier bound.
- After a page, the cursor moves to the last row's createdAt, and the ids already seen at that second are
  dropped from the next page (it starts at that same second again, so nothing created in it is skipped).
- If a whole page shares one second, moving the cursor to it would fetch the same page forever. That second
  is then listed on its own (`createdAt` ≥ s and ≤ s) with pageIndex 1, 2, …; rows within one second come in
  a stable order (Kaltura sorts ties by its internal id), the ids seen are de-duplicated, and if the count
  seen falls short of the server's total for that second (rows moved between pages) the second is walked
  again. The cursor then moves to s + 1. A single second holding more than 10,000 matches cannot be listed
  this way (pageIndex hits the cap) and stops the run with a message rather than skipping entries silently.
  (`idNotIn` would avoid pageIndex altogether, but its length grows with the second and not every server
  honours it; a server that ignored it would loop.)
- Our own tag writes never shift pages: they change no createdAt, and the cursor is a createdAt, not an
  offset.
- Id selections (`--id`, `--idfile`) are fetched with `idIn` in chunks of 100 with every status, so an id
  that does not exist is told apart from one the filter excludes; unknown ids go to `on_unknown`.
- An id file is read twice: `check_id_file` reads it whole before the run (one line at a time, lines capped
  at MAX_ID_LINE bytes), so a bad line stops nothing half done; the listing then reads it again lazily,
  holding one chunk of ids and the set of ids seen (about 100 bytes per distinct id: 100 MB for 1M ids).
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Protocol

from KalturaClient.Plugins import Core

from adapters.kaltura.filters import (
    ALL_STATUSES,
    MAX_PAGE_SIZE,
    FilterSpec,
    accepts,
    created_window,
    entry_id_of,
    id_chunks,
    media_filter,
    server_filter_for_ids,
)
from adapters.kaltura.wire import MediaEntry, Page
from engine.errors import FatalError
from engine.logs import get_logger

MAX_MATCHES = 10_000
MAX_ID_LINE = 4096  # bytes: an id line is ~12; a longer one is no id list (and a binary file is one line)
_ID_FILE_FIX = "one entry id per line"
_SECOND_PASSES = 3

_log = get_logger("adapters.kaltura.listing")

EntryPage = tuple[MediaEntry, ...]


class MediaLister(Protocol):
    """The two calls listing needs (KalturaClient has them)."""

    async def list_media(
        self, media_filter: Core.KalturaMediaEntryFilter, *, page_size: int = ..., page_index: int = ...
    ) -> Page[MediaEntry]: ...

    async def count_media(self, media_filter: Core.KalturaMediaEntryFilter) -> int: ...


@dataclass
class ListingStats:
    """What a listing did: requests, rows the server sent, rows passed on, and the special cases met."""

    requests: int = 0
    rows: int = 0
    entries: int = 0
    duplicates: int = 0
    crowded_seconds: int = 0
    unknown_ids: int = 0


def _clamp_page(size: int) -> int:
    return max(1, min(MAX_PAGE_SIZE, size))


class _Walk:
    """One listing of one spec at one run start."""

    def __init__(self, client: MediaLister, spec: FilterSpec, run_start: int, stats: ListingStats) -> None:
        self.client = client
        self.spec = spec
        self.run_start = run_start
        self.stats = stats
        self.page_size = _clamp_page(spec.page_size)

    async def fetch(self, flt: Core.KalturaMediaEntryFilter, page_index: int = 1) -> Page[MediaEntry]:
        page = await self.client.list_media(flt, page_size=self.page_size, page_index=page_index)
        self.stats.requests += 1
        self.stats.rows += len(page.objects)
        return page

    def keep(self, rows: Iterable[MediaEntry]) -> EntryPage:
        return tuple(e for e in rows if accepts(self.spec, e, now=self.run_start))

    async def by_cursor(self) -> AsyncGenerator[EntryPage, None]:
        window = created_window(self.spec, now=self.run_start, snapshot=self.run_start)
        if window.empty:
            return
        cursor = window.lower
        seen: set[str] = set()  # ids already passed on whose createdAt == cursor
        while True:
            flt = media_filter(self.spec, now=self.run_start, created_from=cursor, created_until=window.upper)
            rows = (await self.fetch(flt)).objects
            _check_order(rows, cursor)
            fresh = [e for e in rows if e.id not in seen]
            self.stats.duplicates += len(rows) - len(fresh)
            yield self.keep(fresh)
            if len(rows) < self.page_size:
                return
            last = rows[-1].created_at
            at_last = {e.id for e in rows if e.created_at == last}
            if rows[0].created_at != last:
                cursor, seen = last, at_last
                continue
            # the whole page is one second: the cursor cannot move past it by paging from it
            seen = (seen | at_last) if last == cursor else at_last
            async with aclosing(self.one_second(last, seen)) as pages:
                async for page in pages:
                    yield page
            cursor, seen = last + 1, set()
            if window.upper is not None and cursor > window.upper:
                return

    async def one_second(self, second: int, seen: set[str]) -> AsyncGenerator[EntryPage, None]:
        """Every match created in `second`, paged with pageIndex; `seen` ids are skipped (and grow)."""
        self.stats.crowded_seconds += 1
        _log.info("listing.crowded_second", created_at=second, seen=len(seen))
        flt = media_filter(self.spec, now=self.run_start, created_from=second, created_until=second)
        total = 0
        for _ in range(_SECOND_PASSES):
            page_index = 1
            while True:
                if (page_index - 1) * self.page_size >= MAX_MATCHES:
                    raise FatalError(
                        f"more than {MAX_MATCHES} entries match in the single second {second}: Kaltura "
                        "cannot page them; narrow the selection (e.g. --status or --category) and run again"
                    )
                page = await self.fetch(flt, page_index)
                fresh = [e for e in page.objects if e.id not in seen]
                self.stats.duplicates += len(page.objects) - len(fresh)
                seen.update(e.id for e in fresh)
                yield self.keep(fresh)
                total = page.total_count
                if len(page.objects) < self.page_size:
                    break
                page_index += 1
            if len(seen) >= total:
                return
            _log.warning("listing.second_shifted", created_at=second, seen=len(seen), total=total)

    async def by_ids(
        self, ids: Iterable[str], on_unknown: Callable[[str], None] | None
    ) -> AsyncGenerator[EntryPage, None]:
        bare = FilterSpec(media_type=None)
        narrow = server_filter_for_ids(self.spec)
        for chunk in id_chunks(ids):
            flt = media_filter(bare, now=self.run_start, statuses=ALL_STATUSES, ids=chunk, with_order=False)
            found = {e.id: e for e in (await self.fetch(flt)).objects}
            for entry_id in chunk:
                if entry_id not in found:
                    self.stats.unknown_ids += 1
                    # an entry event's fixed keys (run_id and job come bound): the listing cannot know
                    # whether the run is a dry one
                    _log.warning(
                        "entry.unknown", entry_id=entry_id, from_state=None, to_state=None, dry_run=None,
                        bytes=0, duration_ms=None, attempt=None, error="no such entry in Kaltura",
                    )  # fmt: skip
                    if on_unknown is not None:
                        on_unknown(entry_id)
            allowed: set[str] | None = None
            if narrow and found:
                flt = media_filter(
                    self.spec, now=self.run_start, statuses=ALL_STATUSES, ids=tuple(found), with_order=False
                )
                allowed = {e.id for e in (await self.fetch(flt)).objects}
            rows = [found[i] for i in chunk if i in found and (allowed is None or i in allowed)]
            yield self.keep(rows)


def _check_order(rows: Sequence[MediaEntry], cursor: int | None) -> None:
    """Refuse to go on if the server ignored `+createdAt` or the cursor (we would skip or repeat rows)."""
    previous = cursor if cursor is not None else rows[0].created_at if rows else 0
    for entry in rows:
        if entry.created_at < previous:
            raise FatalError("Kaltura returned entries out of createdAt order: cannot page safely")
        previous = entry.created_at


def id_file_lines(path: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line of an id file, read as UTF-8 one line at a time; ValueError saying
    "<what is wrong>: <fix>" for a file that is no id list (a directory, binary, not UTF-8, a huge line)."""
    fix = _ID_FILE_FIX
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise ValueError(f"cannot be read ({exc.strerror}): give a readable file with {fix}") from None
    if stat.S_ISDIR(mode):
        raise ValueError(f"is a directory: give a file with {fix}")
    if not stat.S_ISREG(mode):  # checked whole first, then read again: a pipe would be empty (or hang) then
        raise ValueError(f"is not a regular file (a pipe, stdin or a device): save the ids to a file, {fix}")
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed by the with below; opening may fail on its own)
    except OSError as exc:
        raise ValueError(f"cannot be read ({exc.strerror}): give a readable file with {fix}") from None
    with handle:
        number = 0
        while raw := handle.readline(MAX_ID_LINE + 1):
            number += 1
            if len(raw) > MAX_ID_LINE:
                raise ValueError(f"line {number} is longer than {MAX_ID_LINE} bytes: give {fix}")
            if b"\0" in raw:
                raise ValueError(f"line {number} holds a NUL byte (binary or UTF-16): give UTF-8 text, {fix}")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError(f"line {number} is not UTF-8 text: save the file as UTF-8, {fix}") from None
            yield number, text.removeprefix("\ufeff") if number == 1 else text


def check_id_file(path: str) -> int:
    """Read the whole id file once, before anything is done with it: how many id lines it has; ValueError
    ("<line and problem>: <fix>") at the first line that is not an entry id, a comment or blank."""
    ids = 0
    for number, text in id_file_lines(path):
        try:
            entry_id = entry_id_of(text)
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}: give {_ID_FILE_FIX} (# starts a comment)") from None
        ids += entry_id is not None
    if not ids:
        raise ValueError(f"holds no entry id: give a file with {_ID_FILE_FIX}")
    return ids


def _id_lines(spec: FilterSpec) -> Iterator[str]:
    yield from spec.ids
    if spec.idfile is not None:
        try:
            for _, text in id_file_lines(spec.idfile):
                entry_id = entry_id_of(text)
                if entry_id is not None:
                    yield entry_id
        except ValueError as exc:  # it passed check_id_file at the start of the run
            raise FatalError(f"--idfile {spec.idfile!r} changed during the run: {exc}") from None


async def list_pages(
    client: MediaLister,
    spec: FilterSpec,
    *,
    run_start: int,
    on_unknown: Callable[[str], None] | None = None,
    stats: ListingStats | None = None,
) -> AsyncGenerator[EntryPage, None]:
    """The entries `spec` selects as of `run_start` (Unix seconds), page by page, each entry once.

    Pages may be short or empty after our own checks; `spec.skip` entries are skipped first and at most
    `spec.max_entries` (unless negative) are passed on.
    """
    stats = stats if stats is not None else ListingStats()
    walk = _Walk(client, spec, run_start, stats)
    source = walk.by_ids(_id_lines(spec), on_unknown) if spec.by_id else walk.by_cursor()
    to_skip = max(0, spec.skip)
    remaining = spec.max_entries
    async with aclosing(source) as pages:
        async for page in pages:
            if remaining == 0:
                return
            if to_skip:
                dropped = min(to_skip, len(page))
                page, to_skip = page[dropped:], to_skip - dropped
            if remaining > 0:
                page = page[:remaining]
                remaining -= len(page)
            stats.entries += len(page)
            if page:
                yield page
            if remaining == 0:
                return


async def list_entries(
    client: MediaLister,
    spec: FilterSpec,
    *,
    run_start: int,
    on_unknown: Callable[[str], None] | None = None,
    stats: ListingStats | None = None,
) -> AsyncGenerator[MediaEntry, None]:
    """`list_pages`, one entry at a time."""
    pages_of = list_pages(client, spec, run_start=run_start, on_unknown=on_unknown, stats=stats)
    async with aclosing(pages_of) as pages:
        async for page in pages:
            for entry in page:
                yield entry


def server_countable(spec: FilterSpec) -> bool:
    """Whether `media.count` alone gives the answer (no check of ours, no id look-up)."""
    return not spec.client_side and not spec.by_id


async def count_entries(
    client: MediaLister, spec: FilterSpec, *, run_start: int, stats: ListingStats | None = None
) -> int:
    """How many entries `spec` selects as of `run_start`: `media.count` when the whole filter is the
    server's, else by listing (into `stats`, if given). Like the old tool, `skip` and `max_entries` do not
    limit a count."""
    spec = dataclasses.replace(spec, skip=0, max_entries=-1)
    if server_countable(spec):
        window = created_window(spec, now=run_start, snapshot=run_start)
        if window.empty:
            return 0
        flt = media_filter(
            spec, now=run_start, created_from=window.lower, created_until=window.upper, with_order=False
        )
        return await client.count_media(flt)
    total = 0
    async with aclosing(list_pages(client, spec, run_start=run_start, stats=stats)) as pages:
        async for page in pages:
            total += len(page)
    return total
