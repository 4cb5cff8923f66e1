"""The domain's facts, once: the tags, the states an entry can be in, its original flavor, and whether an
object is a proven copy of it (docs/lifecycle.md, States).

`classify(entry, facts)` says which state an entry is in and why, from the entry, its flavors and what S3
holds under its key; it decides nothing. Each job turns a state into its own action (s3copy: `plan`).

Old assets report `sizeInBytes` 0. When an object of such an original is judged, the exact size recorded on
the object stands in for the unknown one, as long as it agrees with Kaltura's KB figure (`size_agrees`). The
flavor id and version still have to match.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from adapters.kaltura import FlavorAsset, MediaEntry
from adapters.kaltura.wire import ENTRY_STATUS_NAMES, FLAVOR_STATUS_NAMES
from adapters.s3.proof import (
    LEGACY_TOLERANCE,
    ArchiveRecord,
    from_head,
    legacy_problems,
    verify,
    version_matches,
)
from adapters.s3.wire import ObjectHead

ARCHIVED_TAG: Final = "archived_to_s3"  # a proven copy of the original is in S3
REPLACED_TAG: Final = "flavors_deleted"  # the placeholder replaced the original in Kaltura
OLD_RESTORED_TAG: Final = "restored_from_s3"  # the old tool's mark of an entry it brought back from S3
ENTRY_READY: Final = 2
REPLACEMENT_NONE: Final = 0
FLAVOR_DELETED: Final = 3
REPLACEMENT_FAILED: Final = 4  # Kaltura's KalturaEntryReplacementStatus FAILED


class State(enum.StrEnum):
    """The states an entry can be found in: the life cycle's, and the unhealthy ones between them."""

    INITIAL = "initial"  # not archived
    ARCHIVED = "archived"  # a proven copy in S3 and the tag
    PLACE_HOLDER = "place_holder"  # replaced by the placeholder
    UNTAGGED = "untagged"  # a proven copy without the tag
    TAG_ONLY = "tag_only"  # the tag without an object
    UNRECORDED = "unrecorded"  # our object for the current source, its checksum record missing
    LEGACY = "legacy"  # an old tool's object, without metadata
    MISMATCH = "mismatch"  # an object that does not prove a copy of the current original
    NOT_READY = "not_ready"  # the entry or its original is not READY, or its content is being replaced


# the states by name, for `from jobs.lifecycle import ARCHIVED` (code here and in the jobs says `State.X`)
INITIAL, ARCHIVED, PLACE_HOLDER = State.INITIAL, State.ARCHIVED, State.PLACE_HOLDER
UNTAGGED, TAG_ONLY, UNRECORDED = State.UNTAGGED, State.TAG_ONLY, State.UNRECORDED
LEGACY, MISMATCH, NOT_READY = State.LEGACY, State.MISMATCH, State.NOT_READY


@dataclass(frozen=True)
class Facts:
    """What was found out about one entry besides the entry itself."""

    flavors: Sequence[FlavorAsset]
    head: ObjectHead | None  # the object under the entry's key (tags fetched), None if there is none
    partner_id: int


@dataclass(frozen=True)
class Finding:
    """The state an entry is in, and the evidence: why, its original, and what its object must prove."""

    state: State
    reason: str
    tagged: bool  # the entry carries `archived_to_s3`
    source: FlavorAsset | None = None  # the original, once it is READY
    expected: ArchiveRecord | None = None  # what an archive object of the original carries or must carry
    problems: tuple[str, ...] = ()  # why the object under the key is not a proven copy


