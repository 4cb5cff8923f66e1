"""S3 checksums: per-part digests, the composite S3 reports for multipart objects, parsing and matching."""

from __future__ import annotations

import base64
import hashlib

import crc32c
import pytest

from adapters.s3.checksums import S3Checksum, check_algorithm, digest, of_parts, of_single, reported


def test_crc32c_digest_is_big_endian_4_bytes() -> None:
    assert digest("CRC32C", b"hello") == crc32c.crc32c(b"hello").to_bytes(4, "big")
    assert of_single("CRC32C", b"hello").value == "mnG7TA=="  # what S3 (and moto) report for b"hello"


def test_sha256_single_is_base64_of_the_digest() -> None:
    assert of_single("SHA256", b"x").value == base64.b64encode(hashlib.sha256(b"x").digest()).decode()


def test_composite_is_the_digest_of_concatenated_part_digests() -> None:
    parts = [b"a" * 10, b"b" * 3]
    raw = [digest("CRC32C", p) for p in parts]
    composite = of_parts("CRC32C", raw)
    assert composite.parts == 2
    assert composite.composite
    assert composite.value == base64.b64encode(crc32c.crc32c(b"".join(raw)).to_bytes(4, "big")).decode()
    assert composite.value != of_single("CRC32C", b"".join(parts)).value


def test_reported_value_with_part_suffix_is_composite() -> None:
    got = reported("CRC32C", "dcDL7g==-2")
    assert got == S3Checksum("CRC32C", "dcDL7g==", 2, composite=True)


def test_moto_style_composite_without_suffix_matches_ours() -> None:
    ours = S3Checksum("CRC32C", "dcDL7g==", 2, composite=True)
    assert reported("CRC32C", "dcDL7g==", "COMPOSITE").matches(ours)


def test_part_count_mismatch_does_not_match() -> None:
    assert not reported("CRC32C", "dcDL7g==-3").matches(S3Checksum("CRC32C", "dcDL7g==", 2, composite=True))


def test_other_algorithm_or_value_does_not_match() -> None:
    ours = S3Checksum("CRC32C", "dcDL7g==")
    assert not S3Checksum("SHA256", "dcDL7g==").matches(ours)
    assert not S3Checksum("CRC32C", "AAAAAA==").matches(ours)


@pytest.mark.parametrize(
    "checksum",
    [
        S3Checksum("CRC32C", "dcDL7g==", 2, composite=True),
        S3Checksum("SHA256", "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="),
    ],
)
def test_text_form_round_trips(checksum: S3Checksum) -> None:
    assert S3Checksum.parse(str(checksum)) == checksum


@pytest.mark.parametrize("text", ["", "crc32c", "md5:abc", "crc32c:"])
def test_unparsable_text_is_none(text: str) -> None:
    assert S3Checksum.parse(text) is None


def test_algorithm_names_are_checked() -> None:
    assert check_algorithm("crc32c") == "CRC32C"
    with pytest.raises(ValueError, match="CRC32C, SHA256"):
        check_algorithm("MD5")
