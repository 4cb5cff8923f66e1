"""The re-proof digest of a source stream is the checksum S3 reports for an upload of it."""

from __future__ import annotations

import hashlib
import os

import pytest

from adapters.s3.checksums import digest, of_parts, of_single
from jobs.s3copy_reprove import StreamDigest


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
