"""repair's table, pure: each unhealthy state gets its one safe fix or `needs_person`, a healthy one none."""

from __future__ import annotations

from typing import Any

from adapters.kaltura.wire import FlavorAsset, MediaEntry, parse_flavor_asset, parse_media_entry
from adapters.s3 import ObjectHead, S3Checksum, to_metadata
from adapters.s3.proof import to_restored_tags, to_tags
from jobs.common.verdicts import judge
from jobs.lifecycle import Placeholder, expected_record
from jobs.repair.plan import Action, Kind, Rules, plan

PARTNER = 1000
SIZE = 3_000_000
CHECKSUM = S3Checksum("CRC32C", "AAAAAA==", 1, composite=True)
PLACEHOLDER = Placeholder(300_000, "cd" * 32)
RULES = Rules(PARTNER, PLACEHOLDER)
PROVING = Rules(PARTNER, PLACEHOLDER, prove_legacy=True)


def entry(tags: str = "", **more: Any) -> MediaEntry:
    return parse_media_entry({"id": "0_entry", "createdAt": 1, "status": "2", "tags": tags, **more})


def source(size: int = SIZE, version: int = 1) -> FlavorAsset:
    return parse_flavor_asset(
        {"id": "0_orig", "entryId": "0_entry", "isOriginal": True, "flavorParamsId": 0, "status": 2,
         "sizeInBytes": size, "size": -(-size // 1024), "version": version}
    )  # fmt: skip


def ours(flavor: FlavorAsset, **tags: str) -> ObjectHead:
    metadata = to_metadata(expected_record(PARTNER, "0_entry", flavor))
    return ObjectHead(
        "0_entry", flavor.size_bytes, "e", CHECKSUM, metadata, tags={**to_tags("ab" * 32, CHECKSUM), **tags}
    )


def legacy(size: int = SIZE, checksum: S3Checksum | None = CHECKSUM) -> ObjectHead:
    return ObjectHead("0_entry", size, "e", checksum, {}, tags={})


def decide(e: MediaEntry, flavor: FlavorAsset, head: ObjectHead | None, rules: Rules = RULES) -> Action:
    return plan(e, [flavor], head, rules)


def test_a_healthy_entry_and_one_only_over_the_size_limit_are_left_alone() -> None:
    for e, head in (
        (entry(), None),
        (entry("archived_to_s3"), ours(source())),
        (entry("archived_to_s3"), legacy()),
    ):
        assert judge(e, [source()], head, "0_entry", RULES.limits).verdict.startswith("HEALTHY")
        assert decide(e, source(), head).kind == Kind.NOTHING
    assert decide(entry(), source(size=SIZE * 10**4), None).kind == Kind.NOTHING


def test_row_1_a_proven_copy_without_the_tag_gets_the_tag() -> None:
    assert decide(entry(), source(), ours(source())).kind == Kind.TAG_ARCHIVED


def test_row_2_the_tag_without_its_object_and_the_original_intact_is_archived_again() -> None:
    assert decide(entry("archived_to_s3"), source(), None).kind == Kind.ARCHIVE_AGAIN
    placeholder = decide(entry("archived_to_s3"), source(PLACEHOLDER.size), None)
    assert placeholder.kind == Kind.PERSON  # the original may be lost: nothing to copy


def test_row_3_the_placeholder_in_place_without_flavors_deleted_gets_it() -> None:
    action = decide(entry("archived_to_s3"), source(PLACEHOLDER.size, version=2), ours(source()))
    assert (action.kind, action.to_state) == (Kind.TAG_REPLACED, "place_holder")
    untagged = decide(entry(), source(PLACEHOLDER.size, version=2), ours(source()))
    assert untagged.kind == Kind.PERSON  # no archived_to_s3 on top: health's object_iff_tag, for a person


def test_row_4_flavors_deleted_left_after_a_proven_restore_is_removed() -> None:
    restored = ours(source(), **to_restored_tags("3"))
    action = decide(entry("archived_to_s3,flavors_deleted"), source(version=3), restored)
    assert (action.kind, action.to_state) == (Kind.UNTAG_REPLACED, "archived")
    unproven = decide(entry("archived_to_s3,flavors_deleted"), source(version=3), ours(source()))
    assert unproven.kind == Kind.PERSON  # version 3 is not recorded as restored from this object


def test_row_5_only_a_failed_replacement_on_an_entry_with_our_tags_is_cancelled() -> None:
    failed = {"replacementStatus": 4, "replacingEntryId": "0_new"}
    assert decide(entry("archived_to_s3", **failed), source(), ours(source())).kind == Kind.CANCEL_REPLACE
    theirs = decide(entry("", **failed), source(), None)
    assert theirs.kind == Kind.PERSON
    assert "repair leaves it to whoever began it" in theirs.reason
    in_progress = {"replacementStatus": 2, "replacingEntryId": "0_new"}
    later = decide(entry("archived_to_s3", **in_progress), source(), ours(source()))
    assert (later.kind, later.mutates) == (Kind.LATER, False)  # a conversion under way: not a person's job
    assert "nothing to repair until it ends" in later.reason


def test_a_replaced_entry_whose_object_proves_its_record_but_lacks_archived_to_s3_gets_it() -> None:
    archived = ours(source())  # the object of the original, now replaced by the placeholder
    action = decide(entry("flavors_deleted"), source(PLACEHOLDER.size, version=2), archived)
    assert action.kind == Kind.TAG_ARCHIVED
    assert action.to_state == "place_holder"  # it stays replaced


def test_row_6_an_old_tools_object_without_the_tag_is_proven_only_with_prove_legacy() -> None:
    without = decide(entry(), source(), legacy())
    assert without.kind == Kind.PERSON
    assert "run repair --prove-legacy" in without.reason
    assert decide(entry(), source(), legacy(), PROVING).kind == Kind.PROVE_LEGACY
    assert decide(entry(), source(), legacy(int(SIZE * 1.05)), PROVING).kind == Kind.PERSON
    assert "by its S3 checksum" in decide(entry(), source(), legacy(), PROVING).reason


def test_row_6_an_old_tools_object_without_a_checksum_we_compute_is_proven_by_downloading_both() -> None:
    crc32 = S3Checksum("CRC32", "AAAAAA==")  # not one this tool computes
    for head in (legacy(checksum=None), legacy(checksum=crc32)):
        action = decide(entry(), source(), head, PROVING)
        assert action.kind == Kind.PROVE_LEGACY
        assert "by downloading it and the source" in action.reason
    assert decide(entry(), source(), legacy(checksum=None)).kind == Kind.PERSON  # without --prove-legacy


def test_row_7_an_old_tools_restored_entry_is_a_warning_in_health_and_proven_like_row_6() -> None:
    e = entry("restored_from_s3")
    verdict = judge(e, [source()], legacy(), "0_entry", RULES.limits)
    assert (verdict.verdict, verdict.rule) == ("WARNING legacy", "object_iff_tag")
    assert "restored by the old tool" in verdict.detail
    assert decide(e, source(), legacy()).kind == Kind.PERSON
    action = decide(e, source(), legacy(), PROVING)
    assert action.kind == Kind.PROVE_LEGACY
    assert "restored by the old tool" in action.reason


def test_everything_else_needs_a_person_with_healths_detail() -> None:
    other = ours(source(size=SIZE + 10, version=2))  # ours, for another version of the source
    for e, flavor, head in (
        (entry("archived_to_s3"), source(), other),  # mismatch
        (entry(status="1"), source(), None),  # not READY
        (entry("flavors_deleted"), source(), None),  # replaced, not archived
        (entry(), source(PLACEHOLDER.size), None),  # placeholder without object
    ):
        action = decide(e, flavor, head)
        assert action.kind == Kind.PERSON, action
        assert action.reason.startswith(
            judge(e, [flavor], head, head.key if head else "0_entry", RULES.limits).detail
        ) or action.reason.startswith("THE ORIGINAL MAY BE LOST")
        assert not action.mutates


def test_a_person_is_told_what_to_do() -> None:
    lost = decide(entry("archived_to_s3,flavors_deleted"), source(PLACEHOLDER.size, version=2), None)
    assert lost.reason.startswith("THE ORIGINAL MAY BE LOST")
    changed = decide(entry("archived_to_s3"), source(size=SIZE + 10, version=2), ours(source()))
    assert "move the object aside" in changed.reason
    assert "run s3copy" in changed.reason