@dataclass(frozen=True)
class CopyCheck:
    """How the object under an entry's key compares with a copy of its original."""

    stored: ArchiveRecord | None  # the object's record; None: an old tool's object, without metadata
    expected: ArchiveRecord  # what a copy of the original carries
    problems: tuple[str, ...]  # empty: the object proves the copy

    @property
    def proven(self) -> bool:
        """The object is a proven copy of the original (length, metadata, SHA-256, S3 checksum)."""
        return self.stored is not None and not self.problems

    @property
    def record_missing(self) -> bool:
        """Only the checksum record is missing: the size and the source facts agree."""
        prefixes = ("no recorded sha256", "no recorded S3 checksum")
        return self.stored is not None and all(p.startswith(prefixes) for p in self.problems)

    @property
    def source_changed(self) -> bool:
        """The object is ours for this entry, but of another original (or another version of it)."""
        stored, expected = self.stored, self.expected
        return stored is not None and stored.entry_id == expected.entry_id and (
            stored.flavor_id != expected.flavor_id
            or not version_matches(stored, expected.flavor_version)
            or stored.source_bytes != expected.source_bytes
        )


@dataclass(frozen=True)
class Placeholder:
    """The placeholder video that replaces an archived original in Kaltura: its size and SHA-256."""

    size: int
    sha256: str

    @classmethod
    def of(cls, data: bytes) -> Placeholder:
        """The placeholder whose file holds `data`."""
        return cls(len(data), hashlib.sha256(data).hexdigest())

    def is_source(self, flavor: FlavorAsset) -> bool:
        """`flavor` has the placeholder's size: exact bytes when Kaltura knows them, else its KB figure within
        Kaltura's rounding. Its content is not compared (that would need a download)."""
        if flavor.size_bytes > 0:
            return flavor.size_bytes == self.size
        return abs(flavor.size_kb * 1024 - self.size) < 1024


def original_of(flavors: Sequence[FlavorAsset]) -> FlavorAsset | None:
    """The source flavor: the one marked original (flavorParamsId 0 as a fallback)."""
    for flavor in flavors:
        if flavor.is_original:
            return flavor
    return next((f for f in flavors if f.flavor_params_id == 0), None)


def total_flavor_bytes(flavors: Sequence[FlavorAsset]) -> int:
    """The bytes all of an entry's flavors take in Kaltura (about what replacing its content frees).

    Each flavor counts its `sizeInBytes`, or its KB figure times 1024 when Kaltura reports `sizeInBytes` 0
    (old assets); a flavor marked DELETED counts nothing.
    """
    return sum(f.size_bytes or f.size_kb * 1024 for f in flavors if f.status != FLAVOR_DELETED)


def expected_record(
    partner_id: int, entry_id: str, source: FlavorAsset, total_bytes: int | None = None
) -> ArchiveRecord:
    """The source facts an archive object of `source` must carry (its bytes' record comes later);
    `total_bytes`, the entry's flavors' total (`total_flavor_bytes`), goes on new objects."""
    return ArchiveRecord(
        partner_id=partner_id,
        entry_id=entry_id,
        flavor_id=source.id,
        flavor_version=str(source.version),
        source_bytes=source.size_bytes,
        total_bytes=total_bytes,
    )


def size_agrees(size_kb: int, exact: int) -> bool:
    """An exact byte count is consistent with Kaltura's rounded KB figure (within 2 KB or the old tool's 3%;
    a KB figure of 0 says nothing)."""
    if size_kb <= 0:
        return exact > 0
    return abs(exact - size_kb * 1024) <= max(2048, LEGACY_TOLERANCE * exact)


def over_size_limit(source: FlavorAsset, max_size_kb: int) -> bool:
    """The source is larger than the old tool's size limit (`--max-size`, KB): by its exact size when Kaltura
    knows it, else by its KB figure."""
    if source.size_bytes > 0:
        return source.size_bytes > max_size_kb * 1024
    return source.size_kb > max_size_kb


