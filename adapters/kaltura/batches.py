"""Small per-entry Kaltura calls of many workers, sent together: flavor URLs, fresh re-reads, tag writes.

Each call is recorded from the official package's services (`wire.capture`), so it is exactly what the
official client would send. While `KalturaClient.batching()` is open, whatever the workers ask for while a
request is in flight (one entry's URL, another's re-read, a third's tag write) travels in the next
multirequest (`engine.batch.Batcher`), so Kaltura requests per entry fall as concurrency rises; outside it,
each goes alone.

Every one of these calls is idempotent (setting the whole tag list included), so a batch whose answer was
lost or which met a throttled slot is simply sent again, whole.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from KalturaClient.Plugins import Core

from adapters.kaltura import wire
from adapters.kaltura.errors import from_fault
from adapters.kaltura.wire import ApiCall, ApiFault, FlavorAsset, MediaEntry
from engine.errors import ItemFailedError

FLAVOR_PAGE = 500
MAX_CALLS = 50  # sub-calls per multirequest (a re-read takes two)


@dataclass(frozen=True)
class Fresh:
    """An entry and its flavors as Kaltura has them now."""

    entry: MediaEntry
    flavors: tuple[FlavorAsset, ...]


# the calls of one request, and how to read their answers (one slot per call: a result or an ApiFault)
Parse = Callable[[Sequence[Any]], Any]


@dataclass(frozen=True)
class Job:
    """One worker's request: its calls, sent together, and how to read their slots."""

    calls: tuple[ApiCall, ...]
    parse: Parse


# ---------------------------------------------------------------------------------------------- calls


def get_url_call(flavor_id: str) -> ApiCall:
    return wire.capture(lambda s: s.flavorAsset.getUrl(flavor_id))


def media_get_call(entry_id: str) -> ApiCall:
    return wire.capture(lambda s: s.media.get(entry_id))


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


def url_job(flavor_id: str, entry_id: str | None) -> Job:
    def parse(slots: Sequence[Any]) -> str:
        if isinstance(slots[0], ApiFault):
            raise from_fault(slots[0], operation="flavorasset.getUrl", entry_id=entry_id)
        return str(slots[0])

    return Job((get_url_call(flavor_id),), parse)


def reread_job(entry_id: str) -> Job:
    def parse(slots: Sequence[Any]) -> Fresh:
        entry, flavors = slots
        if isinstance(entry, ApiFault):
            raise from_fault(entry, operation="media.get", entry_id=entry_id)
        if isinstance(flavors, ApiFault):
            raise from_fault(flavors, operation="flavorasset.list", entry_id=entry_id)
        page = wire.parse_page(flavors, wire.parse_flavor_asset)
        if page.total_count > len(page.objects):
            raise ItemFailedError("flavorasset.list", entry_id, f"{page.total_count} flavors: over one page")
        return Fresh(wire.parse_media_entry(entry), page.objects)

    return Job((media_get_call(entry_id), flavor_list_call([entry_id])), parse)


def tags_job(entry_id: str, tags: Sequence[str]) -> Job:
    def parse(slots: Sequence[Any]) -> MediaEntry:
        if isinstance(slots[0], ApiFault):
            raise from_fault(slots[0], operation="media.update", entry_id=entry_id)
        return wire.parse_media_entry(slots[0])

    return Job((media_update_tags_call(entry_id, join_tags(tags)),), parse)


async def send_jobs(
    multirequest: Callable[[Sequence[ApiCall]], Awaitable[list[Any]]], jobs: Sequence[Job]
) -> list[Any]:
    """One multirequest for the calls of every job; each job's answer (or error) from its own slots."""
    calls = [call for job in jobs for call in job.calls]
    slots = await multirequest(calls)
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
