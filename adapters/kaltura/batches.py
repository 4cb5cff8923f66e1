"""Small per-entry Kaltura calls of many workers, sent together: flavor URLs, fresh re-reads, tag writes.

Each call is recorded from the official package's services (`wire.capture`), so it is exactly what the
official client would send. While `KalturaClient.batching()` is open, whatever the workers ask for while the
next request waits for its pacer slot (one entry's URL, another's re-read, a third's tag write) travels in
that multirequest (`engine.batch.Batcher`), so Kaltura requests per entry fall as the rate binds; outside
it, each goes alone. The re-reads of a batch share sub-calls: one `media.list idIn` (every status, so an
entry that is no longer READY is still seen) and one `flavorAsset.list entryIdIn` per `REREAD_CHUNK` entries.

Every one of these calls is idempotent (setting the whole tag list included), so a batch whose answer was
lost or which met a throttled slot is simply sent again, whole.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from KalturaClient.Plugins import Core

from adapters.kaltura import wire
from adapters.kaltura.errors import from_fault, only_entry
from adapters.kaltura.filters import ALL_STATUSES, FilterSpec, media_filter
from adapters.kaltura.wire import ApiCall, ApiFault, FlavorAsset, MediaEntry, UrlResource
from engine.errors import ItemFailedError

FLAVOR_PAGE = 500
REREAD_CHUNK = 50  # entries per media.list/flavorAsset.list pair (≈ 5-10 flavors each, under the 500 page)


def max_jobs(max_calls: int) -> int:
    """Requests per multirequest of `max_calls` sub-calls: single calls up to `max_calls - 2`, the rest
    re-reads sharing one media.list/flavorAsset.list pair."""
    return max(1, max_calls - 2) + REREAD_CHUNK


@dataclass(frozen=True)
class Fresh:
    """An entry and its flavors as Kaltura has them now."""

    entry: MediaEntry
    flavors: tuple[FlavorAsset, ...]


# the calls of one request, and how to read their answers (one slot per call: a result or an ApiFault)
Parse = Callable[[Sequence[Any]], Any]


@dataclass(frozen=True)
class Job:
    """One worker's request: its calls, sent together, and how to read their slots. A job `once` must not run
    twice (`media.updateContent`): it is sent again only after Kaltura refused it before acting."""

    calls: tuple[ApiCall, ...]
    parse: Parse
    once: bool = False


@dataclass(frozen=True)
class Reread:
    """One worker's re-read of an entry (batched with the other re-reads of its multirequest)."""

    entry_id: str


# sends the calls of a batch as one multirequest; False: not again if the whole request fails (see Job.once)
SendBatch = Callable[[Sequence[ApiCall], bool], Awaitable[list[Any]]]

# fetches every flavor of the given entries, paging as needed (for a batch whose flavors overflow a page)
MoreFlavors = Callable[[Sequence[str]], Awaitable[Mapping[str, Sequence[FlavorAsset]]]]

# ---------------------------------------------------------------------------------------------- calls


def get_url_call(flavor_id: str) -> ApiCall:
    return wire.capture(lambda s: s.flavorAsset.getUrl(flavor_id))


def media_list_ids_call(entry_ids: Sequence[str]) -> ApiCall:
    """`media.list idIn` with every status (listing's `idIn` keeps the READY default otherwise)."""
    every = FilterSpec(media_type=None)
    flt = media_filter(every, now=0, statuses=ALL_STATUSES, ids=entry_ids, with_order=False)
    pager = Core.KalturaFilterPager(pageSize=FLAVOR_PAGE, pageIndex=1)
    return wire.capture(lambda s: s.media.list(flt, pager))


def media_update_tags_call(entry_id: str, tags: str) -> ApiCall:
    """A partial `media.update` that sets the tag string only."""
    entry = Core.KalturaMediaEntry()
    entry.tags = tags
    return wire.capture(lambda s: s.media.update(entry_id, entry))


def flavor_list_call(entry_ids: Sequence[str], page_index: int = 1) -> ApiCall:
    flavor_filter = Core.KalturaFlavorAssetFilter()
    flavor_filter.entryIdIn = ",".join(entry_ids)
    pager = Core.KalturaFilterPager(pageSize=FLAVOR_PAGE, pageIndex=page_index)
    return wire.capture(lambda s: s.flavorAsset.list(flavor_filter, pager))


def join_tags(tags: Sequence[str]) -> str:
    """Kaltura's tag string: the tags once each (compared without case, as Kaltura does), comma-joined."""
    seen: set[str] = set()
    kept = []
    for tag in (t.strip() for t in tags):
        if tag and tag.lower() not in seen:
            seen.add(tag.lower())
            kept.append(tag)
    return ", ".join(kept)


# ---------------------------------------------------------------------------------------------- jobs


def url_job(flavor_id: str, entry_id: str | None = None) -> Job:
    def parse(slots: Sequence[Any]) -> str:
        if isinstance(slots[0], ApiFault):
            raise from_fault(slots[0], operation="flavorasset.getUrl", entry_id=entry_id)
        return str(slots[0])

    return Job((get_url_call(flavor_id),), parse)


def tags_job(entry_id: str, tags: Sequence[str]) -> Job:
    def parse(slots: Sequence[Any]) -> MediaEntry:
        if isinstance(slots[0], ApiFault):
            raise from_fault(slots[0], operation="media.update", entry_id=entry_id)
        return wire.parse_media_entry(slots[0])

    return Job((media_update_tags_call(entry_id, join_tags(tags)),), parse)


