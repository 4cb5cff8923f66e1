"""`s3copy`'s decision, pure: from the state an entry is in (`jobs.lifecycle.classify`), one Action.

- place_holder (replaced), not_ready: nothing to copy, or its source is not stable; skip;
- archived: nothing to do; untagged (a proven copy): add the tag;
- unrecorded (our object for the current original, its checksum record missing: a run stopped between the
  completion of the upload and the record): re-prove it from the source, never overwrite;
- mismatch (ours but for another source, or not proving out, or not ours at all): a conflict, reported,
  never overwritten;
- legacy (an old tool's object, no metadata): skipped, or a conflict when its size is off by > 3%;
- initial, tag_only: skip an original larger than `--max-size`, else archive it (an `archived_to_s3` tag
  without an object is a tag to make true, not trust).

An original of unknown exact size (`sizeInBytes` 0) is archived with `expected.source_bytes` 0 until the
download server tells its size, just before the copy (`needs_size`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from adapters.kaltura import FlavorAsset, MediaEntry
from adapters.s3.proof import ArchiveRecord
from jobs import lifecycle
from jobs.common.options import DEFAULT_MAX_SIZE_KB as DEFAULT_MAX_SIZE_KB  # re-exported: the plan's default
from jobs.lifecycle import State, classify, over_size_limit


class Kind(enum.StrEnum):
    """What to do with an entry."""

    ARCHIVE = "archive"  # stream the original to S3, prove it, tag
    REPROVE = "reprove"  # stream the original, check it against the object's checksum, record, tag
    TAG = "tag"  # the object proves out: add the missing tag
    NOTHING = "none"  # already archived
    SKIP = "skip"
    CONFLICT = "conflict"


# the state each kind of action leads to when it succeeds (None: the entry stays as it is)
_TO_STATE: dict[Kind, State | None] = {
    Kind.ARCHIVE: State.ARCHIVED,
    Kind.REPROVE: State.ARCHIVED,
    Kind.TAG: State.ARCHIVED,
    Kind.NOTHING: State.ARCHIVED,
    Kind.SKIP: None,
    Kind.CONFLICT: None,
}
# the action for an entry found in a state with an object under its key
_OF_STATE: dict[State, Kind] = {
    State.ARCHIVED: Kind.NOTHING,
    State.UNTAGGED: Kind.TAG,
    State.UNRECORDED: Kind.REPROVE,
    State.MISMATCH: Kind.CONFLICT,
}


@dataclass(frozen=True)
class Facts(lifecycle.Facts):
    """What the checkers found out about one entry, and the largest original s3copy copies."""

    max_size_kb: int = DEFAULT_MAX_SIZE_KB


@dataclass(frozen=True)
class Action:
    """The decision for one entry: what to do, the state it was found in, and why."""

    kind: Kind
    entry_id: str
    from_state: State
    reason: str
    source: FlavorAsset | None = None
    expected: ArchiveRecord | None = None  # what the object must prove (archive, reprove, tag)
    tagged: bool = False  # the entry already carries `archived_to_s3`

    @property
    def action_name(self) -> str:
        return self.kind.value

    @property
    def to_state(self) -> State:
        return _TO_STATE[self.kind] or self.from_state

    @property
    def needs_size(self) -> bool:
        """The original's exact size is still unknown (sizeInBytes 0): learn it from the download first."""
        return self.expected is not None and self.expected.source_bytes <= 0

    @property
    def mutates(self) -> bool:
        """Acting on this decision writes to S3 or Kaltura."""
        return self.kind in (Kind.ARCHIVE, Kind.REPROVE, Kind.TAG)


def plan(entry: MediaEntry, facts: Facts) -> Action:
    """The one thing to do with `entry` given `facts` (see the module docstring for the rules)."""
    found = classify(entry, facts)
    state, tagged = found.state, found.tagged

    def act(kind: Kind, reason: str = found.reason, *, evidence: bool = True) -> Action:
        if not evidence:
            return Action(kind, entry.id, state, reason, tagged=tagged)
        return Action(kind, entry.id, state, reason, found.source, found.expected, tagged)

    if state in (State.PLACE_HOLDER, State.NOT_READY):
        return act(Kind.SKIP, evidence=False)
    if state == State.LEGACY:
        return act(Kind.CONFLICT if found.problems else Kind.SKIP)
    if state == State.UNRECORDED:
        return act(Kind.REPROVE, f"{found.reason}: re-proving it from the source")
    if state in _OF_STATE:
        return act(_OF_STATE[state])
    source = found.source
    assert source is not None  # initial or tag_only: a READY original, no object
    if over_size_limit(source, facts.max_size_kb):
        limit = facts.max_size_kb
        return act(Kind.SKIP, f"original is {source.size_kb} KB, over --max-size {limit} KB", evidence=False)
    reason = f"{found.reason}: archiving" if state == State.TAG_ONLY else found.reason
    if source.size_bytes <= 0:
        reason += "; exact size (sizeInBytes 0) taken from the download"
    return act(Kind.ARCHIVE, reason)
