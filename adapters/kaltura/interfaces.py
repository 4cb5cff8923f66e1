"""What jobs need from Kaltura: the MediaCatalog protocol (docs/architecture.md, conventions 2)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from adapters.kaltura.batches import Fresh
from adapters.kaltura.filters import FilterSpec
from adapters.kaltura.listing import EntryPage, ListingStats
from adapters.kaltura.wire import FlavorAsset, MediaEntry, UrlResource
from engine.retry import RetryPolicy


class MediaCatalog(Protocol):
    """A partner's media entries: select, count, look up, and fetch originals. `KalturaClient` is one."""

    @property
    def ks_expires_at(self) -> float:
        """When the current session expires (Unix seconds); 0 before the first call."""
        ...

    async def check_access(self, *, policy: RetryPolicy | None = None) -> int:
        """Prove the credentials with one cheap call; the number of listable entries."""
        ...

    def list_pages(
        self,
        spec: FilterSpec,
        *,
        run_start: int,
        on_unknown: Callable[[str], None] | None = None,
        stats: ListingStats | None = None,
    ) -> AsyncGenerator[EntryPage, None]:
        """The entries `spec` selects as of `run_start`, page by page (≤ 500), each entry once, in
        createdAt order (id selections: in the order given)."""
        ...

    def list_entries(
        self,
        spec: FilterSpec,
        *,
        run_start: int,
        on_unknown: Callable[[str], None] | None = None,
        stats: ListingStats | None = None,
    ) -> AsyncGenerator[MediaEntry, None]:
        """`list_pages`, one entry at a time."""
        ...

    async def count_entries(
        self, spec: FilterSpec, *, run_start: int, stats: ListingStats | None = None
    ) -> int:
        """How many entries `spec` selects as of `run_start` (`stats` counts ids Kaltura does not know)."""
        ...

    async def get_media(self, entry_id: str) -> MediaEntry:
        """One entry, fresh (e.g. to re-read tags before writing them); unknown: KalturaItemError."""
        ...

    async def flavors_of(self, entry_ids: Sequence[str]) -> Mapping[str, Sequence[FlavorAsset]]:
        """The flavors of many entries in few calls; every id maps to a (maybe empty) list."""
        ...

    async def flavor_url(self, flavor_id: str, *, entry_id: str | None = None) -> str:
        """A URL that serves the flavor's file (batched with other workers' calls inside `batching()`)."""
        ...

    def batching(
        self, *, max_calls: int | None = ..., flushers: int = ..., wait_s: float | None = ...
    ) -> AbstractAsyncContextManager[None]:
        """While open, `flavor_url`, `reread` and `write_tags` of concurrent workers share requests."""
        ...

    async def reread(self, entry_id: str) -> Fresh:
        """The entry and its flavors as Kaltura has them now (e.g. just before writing its tags)."""
        ...

    async def write_tags(self, entry_id: str, tags: Sequence[str]) -> MediaEntry:
        """Set the entry's whole tag list; the entry as stored (Kaltura lower-cases, de-duplicates)."""
        ...

    def download(
        self, url: str, *, offset: int = 0, chunk_size: int = ..., entry_id: str | None = None
    ) -> AsyncGenerator[bytes, None]:
        """The bytes at `url` from `offset`, streamed; resumes by itself after a broken connection."""
        ...

    async def content_length(self, url: str, *, entry_id: str | None = None) -> int:
        """The exact byte size of the file at `url` (a one-byte ranged GET; size from its headers)."""
        ...


class ContentWriter(Protocol):
    """What replacing (and restoring) an entry's content needs of Kaltura. `KalturaClient` is one."""

    async def upload_file(self, data: bytes, file_name: str, *, entry_id: str | None = None) -> str:
        """A new upload token holding `data` whole; its id (one token carries one file to one entry)."""
        ...

    async def new_token(self, file_name: str, size: int, *, entry_id: str | None = None) -> str:
        """A new, empty upload token for a file of `size` bytes; its id."""
        ...

    async def upload_chunk(
        self,
        token_id: str,
        data: bytes,
        *,
        resume_at: int,
        final: bool,
        file_name: str,
        entry_id: str | None = None,
    ) -> int:
        """Write `data` into the token at `resume_at` (the first chunk at 0 first; `final` completes it)."""
        ...

    async def update_content(self, entry_id: str, content: str | UrlResource) -> MediaEntry:
        """Replace the entry's content with an upload token's file (its id) or what Kaltura fetches from a
        URL (`media.updateContent`); AnswerLost when the outcome is unknown (re-read the entry to learn
        it)."""
        ...

    async def cancel_replace(self, entry_id: str) -> MediaEntry:
        """Drop the entry's pending or FAILED replacement (`media.cancelReplace`)."""
        ...

    async def add_thumbnail(self, entry_id: str, data: bytes, file_name: str) -> str:
        """Make `data` the entry's default thumbnail; the thumbnail's id."""
        ...
