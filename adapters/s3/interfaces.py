"""What jobs need from the archive bucket: the ArchiveStore protocol (docs/architecture.md, conventions 2)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from adapters.s3.checksums import S3Checksum
from adapters.s3.multipart import WriterStats
from adapters.s3.proof import ArchiveRecord
from adapters.s3.reprove import StoredDigest
from adapters.s3.restores import READ_CHUNK, RestoreAnswer, RestoreState
from adapters.s3.wire import ListedObject, ObjectHead, OpenUpload, PutResult


class PartWriter(Protocol):
    """One streaming upload in progress (`ArchiveStore.writer`)."""

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        """Take the next bytes; waits while every part slot is busy. Longer than expected: ItemFailedError."""
        ...

    async def complete(self) -> PutResult:
        """Finish the object and write its record; ItemFailedError (and abort) if bytes are missing."""
        ...

    def statistics(self) -> WriterStats:
        """Bytes, parts, retries, part buffers alive and their peak."""
        ...


class ArchiveStore(Protocol):
    """The bucket archive objects live in. `S3Store` is one.

    Every write refuses to replace an existing object unless `overwrite=True` (S3ItemError with code
    `PreconditionFailed`), and leaves no multipart upload behind when it fails or is cancelled.
    """

    @property
    def bucket(self) -> str: ...

    def single_put(self, size: int) -> bool:
        """Whether an object of `size` bytes goes up in one PUT (below the part size), not in parts."""
        ...

    def key_for(self, entry_id: str) -> str:
        """The key of an entry's archive object (the entry id, after the configured prefix)."""
        ...

    async def check_access(self) -> None:
        """Prove the bucket exists and is ours to use; FatalError naming the fix otherwise."""
        ...

    async def tags(self, key: str) -> dict[str, str]:
        """The object's tags (GetObjectTagging)."""
        ...

    async def head(self, key: str, *, with_tags: bool = True, record_only: bool = False) -> ObjectHead | None:
        """Size, S3 checksum, metadata, storage class (and tags) of the object; None when there is none.
        `record_only`: the tags are read only if the metadata does not carry the whole record."""
        ...

    def list_objects(self, *, page_size: int = 1000) -> AsyncGenerator[ListedObject, None]:
        """Every object under the prefix, in key order, a ListObjectsV2 page at a time (no metadata)."""
        ...

    async def stored_digest(self, head: ObjectHead) -> StoredDigest:
        """A digest to feed a source to: its result says whether the source is the object `head` describes,
        as S3 stores it (same part layout, same checksum algorithm), and gives the SHA-256 and S3 checksum
        to record for it. ValueError when S3 reports no checksum for the object."""
        ...

    async def put_bytes(
        self, key: str, data: bytes, metadata: Mapping[str, str], *, overwrite: bool = False
    ) -> PutResult:
        """Write a small object in one request, with its checksum and its record."""
        ...

    def writer(
        self, key: str, expected_size: int, metadata: Mapping[str, str], *, overwrite: bool = False
    ) -> AbstractAsyncContextManager[PartWriter]:
        """A streaming multipart upload: `async with store.writer(...) as w: await w.write(b); await
        w.complete()`. Leaving the block any other way aborts the upload (shielded)."""
        ...

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        expected_size: int,
        metadata: Mapping[str, str],
        *,
        overwrite: bool = False,
    ) -> PutResult:
        """Stream exactly `expected_size` bytes to `key` (one PUT when small, else multipart)."""
        ...

    async def record(self, key: str, sha256: str, checksum: S3Checksum) -> None:
        """Write the checksum record (our SHA-256 and the S3 checksum) of an object already proven, into its
        tags, keeping the tags it has (ItemFailedError when that would exceed S3's 10 per object)."""
        ...

    async def record_legacy(self, key: str, record: ArchiveRecord) -> None:
        """Write the whole record of an old tool's object (no metadata), proven a copy of `record`'s source,
        in its tags, keeping the tags it has (ItemFailedError over S3's 10 per object)."""
        ...

    async def record_restored_version(self, key: str, version: str) -> None:
        """Tag the object with the version Kaltura gave the source flavor when its content was restored from
        it (proven first), keeping the tags it has (ItemFailedError over S3's 10 per object)."""
        ...

    async def restore_state(self, key: str) -> RestoreState | None:
        """Whether the object can be read now (class, restore in progress, restored copy and its expiry),
        from its HEAD; None when there is no object."""
        ...

    async def request_restore(self, key: str, *, storage_class: str, tier: str, days: int) -> RestoreAnswer:
        """Ask for a restore of the object (in `storage_class`, from `restore_state`) at `tier` for `days`:
        requested, already in progress, already restored (its days now count from today) or not needed.
        Never Expedited for DEEP_ARCHIVE; Expedited falls back to Standard when S3 has no capacity for it."""
        ...

    async def presigned_get(self, key: str, *, expires_s: int) -> str:
        """A GET URL of the object, valid `expires_s` seconds, signed with the run's credentials (a secret,
        registered for redaction)."""
        ...

    def read(
        self, key: str, *, etag: str | None = None, chunk_size: int = READ_CHUNK
    ) -> AsyncGenerator[bytes, None]:
        """The object's bytes as they arrive (`async for chunk in store.read(key)`), resumed with Range after
        a cut connection; S3ItemError `InvalidObjectState` when an archived object has no restored copy."""
        ...

    def open_uploads(self, key: str | None = None) -> AsyncIterator[OpenUpload]:
        """Multipart uploads still open for `key`, or for every key under the prefix."""
        ...

    async def abort_uploads(self, key: str | None = None) -> int:
        """Abort open uploads of `key` (or under the prefix); how many."""
        ...

    async def abort_upload(self, key: str, upload_id: str) -> bool:
        """Abort one upload; False when it was gone already."""
        ...
