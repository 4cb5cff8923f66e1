"""The re-proof digest of a source stream is the checksum S3 reports for an upload of it."""

from __future__ import annotations

import hashlib
import os

import pytest

from adapters.s3.checksums import Algorithm, S3Checksum, digest, of_parts, of_single
from adapters.s3.reprove import Layout, StoredDigest, StreamDigest, digest_as_stored, layout_of


def feed(proof: StreamDigest | StoredDigest, data: bytes, chunk: int) -> None:
    for start in range(0, len(data), chunk):
        proof.update(data[start : start + chunk])


def composite(data: bytes, part: int) -> S3Checksum:
    """What S3 reports for `data` uploaded in parts of `part` bytes with CRC32C."""
    return of_parts("CRC32C", [digest("CRC32C", data[i : i + part]) for i in range(0, len(data), part)])


@pytest.mark.parametrize("chunk", [1000, 4096, 70_000])
def test_stream_digest_of_a_multipart_object_is_the_composite_of_its_parts(chunk: int) -> None:
    data = os.urandom(50_000)
    proof = StreamDigest(expected_size=len(data), part_size=16_384, algorithm="CRC32C")
    feed(proof, data, chunk)
    result = proof.result()
    assert result.checksum == composite(data, 16_384)
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


def test_a_source_digested_as_a_multipart_object_is_stored_matches_it() -> None:
    data = os.urandom(50_000)
    stored = composite(data, 16_384)
    proof = digest_as_stored(stored, len(data), 16_384, TODAY)
    feed(proof, data, 7000)
    result = proof.result()
    assert result.matches
    assert (result.bytes, result.stored) == (len(data), stored)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.checksum.matches(stored)


@pytest.mark.parametrize("algorithm", ["CRC32C", "SHA256"])
def test_a_source_digested_as_a_single_put_object_is_stored_matches_it(algorithm: Algorithm) -> None:
    data = os.urandom(10_000)
    proof = digest_as_stored(of_single(algorithm, data), len(data), None, TODAY)
    feed(proof, data, 3000)
    assert proof.result().matches


def test_a_source_that_differs_from_the_object_by_one_byte_does_not_match_it() -> None:
    data = os.urandom(50_000)
    proof = digest_as_stored(composite(data, 16_384), len(data), 16_384, TODAY)
    feed(proof, data[:-1] + bytes([data[-1] ^ 1]), 7000)
    assert not proof.result().matches


def test_a_source_digested_in_todays_part_size_does_not_match_an_object_of_other_parts() -> None:
    """Part 1's size is what makes the digest: without it (S3 did not say), today's layout is no proof."""
    data = os.urandom(50_000)
    proof = digest_as_stored(composite(data, 16_384), len(data), None, Layout(20_000, "CRC32C"))
    feed(proof, data, 7000)
    assert not proof.result().matches
