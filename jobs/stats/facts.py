"""What `stats` knows of one entry after the listing pass, and the state that and its object's size give.

No per-entry S3 request is made, so the state is judged from the entry's tags, its flavors and the size of
the object under its key as ListObjectsV2 reports it (docs/lifecycle.md, Statistics). That is less than
`health` proves (no checksum, no record): `stats` counts, `health` judges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from adapters.kaltura import FlavorAsset, MediaEntry
from adapters.kaltura.filters import unplayed_for
from jobs.lifecycle import (
    ARCHIVED_TAG,
    ENTRY_READY,
    REPLACED_TAG,
    REPLACEMENT_NONE,
    original_of,
    size_agrees,
    total_flavor_bytes,
)

INITIAL, ARCHIVED, PLACE_HOLDER, UNHEALTHY = "initial", "archived", "place_holder", "unhealthy"
STATES: Final = (INITIAL, ARCHIVED, PLACE_HOLDER, UNHEALTHY)
# why an entry counts as unhealthy, in the order the checks run (the first that applies is counted)
REASONS: Final = (
    "replaced_without_archive", "replaced_without_object", "not_ready", "object_without_tag",
    "tag_without_object", "size_mismatch",
)  # fmt: skip
NEVER: Final = "never"  # the year-last-played row of entries never played


@dataclass(frozen=True, slots=True)
class EntryFacts:
    """One listed entry, reduced to what the figures need (a row of the spill: no flavors, no tags)."""

    entry_id: str
    created_year: int
    played_year: int | None  # None: never played
    kaltura_bytes: int  # every flavor's bytes now (`total_flavor_bytes`)
    source_bytes: int  # the original's exact size, or its KB figure x 1024; 0 without an original
    source_kb: int
    tagged: bool  # archived_to_s3
    replaced: bool  # flavors_deleted
    ready: bool  # the entry and its original are READY and no replacement of its content is under way
    in_policy: bool  # not played for the policy's years (never played included) and created before them


def year_of(ts: int) -> int:
    """The UTC calendar year of a Unix time."""
    return datetime.fromtimestamp(ts, UTC).year


def entry_facts(
    entry: MediaEntry, flavors: Sequence[FlavorAsset], *, policy_years: int, now: int
) -> EntryFacts:
    """The facts of `entry` and its flavors; `in_policy` by `--unplayed_for policy_years` as of `now`."""
    source = original_of(flavors)
    ready = (
        entry.status == ENTRY_READY
        and entry.replacement_status == REPLACEMENT_NONE
        and not entry.replacing_entry_id
        and source is not None
        and source.ready
    )
    return EntryFacts(
        entry_id=entry.id,
        created_year=year_of(entry.created_at),
        played_year=year_of(entry.last_played_at) if entry.last_played_at else None,
        kaltura_bytes=total_flavor_bytes(flavors),
        source_bytes=(source.size_bytes or source.size_kb * 1024) if source is not None else 0,
        source_kb=source.size_kb if source is not None else 0,
        tagged=entry.has_tag(ARCHIVED_TAG),
        replaced=entry.has_tag(REPLACED_TAG),
        ready=ready,
        in_policy=unplayed_for(entry, policy_years, now=now),
    )


def state_of(facts: EntryFacts, object_size: int | None) -> tuple[str, str | None]:
    """The entry's state (one of STATES) and, when unhealthy, the reason (one of REASONS); `object_size` is
    the size of the object under its key, None when there is none."""
    has_object = object_size is not None
    if facts.replaced:
        if not facts.tagged:
            return UNHEALTHY, "replaced_without_archive"
        if not has_object:
            return UNHEALTHY, "replaced_without_object"
        return PLACE_HOLDER, None
    if not facts.ready:
        return UNHEALTHY, "not_ready"
    if has_object and not facts.tagged:
        return UNHEALTHY, "object_without_tag"
    if facts.tagged and not has_object:
        return UNHEALTHY, "tag_without_object"
    if object_size is None:
        return INITIAL, None
    if object_size != facts.source_bytes and not size_agrees(facts.source_kb, object_size):
        return UNHEALTHY, "size_mismatch"
    return ARCHIVED, None


def played_key(facts: EntryFacts) -> str:
    """The entry's row in the by-year-last-played table: the year, or `never`."""
    return NEVER if facts.played_year is None else str(facts.played_year)
