"""The one dry-run gate of s3copy: every write to S3 or Kaltura goes through `Gate`, and nothing else writes.

In a dry run the stages still decide everything (they ask `allows(action)` and report the plan); a write that
reached the gate anyway would be a bug, so it raises instead of happening (docs/lifecycle.md, safety rule 3).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Collection, Mapping, Sequence
from typing import Protocol

from adapters.kaltura import MediaEntry
from adapters.s3 import ArchiveStore, PutResult, S3Checksum
from jobs.s3copy.plan import Action


class TagWriter(Protocol):
    """The one Kaltura write s3copy makes (`MediaCatalog.write_tags`)."""

    async def write_tags(self, entry_id: str, tags: Sequence[str]) -> MediaEntry: ...


class DryRunViolation(RuntimeError):
    """A write reached the gate during a dry run: a bug, never a silent write."""


class Gate:
    """Lets writes through only when the run is real (`--execute`, `--s3copy` or `DOIT=true`)."""

    def __init__(self, *, dry_run: bool, store: ArchiveStore, kaltura: TagWriter) -> None:
        self.dry_run = dry_run
        self._store = store
        self._kaltura = kaltura
        self.writes = 0  # writes let through (each may be several requests)

    def allows(self, action: Action) -> bool:
        """Whether acting on `action` may go ahead (a dry run only reports what it would do)."""
        return not (self.dry_run and action.mutates)

    def _open(self, what: str, target: str) -> None:
        if self.dry_run:
            raise DryRunViolation(f"dry run: {what} {target} refused by the gate")
        self.writes += 1

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], expected_size: int, metadata: Mapping[str, str]
    ) -> PutResult:
        """Upload a new object (never over an existing one)."""
        self._open("upload", key)
        return await self._store.put_stream(key, chunks, expected_size, metadata, overwrite=False)

    async def record(self, key: str, sha256: str, checksum: S3Checksum) -> None:
        """Write the checksum record of an object proven from its source."""
        self._open("record", key)
        await self._store.record(key, sha256, checksum)

    async def abort_stale_uploads(self, key: str, upload_ids: Collection[str]) -> int:
        """Abort the multipart uploads of `key` listed open when this run started (`upload_ids`): no second
        listing, and an upload begun since is left alone; how many were still open."""
        self._open("abort stale uploads of", key)
        return sum([await self._store.abort_upload(key, upload_id) for upload_id in sorted(upload_ids)])

    async def write_tags(self, entry_id: str, tags: Sequence[str]) -> MediaEntry:
        """Set the entry's tags (the full list, re-read just before)."""
        self._open("tag", entry_id)
        return await self._kaltura.write_tags(entry_id, tags)
