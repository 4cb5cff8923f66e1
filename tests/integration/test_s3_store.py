"""The S3 archive store against moto: single PUTs and streaming multipart uploads that prove themselves,
and never leave a short, failed or cancelled upload behind."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import anyio
import boto3  # type: ignore[import-untyped]  # no stubs installed
import pytest

from adapters.s3 import (
    ArchiveStore,
    ObjectHead,
    S3Store,
    StoredProof,
    from_head,
    to_metadata,
    verify,
)
from adapters.s3.checksums import Algorithm, S3Checksum
from adapters.s3.errors import S3FatalError, S3ItemError
from adapters.s3.multipart import MiB
from adapters.s3.wire import parse_tags
from engine.errors import ItemFailedError
from testbed.s3 import S3Server
from tests.integration.s3_store_inputs import chunks_of, config, record


async def open_keys(store: S3Store) -> list[str]:
    return [upload.key async for upload in store.open_uploads()]


@pytest.mark.usefixtures("aws_env")
async def test_small_object_is_one_put_that_verifies(s3_bucket: str) -> None:
    data = os.urandom(100_000)
    async with S3Store(config(s3_bucket)) as store:
        result = await store.put_stream("0_abc", chunks_of(data), len(data), to_metadata(record(data)))
        head = await store.head("0_abc")
    assert result.parts == 0
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert head is not None
    assert verify(head, record(data).with_result(result.sha256, result.checksum)) == []


@pytest.mark.usefixtures("aws_env")
async def test_40_mib_multipart_upload_verifies_sha256_and_s3_checksum(s3_bucket: str) -> None:
    data = os.urandom(40 * MiB + 12_345)
    async with S3Store(config(s3_bucket)) as store:
        async with store.writer("0_abc", len(data), to_metadata(record(data))) as upload:
            async for chunk in chunks_of(data):
                await upload.write(chunk)
            result = await upload.complete()
        stats = upload.statistics()
        head = await store.head("0_abc")
    assert (result.bytes_written, result.parts) == (len(data), 9)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert head is not None
    assert head.size == len(data)
    assert head.checksum is not None
    assert head.checksum.matches(result.checksum)
    assert verify(head, record(data).with_result(hashlib.sha256(data).hexdigest(), result.checksum)) == []
    assert stats.parts_done == 9
    assert 1 < stats.peak_buffers <= 3  # parts went out concurrently, never more than the slots


@pytest.mark.usefixtures("aws_env")
async def test_part_buffers_alive_never_exceed_parts_in_flight(s3_bucket: str) -> None:
    """Memory bound: the source is far faster than S3, still at most `parts_in_flight` buffers exist."""
    data = os.urandom(30 * MiB)
    peaks: list[int] = []
    async with S3Store(config(s3_bucket, parts_in_flight=2)) as store:
        async with store.writer("0_mem", len(data), {}) as upload:
            async for chunk in chunks_of(data, 1 * MiB + 3):
                await upload.write(chunk)
                peaks.append(upload.statistics().buffers_alive)
            await upload.complete()
        assert upload.statistics().peak_buffers == 2
    assert max(peaks) <= 2


@pytest.mark.usefixtures("aws_env")
async def test_short_stream_is_never_completed_and_leaves_no_upload(s3_bucket: str) -> None:
    data = os.urandom(12 * MiB)
    async with S3Store(config(s3_bucket)) as store:
        with pytest.raises(ItemFailedError, match="stream ended at 12582912 of 12582913 bytes"):
            await store.put_stream("0_short", chunks_of(data), len(data) + 1, {})
        assert await open_keys(store) == []
        assert await store.head("0_short") is None


@pytest.mark.usefixtures("aws_env")
async def test_long_stream_is_refused_and_aborted(s3_bucket: str) -> None:
    data = os.urandom(11 * MiB)
    async with S3Store(config(s3_bucket)) as store:
        with pytest.raises(ItemFailedError, match="longer than the expected"):
            await store.put_stream("0_long", chunks_of(data), len(data) - 1, {})
        assert await open_keys(store) == []
        assert await store.head("0_long") is None


@pytest.mark.usefixtures("aws_env")
async def test_short_small_stream_is_never_put(s3_bucket: str) -> None:
    async with S3Store(config(s3_bucket)) as store:
        with pytest.raises(ItemFailedError, match="stream ended at 3 of 4 bytes"):
            await store.put_stream("0_tiny", chunks_of(b"abc"), 4, {})
        assert await store.head("0_tiny") is None


class SourceBroke(Exception):
    pass


@pytest.mark.usefixtures("aws_env")
async def test_source_failing_midway_aborts_and_its_error_comes_out(s3_bucket: str) -> None:
    async def broken() -> AsyncIterator[bytes]:
        async for chunk in chunks_of(os.urandom(12 * MiB)):
            yield chunk
        raise SourceBroke("download failed")

    async with S3Store(config(s3_bucket)) as store:
        with pytest.raises(SourceBroke):
            await store.put_stream("0_broken", broken(), 20 * MiB, {})
        assert await open_keys(store) == []
        assert await store.head("0_broken") is None


@pytest.mark.usefixtures("aws_env")
async def test_cancel_during_upload_aborts_shielded_and_leaves_nothing(s3_bucket: str) -> None:
    halfway = anyio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        async for chunk in chunks_of(os.urandom(12 * MiB)):
            yield chunk
        halfway.set()
        await anyio.sleep_forever()
        yield b""  # never reached

    async with S3Store(config(s3_bucket)) as store:
        async with anyio.create_task_group() as tg:

            async def upload() -> None:
                await store.put_stream("0_cancel", stalls(), 20 * MiB, {})

            tg.start_soon(upload)
            await halfway.wait()
            assert await open_keys(store) == ["0_cancel"]
            tg.cancel_scope.cancel()
        assert await open_keys(store) == []
        assert await store.head("0_cancel") is None


@pytest.mark.usefixtures("aws_env")
async def test_existing_object_is_never_overwritten_unless_asked(s3_bucket: str) -> None:
    first, second = os.urandom(11 * MiB), os.urandom(11 * MiB)
    async with S3Store(config(s3_bucket)) as store:
        await store.put_stream("0_abc", chunks_of(first), len(first), {})
        with pytest.raises(S3ItemError) as caught:
            await store.put_stream("0_abc", chunks_of(second), len(second), {})
        assert caught.value.code == "PreconditionFailed"
        with pytest.raises(S3ItemError, match="PreconditionFailed"):
            await store.put_bytes("0_abc", b"small", {})
        assert await open_keys(store) == []
        replaced = await store.put_stream("0_abc", chunks_of(second), len(second), {}, overwrite=True)
        head = await store.head("0_abc")
    assert head is not None
    assert head.checksum is not None
    assert head.checksum.matches(replaced.checksum)


@pytest.mark.usefixtures("aws_env")
async def test_storage_class_is_applied_to_both_upload_kinds(s3_bucket: str) -> None:
    async with S3Store(config(s3_bucket, storage_class="deep_archive")) as store:
        await store.put_bytes("0_small", b"x" * 10, {})
        await store.put_stream("0_big", chunks_of(b"y" * 6 * MiB), 6 * MiB, {})
        small, big = await store.head("0_small"), await store.head("0_big")  # tags: unreadable in moto
    assert small is not None
    assert big is not None
    assert (small.storage_class, big.storage_class) == ("DEEP_ARCHIVE", "DEEP_ARCHIVE")


@pytest.mark.usefixtures("aws_env")
async def test_sha256_part_checksums_also_verify(s3_bucket: str) -> None:
    data = os.urandom(11 * MiB)
    async with S3Store(config(s3_bucket, checksum_algorithm="SHA256")) as store:
        result = await store.put_stream("0_sha", chunks_of(data), len(data), to_metadata(record(data)))
        head = await store.head("0_sha")
    assert head is not None
    assert head.checksum is not None
    assert head.checksum.algorithm == "SHA256"
    assert verify(head, record(data).with_result(hashlib.sha256(data).hexdigest(), result.checksum)) == []


@pytest.mark.usefixtures("aws_env")
async def test_stale_uploads_of_a_key_are_listed_and_aborted(s3_bucket: str) -> None:
    async with S3Store(config(s3_bucket)) as store:
        await store.create_upload("0_ab", {})
        await store.create_upload("0_abc", {})
        await store.create_upload("0_abc", {})
        assert sorted(await open_keys(store)) == ["0_ab", "0_abc", "0_abc"]
        assert [u.key async for u in store.open_uploads("0_ab")] == ["0_ab"]  # not 0_abc
        assert await store.abort_uploads("0_abc") == 2
        assert await open_keys(store) == ["0_ab"]


@pytest.mark.usefixtures("aws_env")
async def test_more_open_uploads_than_one_page_are_all_listed_and_swept(s3_bucket: str) -> None:
    # S3 lists 1,000 uploads a page; a bucket the old tool used may hold thousands it left open
    async with S3Store(config(s3_bucket)) as store:
        # 0_0999 has three uploads, and the first page ends after the first of them
        keys = [f"0_{n:04d}" for n in range(1001)] + ["0_0999", "0_0999"]
        created = await asyncio.gather(*(store.create_upload(key, {}) for key in keys))
        listed = [(u.key, u.upload_id) async for u in store.open_uploads()]
        assert sorted(listed) == sorted(zip(keys, created, strict=True))
        assert len(set(listed)) == len(keys)
        assert await store.abort_uploads() == len(keys)
        assert await open_keys(store) == []


@pytest.mark.usefixtures("aws_env")
async def test_sweep_aborts_only_uploads_under_our_prefix(s3_bucket: str) -> None:
    async with S3Store(config(s3_bucket)) as other, S3Store(config(s3_bucket, prefix="archive/")) as store:
        await other.create_upload("elsewhere/0_x", {})
        for entry_id in ("0_a", "0_b"):
            await store.create_upload(store.key_for(entry_id), {})
        assert await store.abort_uploads() == 2
        assert await open_keys(other) == ["elsewhere/0_x"]


@pytest.mark.usefixtures("aws_env")
async def test_head_of_a_missing_object_is_none(s3_bucket: str) -> None:
    async with S3Store(config(s3_bucket)) as store:
        archive: ArchiveStore = store  # jobs code against the protocol; mypy checks S3Store fits it
        await archive.check_access()
        assert await archive.head("0_none") is None


@pytest.mark.usefixtures("aws_env")
async def test_a_missing_bucket_stops_the_run(s3_bucket: str) -> None:
    async with S3Store(config(s3_bucket + "-missing")) as store:
        with pytest.raises(S3FatalError, match="AWS_BUCKET"):
            await store.check_access()
        with pytest.raises(S3FatalError, match="AWS_BUCKET"):
            await store.put_bytes("0_x", b"x", {})


@pytest.mark.usefixtures("aws_env")
async def test_a_single_put_proves_out_from_its_metadata_without_a_tag_read(s3_bucket: str) -> None:
    data = os.urandom(50_000)
    expected = record(data)
    async with S3Store(config(s3_bucket)) as store:
        result = await store.put_stream("0_abc", chunks_of(data), len(data), to_metadata(expected))
        before = store.calls
        head = await store.head("0_abc", record_only=True)
        assert store.calls - before == 1  # the HEAD alone
        assert head is not None
        assert verify(head, expected.with_result(result.sha256, result.checksum)) == []
        # a wrong SHA-256 is still caught from the metadata alone
        wrong = expected.with_result("0" * 64, result.checksum)
        assert verify(head, wrong) != []
        full = await store.head("0_abc")
    assert full is not None
    assert full.tags is not None  # the tags carry the same record, as for multipart objects
    assert verify(full, expected.with_result(result.sha256, result.checksum)) == []


@pytest.mark.usefixtures("aws_env")
async def test_uploads_sharing_a_memory_budget_hold_no_more_part_bytes_than_it(s3_bucket: str) -> None:
    """Four parts in flight each would be 20 MiB per upload; the budget of 12 MiB bounds all of them."""
    budget = 12 * MiB
    sizes = {"0_a": 20 * MiB + 1, "0_b": 20 * MiB, "0_c": 17 * MiB, "0_small": 3 * MiB}
    data = {key: os.urandom(size) for key, size in sizes.items()}
    async with S3Store(config(s3_bucket, parts_in_flight=4, memory_budget=budget)) as store:
        assert store.budget is not None
        async with anyio.create_task_group() as tg:
            for key, body in data.items():
                tg.start_soon(store.put_stream, key, chunks_of(body, MiB + 3), len(body), {})
        assert 5 * MiB < store.budget.peak <= budget  # uploads ran side by side, within the budget
        assert store.budget.held == 0
        for key, body in data.items():
            head = await store.head(key)
            assert head is not None
            assert head.size == len(body)


@pytest.mark.usefixtures("aws_env")
async def test_a_failed_stream_gives_back_the_budget_of_the_part_it_was_filling(s3_bucket: str) -> None:
    async def breaks_midway() -> AsyncIterator[bytes]:
        yield os.urandom(7 * MiB)  # one part sent, the next one half filled
        raise ConnectionResetError("source went away")

    async with S3Store(config(s3_bucket, memory_budget=15 * MiB)) as store:
        with pytest.raises(ConnectionResetError):
            await store.put_stream("0_broken", breaks_midway(), 12 * MiB, {})
        assert store.budget is not None
        assert store.budget.held == 0
        assert await open_keys(store) == []


@pytest.mark.usefixtures("aws_env")
async def test_an_object_whose_part_is_larger_than_the_whole_budget_fails_alone_before_any_upload(
    s3_bucket: str,
) -> None:
    async with S3Store(config(s3_bucket, part_size=8 * MiB, memory_budget=6 * MiB)) as store:
        for key, size, part in (("0_parts", 20 * MiB, 8 * MiB), ("0_put", 7 * MiB, 7 * MiB)):
            wanted = f"raise ARCHIVER_MEMORY_BUDGET to at least {part} bytes"
            with pytest.raises(ItemFailedError, match=wanted):
                await store.put_stream(key, chunks_of(bytes(size)), size, {})
        assert await open_keys(store) == []


async def stored_proof(store: S3Store, key: str, source: bytes) -> StoredProof:
    """`source` fed, in odd chunks, to the store's digest of the object at `key`."""
    head = await store.head(key, with_tags=False)
    assert head is not None
    proof = await store.stored_digest(head)
    async for chunk in chunks_of(source):
        proof.update(chunk)
    return proof.result()


