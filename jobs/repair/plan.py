"""`repair`'s decision, pure: from the entry, its flavors and its object, health's verdict and the one safe
fix for it, or `needs a person` with the reason (docs/lifecycle.md, Repairing an entry).

- HEALTHY (or only over the size limit): nothing;
- a proven copy without `archived_to_s3`: tag `archived_to_s3`;
- `archived_to_s3` without an object, the original READY and not the placeholder: archive it again (s3copy's
  check, transfer and proof);
- the placeholder is the source (by size; by SHA-256 before the write) and our object proves its record, but
  `flavors_deleted` is missing: tag `flavors_deleted`;
- `flavors_deleted` but the object proves a copy of the current source (a restore ended): remove it;
- a FAILED replacement on an entry carrying our tags: `media.cancelReplace`;
- an old tool's object without `archived_to_s3`, or an entry the old tool restored (`restored_from_s3`) with
  its object still in S3: with `--prove-legacy`, prove the object from the original (by the S3 checksum it
  has, or by downloading both where it has none we compute), record it, tag;
- anything else: needs a person, with health's detail.

A FAILED replacement is ours only by that sign: replace_video and restore_from_s3 remember the replacements
they begin for their own run only, and leave no mark on the entry. A replacement in progress is never
cancelled, an object is never overwritten or deleted, and a tag is removed only once what it records is
proven untrue.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from adapters.kaltura import FlavorAsset, MediaEntry
from adapters.s3 import ArchiveRecord, ObjectHead, computable, from_head, legacy_problems, verify
from jobs.common.options import DEFAULT_MAX_SIZE_KB
from jobs.common.verdicts import HEALTHY, UNHEALTHY, Limits, judge, old_restored
from jobs.lifecycle import (
    ARCHIVED_TAG,
    REPLACED_TAG,
    Facts,
    Placeholder,
    State,
    check_copy,
    classify,
    original_of,
)

PROVE_LEGACY_OPTION = "--prove-legacy"


class Kind(enum.StrEnum):
    """What to do with an entry."""

    TAG_ARCHIVED = "tag_archived"  # add archived_to_s3 (a proven copy is in S3)
    ARCHIVE_AGAIN = "archive_again"  # the tag without its object: archive the original again
    TAG_REPLACED = "tag_replaced"  # add flavors_deleted (the placeholder is the source)
    UNTAG_REPLACED = "untag_replaced"  # remove flavors_deleted (the original is the source again)
    CANCEL_REPLACE = "cancel_replace"  # drop a FAILED replacement of ours
    PROVE_LEGACY = "prove_legacy"  # prove an old tool's object from the source, record it, tag
    NOTHING = "none"  # healthy
    LATER = "later"  # a replacement in progress: nothing to repair until it ends
    PERSON = "needs_person"  # no safe fix


_TO_STATE: dict[Kind, State | None] = {
    Kind.TAG_ARCHIVED: State.ARCHIVED,
    Kind.ARCHIVE_AGAIN: State.ARCHIVED,
    Kind.TAG_REPLACED: State.PLACE_HOLDER,
    Kind.UNTAG_REPLACED: State.ARCHIVED,
    Kind.PROVE_LEGACY: State.ARCHIVED,
}


@dataclass(frozen=True)
class Rules:
    """What the decision compares an entry with besides its own facts."""

    partner_id: int
    placeholder: Placeholder
    prove_legacy: bool = False

    @property
    def limits(self) -> Limits:
        return Limits(self.partner_id, self.placeholder, DEFAULT_MAX_SIZE_KB)


@dataclass(frozen=True)
class Action:
    """The decision for one entry: what to do, the state it was found in, and why."""

    kind: Kind
    entry_id: str
    from_state: State
    reason: str
    source: FlavorAsset | None = None  # the source flavor the decision was made on
    record: ArchiveRecord | None = None  # the object's record, if it has one

    @property
    def action_name(self) -> str:
        return self.kind.value

    @property
    def mutates(self) -> bool:
        """Acting on this decision writes to Kaltura or S3."""
        return self.kind not in (Kind.NOTHING, Kind.LATER, Kind.PERSON)

    @property
    def to_state(self) -> State:
        if self.from_state == State.PLACE_HOLDER and self.kind == Kind.TAG_ARCHIVED:
            return State.PLACE_HOLDER  # a replaced entry's missing archived_to_s3: it stays replaced
        return _TO_STATE.get(self.kind) or self.from_state


def plan(entry: MediaEntry, flavors: Sequence[FlavorAsset], head: ObjectHead | None, rules: Rules) -> Action:
    """The one thing to do with `entry` (see the module docstring for the table)."""
    key = head.key if head is not None else entry.id
    verdict = judge(entry, flavors, head, key, rules.limits)
    state = classify(entry, Facts(flavors, head, rules.partner_id)).state
    source = original_of(flavors)
    stored = from_head(head) if head is not None else None

    def act(kind: Kind, reason: str) -> Action:
        return Action(kind, entry.id, state, reason, source, stored)

    if verdict.verdict.startswith(HEALTHY) or verdict.rule == "size_limit":
        return act(Kind.NOTHING, f"healthy: {verdict.detail}")
    tagged, replaced = entry.has_tag(ARCHIVED_TAG), entry.has_tag(REPLACED_TAG)
    person = act(Kind.PERSON, needs_person(verdict.rule, verdict.detail, head, replaced, stored))
    if verdict.rule == "replacement_state":
        if not verdict.verdict.startswith(UNHEALTHY):
            return act(Kind.LATER, f"{verdict.detail} (nothing to repair until it ends)")
        if tagged or replaced:
            why = (
                "a FAILED replacement on an entry carrying our tags (ours by that sign: a replacement leaves "
            )
            return act(Kind.CANCEL_REPLACE, why + "no other mark): cancelling it")
        return person
    if source is None:
        return person  # the rules after source_ready have a READY source
    if verdict.rule == "object_iff_tag" and head is not None:
        if stored is None:
            return _legacy(entry, source, head, rules, act)
        if state == State.UNTAGGED:
            return act(Kind.TAG_ARCHIVED, f"a proven copy in S3 without {ARCHIVED_TAG}: tagging")
        if replaced and _placeholder_in_place(entry.id, source, head, stored, rules):
            why = f"replaced by the placeholder, its object proves its record, {ARCHIVED_TAG} missing: "
            return act(Kind.TAG_ARCHIVED, why + "tagging")
        return person
    if verdict.rule == "object_iff_tag":  # tagged, no object
        if state == State.TAG_ONLY and not rules.placeholder.is_source(source):
            return act(Kind.ARCHIVE_AGAIN, f"tagged {ARCHIVED_TAG} without its object, the original READY: "
                       "archiving it again")  # fmt: skip
        return person
    if verdict.rule == "placeholder_source" and not replaced:
        if _placeholder_in_place(entry.id, source, head, stored, rules):
            why = f"the placeholder is the source and our object proves its record, {REPLACED_TAG} missing: "
            return act(Kind.TAG_REPLACED, why + "tagging")
        return person
    restored = head is not None and not rules.placeholder.is_source(source)
    if restored and verdict.rule in ("replaced_differs", "placeholder_source"):
        assert head is not None
        if check_copy(rules.partner_id, entry.id, source, head).proven:
            why = f"the source is the archived original again (proven by the object), {REPLACED_TAG} left: "
            return act(Kind.UNTAG_REPLACED, why + "removing it")
    return person


def _legacy(
    entry: MediaEntry,
    source: FlavorAsset,
    head: ObjectHead,
    rules: Rules,
    act: Callable[[Kind, str], Action],
) -> Action:
    """An old tool's object without `archived_to_s3` (or on an entry the old tool restored)."""
    what = "restored by the old tool, its object" if old_restored(entry, head) else "an old tool's object"
    problems = legacy_problems(head, source.size_bytes or source.size_kb * 1024)
    if problems:
        return act(Kind.PERSON, f"{what} does not match the source: {problems[0]}")
    if not rules.prove_legacy:
        why = (
            f"{what} (no record) in S3 without {ARCHIVED_TAG}: run repair {PROVE_LEGACY_OPTION} to prove it "
        )
        return act(Kind.PERSON, why + "byte for byte and tag it")
    how = "by its S3 checksum" if computable(head.checksum) else "by downloading it and the source"
    return act(Kind.PROVE_LEGACY, f"{what} without {ARCHIVED_TAG}: proving it {how}, then tagging")


