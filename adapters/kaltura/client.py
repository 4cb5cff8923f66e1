"""The async Kaltura API v3 client: entries, flavors, flavor URLs, re-reads and tag writes (batched).

The session and call path are `adapters.kaltura.session`'s; downloads of flavor files are
`adapters.kaltura.downloads`'.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from KalturaClient.Plugins import Core

from adapters.kaltura import batches, listing, wire
from adapters.kaltura.batches import Fresh
from adapters.kaltura.content import ContentCalls
from adapters.kaltura.downloads import Downloads
from adapters.kaltura.errors import (
    AnswerLost,
    KalturaItemError,
    definite_refusal,
    from_fault,
    only_entry,
)
from adapters.kaltura.filters import ALL_STATUSES, FilterSpec, media_filter
from adapters.kaltura.interfaces import MediaCatalog
from adapters.kaltura.listing import EntryPage, ListingStats
from adapters.kaltura.session import CLIENT_TAG, ClientConfig
from adapters.kaltura.wire import ApiCall, ApiFault, FlavorAsset, MediaEntry, Page
from engine.batch import Batcher, Company
from engine.errors import RetryableError
from engine.retry import RetryPolicy, retry

FLAVOR_ENTRY_CHUNK = 50  # entries per flavorAsset.list sub-call (≈ 5-10 flavors each, under the 500 page)
# a lingering batch goes when no other call was asked for this long: a lone call is not held for company
BATCH_QUIET_S = 0.1


class KalturaClient(Downloads, ContentCalls):
    """Kaltura API calls for the archiver; use as `async with KalturaClient(...) as client`."""

    _batcher: Batcher[batches.Job | batches.Reread, Any] | None = None  # set while `batching()` is open

    # ------------------------------------------------------------------------------------------ entries

    async def list_media(
        self, media_filter: Core.KalturaMediaEntryFilter, *, page_size: int = 500, page_index: int = 1
    ) -> Page[MediaEntry]:
        """One page of `media.list`."""
        pager = Core.KalturaFilterPager(pageSize=page_size, pageIndex=page_index)
        result = await self.call(wire.capture(lambda s: s.media.list(media_filter, pager)))
        return wire.parse_page(result, wire.parse_media_entry)

    async def count_media(self, media_filter: Core.KalturaMediaEntryFilter) -> int:
        """`media.count` for a filter."""
        return int(await self.call(wire.capture(lambda s: s.media.count(media_filter))))

    async def get_media(self, entry_id: str) -> MediaEntry:
        """`media.get`; an unknown id raises KalturaItemError with code ENTRY_ID_NOT_FOUND."""
        result = await self.call(wire.capture(lambda s: s.media.get(entry_id)), entry_id=entry_id)
        return wire.parse_media_entry(result)

    def list_pages(
        self,
        spec: FilterSpec,
        *,
        run_start: int,
        on_unknown: Callable[[str], None] | None = None,
        stats: ListingStats | None = None,
    ) -> AsyncGenerator[EntryPage, None]:
        """The entries `spec` selects as of `run_start`, page by page (see listing.py)."""
        return listing.list_pages(self, spec, run_start=run_start, on_unknown=on_unknown, stats=stats)

    def list_entries(
        self,
        spec: FilterSpec,
        *,
        run_start: int,
        on_unknown: Callable[[str], None] | None = None,
        stats: ListingStats | None = None,
    ) -> AsyncGenerator[MediaEntry, None]:
        """The entries `spec` selects as of `run_start`, one at a time."""
        return listing.list_entries(self, spec, run_start=run_start, on_unknown=on_unknown, stats=stats)

    async def count_entries(
        self, spec: FilterSpec, *, run_start: int, stats: ListingStats | None = None
    ) -> int:
        """How many entries `spec` selects (`media.count` when the filter is all server-side)."""
        return await listing.count_entries(self, spec, run_start=run_start, stats=stats)

    async def check_access(self, *, policy: RetryPolicy | None = None) -> int:
        """Prove the credentials with one cheap call; the number of listable entries (any status or type)."""
        every = media_filter(FilterSpec(media_type=None), now=0, statuses=ALL_STATUSES, with_order=False)
        return int(await self.call(wire.capture(lambda s: s.media.count(every)), policy=policy))

    # ------------------------------------------------------------------------------------------ flavors

    async def flavors_of(self, entry_ids: Sequence[str]) -> dict[str, list[FlavorAsset]]:
        """The flavors of many entries: `flavorAsset.list(entryIdIn)` per chunk, batched in one multirequest,
        with extra pages for a chunk whose flavors do not fit one page. Every id gets a (maybe empty) list."""
        found: dict[str, list[FlavorAsset]] = {entry_id: [] for entry_id in entry_ids}
        step = FLAVOR_ENTRY_CHUNK
        chunks = [tuple(entry_ids[i : i + step]) for i in range(0, len(entry_ids), step)]
        calls = [batches.flavor_list_call(chunk, 1) for chunk in chunks]
        # one chunk needs no batch; more go in one multirequest
        results = [await self.call(calls[0])] if len(calls) == 1 else await self.multirequest(calls)
        for chunk, result in zip(chunks, results, strict=True):
            page = self._flavor_page(result, chunk)
            pages_seen = 1
            _add_flavors(found, page.objects)
            seen = len(page.objects)
            while seen < page.total_count and page.objects:
                pages_seen += 1
                next_call = batches.flavor_list_call(chunk, pages_seen)
                page = self._flavor_page(await self.call(next_call), chunk)
                _add_flavors(found, page.objects)
                seen += len(page.objects)
        return found

    @staticmethod
    def _flavor_page(result: Any, chunk: Sequence[str]) -> Page[FlavorAsset]:
        if isinstance(result, ApiFault):
            raise from_fault(result, operation="flavorasset.list", entry_id=only_entry(chunk))
        return wire.parse_page(result, wire.parse_flavor_asset)

    async def flavor_url(self, flavor_id: str, *, entry_id: str | None = None) -> str:
        """`flavorAsset.getUrl`: a URL that serves the flavor's file (GET, redirects, Range); batched with
        other workers' calls while `batching()` is open."""
        if self._batcher is None:
            call = batches.get_url_call(flavor_id)
            return str(await self.call(call, entry_id=entry_id))
        url: str = await self._batched(batches.url_job(flavor_id, entry_id))
        return url

    # ------------------------------------------------------------------------------------------ batched

    @asynccontextmanager
    async def batching(
        self,
        *,
        max_calls: int | None = None,
        flushers: int = 2,
        wait_s: float | None = None,
        company: Company | None = None,
    ) -> AsyncIterator[None]:
        """While open, `flavor_url`, `reread` and `write_tags` of concurrent workers share multirequests
        (at most `max_calls` sub-calls each, the config's `batch_calls` by default; `flushers` in flight).
        A batch waits for company up to `wait_s` (the config's `batch_wait_s` by default; it goes sooner
        when full, or when nobody asked for `BATCH_QUIET_S`), then for the pacer, and takes everything queued
        meanwhile: a busy run sends full multirequests, not one per pacer token. A job whose few workers
        make several calls in a row passes 0: there, waiting for company only slows every step. With
        `company` (the pipeline's `Activity`), a batch goes at once when every task holding work already
        waits for an answer: nobody else can join it."""
        if self._batcher is not None:
            raise RuntimeError("KalturaClient.batching() is already open")
        if max_calls is None:
            max_calls = self.config.batch_calls

        async def send(jobs: Sequence[batches.Job | batches.Reread]) -> list[Any]:
            # a slot's own fault (ACTION_BLOCKED, say) fails its job only, which `_batched` retries alone:
            # re-sending a whole batch that holds more calls of one action than Kaltura allows would fail
            # again and again
            return await batches.send_jobs(self._multirequest_slots, jobs, self.flavors_of)

        def fits(jobs: Sequence[batches.Job | batches.Reread]) -> bool:
            # pushed back, the pacer slows down; batches shrink with it, so sub-calls/s fall faster still
            stats = self._pacer.statistics()
            limit = max(1, int(max_calls * stats.rate / stats.configured_rate))
            return batches.sub_calls(jobs) <= limit

        # a batched call waits for the batch before it (at most one in flight per flusher), then its own
        timeout_s = 2 * (self._policy.budget_s + self.config.request_timeout_s)
        async with Batcher(
            send,
            max_batch=batches.max_jobs(max_calls),
            flushers=flushers,
            name="kaltura",
            timeout_s=timeout_s,
            ready=self._pacer.ready,
            fits=fits,
            linger_s=self.config.batch_wait_s if wait_s is None else wait_s,
            quiet_s=BATCH_QUIET_S,
            company=company,
        ) as b:
            self._batcher = b
            try:
                yield
            finally:
                self._batcher = None

    async def _multirequest_slots(self, calls: Sequence[ApiCall], resend: bool = True) -> list[Any]:
        return await self.multirequest(calls, retry_faults=False, resend=resend)

    async def _batched(self, job: batches.Job | batches.Reread) -> Any:
        """The answer to one job, sent with whatever else is queued while `batching()` is open; a job that
        failed retryably (its own slot's fault, or its batch's) is sent again, within the retry policy. A job
        that must not run twice is sent again only after a definite refusal (ACTION_BLOCKED); any other
        failure without an answer is `AnswerLost`."""

        async def send() -> Any:
            if self._batcher is None:
                (answer,) = await batches.send_jobs(self._multirequest_slots, [job], self.flavors_of)
                if isinstance(answer, Exception):
                    raise answer
                return answer
            return await self._batcher.submit(job)

        if not (isinstance(job, batches.Job) and job.once):
            return await retry(send, policy=self._policy, pacer=self._pacer, describe="kaltura batched call")

        async def send_once() -> Any:
            try:
                return await send()
            except RetryableError as exc:
                if definite_refusal(exc):
                    raise
                raise AnswerLost(str(exc), throttled=exc.throttled) from None

        return await retry(
            send_once,
            policy=self._policy,
            pacer=self._pacer,
            describe="kaltura call sent once",
            retry_if=definite_refusal,
        )

    async def _send_job(self, job: batches.Job) -> Any:
        return await self._batched(job)

    async def reread(self, entry_id: str) -> Fresh:
        """The entry and its flavors as they are now (`media.list idIn` and `flavorAsset.list entryIdIn`,
        shared with the other re-reads of the batch), e.g. just before its tags are written."""
        fresh: Fresh = await self._batched(batches.Reread(entry_id))
        return fresh

    async def write_tags(self, entry_id: str, tags: Sequence[str]) -> MediaEntry:
        """Set the entry's whole tag list (`media.update`); the entry as Kaltura stored it (tags lower-cased
        and de-duplicated). Re-read the tags just before (`reread`), so none is lost."""
        stored: MediaEntry = await self._batched(batches.tags_job(entry_id, tags))
        return stored


def _add_flavors(found: dict[str, list[FlavorAsset]], flavors: Sequence[FlavorAsset]) -> None:
    for flavor in flavors:
        found.setdefault(flavor.entry_id, []).append(flavor)


__all__ = ["CLIENT_TAG", "AnswerLost", "ClientConfig", "KalturaClient", "KalturaItemError"]


def as_catalog(client: KalturaClient) -> MediaCatalog:
    """`client` as the jobs see it (mypy checks here that KalturaClient implements MediaCatalog)."""
    return client
