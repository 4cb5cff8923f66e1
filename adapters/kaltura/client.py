"""The async Kaltura API v3 client: one aiohttp session, every call through the pacer and the retry policy.

A call is an `ApiCall` recorded from the official package (wire.py), sent as a JSON body asking for JSON
back. Failures become engine errors (errors.py). `INVALID_KS` gets one fresh KS and one more try; a second
rejection stops the run. Downloads (flavor URLs) are streamed, follow redirects and resume with `Range`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import anyio
from KalturaClient.Plugins import Core

from adapters.kaltura import batches, listing, wire
from adapters.kaltura.batches import Fresh
from adapters.kaltura.errors import (
    INVALID_KS,
    RETRYABLE_CODES,
    KalturaFatalError,
    KalturaItemError,
    from_connection_error,
    from_fault,
    from_http_status,
)
from adapters.kaltura.filters import ALL_STATUSES, FilterSpec, media_filter
from adapters.kaltura.interfaces import MediaCatalog
from adapters.kaltura.ks import SessionKeeper
from adapters.kaltura.listing import EntryPage, ListingStats
from adapters.kaltura.wire import ApiCall, ApiFault, FlavorAsset, MediaEntry, Page
from engine.batch import Batcher
from engine.errors import ArchiverError, ItemFailedError, RetryableError
from engine.logs import add_secret, get_logger
from engine.pacer import Pacer
from engine.retry import RetryPolicy, retry

DEFAULT_SERVICE_URL = "https://www.kaltura.com"
CLIENT_TAG = "kaltura-archiver"
FLAVOR_ENTRY_CHUNK = 50  # entries per flavorAsset.list sub-call (≈ 5-10 flavors each, under the 500 page)
DOWNLOAD_CHUNK = 1 << 20

_log = get_logger("adapters.kaltura")

_NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, ValueError, UnicodeDecodeError)


@dataclass(frozen=True)
class ClientConfig:
    """Where and as whom to call Kaltura."""

    partner_id: int
    admin_secret: str = field(repr=False)
    user_id: str = ""
    service_url: str = DEFAULT_SERVICE_URL
    ks_ttl_s: int = 86_400
    request_timeout_s: float = 120.0
    connect_timeout_s: float = 10.0


class KalturaClient:
    """Kaltura API calls for the archiver; use as `async with KalturaClient(...) as client`."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        pacer: Pacer,
        policy: RetryPolicy,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._pacer = pacer
        self._policy = policy
        self._url = config.service_url.rstrip("/") + "/api_v3/service/"
        self._keeper = SessionKeeper(
            secret=config.admin_secret,
            partner_id=config.partner_id,
            user_id=config.user_id,
            ttl_s=config.ks_ttl_s,
            clock=clock,
            on_new_ks=add_secret,
        )
        self._session: aiohttp.ClientSession | None = None
        self._batcher: Batcher[batches.Job | batches.Reread, Any] | None = None
        self.calls = 0  # HTTP requests sent to the API (retries and renewals included)

    async def __aenter__(self) -> KalturaClient:
        timeout = aiohttp.ClientTimeout(
            total=self.config.request_timeout_s, sock_connect=self.config.connect_timeout_s
        )
        self._session = aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=64))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def ks_expires_at(self) -> float:
        """When the current KS expires (Unix seconds, our clock); 0 before the first call."""
        return self._keeper.expires_at

    @property
    def ks_generated(self) -> int:
        """How many KS this client has made (1 + renewals)."""
        return self._keeper.generated

    @property
    def pacer(self) -> Pacer:
        return self._pacer

    # ------------------------------------------------------------------------------------------ transport

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("KalturaClient used outside `async with`")
        return self._session

    async def _post(self, path: str, body: dict[str, Any], operation: str) -> Any:
        """POST one JSON body through a pacer slot; the parsed JSON result or an engine error."""
        payload = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        async with self._pacer.slot():
            self.calls += 1
            try:
                async with self._http().post(self._url + path, data=payload, headers=headers) as resp:
                    if resp.status != 200:
                        raise from_http_status(
                            resp.status, operation=operation, retry_after=resp.headers.get("Retry-After")
                        )
                    text = await resp.read()
                return json.loads(text)
            except _NETWORK_ERRORS as exc:
                raise from_connection_error(exc, operation=operation) from None

    async def _with_session(self, send: Callable[[str], Any], operation: str) -> Any:
        """Run `send(ks)`; on INVALID_KS make a new KS once and send again."""
        ks = self._keeper.current()
        try:
            return await send(ks)
        except KalturaFatalError as exc:
            if exc.code != INVALID_KS:
                raise
            self._keeper.invalidate(ks)
            _log.info("kaltura.ks_renewed", reason="invalid_ks", operation=operation)
            return await send(self._keeper.current())

    async def _paced(self, op: Callable[[], Any], operation: str, policy: RetryPolicy | None = None) -> Any:
        return await retry(op, policy=policy or self._policy, pacer=self._pacer, describe=operation)

    async def call(
        self, api_call: ApiCall, *, entry_id: str | None = None, policy: RetryPolicy | None = None
    ) -> Any:
        """Send one call (paced, retried); its JSON result, or the engine error for its failure."""
        operation = api_call.name

        async def send(ks: str) -> Any:
            body = wire.request_body(api_call, ks=ks, client_tag=CLIENT_TAG)
            result = await self._post(f"{api_call.service}/action/{api_call.action}", body, operation)
            fault = wire.as_fault(result)
            if fault is not None:
                raise from_fault(fault, operation=operation, entry_id=entry_id)
            return result

        async def attempt() -> Any:
            return await self._with_session(send, operation)

        return await self._paced(attempt, operation, policy)

    async def multirequest(self, calls: Sequence[ApiCall], *, retry_faults: bool = True) -> list[Any]:
        """Send `calls` as one multirequest; each slot holds its result or its `ApiFault`.

        With `retry_faults` (read-only batches) a throttled or transiently failed slot makes the whole batch
        retry; mutating batches pass False and deal with each slot's fault themselves.
        """
        if not calls:
            return []
        operation = f"multirequest({len(calls)}: " + ",".join(dict.fromkeys(c.name for c in calls)) + ")"

        async def send(ks: str) -> list[Any]:
            body = wire.multirequest_body(calls, ks=ks, client_tag=CLIENT_TAG)
            results = await self._post("multirequest", body, operation)
            if isinstance(results, dict):  # the whole request failed (e.g. no KS at all)
                fault = wire.as_fault(results)
                if fault is not None:
                    raise from_fault(fault, operation=operation)
            if not isinstance(results, list) or len(results) != len(calls):
                raise RetryableError(f"{operation}: malformed multirequest answer")
            slots: list[Any] = [wire.as_fault(r) or r for r in results]
            for slot in slots:
                if isinstance(slot, ApiFault) and slot.code == INVALID_KS:
                    raise from_fault(slot, operation=operation)
                if retry_faults and isinstance(slot, ApiFault) and slot.code in RETRYABLE_CODES:
                    raise from_fault(slot, operation=operation)
            return slots

        async def attempt() -> list[Any]:
            result: list[Any] = await self._with_session(send, operation)
            return result

        result: list[Any] = await self._paced(attempt, operation)
        return result

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
            entry_id = chunk[0] if len(chunk) == 1 else None
            raise from_fault(result, operation="flavorasset.list", entry_id=entry_id)
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
    async def batching(self, *, max_calls: int = batches.MAX_CALLS, flushers: int = 2) -> AsyncIterator[None]:
        """While open, `flavor_url`, `reread` and `write_tags` of concurrent workers share multirequests
        (at most `max_calls` sub-calls each, `flushers` in flight). A flusher waits for the pacer
        first and then takes everything queued meanwhile, so batches grow when the Kaltura rate binds."""
        if self._batcher is not None:
            raise RuntimeError("KalturaClient.batching() is already open")

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
        ) as b:
            self._batcher = b
            try:
                yield
            finally:
                self._batcher = None

    async def _multirequest_slots(self, calls: Sequence[ApiCall]) -> list[Any]:
        return await self.multirequest(calls, retry_faults=False)

    async def _batched(self, job: batches.Job | batches.Reread) -> Any:
        """The answer to one job, sent with whatever else is queued while `batching()` is open; a job that
        failed retryably (its own slot's fault, or its batch's) is sent again, within the retry policy."""

        async def once() -> Any:
            if self._batcher is None:
                (answer,) = await batches.send_jobs(self._multirequest_slots, [job], self.flavors_of)
                if isinstance(answer, Exception):
                    raise answer
                return answer
            return await self._batcher.submit(job)

        return await retry(once, policy=self._policy, pacer=self._pacer, describe="kaltura batched call")

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

    # ------------------------------------------------------------------------------------------ downloads

    async def download(
        self, url: str, *, offset: int = 0, chunk_size: int = DOWNLOAD_CHUNK, entry_id: str = "-"
    ) -> AsyncGenerator[bytes, None]:
        """Stream the file at `url` from byte `offset`: chunks as they arrive.

        A broken connection mid-stream resumes from the next byte with `Range` (within the retry policy);
        a server that ignores `Range` where we need it is an item failure, never silently wrong data.
        """
        position = offset
        failures = 0
        while True:
            try:
                async for chunk in self._download_once(url, position, chunk_size, entry_id):
                    position += len(chunk)
                    failures = 0
                    yield chunk
                return
            except RetryableError:
                failures += 1
                if failures >= self._policy.attempts:
                    raise
                await anyio.sleep(self._policy.backoff_s(failures))

    async def content_length(self, url: str, *, entry_id: str = "-") -> int:
        """The exact byte size of the file at `url`, from its own server (for originals whose sizeInBytes
        Kaltura reports as 0): a `Range: bytes=0-0` GET, whose `Content-Range` gives the total; a server that
        ignores Range answers 200 and its `Content-Length` is the size (the body is not read)."""

        async def once() -> int:
            return await self._content_length_once(url, entry_id)

        size: int = await retry(once, policy=self._policy, describe="download.size")
        return size

    async def _content_length_once(self, url: str, entry_id: str) -> int:
        timeout = aiohttp.ClientTimeout(
            total=self.config.request_timeout_s, sock_connect=self.config.connect_timeout_s, sock_read=60
        )
        try:
            async with self._http().get(url, headers={"Range": "bytes=0-0"}, timeout=timeout) as resp:
                if resp.status in (206, 416):
                    total = content_range_total(resp.headers.get("Content-Range"))
                    if total is None:
                        why = f"HTTP {resp.status} without a usable Content-Range: size unknown"
                        raise ItemFailedError("download.size", entry_id, why)
                    return total
                if resp.status != 200:
                    raise _download_status_error(resp.status, entry_id)
                if resp.content_length is None:
                    why = "neither Content-Range nor Content-Length: size unknown"
                    raise ItemFailedError("download.size", entry_id, why)
                size = resp.content_length
                resp.close()  # never read a whole file to learn its size
                return size
        except _NETWORK_ERRORS as exc:
            raise from_connection_error(exc, operation="download.size") from None

    async def _download_once(
        self, url: str, position: int, chunk_size: int, entry_id: str
    ) -> AsyncGenerator[bytes, None]:
        headers = {"Range": f"bytes={position}-"} if position else {}
        # no total (a large file takes what it takes), but every wait is bounded: a connection from the pool
        # and its set-up (`connect`), the TCP connect, and each read
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=self.config.request_timeout_s,
            sock_connect=self.config.connect_timeout_s,
            sock_read=60,
        )
        try:
            async with self._http().get(url, headers=headers, timeout=timeout) as resp:
                if resp.status == 416:
                    return  # nothing past `position`: the file is complete
                if resp.status not in (200, 206):
                    raise _download_status_error(resp.status, entry_id)
                if position and resp.status != 206:
                    raise ItemFailedError("download", entry_id, "server ignored Range: cannot resume")
                async for chunk in resp.content.iter_chunked(chunk_size):
                    yield chunk
        except _NETWORK_ERRORS as exc:
            raise from_connection_error(exc, operation="download") from None


def _download_status_error(status: int, entry_id: str) -> ArchiverError:
    if status == 429 or status >= 500:
        return RetryableError(f"download: HTTP {status}", throttled=True)
    return ItemFailedError("download", entry_id, f"HTTP {status}")


def content_range_total(header: str | None) -> int | None:
    """The complete length in a `Content-Range` header (`bytes 0-0/1234`, `bytes */1234`); None if absent
    or unknown (`*`)."""
    if not header or "/" not in header:
        return None
    unit, _, rest = header.strip().partition(" ")
    total = rest.rpartition("/")[2].strip()
    if unit.lower() != "bytes" or not total.isdigit():
        return None
    return int(total)


def _add_flavors(found: dict[str, list[FlavorAsset]], flavors: Sequence[FlavorAsset]) -> None:
    for flavor in flavors:
        found.setdefault(flavor.entry_id, []).append(flavor)


__all__ = ["CLIENT_TAG", "DEFAULT_SERVICE_URL", "ClientConfig", "KalturaClient", "KalturaItemError"]


def as_catalog(client: KalturaClient) -> MediaCatalog:
    """`client` as the jobs see it (mypy checks here that KalturaClient implements MediaCatalog)."""
    return client
