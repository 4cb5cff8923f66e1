"""The Kaltura calls s3copy needs beyond `MediaCatalog`, batched: flavor URLs, fresh re-reads, tag writes.

A shim until the adapter has them (see the job's note): each call is the `ApiCall` the official client would
send (a unit test compares them), sent in multirequests through the client's public `multirequest`, so it
shares the client's pacer, retries and KS. Each batch is a `Batcher`, so concurrent workers share requests:

- `flavor_url(flavor_id)`: `flavorAsset.getUrl`, many per multirequest;
- `reread(entry_id)`: the entry and its flavors as they are now (`media.get` for each + one `flavorAsset.list`
  with `entryIdIn`, in one multirequest), just before a tag is written;
- `write_tags(entry_id, tags)`: `media.update` with the full tag list (idempotent, so a batch whose answer
  was lost can be sent again); the answer is the entry as Kaltura stored it (tags lower-cased).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from adapters.kaltura import FlavorAsset, MediaEntry
from adapters.kaltura.errors import from_fault
from adapters.kaltura.wire import ApiCall, ApiFault, parse_flavor_asset, parse_media_entry, parse_page
from jobs.s3copy_batch import Batcher

FLAVOR_PAGE = 500
MAX_BATCH = 25  # entries per multirequest: ~7 flavors each stay within one flavorAsset.list page


class MultiRequester(Protocol):
    """What the shim uses of the Kaltura client (`KalturaClient` has it)."""

    async def multirequest(self, calls: Sequence[ApiCall], *, retry_faults: bool = True) -> list[Any]: ...

    async def flavors_of(self, entry_ids: Sequence[str]) -> Mapping[str, Sequence[FlavorAsset]]: ...


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


class KalturaBatches:
    """The batched calls; use as `async with KalturaBatches(client) as kaltura`."""

    def __init__(self, client: MultiRequester, *, max_batch: int = MAX_BATCH, flushers: int = 2) -> None:
        self._client = client
        self._urls: Batcher[str, str] = Batcher(
            self._get_urls, max_batch=max_batch, flushers=flushers, name="getUrl"
        )
        self._reads: Batcher[str, Fresh] = Batcher(
            self._reread, max_batch=max_batch, flushers=flushers, name="reread"
        )
        self._tags: Batcher[tuple[str, str], MediaEntry] = Batcher(
            self._write_tags, max_batch=max_batch, flushers=flushers, name="tags"
        )
        self._stack = AsyncExitStack()

    @property
    def requests(self) -> int:
        """Multirequests sent so far (each carries a batch)."""
        return self._urls.calls + self._reads.calls + self._tags.calls

    async def flavor_url(self, flavor_id: str) -> str:
        return await self._urls.submit(flavor_id)

    async def reread(self, entry_id: str) -> Fresh:
        return await self._reads.submit(entry_id)

    async def write_tags(self, entry_id: str, tags: str) -> MediaEntry:
        return await self._tags.submit((entry_id, tags))

    async def _get_urls(self, flavor_ids: Sequence[str]) -> list[str | Exception]:
        slots = await self._client.multirequest([get_url_call(f) for f in flavor_ids])
        return [_fault_error(s, "flavorasset.getUrl") if isinstance(s, ApiFault) else str(s) for s in slots]

    async def _reread(self, entry_ids: Sequence[str]) -> list[Fresh | Exception]:
        calls = [media_get_call(e) for e in entry_ids] + [flavor_list_call(entry_ids)]
        slots = await self._client.multirequest(calls)
        *entries, flavor_slot = slots
        flavors = await self._flavors(entry_ids, flavor_slot)
        answers: list[Fresh | Exception] = []
        for entry_id, slot in zip(entry_ids, entries, strict=True):
            if isinstance(slot, ApiFault):
                answers.append(_fault_error(slot, "media.get", entry_id))
            else:
                answers.append(Fresh(parse_media_entry(slot), tuple(flavors.get(entry_id, ()))))
        return answers

    async def _flavors(self, entry_ids: Sequence[str], slot: Any) -> Mapping[str, Sequence[FlavorAsset]]:
        if isinstance(slot, ApiFault):
            raise _fault_error(slot, "flavorasset.list")
        page = parse_page(slot, parse_flavor_asset)
        if page.total_count > len(page.objects):  # more than one page: let the client walk them
            return await self._client.flavors_of(entry_ids)
        found: dict[str, list[FlavorAsset]] = {}
        for flavor in page.objects:
            found.setdefault(flavor.entry_id, []).append(flavor)
        return found

    async def _write_tags(self, updates: Sequence[tuple[str, str]]) -> list[MediaEntry | Exception]:
        # setting the whole tag list is idempotent: a batch sent again after a lost answer does no harm
        slots = await self._client.multirequest([media_update_tags_call(e, t) for e, t in updates])
        return [
            _fault_error(slot, "media.update", entry_id)
            if isinstance(slot, ApiFault)
            else parse_media_entry(slot)
            for (entry_id, _), slot in zip(updates, slots, strict=True)
        ]

    async def __aenter__(self) -> KalturaBatches:
        for batcher in (self._urls, self._reads, self._tags):
            await self._stack.enter_async_context(batcher)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return await self._stack.__aexit__(exc_type, exc, tb)


def _fault_error(fault: ApiFault, operation: str, entry_id: str | None = None) -> Exception:
    return from_fault(fault, operation=operation, entry_id=entry_id)
