"""The Kaltura calls s3copy needs beyond `MediaCatalog`, batched: flavor URLs, fresh re-reads, tag writes.

A shim until the adapter has them (see the job's note): each call is the `ApiCall` the official client would
send (a unit test compares them), sent through the client's public `multirequest`, so it shares the client's
pacer, retries and KS. All three go through ONE `Batcher`: whatever the workers ask for while a request is in
flight (one entry's URL, another's re-read, a third's tag write) travels in the next multirequest, so Kaltura
requests per archived entry fall as concurrency rises.

- `flavor_url(flavor_id)`: `flavorAsset.getUrl`;
- `reread(entry_id)`: the entry and its flavors as they are now (`media.get` and `flavorAsset.list`), just
  before a tag is written;
- `write_tags(entry_id, tags)`: `media.update` with the full tag list; the answer is the entry as Kaltura
  stored it (tags lower-cased).

Every one of these calls is idempotent (setting the whole tag list included), so a batch whose answer was lost
or which met a throttled slot is simply sent again, whole.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from adapters.kaltura import FlavorAsset, MediaEntry
from adapters.kaltura.errors import from_fault
from adapters.kaltura.wire import ApiCall, ApiFault, parse_flavor_asset, parse_media_entry, parse_page
from engine.errors import ItemFailedError
from jobs.s3copy_batch import Batcher

FLAVOR_PAGE = 500
MAX_CALLS = 50  # sub-calls per multirequest


class MultiRequester(Protocol):
    """What the shim uses of the Kaltura client (`KalturaClient` has it)."""

    async def multirequest(self, calls: Sequence[ApiCall], *, retry_faults: bool = True) -> list[Any]: ...


def get_url_call(flavor_id: str) -> ApiCall:
    return ApiCall("flavorasset", "getUrl", {"id": flavor_id, "forceProxy": "False"})


def media_get_call(entry_id: str) -> ApiCall:
    return ApiCall("media", "get", {"entryId": entry_id, "version": "-1"})


def media_update_tags_call(entry_id: str, tags: str) -> ApiCall:
    return ApiCall(
        "media",
        "update",
        {"entryId": entry_id, "mediaEntry": {"objectType": "KalturaMediaEntry", "tags": tags}},
    )


def flavor_list_call(entry_ids: Sequence[str], page_index: int = 1) -> ApiCall:
    return ApiCall(
        "flavorasset",
        "list",
        {
            "filter": {"objectType": "KalturaFlavorAssetFilter", "entryIdIn": ",".join(entry_ids)},
            "pager": {
                "objectType": "KalturaFilterPager",
                "pageSize": str(FLAVOR_PAGE),
                "pageIndex": str(page_index),
            },
        },
    )


def join_tags(tags: Sequence[str], *more: str) -> str:
    """The tag string with `more` added once each (compared without case, as Kaltura does)."""
    seen = {t.lower() for t in tags}
    return ", ".join([*tags, *(t for t in more if t.lower() not in seen)])


@dataclass(frozen=True)
class Fresh:
    """An entry and its flavors as Kaltura has them now."""

    entry: MediaEntry
    flavors: tuple[FlavorAsset, ...]


# one unit of work for the shared batcher: the calls of one request, and how to read their answers
Parse = Callable[[Sequence[Any]], Any]


@dataclass(frozen=True)
class _Job:
    calls: tuple[ApiCall, ...]
    parse: Parse


class KalturaBatches:
    """The batched calls; use as `async with KalturaBatches(client) as kaltura`."""

    def __init__(self, client: MultiRequester, *, max_calls: int = MAX_CALLS, flushers: int = 2) -> None:
        self._client = client
        self._batcher: Batcher[_Job, Any] = Batcher(
            self._send, max_batch=max(1, max_calls // 2), flushers=flushers, name="kaltura"
        )

    @property
    def requests(self) -> int:
        """Multirequests sent so far."""
        return self._batcher.calls

    async def flavor_url(self, flavor_id: str) -> str:
        def parse(slots: Sequence[Any]) -> str:
            slot = slots[0]
            if isinstance(slot, ApiFault):
                raise _fault_error(slot, "flavorasset.getUrl")
            return str(slot)

        url: str = await self._batcher.submit(_Job((get_url_call(flavor_id),), parse))
        return url

    async def reread(self, entry_id: str) -> Fresh:
        def parse(slots: Sequence[Any]) -> Fresh:
            entry, flavors = slots
            if isinstance(entry, ApiFault):
                raise _fault_error(entry, "media.get", entry_id)
            if isinstance(flavors, ApiFault):
                raise _fault_error(flavors, "flavorasset.list", entry_id)
            page = parse_page(flavors, parse_flavor_asset)
            if page.total_count > len(page.objects):
                raise ItemFailedError(
                    "flavorasset.list", entry_id, f"{page.total_count} flavors: over one page"
                )
            return Fresh(parse_media_entry(entry), page.objects)

        fresh: Fresh = await self._batcher.submit(
            _Job((media_get_call(entry_id), flavor_list_call([entry_id])), parse)
        )
        return fresh

    async def write_tags(self, entry_id: str, tags: str) -> MediaEntry:
        def parse(slots: Sequence[Any]) -> MediaEntry:
            if isinstance(slots[0], ApiFault):
                raise _fault_error(slots[0], "media.update", entry_id)
            return parse_media_entry(slots[0])

        stored: MediaEntry = await self._batcher.submit(
            _Job((media_update_tags_call(entry_id, tags),), parse)
        )
        return stored

    async def _send(self, jobs: Sequence[_Job]) -> list[Any]:
        """One multirequest for the calls of every job; each job's answer (or error) from its own slots."""
        calls = [call for job in jobs for call in job.calls]
        slots = await self._client.multirequest(calls)
        answers: list[Any] = []
        at = 0
        for job in jobs:
            mine = slots[at : at + len(job.calls)]
            at += len(job.calls)
            try:
                answers.append(job.parse(mine))
            except Exception as exc:  # this job's failure is its own; the others got their answers
                answers.append(exc)
        return answers

    async def __aenter__(self) -> KalturaBatches:
        await self._batcher.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return await self._batcher.__aexit__(exc_type, exc, tb)


def _fault_error(fault: ApiFault, operation: str, entry_id: str | None = None) -> Exception:
    return from_fault(fault, operation=operation, entry_id=entry_id)
