"""`replace_video`'s decision, pure: from the state an entry is in (`jobs.lifecycle.classify`), one Action.

- archived (a proven copy of the *current* source: flavor id, version, size, SHA-256 and S3's checksum, and
  the tag): replace the content with the placeholder;
- legacy (an old tool's object, no record): replaced only with `--trust-legacy-size-match` and a size within
  3%, else refused;
- place_holder: nothing to do when the source is the placeholder ("replaced earlier"), else refused;
- the placeholder already in place but `flavors_deleted` missing (a run stopped after the replacement, or
  whose wait ran out): finish, i.e. tag it, when the object proves what its own record says about that same
  source flavor;
- everything else is refused with its reason: not archived (skipped instead when over `--max-size`, which
  s3copy never archives), no object, object without its checksum record, not proving the current source,
  entry or source not READY, a replacement in progress or FAILED.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.kaltura import FlavorAsset, MediaEntry
from adapters.s3 import ArchiveRecord, ObjectHead, from_head, verify
from jobs.common.options import DEFAULT_MAX_SIZE_KB
from jobs.lifecycle import (
    REPLACED_TAG,
    REPLACEMENT_FAILED,
    Facts,
    Placeholder,
    State,
    classify,
    original_of,
    over_size_limit,
    total_flavor_bytes,
)


class Kind(enum.StrEnum):
    """What to do with an entry."""

    REPLACE = "replace"  # upload the placeholder, media.updateContent, wait for READY, thumbnail, tag
    FINISH = "finish"  # the placeholder is in place: thumbnail and tag
    NOTHING = "none"  # replaced earlier
    REFUSE = "refuse"
    SKIP = "skip"  # over --max-size: never archived (the old tool's BIG_FILE_SKIP)


@dataclass(frozen=True)
class Rules:
    """What the decision compares an entry with besides its own facts."""

    partner_id: int
    placeholder: Placeholder
    max_size_kb: int = DEFAULT_MAX_SIZE_KB
    trust_legacy: bool = False  # --trust-legacy-size-match


@dataclass(frozen=True)
class Action:
    """The decision for one entry: what to do, the state it was found in, and why."""

    kind: Kind
    entry_id: str
    from_state: State
    reason: str
    source: FlavorAsset | None = None  # the source flavor the decision was made on
    freed_bytes: int = 0  # what the entry's flavors take in Kaltura now (about what replacing frees)

    @property
    def action_name(self) -> str:
        return self.kind.value

    @property
    def mutates(self) -> bool:
        """Acting on this decision writes to Kaltura."""
        return self.kind in (Kind.REPLACE, Kind.FINISH)

    @property
    def to_state(self) -> State:
        return (
            State.PLACE_HOLDER if self.kind in (Kind.REPLACE, Kind.FINISH, Kind.NOTHING) else self.from_state
        )


def plan(entry: MediaEntry, flavors: Sequence[FlavorAsset], head: ObjectHead | None, rules: Rules) -> Action:
    """The one thing to do with `entry` (see the module docstring for the rules)."""
    found = classify(entry, Facts(flavors, head, rules.partner_id))
    state = found.state
    source = original_of(flavors)
    freed = total_flavor_bytes(flavors)

    def act(kind: Kind, reason: str) -> Action:
        return Action(kind, entry.id, state, reason, source, freed if kind == Kind.REPLACE else 0)

    if state == State.PLACE_HOLDER:
        if source is not None and source.ready and rules.placeholder.is_source(source):
            return act(Kind.NOTHING, "replaced earlier")
        return act(Kind.REFUSE, f"tagged {REPLACED_TAG} but the source is not the placeholder: see health")
    if state == State.NOT_READY:
        if entry.replacement_status == REPLACEMENT_FAILED:
            return act(
                Kind.REFUSE, "a replacement of its content FAILED (not started by this run): see health"
            )
        return act(Kind.REFUSE, found.reason)
    if state == State.ARCHIVED:
        return act(Kind.REPLACE, "a proven copy of the current source is in S3")
    if state == State.LEGACY:
        if found.problems:
            return act(Kind.REFUSE, found.reason)
        if not found.tagged:
            return act(Kind.REFUSE, "old tool's object, but the entry lacks archived_to_s3: see health")
        if rules.trust_legacy:
            return act(
                Kind.REPLACE, "old tool's object (no record) trusted by its size (--trust-legacy-size-match)"
            )
        return act(
            Kind.REFUSE,
            "old tool's object has no record to prove it: pass --trust-legacy-size-match to trust its size",
        )
    if state == State.MISMATCH and head is not None and _placeholder_in_place(entry, source, head, rules):
        return act(Kind.FINISH, f"the placeholder is in place but {REPLACED_TAG} is missing: finishing")
    if state == State.INITIAL and source is not None and over_size_limit(source, rules.max_size_kb):
        limit = rules.max_size_kb
        return act(Kind.SKIP, f"original is {source.size_kb} KB, over --max-size {limit} KB: never archived")
    return act(Kind.REFUSE, _refusal(state, found.reason))


def _refusal(state: State, reason: str) -> str:
    fixes = {
        State.INITIAL: "not archived: run s3copy first",
        State.TAG_ONLY: "tagged archived_to_s3 but there is no S3 object: see health",
        State.UNTAGGED: "a proven copy without archived_to_s3: run s3copy (it adds the tag)",
        State.UNRECORDED: "the S3 object lacks its checksum record: run s3copy (it re-proves it)",
    }
    return fixes.get(state, reason)


def _placeholder_in_place(
    entry: MediaEntry, source: FlavorAsset | None, head: ObjectHead, rules: Rules
) -> bool:
    """The source is the placeholder, the same flavor the object was copied from (a replacement keeps the
    id), and the object proves what its own record says."""
    stored = from_head(head)
    if stored is None or source is None or not entry.has_tag("archived_to_s3"):
        return False
    if not rules.placeholder.is_source(source) or source.id != stored.flavor_id:
        return False
    own = ArchiveRecord(
        rules.partner_id, entry.id, stored.flavor_id, stored.flavor_version, stored.source_bytes
    )
    return not verify(head, own)