@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize("algorithm", ["CRC32C", "SHA256"])
async def test_a_multipart_object_is_re_proven_from_its_source_whatever_part_size_is_set_today(
    s3_bucket: str, algorithm: Algorithm
) -> None:
    data = os.urandom(12 * MiB + 4321)
    async with S3Store(config(s3_bucket, checksum_algorithm=algorithm)) as store:
        result = await store.put_stream("0_abc", chunks_of(data), len(data), to_metadata(record(data)))
    assert result.parts == 3
    # today: another part size and another algorithm; the object says how it was stored
    async with S3Store(config(s3_bucket, part_size=8 * MiB, checksum_algorithm="SHA256")) as store:
        same = await stored_proof(store, "0_abc", data)
        other = await stored_proof(store, "0_abc", data[:-1] + bytes([data[-1] ^ 1]))
    assert same.matches
    assert (same.bytes, same.sha256) == (len(data), result.sha256)
    assert same.checksum.matches(result.checksum)
    assert not other.matches


@pytest.mark.usefixtures("aws_env")
async def test_a_single_put_object_is_re_proven_from_its_source(s3_bucket: str) -> None:
    data = os.urandom(100_000)
    async with S3Store(config(s3_bucket)) as store:
        result = await store.put_stream("0_abc", chunks_of(data), len(data), to_metadata(record(data)))
        same = await stored_proof(store, "0_abc", data)
        other = await stored_proof(store, "0_abc", os.urandom(len(data)))
    assert result.parts == 0
    assert same.matches
    assert (same.sha256, same.checksum) == (result.sha256, result.checksum)
    assert not other.matches


