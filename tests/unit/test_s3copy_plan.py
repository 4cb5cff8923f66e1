"""s3copy's pure decision: one Action per entry from its flavors and what S3 holds under its key."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.kaltura.wire import FlavorAsset, MediaEntry, parse_flavor_asset, parse_media_entry
from adapters.s3 import ArchiveRecord, ObjectHead, S3Checksum, to_metadata
from adapters.s3.proof import to_tags
from jobs.common.archive_plan import Facts, Kind, plan
from jobs.lifecycle import (
    ARCHIVED,
    INITIAL,
    LEGACY,
    MISMATCH,
    NOT_READY,
    PLACE_HOLDER,
    TAG_ONLY,
    UNRECORDED,
    UNTAGGED,
    expected_record,
    original_of,
    size_agrees,
)

PARTNER = 1000
SIZE = 3_000_000
CHECKSUM = S3Checksum("CRC32C", "AAAAAA==", 1, composite=True)
SHA = "ab" * 32


def entry(tags: str = "", status: int = 2, **more: Any) -> MediaEntry:
    return parse_media_entry({"id": "0_entry", "createdAt": 1, "status": str(status), "tags": tags, **more})


def flavor(
    fid: str = "0_src",
    *,
    original: bool = True,
    status: int = 2,
    size: int = SIZE,
    version: int = 1,
    kb: int | None = None,
) -> FlavorAsset:
    return parse_flavor_asset(
        {
            "id": fid,
            "entryId": "0_entry",
            "isOriginal": original,
            "flavorParamsId": 0 if original else 487,
            "status": status,
            "sizeInBytes": size,
            "size": size // 1024 if kb is None else kb,
            "version": version,
        }
    )


def head(record: ArchiveRecord | None, *, size: int = SIZE, recorded: bool = True) -> ObjectHead:
    metadata = to_metadata(record) if record is not None else {}
    tags = to_tags(SHA, CHECKSUM) if record is not None and recorded else {}
    return ObjectHead("0_entry", size, "etag", CHECKSUM, metadata, tags=tags)


def ours(source: FlavorAsset | None = None) -> ArchiveRecord:
    return expected_record(PARTNER, "0_entry", source or flavor())


def decide(e: MediaEntry, flavors: list[FlavorAsset], obj: ObjectHead | None = None) -> Any:
    return plan(e, Facts(flavors, obj, PARTNER))


def test_a_new_entry_is_archived_with_the_source_facts_to_prove() -> None:
    action = decide(entry(), [flavor("0_small", original=False), flavor()])
    assert action.kind == Kind.ARCHIVE
    assert (action.from_state, action.to_state) == (INITIAL, ARCHIVED)
    # every flavor's bytes, the original's and the small one's, go on the new object
    assert action.expected == ArchiveRecord(PARTNER, "0_entry", "0_src", "1", SIZE, total_bytes=2 * SIZE)
    assert action.mutates


def test_a_tag_without_an_object_is_archived_not_trusted() -> None:
    action = decide(entry("lecture, archived_to_s3"), [flavor()])
    assert action.kind == Kind.ARCHIVE
    assert action.from_state == TAG_ONLY
    assert action.tagged


def test_a_proven_tagged_copy_needs_nothing() -> None:
    action = decide(entry("Archived_To_S3"), [flavor()], head(ours()))
    assert action.kind == Kind.NOTHING
    assert action.from_state == ARCHIVED
    assert not action.mutates


def test_a_proven_copy_without_the_tag_gets_the_tag() -> None:
    action = decide(entry("lecture"), [flavor()], head(ours()))
    assert action.kind == Kind.TAG
    assert (action.from_state, action.to_state) == (UNTAGGED, ARCHIVED)


def test_an_original_changed_since_archiving_is_a_conflict_never_a_rewrite() -> None:
    archived = ours(flavor(version=1))
    action = decide(entry("archived_to_s3"), [flavor(version=2)], head(archived))
    assert action.kind == Kind.CONFLICT
    assert action.from_state == MISMATCH
    assert "the original changed since it was archived" in action.reason
    assert "ka-version" in action.reason


def test_an_object_of_another_size_is_a_conflict() -> None:
    action = decide(entry(), [flavor()], head(ours(), size=SIZE - 1))
    assert action.kind == Kind.CONFLICT
    assert "size" in action.reason


def test_an_object_of_another_partner_is_a_conflict() -> None:
    other = ArchiveRecord(PARTNER + 1, "0_entry", "0_src", "1", SIZE)
    assert decide(entry(), [flavor()], head(other)).kind == Kind.CONFLICT


def test_our_object_without_its_checksum_record_is_reproved_from_the_source() -> None:
    action = decide(entry(), [flavor()], head(ours(), recorded=False))
    assert action.kind == Kind.REPROVE
    assert action.from_state == UNRECORDED
    assert action.mutates


def test_a_legacy_object_of_the_right_size_is_skipped_as_legacy() -> None:
    action = decide(entry("archived_to_s3"), [flavor()], head(None, size=SIZE + SIZE // 50))
    assert action.kind == Kind.SKIP
    assert action.from_state == LEGACY


def test_a_legacy_object_off_by_more_than_3_percent_is_a_conflict() -> None:
    action = decide(entry("archived_to_s3"), [flavor()], head(None, size=SIZE // 2))
    assert action.kind == Kind.CONFLICT
    assert action.from_state == LEGACY


@pytest.mark.parametrize(
    ("e", "flavors", "state", "words"),
    [
        (entry("archived_to_s3, flavors_deleted"), [flavor()], PLACE_HOLDER, "placeholder"),
        (entry(status=1), [flavor()], NOT_READY, "PRECONVERT"),
        (entry(replacingEntryId="0_tmp", replacementStatus="1"), [flavor()], NOT_READY, "replacement"),
        (entry(), [flavor("0_small", original=False)], NOT_READY, "no original"),
        (entry(), [flavor(status=1)], NOT_READY, "CONVERTING"),
        (entry(), [flavor(size=10_000_001 * 1024)], INITIAL, "--max-size"),
    ],
)
def test_entries_that_cannot_be_archived_are_skipped_with_a_reason(
    e: MediaEntry, flavors: list[FlavorAsset], state: str, words: str
) -> None:
    action = decide(e, flavors)
    assert action.kind == Kind.SKIP
    assert action.from_state == state
    assert words in action.reason
    assert not action.mutates


def test_the_max_size_is_in_kilobytes_like_the_old_tool() -> None:
    big = flavor(size=2048 * 1024)
    assert plan(entry(), Facts([big], None, PARTNER, max_size_kb=2048)).kind == Kind.ARCHIVE
    assert plan(entry(), Facts([big], None, PARTNER, max_size_kb=2047)).kind == Kind.SKIP


def test_an_existing_object_is_judged_before_the_size_limit() -> None:
    source = flavor(size=20 * 1024 * 1024)
    action = plan(
        entry("archived_to_s3"), Facts([source], head(ours(source), size=source.size_bytes), PARTNER, 1)
    )
    assert action.kind == Kind.NOTHING


def test_the_original_is_the_flavor_marked_original_or_else_params_zero() -> None:
    marked = flavor("0_marked")
    assert original_of([flavor("0_other", original=False), marked]) == marked
    unmarked = parse_flavor_asset({"id": "0_p0", "entryId": "0_entry", "flavorParamsId": 0})
    assert original_of([flavor("0_other", original=False), unmarked]) == unmarked
    assert original_of([flavor("0_other", original=False)]) is None


OLD = flavor(size=0, kb=SIZE // 1024)  # an old asset: Kaltura gives KB, sizeInBytes 0


def test_an_original_of_unknown_exact_size_is_archived_once_its_size_is_learned() -> None:
    action = decide(entry(), [OLD])
    assert action.kind == Kind.ARCHIVE
    assert action.needs_size
    # the total counts the KB figure of a flavor without sizeInBytes
    total = (SIZE // 1024) * 1024
    assert action.expected == ArchiveRecord(PARTNER, "0_entry", "0_src", "1", 0, total_bytes=total)
    assert "sizeInBytes 0" in action.reason


def test_an_original_of_unknown_exact_size_still_obeys_the_max_size_in_kb() -> None:
    assert plan(entry(), Facts([OLD], None, PARTNER, max_size_kb=SIZE // 1024 - 1)).kind == Kind.SKIP


def test_a_copy_of_an_original_of_unknown_size_proves_out_with_its_recorded_size() -> None:
    recorded = ArchiveRecord(PARTNER, "0_entry", "0_src", "1", SIZE)
    action = decide(entry("archived_to_s3"), [OLD], head(recorded))
    assert action.kind == Kind.NOTHING
    assert action.expected is not None
    assert action.expected.source_bytes == SIZE
    assert not action.needs_size


def test_an_unrecorded_copy_of_an_original_of_unknown_size_is_reproved_at_its_recorded_size() -> None:
    recorded = ArchiveRecord(PARTNER, "0_entry", "0_src", "1", SIZE)
    action = decide(entry(), [OLD], head(recorded, recorded=False))
    assert action.kind == Kind.REPROVE
    assert action.expected is not None
    assert action.expected.source_bytes == SIZE


def test_a_copy_of_an_original_of_unknown_size_is_a_conflict_after_update_content() -> None:
    recorded = ArchiveRecord(PARTNER, "0_entry", "0_src", "1", SIZE)
    action = decide(entry("archived_to_s3"), [flavor(size=0, kb=SIZE // 1024, version=2)], head(recorded))
    assert action.kind == Kind.CONFLICT


def test_a_recorded_size_far_from_kalturas_kb_figure_is_not_trusted() -> None:
    recorded = ArchiveRecord(PARTNER, "0_entry", "0_src", "1", SIZE // 2)
    action = decide(entry("archived_to_s3"), [OLD], head(recorded, size=SIZE // 2))
    assert action.kind == Kind.CONFLICT


@pytest.mark.parametrize(
    ("kb", "exact", "agrees"),
    [(2929, 3_000_000, True), (2930, 3_000_000, True), (2000, 3_000_000, False), (0, 5, True), (0, 0, False)],
)
def test_an_exact_size_agrees_with_kalturas_rounded_kb(kb: int, exact: int, agrees: bool) -> None:
    assert size_agrees(kb, exact) is agrees
