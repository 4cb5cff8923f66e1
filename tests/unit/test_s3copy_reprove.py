"""The shim's Kaltura calls are what the official client sends; the re-proof digest is what S3 reports."""

from __future__ import annotations

import hashlib
import os

import pytest
from KalturaClient.Plugins import Core

from adapters.kaltura import wire
from adapters.s3.checksums import digest, of_parts, of_single
from jobs.s3copy_kaltura import (
    flavor_list_call,
    get_url_call,
    join_tags,
    media_get_call,
    media_update_tags_call,
)
from jobs.s3copy_reprove import StreamDigest


def test_get_url_is_the_official_clients_call() -> None:
    assert get_url_call("0_f") == wire.capture(lambda s: s.flavorAsset.getUrl("0_f"))


def test_media_get_is_the_official_clients_call() -> None:
    assert media_get_call("0_e") == wire.capture(lambda s: s.media.get("0_e"))


def test_tag_update_is_the_official_clients_partial_update() -> None:
    entry = Core.KalturaMediaEntry()
    entry.tags = "lecture, archived_to_s3"
    official = wire.capture(lambda s: s.media.update("0_e", entry))
    assert media_update_tags_call("0_e", "lecture, archived_to_s3") == official


def test_flavor_list_is_the_official_clients_call() -> None:
    flavor_filter = Core.KalturaFlavorAssetFilter()
    flavor_filter.entryIdIn = "0_a,0_b"
    pager = Core.KalturaFilterPager(pageSize=500, pageIndex=2)
    official = wire.capture(lambda s: s.flavorAsset.list(flavor_filter, pager))
    assert flavor_list_call(["0_a", "0_b"], 2) == official


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ((), "archived_to_s3"),
        (("lecture", "math"), "lecture, math, archived_to_s3"),
        (("Archived_To_S3",), "Archived_To_S3"),
    ],
)
def test_join_tags_adds_the_tag_once(tags: tuple[str, ...], expected: str) -> None:
    assert join_tags(tags, "archived_to_s3") == expected


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
