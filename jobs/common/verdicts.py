"""The health rules, pure: the verdict on one entry against the archive's invariants (docs/lifecycle.md,
Health checks). `health` reports them; `repair` turns each unhealthy verdict into its one safe fix.

The first failing rule of RULES wins; an object the old tool wrote (no record) adds ` legacy` to the verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from adapters.kaltura import FlavorAsset, MediaEntry
from adapters.kaltura.wire import ENTRY_STATUS_NAMES, FLAVOR_STATUS_NAMES
from adapters.s3 import ArchiveRecord, from_head, verify
from adapters.s3.proof import legacy_problems
from adapters.s3.wire import ObjectHead
from jobs.lifecycle import (
    ARCHIVED_TAG,
    ENTRY_READY,
    OLD_RESTORED_TAG,
    REPLACED_TAG,
    REPLACEMENT_FAILED,
    REPLACEMENT_NONE,
    Placeholder,
    check_copy,
    original_of,
    over_size_limit,
)

HEALTHY, WARNING, UNHEALTHY = "HEALTHY", "WARNING", "UNHEALTHY"
# the rules in the order they are applied (docs/lifecycle.md, Health checks): the first that fails wins
RULES: Final = (
    "source_ready", "replacement_state", "object_iff_tag", "replaced_implies_archived", "replaced_differs",
    "placeholder_source", "record_matches", "legacy_size", "size_limit",
)  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """One entry's health: `HEALTHY`, `WARNING` or `UNHEALTHY` (+ ` legacy`), the failing rule, a sentence."""

    verdict: str
    rule: str | None
    detail: str


@dataclass(frozen=True)
class Limits:
    """What the rules compare with besides the entry: the partner, the placeholder, the size limit."""

    partner_id: int
    placeholder: Placeholder
    max_size_kb: int


def judge(
    entry: MediaEntry, flavors: Sequence[FlavorAsset], head: ObjectHead | None, key: str, limits: Limits
) -> Verdict:
    """The verdict on `entry`, whose flavors are `flavors` and whose object under `key` is `head` (None if
    there is none): the first failing rule of RULES wins; an old tool's object adds ` legacy`."""
    legacy = head is not None and from_head(head) is None
    verdict = _first_failing(entry, flavors, head, key, limits) or _healthy(entry, head, legacy)
    if legacy:
        return Verdict(f"{verdict.verdict} legacy", verdict.rule, verdict.detail)
    return verdict


def _first_failing(
    entry: MediaEntry, flavors: Sequence[FlavorAsset], head: ObjectHead | None, key: str, limits: Limits
) -> Verdict | None:
    source = original_of(flavors)
    if entry.status != ENTRY_READY:
        status = ENTRY_STATUS_NAMES.get(entry.status, str(entry.status))
        return Verdict(UNHEALTHY, "source_ready", f"the entry is {status}, not READY")
    if source is None:
        return Verdict(UNHEALTHY, "source_ready", "the entry has no source flavor")
    if not source.ready:
        status = FLAVOR_STATUS_NAMES.get(source.status, str(source.status))
        return Verdict(UNHEALTHY, "source_ready", f"the source flavor {source.id} is {status}, not READY")
    if entry.replacement_status == REPLACEMENT_FAILED:
        detail = "a replacement of the entry's content FAILED: cancel it (media.cancelReplace) and look again"
        return Verdict(UNHEALTHY, "replacement_state", detail)
    if entry.replacement_status != REPLACEMENT_NONE or entry.replacing_entry_id:
        detail = "a replacement of the entry's content is in progress (replacementStatus "
        detail += f"{entry.replacement_status}): check again once it is done"
        return Verdict(WARNING, "replacement_state", detail)
    tagged, replaced = entry.has_tag(ARCHIVED_TAG), entry.has_tag(REPLACED_TAG)
    if head is not None and not (tagged or replaced) and old_restored(entry, head):
        detail = f"restored by the old tool ({OLD_RESTORED_TAG}), its object {key} still in S3 without "
        detail += f"{ARCHIVED_TAG}: repair --prove-legacy proves it and tags the entry"
        return Verdict(WARNING, "object_iff_tag", detail)
    if head is not None and not tagged:
        return Verdict(
            UNHEALTHY, "object_iff_tag", f"an S3 object {key} exists but the entry lacks {ARCHIVED_TAG}"
        )
    if head is None and tagged:
        return Verdict(UNHEALTHY, "object_iff_tag", f"tagged {ARCHIVED_TAG} but there is no S3 object {key}")
    if replaced and not tagged:
        detail = f"tagged {REPLACED_TAG} without {ARCHIVED_TAG} (and no S3 object): the original may be lost"
        return Verdict(UNHEALTHY, "replaced_implies_archived", detail)
    return _placeholder_rules(source, head, replaced, limits) or _object_rules(
        entry.id, source, head, replaced, limits
    )