def check_copy(partner_id: int, entry_id: str, source: FlavorAsset, head: ObjectHead) -> CopyCheck:
    """Whether the object `head` is a proven copy of `source`, the original of `entry_id`, and if not why.

    An old tool's object (no metadata) is never a proven copy; its problems say whether its size is off by
    more than 3%."""
    expected = expected_record(partner_id, entry_id, source)
    stored = from_head(head)
    if stored is None:
        size = source.size_bytes or source.size_kb * 1024
        return CopyCheck(None, expected, tuple(legacy_problems(head, size)))
    if source.size_bytes <= 0 and size_agrees(source.size_kb, stored.source_bytes):
        # Kaltura does not know the exact size: the one learned from the download when it was archived
        expected = dataclasses.replace(expected, source_bytes=stored.source_bytes)
    return CopyCheck(stored, expected, tuple(verify(head, expected)))


def is_proven_copy(partner_id: int, entry_id: str, source: FlavorAsset, head: ObjectHead) -> bool:
    """The object `head` is a proven copy of `source`, the original of `entry_id`."""
    return check_copy(partner_id, entry_id, source, head).proven


def classify(entry: MediaEntry, facts: Facts) -> Finding:
    """The state `entry` is in, with its evidence (first match wins):

    1. replaced (`flavors_deleted`): place_holder;
    2. the entry is not READY, or a replacement is in progress; no original flavor, or it is not READY:
       not_ready;
    3. an object under the key: archived or untagged (a proven copy), unrecorded (ours, for the current
       original, its checksum record missing), mismatch (ours for another source, or not proving out),
       legacy (an old tool's, without metadata);
    4. no object: tag_only (tagged) or initial.
    """
    tagged = entry.has_tag(ARCHIVED_TAG)
    if entry.has_tag(REPLACED_TAG):
        return Finding(State.PLACE_HOLDER, "replaced by the placeholder (flavors_deleted)", tagged)
    if entry.status != ENTRY_READY:
        status = ENTRY_STATUS_NAMES.get(entry.status, str(entry.status))
        return Finding(State.NOT_READY, f"entry is {status}, not READY", tagged)
    if entry.replacing_entry_id or entry.replacement_status != REPLACEMENT_NONE:
        return Finding(State.NOT_READY, "a replacement of the entry's content is in progress", tagged)
    source = original_of(facts.flavors)
    if source is None:
        return Finding(State.NOT_READY, "no original flavor", tagged)
    if not source.ready:
        status = FLAVOR_STATUS_NAMES.get(source.status, str(source.status))
        return Finding(State.NOT_READY, f"original flavor {source.id} is {status}, not READY", tagged)
    if facts.head is not None:
        return _judge_object(entry.id, source, facts.head, facts.partner_id, tagged)
    expected = expected_record(facts.partner_id, entry.id, source, total_flavor_bytes(facts.flavors))
    if tagged:
        return Finding(State.TAG_ONLY, "tagged archived_to_s3 but no object", tagged, source, expected)
    return Finding(State.INITIAL, "not archived yet", tagged, source, expected)


def _judge_object(
    entry_id: str, source: FlavorAsset, head: ObjectHead, partner_id: int, tagged: bool
) -> Finding:
    check = check_copy(partner_id, entry_id, source, head)
    problems = "; ".join(check.problems)
    if check.stored is None:
        if check.problems:
            reason = f"legacy object {head.key} (no metadata) does not match the original: {problems}"
        else:
            reason = "legacy object (no metadata), size within 3%"
            reason += "" if tagged else "; not tagged: see health"
        return Finding(State.LEGACY, reason, tagged, source, problems=check.problems)
    if check.proven:
        if tagged:
            return Finding(State.ARCHIVED, "already archived", tagged, source, check.expected)
        return Finding(State.UNTAGGED, "proven copy without the tag", tagged, source, check.expected)
    if check.record_missing and check.expected.source_bytes > 0:
        reason = "our copy of this original lacks its checksum record"
        return Finding(State.UNRECORDED, reason, tagged, source, check.expected, check.problems)
    what = "the original changed since it was archived" if check.source_changed else "mismatch"
    reason = f"object {head.key} does not prove a copy of the original ({what}): {problems}"
    return Finding(State.MISMATCH, reason, tagged, source, check.expected, check.problems)