def _single(operation: str, entry_id: str | None, read: Callable[[Any], Any]) -> Parse:
    def parse(slots: Sequence[Any]) -> Any:
        if isinstance(slots[0], ApiFault):
            raise from_fault(slots[0], operation=operation, entry_id=entry_id)
        return read(slots[0])

    return parse


def upload_token_job(file_name: str, size: int, entry_id: str | None = None) -> Job:
    """`uploadToken.add` for a file of `size` bytes; its answer is the new token's id."""
    spec = Core.KalturaUploadToken(fileName=file_name, fileSize=float(size))
    call = wire.capture(lambda s: s.uploadToken.add(spec))
    return Job((call,), _single("uploadtoken.add", entry_id, lambda token: str(token["id"])))


def update_content_job(entry_id: str, content: str | UrlResource) -> Job:
    """`media.updateContent` from an upload token's id or a URL Kaltura fetches (sent once: see Job)."""
    resource: Core.KalturaContentResource = (
        Core.KalturaUrlResource(url=content.url)
        if isinstance(content, UrlResource)
        else Core.KalturaUploadedFileTokenResource(token=content)
    )
    call = wire.capture(lambda s: s.media.updateContent(entry_id, resource))
    return Job((call,), _single("media.updateContent", entry_id, wire.parse_media_entry), once=True)


def cancel_replace_job(entry_id: str) -> Job:
    call = wire.capture(lambda s: s.media.cancelReplace(entry_id))
    return Job((call,), _single("media.cancelReplace", entry_id, wire.parse_media_entry))


def default_thumbnail_job(thumb_id: str, entry_id: str | None = None) -> Job:
    call = wire.capture(lambda s: s.thumbAsset.setAsDefault(thumb_id))
    return Job((call,), _single("thumbasset.setAsDefault", entry_id, lambda _: None))


def sub_calls(jobs: Sequence[Job | Reread]) -> int:
    """How many sub-calls `send_jobs` makes of `jobs` (the batcher keeps this within `batch_calls`)."""
    rereads = len({job.entry_id for job in jobs if isinstance(job, Reread)})
    singles = sum(len(job.calls) for job in jobs if isinstance(job, Job))
    return singles + 2 * -(-rereads // REREAD_CHUNK)


async def send_jobs(
    multirequest: SendBatch,
    jobs: Sequence[Job | Reread],
    more_flavors: MoreFlavors | None = None,
) -> list[Any]:
    """One multirequest for the calls of every job; each job's answer (or error) from its own slots. The
    re-reads share one `media.list` and one `flavorAsset.list` per REREAD_CHUNK entries."""
    singles = [job for job in jobs if isinstance(job, Job)]
    ids = list(dict.fromkeys(job.entry_id for job in jobs if isinstance(job, Reread)))
    chunks = [ids[i : i + REREAD_CHUNK] for i in range(0, len(ids), REREAD_CHUNK)]
    calls = [call for job in singles for call in job.calls]
    for chunk in chunks:
        calls += [media_list_ids_call(chunk), flavor_list_call(chunk)]
    slots = await multirequest(calls, not any(isinstance(job, Job) and job.once for job in jobs))
    answers: dict[int, Any] = {}
    at = 0
    for job in singles:
        mine = slots[at : at + len(job.calls)]
        at += len(job.calls)
        try:
            answers[id(job)] = job.parse(mine)
        except Exception as exc:  # this job's failure is its own; the others got their answers
            answers[id(job)] = exc
    fresh: dict[str, Fresh | Exception] = {}
    for chunk in chunks:
        fresh.update(await _rereads(chunk, slots[at], slots[at + 1], more_flavors))
        at += 2
    return [fresh[job.entry_id] if isinstance(job, Reread) else answers[id(job)] for job in jobs]


async def _rereads(
    chunk: Sequence[str], entries: Any, flavors: Any, more_flavors: MoreFlavors | None
) -> dict[str, Fresh | Exception]:
    """Each entry of `chunk` as Kaltura has it now, from one media.list and one flavorAsset.list answer."""
    for slot, operation in ((entries, "media.list"), (flavors, "flavorasset.list")):
        if isinstance(slot, ApiFault):
            error = from_fault(slot, operation=operation, entry_id=only_entry(chunk))
            return {entry_id: error for entry_id in chunk}
    found = {e.id: e for e in wire.parse_page(entries, wire.parse_media_entry).objects}
    page = wire.parse_page(flavors, wire.parse_flavor_asset)
    by_entry: dict[str, list[FlavorAsset]] = {entry_id: [] for entry_id in chunk}
    if page.total_count > len(page.objects):  # more flavors than one page: fetch them all, paged
        if more_flavors is None:
            why = f"{page.total_count} flavors: over one page"
            return {entry_id: ItemFailedError("flavorasset.list", entry_id, why) for entry_id in chunk}
        try:
            every = await more_flavors(chunk)
        except Exception as exc:
            return {entry_id: exc for entry_id in chunk}
        by_entry = {entry_id: list(every.get(entry_id, ())) for entry_id in chunk}
    else:
        for flavor in page.objects:
            by_entry.setdefault(flavor.entry_id, []).append(flavor)
    result: dict[str, Fresh | Exception] = {}
    for entry_id in chunk:
        entry = found.get(entry_id)
        if entry is None:
            result[entry_id] = ItemFailedError("media.list", entry_id, "entry not found on re-read")
        else:
            result[entry_id] = Fresh(entry, tuple(by_entry[entry_id]))
    return result