def old_restored(entry: MediaEntry, head: ObjectHead) -> bool:
    """The old tool brought the entry back (`restored_from_s3`) and left its object (no record) in S3."""
    return entry.has_tag(OLD_RESTORED_TAG) and from_head(head) is None


def _size(source: FlavorAsset) -> int:
    """The source's size in bytes: exact when Kaltura knows it, else from its KB figure."""
    return source.size_bytes or source.size_kb * 1024


def _placeholder_rules(
    source: FlavorAsset, head: ObjectHead | None, replaced: bool, limits: Limits
) -> Verdict | None:
    is_placeholder = limits.placeholder.is_source(source)
    if replaced:
        assert head is not None  # replaced ⇒ tagged ⇒ an object (the rules before)
        if not legacy_problems(head, _size(source)):
            detail = (
                f"tagged {REPLACED_TAG} but the source ({_size(source)} bytes) is the size of the archived "
            )
            detail += f"object ({head.size} bytes), not replaced"
            return Verdict(UNHEALTHY, "replaced_differs", detail)
        if not is_placeholder:
            detail = f"tagged {REPLACED_TAG} but the source ({_size(source)} bytes) is not the placeholder "
            detail += f"({limits.placeholder.size} bytes)"
            return Verdict(UNHEALTHY, "placeholder_source", detail)
    elif is_placeholder:
        detail = f"the source is the placeholder ({limits.placeholder.size} bytes) "
        detail += f"but the entry lacks {REPLACED_TAG}"
        return Verdict(UNHEALTHY, "placeholder_source", detail)
    return None


def _object_rules(
    entry_id: str, source: FlavorAsset, head: ObjectHead | None, replaced: bool, limits: Limits
) -> Verdict | None:
    if head is None:
        if over_size_limit(source, limits.max_size_kb):
            detail = (
                f"the source is {source.size_kb} KB, over --max-size {limits.max_size_kb} KB: s3copy skips it"
            )
            return Verdict(WARNING, "size_limit", detail)
        return None
    stored = from_head(head)
    if stored is None:  # an old tool's object: only its size can be compared
        problems = [] if replaced else legacy_problems(head, _size(source))
        if problems:
            return Verdict(
                UNHEALTHY, "legacy_size", f"the old tool's object does not match the source: {problems[0]}"
            )
        return None
    if replaced:  # the source is the placeholder now: the object must prove what its own record says
        own = ArchiveRecord(
            limits.partner_id, entry_id, stored.flavor_id, stored.flavor_version, stored.source_bytes
        )
        problems = verify(head, own)
        what = "does not match its record"
    else:
        check = check_copy(limits.partner_id, entry_id, source, head)
        problems = list(check.problems)
        what = "is not a proven copy of the source"
        if check.source_changed:
            what += " (the source changed since it was archived)"
    if problems:
        return Verdict(UNHEALTHY, "record_matches", f"the S3 object {what}: {'; '.join(problems)}")
    return None


def _healthy(entry: MediaEntry, head: ObjectHead | None, legacy: bool) -> Verdict:
    if head is None:
        return Verdict(HEALTHY, None, "not archived")
    by = "the old tool (size within 3%)" if legacy else "a proven copy"
    if entry.has_tag(REPLACED_TAG):
        return Verdict(HEALTHY, None, f"replaced by the placeholder; archived as {by}")
    return Verdict(HEALTHY, None, f"archived as {by}")
