"""Uploads through the fault proxy: SlowDown and resets are retried from memory until the object verifies;
faults that never end fail cleanly with the upload aborted; a lost answer is recognised, not repeated; a
`200 OK` carrying an error is a failure."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Mapping

import aiohttp
import anyio
import boto3  # type: ignore[import-untyped]  # no stubs installed
import botocore.config  # type: ignore[import-untyped]
import botocore.exceptions  # type: ignore[import-untyped]
import pytest

from adapters.s3 import ArchiveRecord, ObjectHead, S3Store, StoreConfig, to_metadata, verify
from adapters.s3.multipart import MiB
from adapters.s3.proof import from_head
from engine.errors import ItemFailedError, RetryableError
from engine.retry import RetryPolicy
from testbed.s3 import S3Server
from testbed.s3_faults import FaultPlan, S3FaultProxy

PATIENT = RetryPolicy(attempts=10, base_s=0.01, max_s=0.05, budget_s=20.0)
HOPELESS = RetryPolicy(attempts=3, base_s=0.01, max_s=0.02, budget_s=5.0)


@pytest.fixture
async def proxy(s3_server: S3Server, aws_env: None) -> AsyncIterator[S3FaultProxy]:
    async with S3FaultProxy(s3_server.endpoint_url, seed=11) as running:
        yield running


def store_via(proxy: S3FaultProxy, bucket: str, policy: RetryPolicy) -> S3Store:
    # an explicit endpoint wins over AWS_ENDPOINT_URL
    return S3Store(
        StoreConfig(
            bucket=bucket,
            endpoint_url=proxy.endpoint_url,
            part_size=5 * MiB,
            parts_in_flight=3,
            policy=policy,
            part_policy=policy,
        )
    )


async def chunks_of(data: bytes, size: int = 100_003) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def record(data: bytes) -> ArchiveRecord:
    return ArchiveRecord(1000, "0_f", "0_src", "1", len(data), "2026-01-02T03:04:05Z", "test")


async def put_proven(proxy: S3FaultProxy, bucket: str, data: bytes) -> None:
    """Upload `data` as `0_f` through the proxy, patiently: the object proves out, no upload is left open."""
    async with store_via(proxy, bucket, PATIENT) as store:
        result = await store.put_stream("0_f", chunks_of(data), len(data), to_metadata(record(data)))
        head = await store.head("0_f")
        left = [u async for u in store.open_uploads()]
    assert head is not None
    assert verify(head, record(data).with_result(hashlib.sha256(data).hexdigest(), result.checksum)) == []
    assert left == []


async def put_refused(
    proxy: S3FaultProxy,
    bucket: str,
    data: bytes,
    error: type[Exception],
    match: str,
    metadata: Mapping[str, str] | None = None,
) -> ObjectHead | None:
    """Upload `data` as `0_f` through the proxy, hopelessly: the put raises `error` (matching `match`) and
    leaves no upload open; what S3 then holds under the key."""
    async with store_via(proxy, bucket, HOPELESS) as store:
        with pytest.raises(error, match=match):
            await store.put_stream("0_f", chunks_of(data), len(data), metadata or {})
        assert [u async for u in store.open_uploads()] == []
        return await store.head("0_f")


async def test_slowdowns_and_resets_on_parts_are_retried_until_the_object_verifies(
    proxy: S3FaultProxy, s3_bucket: str
) -> None:
    data = os.urandom(30 * MiB + 5)
    proxy.set_plan(slowdown_rate=0.3, reset_rate=0.1, reset_next=1)
    async with store_via(proxy, s3_bucket, PATIENT) as store:
        async with store.writer("0_f", len(data), to_metadata(record(data))) as upload:
            async for chunk in chunks_of(data):
                await upload.write(chunk)
            result = await upload.complete()
        head = await store.head("0_f")
    faults = proxy.counters()["faults"]
    assert faults["slowdown"] >= 1
    assert faults["reset"] >= 1
    # each fault costs one more request: ours, or aiohttp's own re-send of a PUT on a dropped keep-alive
    assert proxy.requests["UploadPart"] == 7 + faults["slowdown"] + faults["reset"]
    assert upload.statistics().part_retries >= faults["slowdown"]
    assert head is not None
    assert verify(head, record(data).with_result(hashlib.sha256(data).hexdigest(), result.checksum)) == []


async def test_parts_failing_every_time_fail_cleanly_with_the_upload_aborted(
    proxy: S3FaultProxy, s3_bucket: str
) -> None:
    data = os.urandom(12 * MiB)
    proxy.set_plan(slowdown_rate=0.5, reset_rate=0.5)
    assert await put_refused(proxy, s3_bucket, data, RetryableError, "upload_part") is None
    assert proxy.requests["AbortMultipartUpload"] == 1
    assert proxy.requests["CompleteMultipartUpload"] == 0


@pytest.mark.parametrize(
    ("plan", "fault"),
    [
        # S3 completed the upload but the answer was lost: the retry finds the object and it is ours
        ("lose_next", "lose"),
        # S3 may answer 200 OK and report a failure in the body: that is a failure (the object does not exist
        # yet), retried like a 500, never taken for a completed upload
        ("error200_next", "error200"),
    ],
    ids=["lost_answer_recognised_by_the_checksum", "200_with_an_error_in_the_body_retried"],
)
async def test_one_failed_answer_to_complete_is_sent_again_and_proves_out(
    proxy: S3FaultProxy, s3_bucket: str, plan: str, fault: str
) -> None:
    data = os.urandom(11 * MiB)
    proxy.set_plan(None, **{plan: 1}, operations=["CompleteMultipartUpload"])
    await put_proven(proxy, s3_bucket, data)
    assert proxy.counters()["faults"] == {fault: 1}
    assert proxy.requests["CompleteMultipartUpload"] == 2


async def test_complete_always_answered_200_with_an_error_fails_with_the_upload_aborted(
    proxy: S3FaultProxy, s3_bucket: str
) -> None:
    data = os.urandom(11 * MiB)
    proxy.set_plan(error200_next=100, operations=["CompleteMultipartUpload"])
    assert await put_refused(proxy, s3_bucket, data, RetryableError, "InternalError") is None
    assert proxy.requests["CompleteMultipartUpload"] == HOPELESS.attempts
    assert proxy.requests["AbortMultipartUpload"] == 1


async def test_lost_answer_to_a_single_put_is_recognised(proxy: S3FaultProxy, s3_bucket: str) -> None:
    data = os.urandom(1000)
    proxy.set_plan(lose_next=1, operations=["PutObject"])
    await put_proven(proxy, s3_bucket, data)
    assert proxy.requests["PutObject"] == 2


async def test_lost_answer_to_create_leaves_no_upload_behind(proxy: S3FaultProxy, s3_bucket: str) -> None:
    # S3 created the first upload but its id never reached us: the retry's upload is used, the other aborted
    data = os.urandom(11 * MiB)
    proxy.set_plan(lose_next=1, operations=["CreateMultipartUpload"])
    await put_proven(proxy, s3_bucket, data)
    assert proxy.counters()["faults"] == {"lose": 1}
    assert proxy.requests["CreateMultipartUpload"] == 2
    assert proxy.requests["AbortMultipartUpload"] == 1


def held_at(s3_server: S3Server, operation: str) -> S3FaultProxy:
    """A proxy holding each call of `operation` until released."""
    return S3FaultProxy(s3_server.endpoint_url, plan=FaultPlan(hold=True, operations=frozenset({operation})))


async def test_cancelled_while_s3_creates_the_upload_leaves_none_open(
    s3_server: S3Server, aws_env: None, s3_bucket: str
) -> None:
    # a shutdown cancels the transfer while CreateMultipartUpload is on its way: S3 still creates the upload,
    # so its id must still be learnt, and the upload aborted
    data = os.urandom(11 * MiB)
    proxy = held_at(s3_server, "CreateMultipartUpload")
    async with proxy, store_via(proxy, s3_bucket, PATIENT) as store:

        async def put() -> None:
            await store.put_stream("0_f", chunks_of(data), len(data), {})

        async with anyio.create_task_group() as tg:
            tg.start_soon(put)
            await proxy.until(lambda p: len(p.held) == 1, "the create held")
            tg.cancel_scope.cancel()
            proxy.release()
        # S3 has answered the create, whether or not anyone still listens
        await proxy.until(lambda p: p.in_flight == 0, "the create ended", timeout_s=10)
        left = [u async for u in store.open_uploads()]
        assert await store.head("0_f") is None
    assert left == []
    assert proxy.requests["CreateMultipartUpload"] == 1
    assert proxy.requests["UploadPart"] == 0
    assert proxy.requests["AbortMultipartUpload"] == 1


async def test_at_shutdown_an_abort_s3_does_not_answer_ends_within_the_drain(
    s3_server: S3Server, aws_env: None, s3_bucket: str
) -> None:
    # a shutdown with 2.5 s of its drain left: the abort of a cancelled upload that S3 holds gives up after
    # 1.5 s (the last second is the summary's), not after its own 30 s; the upload is gone once S3 answers
    data = os.urandom(6 * MiB)

    stalled_now = anyio.Event()

    async def stalled() -> AsyncIterator[bytes]:  # a download that stops after its first part
        async for chunk in chunks_of(data):
            yield chunk
        stalled_now.set()
        await anyio.sleep_forever()

    proxy = held_at(s3_server, "AbortMultipartUpload")
    async with proxy, S3Store(store_via(proxy, s3_bucket, PATIENT).config, time_left=lambda: 2.5) as store:

        async def put() -> None:
            await store.put_stream("0_f", stalled(), 20 * MiB, {})

        with anyio.fail_after(15):  # a guard: an abort held for its own 30 s would trip it
            async with anyio.create_task_group() as tg:
                tg.start_soon(put)
                await stalled_now.wait()  # the upload exists, its first part is on its way
                tg.cancel_scope.cancel()
        assert len(proxy.held) == 1  # the put gave up while S3 still held its abort
        assert proxy.answered["AbortMultipartUpload"] == 0
        proxy.release()
        await proxy.until(lambda p: p.answered["AbortMultipartUpload"] == 1, "the abort done", timeout_s=10)
        left = [u async for u in store.open_uploads()]
    assert left == []


async def test_an_upload_refused_because_our_object_is_there_is_aborted(
    proxy: S3FaultProxy, s3_bucket: str
) -> None:
    # the same content sent again (a retry after its record failed, or a second writer): S3 refuses to
    # complete over the object, which is ours, so the put succeeds and its own upload is not left open
    data = os.urandom(11 * MiB)
    await put_proven(proxy, s3_bucket, data)
    await put_proven(proxy, s3_bucket, data)
    assert proxy.requests["CreateMultipartUpload"] == 2
    assert proxy.requests["AbortMultipartUpload"] == 1


async def test_a_record_that_cannot_be_written_fails_the_item_and_keeps_the_object(
    proxy: S3FaultProxy, s3_bucket: str
) -> None:
    data = os.urandom(11 * MiB)
    proxy.set_plan(slowdown_rate=1.0, operations=["PutObjectTagging"])
    refused = r"s3\.record 0_f: stored, but its proof record was not"
    head = await put_refused(proxy, s3_bucket, data, ItemFailedError, refused, to_metadata(record(data)))
    assert head is not None
    assert head.size == len(data)
    stored = from_head(head)
    assert stored is not None
    assert stored.sha256 is None  # unrecorded: the next run proves it again
    assert proxy.requests["PutObjectTagging"] == HOPELESS.attempts
    assert proxy.requests["CreateMultipartUpload"] == 1


async def test_control_surface_sets_the_plan_and_reports_counters(proxy: S3FaultProxy) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(proxy.endpoint_url + "/__faults", json={"slowdown_next": 2, "seed": 4}) as resp:
            assert resp.status == 200
            assert (await resp.json())["slowdown_next"] == 2
        async with http.put(proxy.endpoint_url + "/b/k?partNumber=1&uploadId=u", data=b"x") as resp:
            assert resp.status == 503
            assert "<Code>SlowDown</Code>" in await resp.text()
        async with http.post(proxy.endpoint_url + "/__faults", json={"reset_rate": 2}) as resp:
            assert resp.status == 400
        async with http.get(proxy.endpoint_url + "/__faults/counters") as resp:
            assert await resp.json() == {"requests": {"UploadPart": 1}, "faults": {"slowdown": 1}}


async def test_held_parts_wait_at_the_door_until_released_then_reach_s3(
    proxy: S3FaultProxy, s3_bucket: str
) -> None:
    data = os.urandom(11 * MiB)  # three parts, all in flight at once
    proxy.set_plan(hold=True)
    async with anyio.create_task_group() as tg:
        tg.start_soon(put_proven, proxy, s3_bucket, data)
        await proxy.until(lambda p: len(p.held) == 3, "the three parts held")
        (upload_id,) = {call.upload_id for call in proxy.held}
        assert upload_id
        assert {call.key for call in proxy.held} == {f"{s3_bucket}/0_f"}
        assert proxy.answered["UploadPart"] == 0  # none has reached S3
        proxy.set_plan(hold=False)
        assert proxy.release() == 3
    assert proxy.answered["UploadPart"] == 3
    assert proxy.held == []
    assert proxy.in_flight == 0


async def test_a_held_call_released_without_forwarding_never_reaches_s3(
    proxy: S3FaultProxy, s3_bucket: str
) -> None:
    # released through the control surface with forward false: the connection is reset, S3 never sees the
    # completion; the hold stays on, so the client's second attempt is held in turn
    data = os.urandom(11 * MiB)
    proxy.set_plan(hold=True, operations=["CompleteMultipartUpload"])
    async with anyio.create_task_group() as tg, aiohttp.ClientSession() as http:
        tg.start_soon(put_proven, proxy, s3_bucket, data)
        await proxy.until(lambda p: len(p.held) == 1, "the completion held")
        async with http.get(proxy.endpoint_url + "/__faults/held") as resp:
            (held,) = (await resp.json())["held"]
        assert held["operation"] == "CompleteMultipartUpload"
        async with http.post(proxy.endpoint_url + "/__faults/release", json={"forward": False}) as resp:
            assert await resp.json() == {"released": 1}
        await proxy.until(lambda p: len(p.held) == 1, "the second attempt held")
        assert proxy.requests["CompleteMultipartUpload"] == 2
        assert proxy.answered["CompleteMultipartUpload"] == 0
        proxy.set_plan(hold=False)
        proxy.release()
    assert proxy.answered["CompleteMultipartUpload"] == 1
    assert proxy.counters()["faults"] == {"hold": 2}


async def test_a_cut_rate_cuts_that_share_of_get_bodies_short(proxy: S3FaultProxy, s3_bucket: str) -> None:
    """`cut_rate` ends a seeded share of the chosen answers after `cut_after` bytes: the client gets the head
    and a short body."""
    data = os.urandom(200_000)
    await put_proven(proxy, s3_bucket, data)
    proxy.set_plan(cut_rate=0.5, cut_after=1000, operations=["GetObject"], seed=3)
    client = boto3.client(
        "s3", endpoint_url=proxy.endpoint_url, config=botocore.config.Config(retries={"max_attempts": 1})
    )

    def read() -> bool:
        """Whether the object came whole (a cut body raises on read)."""
        try:
            return bool(client.get_object(Bucket=s3_bucket, Key="0_f")["Body"].read() == data)
        except botocore.exceptions.ResponseStreamingError:
            return False

    got = [await anyio.to_thread.run_sync(read) for _ in range(40)]
    whole, cut = got.count(True), got.count(False)
    assert 10 <= cut <= 30
    assert proxy.counters()["faults"] == {"cut": cut}
    assert whole + cut == 40
    with pytest.raises(ValueError, match="exceed 1"):
        proxy.set_plan(slowdown_rate=0.6, cut_rate=0.6)


def test_command_line_prints_its_endpoint_and_forwards(s3_server: S3Server) -> None:
    argv = [sys.executable, "-m", "testbed.s3_faults", "--upstream", s3_server.endpoint_url, "--port", "0"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            endpoint = json.loads(process.stdout.readline())["endpoint_url"]
            assert endpoint.startswith("http://127.0.0.1:")
            direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy
            with direct.open(endpoint + "/__faults/counters", timeout=5) as resp:
                assert json.loads(resp.read()) == {"requests": {}, "faults": {}}
        finally:
            process.terminate()
            assert process.wait(timeout=10) == 0
