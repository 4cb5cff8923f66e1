"""The domain's one home: an entry's state with its evidence, and the proven-copy judgement jobs share."""

from __future__ import annotations

from typing import Any

from adapters.kaltura.wire import FlavorAsset, MediaEntry, parse_flavor_asset, parse_media_entry
from adapters.s3 import ObjectHead, S3Checksum, to_metadata
from adapters.s3.proof import to_restored_tags, to_tags
from jobs.lifecycle import (
    Facts,
    State,
    check_copy,
    classify,
    expected_record,
    is_proven_copy,
    total_flavor_bytes,
)

PARTNER = 1000
SIZE = 3_000_000
CHECKSUM = S3Checksum("CRC32C", "AAAAAA==", 1, composite=True)
SHA = "ab" * 32


def entry(tags: str = "", **more: Any) -> MediaEntry:
    return parse_media_entry({"id": "0_entry", "createdAt": 1, "status": "2", "tags": tags, **more})


def original(version: int = 1) -> FlavorAsset:
    return parse_flavor_asset(
        {"id": "0_orig", "entryId": "0_entry", "isOriginal": True, "flavorParamsId": 0, "status": 2,
         "sizeInBytes": SIZE, "size": SIZE // 1024, "version": version}
    )  # fmt: skip


def head(source: FlavorAsset, *, recorded: bool = True, restored: int | None = None) -> ObjectHead:
    metadata = to_metadata(expected_record(PARTNER, "0_entry", source))
    tags = to_tags(SHA, CHECKSUM) if recorded else {}
    if restored is not None:
        tags |= to_restored_tags(str(restored))
    return ObjectHead("0_entry", SIZE, "etag", CHECKSUM, metadata, tags=tags)


def test_classify_names_the_state_with_its_evidence_and_decides_nothing() -> None:
    found = classify(entry("archived_to_s3"), Facts([original()], head(original()), PARTNER))
    assert found.state is State.ARCHIVED
    assert found.source == original()
    assert found.expected == expected_record(PARTNER, "0_entry", original())
    assert classify(entry(), Facts([original()], head(original()), PARTNER)).state is State.UNTAGGED
    assert classify(entry(), Facts([original()], None, PARTNER)).state is State.INITIAL
    assert classify(entry("archived_to_s3"), Facts([original()], None, PARTNER)).state is State.TAG_ONLY


def test_an_object_of_another_version_of_the_original_is_no_proven_copy() -> None:
    now = original(version=2)
    check = check_copy(PARTNER, "0_entry", now, head(original(version=1)))
    assert not check.proven
    assert check.source_changed
    assert is_proven_copy(PARTNER, "0_entry", now, head(now))


def test_a_copy_without_its_checksum_record_is_unproven_but_only_lacks_the_record() -> None:
    check = check_copy(PARTNER, "0_entry", original(), head(original(), recorded=False))
    assert (check.proven, check.record_missing) == (False, True)


def test_a_restored_entry_is_still_archived_by_its_restored_version() -> None:
    """restore_from_s3 bumps the version; the tag naming it (written once proven) keeps the copy proven."""
    restored = original(version=3)
    on_object = head(original(version=1), restored=3)
    assert is_proven_copy(PARTNER, "0_entry", restored, on_object)
    assert not check_copy(PARTNER, "0_entry", restored, on_object).source_changed
    found = classify(entry("archived_to_s3"), Facts([restored], on_object, PARTNER))
    assert found.state is State.ARCHIVED


def test_a_version_after_the_restored_one_is_a_changed_original() -> None:
    later = original(version=4)
    check = check_copy(PARTNER, "0_entry", later, head(original(version=1), restored=3))
    assert (check.proven, check.source_changed) == (False, True)
    found = classify(entry("archived_to_s3"), Facts([later], head(original(version=1), restored=3), PARTNER))
    assert found.state is State.MISMATCH


def test_total_flavor_bytes_count_every_flavor_by_its_bytes_or_kb() -> None:
    def flavor(fid: str, size_bytes: int, kb: int, status: int = 2) -> FlavorAsset:
        return parse_flavor_asset(
            {"id": fid, "entryId": "0_entry", "status": status, "sizeInBytes": size_bytes, "size": kb}
        )

    flavors = [flavor("a", 1000, 1), flavor("b", 0, 3), flavor("gone", 5000, 5, status=3)]
    assert total_flavor_bytes(flavors) == 1000 + 3 * 1024  # a DELETED flavor counts nothing


def test_a_new_entry_is_expected_with_its_flavors_total() -> None:
    found = classify(entry(), Facts([original()], None, PARTNER))
    assert found.expected is not None
    assert found.expected.total_bytes == SIZE
