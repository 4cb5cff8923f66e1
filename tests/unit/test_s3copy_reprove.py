"""The re-proof digest of a source stream is the checksum S3 reports for an upload of it."""

from __future__ import annotations

import hashlib
import os

import pytest

from adapters.s3.checksums import S3Checksum, digest, of_parts, of_single
from jobs.s3copy.reprove import Layout, StreamDigest, layout_of


def feed(proof: StreamDigest, data: bytes, chunk: int) -> None:
    for start in range(0, len(data), chunk):
        proof.update(data[start : start + chunk])


@pytest.mark.parametrize("chunk", [1000, 4096, 70_000])
def test_stream_digest_of_a_multipart_object_is_the_composite_of_its_parts(chunk: int) -> None:
    data = os.urandom(50_000)
    proof = StreamDigest(expected_size=len(data), part_size=16_384, algorithm="CRC32C")
    feed(proof, data, chunk)
    parts = [digest("CRC32C", data[i : i + 16_384]) for i in range(0, len(data), 16_384)]
    result = proof.result()
    assert result.checksum == of_parts("CRC32C", parts)
    assert result.checksum.parts == 4
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.bytes == len(data)


def test_stream_digest_of_a_single_put_object_is_the_plain_digest() -> None:
    data = os.urandom(10_000)
    proof = StreamDigest(expected_size=len(data), part_size=16_384, algorithm="SHA256")
    feed(proof, data, 3000)
    assert proof.result().checksum == of_single("SHA256", data)


def test_stream_digest_of_whole_parts_has_no_empty_tail_part() -> None:
    data = os.urandom(32_768)
    proof = StreamDigest(expected_size=len(data), part_size=16_384, algorithm="CRC32C")
    feed(proof, data, 5000)
    assert proof.result().checksum.parts == 2


TODAY = Layout(8 << 20, "CRC32C")  # what today's settings would use


@pytest.mark.parametrize(
    ("stored", "first_part", "expected"),
    [
        # one PUT: a plain checksum of the whole, whatever part size is set today
        (S3Checksum("CRC32C", "x"), None, Layout(50_001, "CRC32C")),
        # composite of one part: that part is the whole object
        (S3Checksum("CRC32C", "x", 1, composite=True), None, Layout(50_000, "CRC32C")),
        # 4 parts of 16,384 (S3's part 1): not today's 8 MiB
        (S3Checksum("CRC32C", "x", 4, composite=True), 16_384, Layout(16_384, "CRC32C")),
        # S3 reported the algorithm the object was uploaded with
        (S3Checksum("SHA256", "x", 4, composite=True), 16_384, Layout(16_384, "SHA256")),
        # a part 1 that does not make 4 parts of 50,000 B is not believed; S3 did not say: today's
        (S3Checksum("CRC32C", "x", 4, composite=True), 10_000, TODAY),
        (S3Checksum("CRC32C", "x", 4, composite=True), None, TODAY),
        # no part count (a server that leaves the suffix out): part 1 is all there is to go by
        (S3Checksum("CRC32C", "x", None, composite=True), 16_384, Layout(16_384, "CRC32C")),
        # an algorithm we do not upload with: today's (the digest then differs: a conflict, never a pass)
        (S3Checksum("MD5", "x", 4, composite=True), 16_384, Layout(16_384, "CRC32C")),
    ],
    ids=["single", "one-part", "part-1", "algorithm", "inconsistent", "unknown", "no-count", "foreign"],
)
def test_the_layout_to_re_prove_with_comes_from_the_object_not_from_todays_settings(
    stored: S3Checksum, first_part: int | None, expected: Layout
) -> None:
    assert layout_of(stored, 50_000, first_part, TODAY) == expected


def test_a_source_digested_in_the_objects_layout_matches_its_checksum() -> None:
    data = os.urandom(50_000)
    parts = [digest("CRC32C", data[i : i + 16_384]) for i in range(0, len(data), 16_384)]
    stored = of_parts("CRC32C", parts)
    layout = layout_of(stored, len(data), 16_384, TODAY)
    proof = StreamDigest(expected_size=len(data), part_size=layout.part_size, algorithm=layout.algorithm)
    feed(proof, data, 7000)
    assert proof.result().checksum.matches(stored)
