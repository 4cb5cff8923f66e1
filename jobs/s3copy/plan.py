"""`s3copy`'s decision, pure: from an entry, its flavors and what S3 holds under its key, one Action.

The order of the rules is the order of the checks (first match wins):

1. replaced (`flavors_deleted`): the placeholder is the source now; nothing for s3copy to do;
2. the entry is not READY, or a replacement is in progress: its source is not stable; skip;
3. no original flavor, or the original is not READY: nothing to copy; skip;
4. an object exists under the key:
   - ours, proving a copy of the current original (length, metadata, SHA-256, S3 checksum): already
     archived; add the tag if it is missing;
   - ours, for the current original, but its checksum record is missing (a run stopped between the
     completion of the upload and the record): re-prove it from the source, never overwrite;
   - ours but for another source (the original changed since, or a record that does not prove out), or
     not ours at all: a conflict, reported, never overwritten;
   - an old tool's object (no metadata): legacy; skipped, or a conflict when its size is off by > 3%;
5. the original is larger than `--max-size`: skip;
6. otherwise archive it (an `archived_to_s3` tag without an object is a tag to make true, not trust).

Old assets report `sizeInBytes` 0. Their exact size is learned from the download server just before the
copy (the action's `expected.source_bytes` stays 0 until then: `needs_size`), and recorded on the object;
when such an object is judged later, the recorded size stands in for the unknown one, as long as it agrees
with Kaltura's KB figure (`size_agrees`). The flavor id and version still have to match.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.kaltura import FlavorAsset, MediaEntry
from adapters.kaltura.wire import ENTRY_STATUS_NAMES, FLAVOR_STATUS_NAMES
from adapters.s3.proof import LEGACY_TOLERANCE, ArchiveRecord, from_head, legacy_problems, verify
from adapters.s3.wire import ObjectHead

ARCHIVED_TAG = "archived_to_s3"
REPLACED_TAG = "flavors_deleted"
ENTRY_READY = 2
REPLACEMENT_NONE = 0
DEFAULT_MAX_SIZE_KB = 10_000_000  # the old tool's --max-size default

# the states an entry can be found in (docs/lifecycle.md, States, plus the unhealthy ones s3copy meets)
INITIAL = "initial"
ARCHIVED = "archived"
PLACE_HOLDER = "place_holder"
UNTAGGED = "untagged"  # a proven copy without the tag
TAG_ONLY = "tag_only"  # the tag without an object
UNRECORDED = "unrecorded"  # our object for the current source, its checksum record missing
LEGACY = "legacy"  # an old tool's object, without metadata
MISMATCH = "mismatch"  # an object that does not prove a copy of the current original
NOT_READY = "not_ready"


class Kind(enum.StrEnum):
    """What to do with an entry."""

    ARCHIVE = "archive"  # stream the original to S3, prove it, tag
    REPROVE = "reprove"  # stream the original, check it against the object's checksum, record, tag
    TAG = "tag"  # the object proves out: add the missing tag
    NOTHING = "none"  # already archived
    SKIP = "skip"
    CONFLICT = "conflict"


# the state each kind of action leads to when it succeeds (None: the entry stays as it is)
_TO_STATE: dict[Kind, str | None] = {
    Kind.ARCHIVE: ARCHIVED,
    Kind.REPROVE: ARCHIVED,
    Kind.TAG: ARCHIVED,
    Kind.NOTHING: ARCHIVED,
    Kind.SKIP: None,
    Kind.CONFLICT: None,
}


@dataclass(frozen=True)
class Facts:
    """What the checkers found out about one entry."""

    flavors: Sequence[FlavorAsset]
    head: ObjectHead | None  # the object under the entry's key (tags fetched), None if there is none
    partner_id: int
    max_size_kb: int = DEFAULT_MAX_SIZE_KB


@dataclass(frozen=True)
class Action:
    """The decision for one entry: what to do, the state it was found in, and why."""

    kind: Kind
    entry_id: str
    from_state: str
    reason: str
    source: FlavorAsset | None = None
    expected: ArchiveRecord | None = None  # what the object must prove (archive, reprove, tag)
    tagged: bool = False  # the entry already carries `archived_to_s3`

    @property
    def to_state(self) -> str:
        return _TO_STATE[self.kind] or self.from_state

    @property
    def needs_size(self) -> bool:
        """The original's exact size is still unknown (sizeInBytes 0): learn it from the download first."""
        return self.expected is not None and self.expected.source_bytes <= 0

    @property
    def mutates(self) -> bool:
        """Acting on this decision writes to S3 or Kaltura."""
        return self.kind in (Kind.ARCHIVE, Kind.REPROVE, Kind.TAG)


def original_of(flavors: Sequence[FlavorAsset]) -> FlavorAsset | None:
    """The source flavor: the one marked original (flavorParamsId 0 as a fallback)."""
    for flavor in flavors:
        if flavor.is_original:
            return flavor
    return next((f for f in flavors if f.flavor_params_id == 0), None)


def expected_record(partner_id: int, entry_id: str, source: FlavorAsset) -> ArchiveRecord:
    """The source facts an archive object of `source` must carry (its bytes' record comes later)."""
    return ArchiveRecord(
        partner_id=partner_id,
        entry_id=entry_id,
        flavor_id=source.id,
        flavor_version=str(source.version),
        source_bytes=source.size_bytes,
    )


