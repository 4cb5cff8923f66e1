"""The domain's one home: an entry's state with its evidence, and the proven-copy judgement jobs share."""

from __future__ import annotations

from typing import Any

from adapters.kaltura.wire import FlavorAsset, MediaEntry, parse_flavor_asset, parse_media_entry
from adapters.s3 import ObjectHead, S3Checksum, to_metadata
from adapters.s3.proof import to_tags
from jobs.lifecycle import Facts, State, check_copy, classify, expected_record, is_proven_copy

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


def head(source: FlavorAsset, *, recorded: bool = True) -> ObjectHead:
    metadata = to_metadata(expected_record(PARTNER, "0_entry", source))
    tags = to_tags(SHA, CHECKSUM) if recorded else {}
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