@pytest.mark.usefixtures("aws_env")
async def test_an_object_without_an_s3_checksum_cannot_be_re_proven(s3_bucket: str) -> None:
    async with S3Store(config(s3_bucket)) as store:
        with pytest.raises(ValueError, match="no checksum"):
            await store.stored_digest(ObjectHead("0_abc", 10, "etag", None, {}))


SHA = "ab" * 32
CRC = S3Checksum("CRC32C", "AAAAAA==", 1, composite=True)


def foreign_object(server: S3Server, bucket: str, key: str, tags: dict[str, str]) -> Any:
    """An object that carries tags of another owner (a bucket's lifecycle rules); the boto3 client."""
    client = boto3.client("s3", **server.client_kwargs())
    client.put_object(Bucket=bucket, Key=key, Body=b"x" * 10, Tagging=urlencode(tags))
    return client


def tags_of(client: Any, bucket: str, key: str) -> dict[str, str]:
    return parse_tags(client.get_object_tagging(Bucket=bucket, Key=key))


@pytest.mark.usefixtures("aws_env")
async def test_the_record_keeps_the_tags_the_object_already_has(s3_server: S3Server, s3_bucket: str) -> None:
    client = foreign_object(s3_server, s3_bucket, "0_abc", {"lifecycle": "keep"})
    async with S3Store(config(s3_bucket)) as store:
        await store.record("0_abc", SHA, CRC)
        await store.record_restored_version("0_abc", "4")
        head = await store.head("0_abc")
    assert tags_of(client, s3_bucket, "0_abc") == {
        "lifecycle": "keep", "ka-sha256": SHA, "ka-checksum": str(CRC), "ka-restored-version": "4",
    }  # fmt: skip
    assert head is not None
    assert head.tags is not None
    assert head.tags["lifecycle"] == "keep"


