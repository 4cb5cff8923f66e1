"""The archive proof: metadata and tags of an archive object, and what `verify` finds wrong with an object."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from adapters.s3.checksums import S3Checksum, of_etag
from adapters.s3.proof import (
    MAX_TAGS,
    ArchiveRecord,
    from_head,
    is_legacy,
    legacy_problems,
    merge_tags,
    to_legacy_tags,
    to_metadata,
    to_restored_tags,
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


def test_the_entrys_total_flavor_bytes_go_in_the_metadata_and_read_back() -> None:
    record = dataclasses.replace(RECORD, total_bytes=98_765)
    assert to_metadata(record)["ka-total-bytes"] == "98765"
    assert from_head(head_of(record)) == record.with_result(SHA, OURS)


def test_an_object_written_without_the_total_reads_back_none_and_still_proves() -> None:
    assert "ka-total-bytes" not in to_metadata(RECORD)
    assert from_head(head_of()).total_bytes is None  # type: ignore[union-attr]
    assert verify(head_of(), dataclasses.replace(RECORD, total_bytes=98_765)) == []


def test_the_total_is_informative_and_never_compared() -> None:
    """The entry's other flavors change without the original changing: a copy still proves out."""
    on_object = head_of(dataclasses.replace(RECORD, total_bytes=98_765))
    assert verify(on_object, RECORD) == []
    assert verify(on_object, dataclasses.replace(RECORD, total_bytes=1)) == []


def restored_head(version: str = "5") -> ObjectHead:
    return head_of(tags={**to_tags(SHA, OURS), **to_restored_tags(version), "lifecycle": "keep"})


def test_a_restored_version_in_the_tags_reads_back() -> None:
    assert from_head(restored_head()).restored_version == "5"  # type: ignore[union-attr]
    assert from_head(head_of()).restored_version is None  # type: ignore[union-attr]


def test_the_restored_version_proves_the_copy_as_the_archived_one_does() -> None:
    assert verify(restored_head("5"), dataclasses.replace(RECORD, flavor_version="5")) == []
    assert verify(restored_head("5"), RECORD) == []  # the archived version, "3", still proves too


def test_a_version_neither_archived_nor_restored_is_a_problem() -> None:
    problems = verify(restored_head("5"), dataclasses.replace(RECORD, flavor_version="6"))
    assert problems == ["metadata ka-version: object has '3' (restored as '5'), expected '6'"]


def test_merged_tags_keep_the_objects_own_and_set_ours_over_them() -> None:
    theirs = {"lifecycle": "keep", "ka-sha256": "old"}
    assert merge_tags(theirs, to_tags(SHA, OURS)) == {"lifecycle": "keep", **to_tags(SHA, OURS)}


def test_merged_tags_over_s3s_limit_are_refused_naming_the_fix() -> None:
    theirs = {f"rule{i}": "x" for i in range(MAX_TAGS - 1)}
    with pytest.raises(ValueError, match=r"9 other tags .* 11, over S3's limit of 10 .* free 1 of them"):
        merge_tags(theirs, to_tags(SHA, OURS))
    assert len(merge_tags({f"rule{i}": "x" for i in range(MAX_TAGS - 2)}, to_tags(SHA, OURS))) == MAX_TAGS


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


def test_an_old_tools_object_proven_by_download_proves_by_its_etag() -> None:
    """Its record (in its tags) has the ETag as its check: the same ETag proves it, with no S3 checksum."""
    record = RECORD.with_result(SHA, of_etag('"5eb63bbbe01eeed093cb22bb8f5acdc3-2"'))
    tags = to_legacy_tags(record)
    assert tags["ka-checksum"] == "etag:5eb63bbbe01eeed093cb22bb8f5acdc3-2"
    proven = head_of(metadata={}, tags=tags, checksum=None, etag="5eb63bbbe01eeed093cb22bb8f5acdc3-2")
    stored = from_head(proven)
    assert stored is not None
    assert stored.checksum == record.checksum
    assert verify(proven, RECORD) == []
    rewritten = dataclasses.replace(proven, etag="0f343b0931126a20f133d67c2b018a3b")
    assert verify(rewritten, RECORD) == [
        "ETag: S3 reports 0f343b0931126a20f133d67c2b018a3b, the object proven had "
        "5eb63bbbe01eeed093cb22bb8f5acdc3-2 (rewritten since?)"
    ]


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
