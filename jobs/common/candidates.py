"""The selected entries with their flavors, as the jobs that judge entries one by one get them: one flavor
look-up (`flavorAsset.list entryIdIn`) per listed page."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass

from adapters.kaltura import FilterSpec, FlavorAsset, KalturaClient, MediaEntry


@dataclass(frozen=True)
class Candidate:
    """A listed entry and its flavors (fetched for its whole page at once)."""

    entry: MediaEntry
    flavors: tuple[FlavorAsset, ...]


def candidate_id(candidate: Candidate) -> str:
    """Its entry's id (the key of its report row)."""
    return candidate.entry.id


async def candidates(
    client: KalturaClient, spec: FilterSpec, run_start: int, on_unknown: Callable[[str], None] | None = None
) -> AsyncGenerator[Candidate, None]:
    """The selected entries with their flavors: one flavor look-up per listed page."""
    async with aclosing(client.list_pages(spec, run_start=run_start, on_unknown=on_unknown)) as pages:
        async for page in pages:
            flavors = await client.flavors_of([e.id for e in page])
            for entry in page:
                yield Candidate(entry, tuple(flavors.get(entry.id, ())))
