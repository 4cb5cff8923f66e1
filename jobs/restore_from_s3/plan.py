"""`restore_from_s3`'s decision, pure: from the entry, its flavors and its object, one Action.

- place_holder (`flavors_deleted` and `archived_to_s3`, the source is the placeholder) with our object that
  proves what its own record says: restore (the storage class decides, later, whether Glacier must first
  make a readable copy);
- the restored original already the READY source (same flavor id, the record's size, a newer version) but
  `flavors_deleted` still there (a run stopped after Kaltura converted, or its wait ran out): finish, i.e.
  prove the bytes Kaltura serves, record the version on the object and untag;
- archived with the object recording the source's version as restored: nothing ("restored before");
- everything else is refused with its reason: no object, an old tool's object (no record to prove the bytes
  against), an object that does not match its record (corrupted or replaced by hand: never restored), the
  entry or source not READY, a replacement in progress or FAILED, not replaced at all.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.kaltura import FlavorAsset, MediaEntry
from adapters.kaltura.wire import ENTRY_STATUS_NAMES
from adapters.s3 import ArchiveRecord, ObjectHead, from_head, verify
from jobs.lifecycle import (
    ARCHIVED_TAG,
    ENTRY_READY,
    REPLACED_TAG,
    REPLACEMENT_FAILED,
    REPLACEMENT_NONE,
    Facts,
    Placeholder,
    State,
    classify,
    original_of,
)


class Kind(enum.StrEnum):
    """What to do with an entry."""

    RESTORE = "restore"  # (Glacier restore first,) stream the object into Kaltura, wait, prove, untag
    FINISH = "finish"  # the original is back in Kaltura: prove it, record the version, untag
    NOTHING = "none"  # restored before
    REFUSE = "refuse"


@dataclass(frozen=True)
class Rules:
    """What the decision compares an entry with besides its own facts."""

    partner_id: int
    placeholder: Placeholder


@dataclass(frozen=True)
class Action:
    """The decision for one entry: what to do, the state it was found in, and why."""

    kind: Kind
    entry_id: str
    from_state: State
    reason: str
    source: FlavorAsset | None = None  # the source flavor the decision was made on
    record: ArchiveRecord | None = None  # the object's record: what the restored bytes must be

    @property
    def action_name(self) -> str:
        return self.kind.value

    @property
    def mutates(self) -> bool:
        """Acting on this decision writes to Kaltura or S3."""
        return self.kind in (Kind.RESTORE, Kind.FINISH)

    @property
    def to_state(self) -> State:
        return State.ARCHIVED if self.kind in (Kind.RESTORE, Kind.FINISH, Kind.NOTHING) else self.from_state


def plan(entry: MediaEntry, flavors: Sequence[FlavorAsset], head: ObjectHead | None, rules: Rules) -> Action:
    """The one thing to do with `entry` (see the module docstring for the rules)."""
    state = classify(entry, Facts(flavors, head, rules.partner_id)).state
    source = original_of(flavors)
    stored = from_head(head) if head is not None else None

    def act(kind: Kind, reason: str) -> Action:
        return Action(kind, entry.id, state, reason, source, stored)

    replaced = entry.has_tag(REPLACED_TAG)
    if not replaced:
        if stored is not None and source is not None and stored.restored_version == str(source.version):
            return act(Kind.NOTHING, "restored before")
        return act(Kind.REFUSE, f"not replaced ({state}): its original is in Kaltura")
    problem = _not_restorable(entry, source, head, stored, rules)
    if problem is not None:
        return act(Kind.REFUSE, problem)
    assert source is not None
    assert stored is not None
    if rules.placeholder.is_source(source):
        return act(Kind.RESTORE, "replaced by the placeholder; its proven original is in S3")
    if _original_back(source, stored):
        return act(
            Kind.FINISH, f"the original is back in Kaltura but {REPLACED_TAG} is still there: finishing"
        )
    return act(
        Kind.REFUSE, f"tagged {REPLACED_TAG} but the source is neither the placeholder nor the original"
    )


def _not_restorable(
    entry: MediaEntry,
    source: FlavorAsset | None,
    head: ObjectHead | None,
    stored: ArchiveRecord | None,
    rules: Rules,
) -> str | None:
    """Why a replaced entry cannot be restored (or finished) now; None when it can."""
    if entry.status != ENTRY_READY:
        return f"entry is {ENTRY_STATUS_NAMES.get(entry.status, entry.status)}, not READY"
    if entry.replacement_status == REPLACEMENT_FAILED:
        return "a replacement of its content FAILED: see health"
    if entry.replacing_entry_id or entry.replacement_status != REPLACEMENT_NONE:
        return "a replacement of its content is in progress: the next run looks again"
    if source is None or not source.ready:
        return "no READY source flavor"
    if not entry.has_tag(ARCHIVED_TAG):
        return f"tagged {REPLACED_TAG} without {ARCHIVED_TAG}: see health"
    if head is None:
        return "no S3 object under its key: the original may be lost, see health"
    if stored is None:
        return "an old tool's object without a record: its bytes cannot be proven before they go back"
    own = ArchiveRecord(
        rules.partner_id, entry.id, stored.flavor_id, stored.flavor_version, stored.source_bytes
    )
    problems = verify(head, own)
    if problems:
        return f"the S3 object does not match its record, never restored: {'; '.join(problems)}"
    if source.id != stored.flavor_id:
        return f"the source flavor {source.id} is not the archived one ({stored.flavor_id}): see health"
    return None


def _original_back(source: FlavorAsset, stored: ArchiveRecord) -> bool:
    """The source holds the original's size again at a version newer than the archived one."""
    archived_version = int(stored.flavor_version) if stored.flavor_version.isdigit() else 0
    return source.size_bytes == stored.source_bytes and source.version > archived_version
