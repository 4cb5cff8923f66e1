"""The direct PUT/HEAD path against moto: the same objects and the same answers as botocore's path."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace

import pytest

from adapters.s3 import S3Store, to_metadata, verify
from adapters.s3.errors import S3FatalError, S3ItemError
from tests.integration.test_s3_store import chunks_of, config, record

pytestmark = pytest.mark.usefixtures("aws_env")


@pytest.mark.parametrize("size", [100_000, 12 * 1024 * 1024])  # one PUT; a multipart upload (5 MiB parts)
async def test_both_paths_read_the_same_head_and_prove_the_same_object(s3_bucket: str, size: int) -> None:
    data = os.urandom(size)
    meta = to_metadata(record(data))
    async with S3Store(config(s3_bucket)) as direct, S3Store(config(s3_bucket, direct=False)) as botocore:
        result = await direct.put_stream("0_abc", chunks_of(data), len(data), meta)
        ours, theirs = await direct.head("0_abc"), await botocore.head("0_abc")
    assert ours is not None
    assert theirs is not None
    assert ours == theirs
    assert ours.size == size
    assert ours.checksum is not None
    assert ours.checksum.matches(result.checksum)
    assert verify(ours, replace(record(data), sha256=result.sha256, checksum=result.checksum)) == []


async def test_a_missing_object_heads_as_none_on_both_paths(s3_bucket: str) -> None:
    async with S3Store(config(s3_bucket)) as direct, S3Store(config(s3_bucket, direct=False)) as botocore:
        assert await direct.head("0_none") is None
        assert await botocore.head("0_none") is None


async def test_the_direct_put_never_replaces_an_object_with_other_bytes(s3_bucket: str) -> None:
    first, second = os.urandom(50_000), os.urandom(50_000)
    async with S3Store(config(s3_bucket)) as store:
        kept = await store.put_bytes("0_abc", first, to_metadata(record(first)))
        with pytest.raises(S3ItemError) as caught:
            await store.put_bytes("0_abc", second, to_metadata(record(second)))
        head = await store.head("0_abc")
    assert caught.value.code == "PreconditionFailed"
    assert head is not None
    assert head.metadata["ka-sha256"] == kept.sha256 == hashlib.sha256(first).hexdigest()


async def test_a_missing_bucket_stops_the_run_with_the_fix_on_the_direct_path(s3_bucket: str) -> None:
    data = b"x" * 1000
    async with S3Store(config(s3_bucket + "-absent")) as store:
        with pytest.raises(S3FatalError, match="check AWS_BUCKET"):
            await store.put_bytes("0_abc", data, to_metadata(record(data)))
