"""The one dry-run gate: every write to S3 or Kaltura, of every job, goes through `Gate`; nothing else writes.

A method per kind of write (`Write`), each saying what it would do. In a dry run a job still decides
everything (it asks `allows(decision)` and reports the plan); a write that reached the gate anyway would be a
bug, so it raises instead of happening (docs/lifecycle.md, safety rule 3).
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterable, Collection, Mapping, Sequence
from typing import Protocol

from adapters.kaltura import MediaEntry, UrlResource
from adapters.kaltura.interfaces import ContentWriter
from adapters.s3 import ArchiveRecord, ArchiveStore, PutResult, RestoreAnswer, S3Checksum


class TagWriter(Protocol):
    """The Kaltura write of tags (`MediaCatalog.write_tags`)."""

    async def write_tags(self, entry_id: str, tags: Sequence[str]) -> MediaEntry: ...


class Decision(Protocol):
    """A job's decision for one entry: all the gate needs to know is whether acting on it writes."""

    @property
    def mutates(self) -> bool: ...


class Write(enum.Enum):
    """The kinds of write; each value is what it does to its target (an entry id or an S3 key)."""

    KALTURA_TAGS = "tag"
    KALTURA_UPLOAD = "upload the placeholder for"
    KALTURA_REPLACE = "replace the content of"
    KALTURA_CANCEL = "cancel the replacement of"
    KALTURA_THUMBNAIL = "set the placeholder thumbnail of"
    KALTURA_RESTORE_UPLOAD = "upload the archived original of"
    S3_RESTORE = "request a Glacier restore of"
    S3_RESTORED_VERSION = "record the restored version on"
    S3_PUT = "upload"
    S3_RECORD = "record"
    S3_LEGACY_RECORD = "record the proven old tool's object"
    S3_ABORT = "abort stale uploads of"

    def would(self, target: str) -> str:
        """What this write would do to `target`, as a dry run says it."""
        return f"would {self.value} {target}"


class DryRunViolation(RuntimeError):
    """A write reached the gate during a dry run: a bug, never a silent write."""


class Gate:
    """Lets writes through only when the run is real (`--execute`, `--s3copy` or `DOIT=true`)."""

    def __init__(
        self,
        *,
        dry_run: bool,
        store: ArchiveStore,
        kaltura: TagWriter,
        content: ContentWriter | None = None,
    ) -> None:
        self.dry_run = dry_run
        self._store = store
        self._kaltura = kaltura
        self._content = content  # the jobs that change an entry's content give it
        self.writes = 0  # writes let through (each may be several requests)

    def allows(self, decision: Decision) -> bool:
        """Whether acting on `decision` may go ahead (a dry run only reports what it would do)."""
        return not (self.dry_run and decision.mutates)

    def _open(self, write: Write, target: str) -> None:
        if self.dry_run:
            raise DryRunViolation(f"dry run: {write.would(target)}, refused by the gate")
        self.writes += 1

    async def write_tags(self, entry_id: str, tags: Sequence[str]) -> MediaEntry:
        """Kaltura: set the entry's tags (the full list, re-read just before)."""
        self._open(Write.KALTURA_TAGS, entry_id)
        return await self._kaltura.write_tags(entry_id, tags)

    def _writer(self) -> ContentWriter:
        if self._content is None:
            raise RuntimeError("this gate was made without a content writer")
        return self._content

    async def upload_file(self, entry_id: str, data: bytes, file_name: str) -> str:
        """Kaltura: a new upload token holding `data`, for `entry_id`'s new content; the token's id."""
        self._open(Write.KALTURA_UPLOAD, entry_id)
        return await self._writer().upload_file(data, file_name, entry_id=entry_id)

    async def update_content(self, entry_id: str, content: str | UrlResource) -> MediaEntry:
        """Kaltura: replace the entry's content with an upload token's file (its id) or what Kaltura fetches
        from a URL (the old stays until READY)."""
        self._open(Write.KALTURA_REPLACE, entry_id)
        return await self._writer().update_content(entry_id, content)

    async def cancel_replace(self, entry_id: str) -> MediaEntry:
        """Kaltura: drop the entry's pending or FAILED replacement (only ever one this run started)."""
        self._open(Write.KALTURA_CANCEL, entry_id)
        return await self._writer().cancel_replace(entry_id)

    async def add_thumbnail(self, entry_id: str, data: bytes, file_name: str) -> str:
        """Kaltura: make `data` the entry's default thumbnail."""
        self._open(Write.KALTURA_THUMBNAIL, entry_id)
        return await self._writer().add_thumbnail(entry_id, data, file_name)

    async def new_token(self, entry_id: str, file_name: str, size: int) -> str:
        """Kaltura: a new upload token, for the archived original of `entry_id`."""
        self._open(Write.KALTURA_RESTORE_UPLOAD, entry_id)
        return await self._writer().new_token(file_name, size, entry_id=entry_id)

    async def upload_chunk(
        self, entry_id: str, token_id: str, data: bytes, *, resume_at: int, final: bool, file_name: str
    ) -> int:
        """Kaltura: one chunk of the archived original into its token (the final one completes it)."""
        self._open(Write.KALTURA_RESTORE_UPLOAD, entry_id)
        return await self._writer().upload_chunk(
            token_id, data, resume_at=resume_at, final=final, file_name=file_name, entry_id=entry_id
        )

    async def request_restore(self, key: str, *, storage_class: str, tier: str, days: int) -> RestoreAnswer:
        """S3: ask for a temporary readable copy of an archived (Glacier) object (a paid request)."""
        self._open(Write.S3_RESTORE, key)
        return await self._store.request_restore(key, storage_class=storage_class, tier=tier, days=days)

    async def record_restored_version(self, key: str, version: str) -> None:
        """S3: record on the object that the source flavor, now at `version`, holds its bytes again."""
        self._open(Write.S3_RESTORED_VERSION, key)
        await self._store.record_restored_version(key, version)

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], expected_size: int, metadata: Mapping[str, str]
    ) -> PutResult:
        """S3: upload a new object (never over an existing one)."""
        self._open(Write.S3_PUT, key)
        return await self._store.put_stream(key, chunks, expected_size, metadata, overwrite=False)

    async def record(self, key: str, sha256: str, checksum: S3Checksum) -> None:
        """S3: write the checksum record of an object proven from its source."""
        self._open(Write.S3_RECORD, key)
        await self._store.record(key, sha256, checksum)

    async def record_legacy(self, key: str, record: ArchiveRecord) -> None:
        """S3: write the record of an old tool's object proven a copy of `record`'s source, in its tags."""
        self._open(Write.S3_LEGACY_RECORD, key)
        await self._store.record_legacy(key, record)

    async def abort_stale_uploads(self, key: str, upload_ids: Collection[str]) -> int:
        """S3: abort the multipart uploads of `key` listed open when this run started (`upload_ids`): no
        second listing, and an upload begun since is left alone; how many were still open."""
        self._open(Write.S3_ABORT, key)
        return sum([await self._store.abort_upload(key, upload_id) for upload_id in sorted(upload_ids)])
