"""The direct PUT/HEAD path against moto: the same objects and the same answers as botocore's path."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace

import pytest

from adapters.s3 import S3Store, to_metadata, verify
from adapters.s3.errors import S3FatalError, S3ItemError
from adapters.s3.multipart import PartBuffer
from engine.errors import ArchiverError
from tests.integration.s3_store_inputs import chunks_of, config, record

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


async def test_parts_sent_directly_make_the_object_botocores_parts_make(s3_bucket: str) -> None:
    data = os.urandom(12 * 1024 * 1024 + 5)  # three parts of 5 MiB, the last one short
    meta = to_metadata(record(data))
    async with S3Store(config(s3_bucket)) as direct, S3Store(config(s3_bucket, direct=False)) as botocore:
        ours = await direct.put_stream("0_direct", chunks_of(data), len(data), meta)
        theirs = await botocore.put_stream("0_botocore", chunks_of(data), len(data), meta)
        direct_calls, botocore_calls = direct.calls, botocore.calls
    assert ours.parts == theirs.parts == 3
    assert ours.etag == theirs.etag  # S3's MD5 of the parts' MD5s: the same bytes in the same parts
    assert ours.checksum.matches(theirs.checksum)
    assert ours.sha256 == theirs.sha256 == hashlib.sha256(data).hexdigest()
    assert direct_calls == botocore_calls  # the same requests, only sent another way


async def test_a_part_of_an_upload_s3_no_longer_has_fails_alike_on_both_paths(s3_bucket: str) -> None:
    failures: list[tuple[type[BaseException], str]] = []
    for direct in (True, False):
        async with S3Store(config(s3_bucket, direct=direct)) as store:
            upload_id = await store.create_upload("0_gone", {})
            await store.abort_upload("0_gone", upload_id)  # by another task, or a lifecycle rule
            body = PartBuffer(5 * 1024 * 1024)
            body.write(os.urandom(body.size))
            try:
                with pytest.raises(ArchiverError) as caught:
                    await store.upload_part("0_gone", upload_id, 1, body, "AAAAAA==", lambda *_: None)
            finally:
                body.release()
            failures.append((type(caught.value), str(caught.value).splitlines()[0]))  # not the timing
    # S3 answers 404 NoSuchUpload; moto answers 500: either way both paths must say the same
    assert failures[0] == failures[1]
    assert "s3.upload_part#1 0_gone" in failures[0][1]