@pytest.mark.usefixtures("aws_env")
async def test_a_record_over_s3s_ten_tags_fails_the_entry_and_drops_none(
    s3_server: S3Server, s3_bucket: str
) -> None:
    theirs = {f"rule{i}": "x" for i in range(9)}
    client = foreign_object(s3_server, s3_bucket, "0_abc", theirs)
    async with S3Store(config(s3_bucket)) as store:
        with pytest.raises(ItemFailedError, match=r"9 other tags .* over S3's limit of 10"):
            await store.record("0_abc", SHA, CRC)
        await store.record_restored_version("0_abc", "4")  # 10 in all: fits
    assert tags_of(client, s3_bucket, "0_abc") == {**theirs, "ka-restored-version": "4"}


@pytest.mark.usefixtures("aws_env")
async def test_the_entrys_total_flavor_bytes_are_in_the_objects_metadata(s3_bucket: str) -> None:
    data = os.urandom(6 * MiB)
    with_total = dataclasses.replace(record(data), total_bytes=3 * len(data))
    async with S3Store(config(s3_bucket)) as store:
        result = await store.put_stream("0_abc", chunks_of(data), len(data), to_metadata(with_total))
        head = await store.head("0_abc")
    assert result.parts == 2
    assert head is not None
    assert from_head(head) == with_total.with_result(result.sha256, result.checksum)
    assert verify(head, record(data)) == []  # a proof does not ask for it