def plan(entry: MediaEntry, facts: Facts) -> Action:
    """The one thing to do with `entry` given `facts` (see the module docstring for the rules)."""
    tagged = entry.has_tag(ARCHIVED_TAG)

    def act(
        kind: Kind,
        state: str,
        reason: str,
        source: FlavorAsset | None = None,
        expected: ArchiveRecord | None = None,
    ) -> Action:
        return Action(kind, entry.id, state, reason, source, expected, tagged)

    if entry.has_tag(REPLACED_TAG):
        return act(Kind.SKIP, PLACE_HOLDER, "replaced by the placeholder (flavors_deleted)")
    if entry.status != ENTRY_READY:
        status = ENTRY_STATUS_NAMES.get(entry.status, str(entry.status))
        return act(Kind.SKIP, NOT_READY, f"entry is {status}, not READY")
    if entry.replacing_entry_id or entry.replacement_status != REPLACEMENT_NONE:
        return act(Kind.SKIP, NOT_READY, "a replacement of the entry's content is in progress")
    source = original_of(facts.flavors)
    if source is None:
        return act(Kind.SKIP, NOT_READY, "no original flavor")
    if not source.ready:
        status = FLAVOR_STATUS_NAMES.get(source.status, str(source.status))
        return act(Kind.SKIP, NOT_READY, f"original flavor {source.id} is {status}, not READY")
    if facts.head is not None:
        return _judge_object(entry.id, source, facts.head, facts.partner_id, tagged)
    here = TAG_ONLY if tagged else INITIAL
    if _too_big(source, facts.max_size_kb):
        limit = facts.max_size_kb
        return act(Kind.SKIP, here, f"original is {source.size_kb} KB, over --max-size {limit} KB")
    expected = expected_record(facts.partner_id, entry.id, source)
    reason = "tagged archived_to_s3 but no object: archiving" if tagged else "not archived yet"
    if source.size_bytes <= 0:
        reason += "; exact size (sizeInBytes 0) taken from the download"
    return act(Kind.ARCHIVE, here, reason, source, expected)


def size_agrees(size_kb: int, exact: int) -> bool:
    """An exact byte count is consistent with Kaltura's rounded KB figure (within 2 KB or the old tool's 3%;
    a KB figure of 0 says nothing)."""
    if size_kb <= 0:
        return exact > 0
    return abs(exact - size_kb * 1024) <= max(2048, LEGACY_TOLERANCE * exact)


def _too_big(source: FlavorAsset, max_size_kb: int) -> bool:
    if source.size_bytes > 0:
        return source.size_bytes > max_size_kb * 1024
    return source.size_kb > max_size_kb


def _judge_object(
    entry_id: str, source: FlavorAsset, head: ObjectHead, partner_id: int, tagged: bool
) -> Action:
    stored = from_head(head)
    if stored is None:
        return _judge_legacy(entry_id, source, head, tagged)
    expected = expected_record(partner_id, entry_id, source)
    if source.size_bytes <= 0 and size_agrees(source.size_kb, stored.source_bytes):
        # Kaltura does not know the exact size: the one learned from the download when it was archived
        expected = dataclasses.replace(expected, source_bytes=stored.source_bytes)
    problems = verify(head, expected)
    if not problems:
        if tagged:
            return Action(Kind.NOTHING, entry_id, ARCHIVED, "already archived", source, expected, tagged)
        return Action(Kind.TAG, entry_id, UNTAGGED, "proven copy without the tag", source, expected, tagged)
    if _record_missing_only(problems) and expected.source_bytes > 0:
        reason = "our copy of this original lacks its checksum record: re-proving it from the source"
        return Action(Kind.REPROVE, entry_id, UNRECORDED, reason, source, expected, tagged)
    what = "the original changed since it was archived" if _source_changed(stored, expected) else "mismatch"
    reason = f"object {head.key} does not prove a copy of the original ({what}): " + "; ".join(problems)
    return Action(Kind.CONFLICT, entry_id, MISMATCH, reason, source, expected, tagged)


def _record_missing_only(problems: Sequence[str]) -> bool:
    """Only the checksum record is missing: the size and the source facts agree."""
    return all(p.startswith(("no recorded sha256", "no recorded S3 checksum")) for p in problems)


def _source_changed(stored: ArchiveRecord, expected: ArchiveRecord) -> bool:
    return stored.entry_id == expected.entry_id and (
        stored.flavor_id != expected.flavor_id
        or stored.flavor_version != expected.flavor_version
        or stored.source_bytes != expected.source_bytes
    )


def _judge_legacy(entry_id: str, source: FlavorAsset, head: ObjectHead, tagged: bool) -> Action:
    size = source.size_bytes or source.size_kb * 1024
    problems = legacy_problems(head, size)
    if problems:
        reason = f"legacy object {head.key} (no metadata) does not match the original: " + "; ".join(problems)
        return Action(Kind.CONFLICT, entry_id, LEGACY, reason, source, tagged=tagged)
    reason = "legacy object (no metadata), size within 3%" + ("" if tagged else "; not tagged: see health")
    return Action(Kind.SKIP, entry_id, LEGACY, reason, source, tagged=tagged)
