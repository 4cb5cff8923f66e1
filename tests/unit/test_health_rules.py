"""health's rules, pure: the first failing rule wins, legacy objects say so, the placeholder known by size."""

from __future__ import annotations

from typing import Any

from adapters.kaltura.wire import FlavorAsset, MediaEntry, parse_flavor_asset, parse_media_entry
from adapters.s3 import ObjectHead, S3Checksum, to_metadata
from adapters.s3.proof import to_tags
from jobs.common.verdicts import Limits, Verdict, judge
from jobs.lifecycle import Placeholder, expected_record

PARTNER = 1000
SIZE = 3_000_000
CHECKSUM = S3Checksum("CRC32C", "AAAAAA==", 1, composite=True)
PLACEHOLDER = Placeholder(300_000, "cd" * 32)
LIMITS = Limits(PARTNER, PLACEHOLDER, max_size_kb=10_000_000)


def entry(tags: str = "", **more: Any) -> MediaEntry:
    return parse_media_entry({"id": "0_entry", "createdAt": 1, "status": "2", "tags": tags, **more})


def source(size: int = SIZE, version: int = 1, status: int = 2) -> FlavorAsset:
    return parse_flavor_asset(
        {"id": "0_orig", "entryId": "0_entry", "isOriginal": True, "flavorParamsId": 0, "status": status,
         "sizeInBytes": size, "size": -(-size // 1024), "version": version}
    )  # fmt: skip


def ours(flavor: FlavorAsset, *, recorded: bool = True) -> ObjectHead:
    metadata = to_metadata(expected_record(PARTNER, "0_entry", flavor))
    tags = to_tags("ab" * 32, CHECKSUM) if recorded else {}
    return ObjectHead("0_entry", flavor.size_bytes, "etag", CHECKSUM, metadata, tags=tags)


def legacy(size: int = SIZE) -> ObjectHead:
    return ObjectHead("0_entry", size, "etag", None, {}, tags={})


def verdict(
    e: MediaEntry, flavor: FlavorAsset | None, head: ObjectHead | None, limits: Limits = LIMITS
) -> Verdict:
    return judge(e, [flavor] if flavor else [], head, "0_entry", limits)


def test_the_life_cycle_states_are_healthy() -> None:
    assert verdict(entry(), source(), None).verdict == "HEALTHY"
    assert verdict(entry("archived_to_s3"), source(), ours(source())) == Verdict(
        "HEALTHY", None, "archived as a proven copy"
    )
    replaced = verdict(entry("archived_to_s3,flavors_deleted"), source(300_000, version=2), ours(source()))
    assert (replaced.verdict, replaced.rule) == ("HEALTHY", None)


def test_an_old_tools_object_gets_the_3_percent_rule_and_the_word_legacy() -> None:
    assert verdict(entry("archived_to_s3"), source(), legacy(int(SIZE * 1.02))).verdict == "HEALTHY legacy"
    off = verdict(entry("archived_to_s3"), source(), legacy(int(SIZE * 1.05)))
    assert (off.verdict, off.rule) == ("UNHEALTHY legacy", "legacy_size")
    untagged = verdict(entry(), source(), legacy())
    assert (untagged.verdict, untagged.rule) == ("UNHEALTHY legacy", "object_iff_tag")


def test_the_first_failing_rule_wins() -> None:
    # not READY beats everything else that is wrong with it (tag without object, flavors_deleted)
    broken = verdict(entry("flavors_deleted", status="-1"), source(), None)
    assert (broken.verdict, broken.rule) == ("UNHEALTHY", "source_ready")
    assert verdict(entry(), source(status=1), None).rule == "source_ready"
    assert verdict(entry(), None, None).rule == "source_ready"
    failed = verdict(entry("archived_to_s3", replacementStatus="4"), source(), None)
    assert (failed.verdict, failed.rule) == ("UNHEALTHY", "replacement_state")
    pending = verdict(entry("archived_to_s3", replacementStatus="1"), source(), ours(source()))
    assert (pending.verdict, pending.rule) == ("WARNING", "replacement_state")
    assert verdict(entry("archived_to_s3"), source(), None).rule == "object_iff_tag"
    assert verdict(entry("flavors_deleted"), source(), None).rule == "replaced_implies_archived"


def test_a_replaced_entry_must_have_the_placeholder_and_not_the_archived_video() -> None:
    tags = "archived_to_s3,flavors_deleted"
    still = verdict(entry(tags), source(), ours(source()))
    assert (still.verdict, still.rule) == ("UNHEALTHY", "replaced_differs")
    other = verdict(entry(tags), source(1_000_000, version=2), ours(source()))
    assert (other.verdict, other.rule) == ("UNHEALTHY", "placeholder_source")
    # Kaltura's KB figure alone (sizeInBytes 0) is enough to know the placeholder
    kb_only = parse_flavor_asset({"id": "0_orig", "isOriginal": True, "status": 2, "sizeInBytes": 0,
                                  "size": 293, "version": 2})  # fmt: skip
    assert verdict(entry(tags), kb_only, ours(source())).verdict == "HEALTHY"


def test_the_placeholder_without_flavors_deleted_is_unhealthy() -> None:
    found = verdict(entry("archived_to_s3"), source(300_000, version=2), ours(source()))
    assert (found.verdict, found.rule) == ("UNHEALTHY", "placeholder_source")


def test_our_object_must_match_its_record() -> None:
    changed = verdict(entry("archived_to_s3"), source(version=2), ours(source()))
    assert (changed.verdict, changed.rule) == ("UNHEALTHY", "record_matches")
    assert "changed since it was archived" in changed.detail
    unrecorded = verdict(entry("archived_to_s3"), source(), ours(source(), recorded=False))
    assert unrecorded.rule == "record_matches"
    replaced_unrecorded = verdict(
        entry("archived_to_s3,flavors_deleted"), source(300_000, version=2), ours(source(), recorded=False)
    )
    assert replaced_unrecorded.rule == "record_matches"


def test_an_unarchived_source_over_the_size_limit_is_a_warning() -> None:
    small = Limits(PARTNER, PLACEHOLDER, max_size_kb=SIZE // 1024 - 1)
    over = verdict(entry(), source(), None, small)
    assert (over.verdict, over.rule) == ("WARNING", "size_limit")
    assert verdict(entry("archived_to_s3"), source(), ours(source()), small).verdict == "HEALTHY"
