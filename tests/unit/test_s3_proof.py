"""The archive proof: metadata and tags of an archive object, and what `verify` finds wrong with an object."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from adapters.s3.checksums import S3Checksum
from adapters.s3.proof import (
    ArchiveRecord,
    from_head,
    is_legacy,
    legacy_problems,
    to_metadata,
    to_tags,
    verify,
)
from adapters.s3.wire import ObjectHead, parse_head

SHA = "ab" * 32
OURS = S3Checksum("CRC32C", "dcDL7g==", 2, composite=True)
RECORD = ArchiveRecord(
    partner_id=1000,
    entry_id="0_abc",
    flavor_id="0_src",
    flavor_version="3",
    source_bytes=12_345,
    archived_at="2026-01-02T03:04:05Z",
    tool="kaltura-archiver 0.1.0",
)


def head_of(record: ArchiveRecord = RECORD, *, size: int = 12_345, **changes: Any) -> ObjectHead:
    tags = to_tags(SHA, OURS)
    head = ObjectHead(
        key=record.entry_id,
        size=size,
        etag="x-2",
        checksum=S3Checksum("CRC32C", "dcDL7g==", None, composite=True),  # as moto reports it
        metadata=to_metadata(record),
        tags=tags,
    )
    return dataclasses.replace(head, **changes)


def test_metadata_keys_are_short_lower_case_and_prefixed() -> None:
    meta = to_metadata(RECORD)
    assert set(meta) == {
        "ka-partner",
        "ka-entry",
        "ka-flavor",
        "ka-version",
        "ka-bytes",
        "ka-archived-at",
        "ka-tool",
    }
    assert meta["ka-bytes"] == "12345"
    assert all(isinstance(v, str) for v in meta.values())


def test_record_reads_back_from_metadata_and_tags() -> None:
    assert from_head(head_of()) == RECORD.with_result(SHA, OURS)


def test_a_proven_copy_has_no_problems() -> None:
    assert verify(head_of(), RECORD.with_result(SHA, OURS)) == []


def test_later_runs_verify_against_the_objects_own_record() -> None:
    """Without our checksum at hand, S3's checksum is compared with the one recorded on the object."""
    assert verify(head_of(), RECORD) == []


def test_wrong_length_is_a_problem() -> None:
    problems = verify(head_of(size=12_000), RECORD)
    assert problems == ["size: S3 has 12000 bytes, expected 12345"]


def test_another_flavor_version_is_a_problem() -> None:
    problems = verify(head_of(), dataclasses.replace(RECORD, flavor_version="4"))
    assert problems == ["metadata ka-version: object has '3', expected '4'"]


def test_another_sha256_is_a_problem() -> None:
    problems = verify(head_of(), RECORD.with_result("cd" * 32, OURS))
    assert len(problems) == 1
    assert problems[0].startswith("sha256:")


def test_s3_checksum_differing_from_ours_is_a_problem() -> None:
    other = S3Checksum("CRC32C", "AAAAAA==", 2, composite=True)
    problems = verify(head_of(), RECORD.with_result(SHA, other))
    assert problems == ["S3 checksum crc32c:dcDL7g== differs from ours crc32c:AAAAAA==-2"]


def test_object_without_s3_checksum_is_a_problem() -> None:
    assert verify(head_of(checksum=None), RECORD) == ["S3 reports no checksum for the object"]


def test_missing_tags_mean_an_unfinished_record() -> None:
    problems = verify(head_of(tags={}), RECORD)
    assert problems == [
        "no recorded sha256 (upload interrupted before the record was written?)",
        "no recorded S3 checksum",
    ]


def test_unread_tags_leave_the_record_unknown() -> None:
    assert verify(head_of(tags=None), RECORD.with_result(SHA, OURS)) == [
        "the record's tags were not read: sha256 unknown"
    ]


def test_legacy_object_is_recognised_and_checked_by_size_only() -> None:
    legacy = head_of(metadata={}, tags={})
    assert is_legacy(legacy)
    assert not is_legacy(head_of())
    assert verify(legacy, RECORD) == ["no archive metadata (legacy object)"]


@pytest.mark.parametrize(
    ("source_bytes", "ok"), [(12_345, True), (12_700, True), (12_800, False), (0, False)]
)
def test_legacy_size_matches_within_3_percent(source_bytes: int, ok: bool) -> None:
    assert (legacy_problems(head_of(metadata={}), source_bytes) == []) is ok


def test_head_response_parses_checksum_metadata_and_class() -> None:
    response = {
        "ContentLength": 5,
        "ETag": '"abc-2"',
        "ChecksumCRC32C": "dcDL7g==-2",
        "ChecksumType": "COMPOSITE",
        "Metadata": {"Ka-Entry": "0_x"},
        "StorageClass": "DEEP_ARCHIVE",
        "Restore": 'ongoing-request="true"',
    }
    head = parse_head("0_x", response)
    assert head.checksum == S3Checksum("CRC32C", "dcDL7g==", 2, composite=True)
    assert head.metadata == {"ka-entry": "0_x"}
    assert (head.etag, head.storage_class, head.restore, head.tags) == (
        "abc-2",
        "DEEP_ARCHIVE",
        response["Restore"],
        None,
    )


def test_standard_is_the_class_when_s3_names_none() -> None:
    assert parse_head("k", {"ContentLength": 1}).storage_class == "STANDARD"
