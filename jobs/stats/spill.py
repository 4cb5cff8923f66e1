"""The join of the entry listing with the object listing, on disk: memory stays bounded whatever the catalog.

Kaltura lists entries by createdAt and S3 lists objects by key, so neither stream can be matched as it
comes. Both go into a temporary SQLite database (in TMPDIR, removed at the end; 5.2 MB of disk for
100,000 entries and 50,000 objects), and the join is read back a batch at a time. SQLite's page cache is
capped at `CACHE_KIB`, so the process's memory does not grow with the catalog; only the disk does.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Final

from jobs.stats.facts import EntryFacts

CACHE_KIB: Final = 8192  # SQLite's page cache (the only memory the join takes)
BATCH: Final = 1000  # rows read back at a time

_SCHEMA = """
CREATE TABLE entries (
    entry_id TEXT PRIMARY KEY, created_year INTEGER, played_year INTEGER, kaltura_bytes INTEGER,
    source_bytes INTEGER, source_kb INTEGER, flags INTEGER
) WITHOUT ROWID;
CREATE TABLE objects (entry_id TEXT PRIMARY KEY, size INTEGER) WITHOUT ROWID;
"""
_TAGGED, _REPLACED, _READY, _IN_POLICY = 1, 2, 4, 8


def _flags(f: EntryFacts) -> int:
    return (
        (_TAGGED if f.tagged else 0)
        | (_REPLACED if f.replaced else 0)
        | (_READY if f.ready else 0)
        | (_IN_POLICY if f.in_policy else 0)
    )


def _facts(row: tuple[str, int, int | None, int, int, int, int]) -> EntryFacts:
    entry_id, created, played, kaltura_bytes, source_bytes, source_kb, flags = row
    return EntryFacts(
        entry_id, created, played, kaltura_bytes, source_bytes, source_kb,
        tagged=bool(flags & _TAGGED), replaced=bool(flags & _REPLACED), ready=bool(flags & _READY),
        in_policy=bool(flags & _IN_POLICY),
    )  # fmt: skip


class Spill:
    """Entries and objects on disk, joined on the entry id; use as `with Spill() as spill`."""

    def __init__(self, directory: str | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="kaltura-archiver-stats-", dir=directory)
        self._db = sqlite3.connect(Path(self._dir.name, "join.db"), isolation_level=None)
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "temp_store = FILE",
                       f"cache_size = -{CACHE_KIB}"):  # fmt: skip
            self._db.execute(f"PRAGMA {pragma}")
        self._db.executescript(_SCHEMA)

    def __enter__(self) -> Spill:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()

    def add_entries(self, facts: Iterable[EntryFacts]) -> None:
        """Entries of one page (an id seen before is kept once)."""
        rows = [
            (f.entry_id, f.created_year, f.played_year, f.kaltura_bytes, f.source_bytes, f.source_kb,
             _flags(f))
            for f in facts
        ]  # fmt: skip
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def add_objects(self, objects: Iterable[tuple[str, int]]) -> None:
        """Objects of one page: (entry id, the key without the prefix; size)."""
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO objects VALUES (?, ?)", objects)

    def joined(self) -> Iterator[tuple[EntryFacts, int | None]]:
        """Every entry with the size of its object (None: no object), read back a batch at a time."""
        cursor = self._db.execute(
            "SELECT e.entry_id, e.created_year, e.played_year, e.kaltura_bytes, e.source_bytes, e.source_kb, "
            "e.flags, o.size FROM entries e LEFT JOIN objects o ON o.entry_id = e.entry_id"
        )
        while batch := cursor.fetchmany(BATCH):
            for row in batch:
                yield _facts(row[:7]), row[7]

    def orphans(self) -> tuple[int, int]:
        """Objects whose key names no entry: how many, and their bytes."""
        count, size = self._db.execute(
            "SELECT count(*), coalesce(sum(size), 0) FROM objects o "
            "WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE e.entry_id = o.entry_id)"
        ).fetchone()
        return int(count), int(size)