def _placeholder_in_place(
    entry_id: str, source: FlavorAsset, head: ObjectHead | None, stored: ArchiveRecord | None, rules: Rules
) -> bool:
    """The source is the placeholder (by size here; by SHA-256 before the tag is written) and the entry's
    object proves what its own record says, of another content than the placeholder's."""
    if head is None or stored is None or not rules.placeholder.is_source(source):
        return False
    own = ArchiveRecord(
        rules.partner_id, entry_id, stored.flavor_id, stored.flavor_version, stored.source_bytes
    )
    return not verify(head, own) and stored.sha256 != rules.placeholder.sha256


def needs_person(
    rule: str | None, detail: str, head: ObjectHead | None, replaced: bool, stored: ArchiveRecord | None
) -> str:
    """Health's detail, and what a person should do about it: no fix of repair's is safe here."""
    if replaced and head is None:
        return (
            f"THE ORIGINAL MAY BE LOST: {detail}. Find its copy (another bucket or prefix, an object "
            "version, a backup) before anything else touches this entry"
        )
    if rule == "replacement_state":
        return (
            f"{detail}. Not ours by any sign (no {ARCHIVED_TAG} or {REPLACED_TAG}), so repair leaves it to "
            "whoever began it: cancel it in the KMC, or replace the content again"
        )
    if rule == "replaced_differs":
        return (
            f"{detail}: restore_from_s3 finishes a restore that stopped before its proof (run it on this "
            "entry), then run repair again"
        )
    if rule == "record_matches" and stored is not None and "changed since it was archived" in detail:
        return (
            f"{detail}. The object keeps the version archived and is never overwritten: to archive the new "
            "one, move the object aside (another key or bucket), then run s3copy"
        )
    if rule == "object_iff_tag" and head is not None and replaced:
        return (
            f"{detail}; the entry is replaced ({REPLACED_TAG}) and its object does not prove its record: "
            "check it with health and download before tagging it by hand"
        )
    return f"{detail} (no safe fix: see health's rules in docs/lifecycle.md)"
