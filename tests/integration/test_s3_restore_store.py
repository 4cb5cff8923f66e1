"""The store's restore calls against the S3 testbed (its restore model moved on by the test, never by
waiting): restore state from HEAD and restore requests with their fallbacks over HTTP and HTTPS, and a
streaming read that resumes after a cut connection (the fault proxy cuts the body).

Reads run over HTTP only: moto's HTTPS server closes every connection after its answer, and aiohttp does
not wait for the TLS close of a streamed answer's connection when the store closes, so a test's event loop
may end before it, which pytest reports as an unclosed socket."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import boto3  # type: ignore[import-untyped]  # boto3 ships no type hints
import pytest

from adapters.s3 import RestoreAnswer, RestoreOutcome, S3ItemError, S3Store
from engine.errors import RetryableError
from testbed.s3 import S3Server
from testbed.s3_faults import FaultPlan, S3FaultProxy
from tests.integration.s3_store_inputs import config

DATA = os.urandom(300_000)
GET = frozenset({"GetObject"})


@pytest.fixture(params=["http", "https"])
def bed(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> tuple[S3Server, str]:
    """The S3 testbed over HTTP or HTTPS with a new bucket, and the AWS chain pointed at it."""
    server: S3Server = request.getfixturevalue("s3_server" if request.param == "http" else "s3_server_https")
    server.reset()
    bucket = f"store-restore-{request.param}"
    server.create_bucket(bucket)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in server.client_env().items():
        monkeypatch.setenv(name, value)
    return server, bucket


def put(server: S3Server, bucket: str, key: str, storage_class: str, data: bytes = DATA) -> None:
    client: Any = boto3.client("s3", **server.client_kwargs())
    try:
        client.put_object(Bucket=bucket, Key=key, Body=data, StorageClass=storage_class)
    finally:
        client.close()  # its connection, now rather than at some garbage collection in a later test


async def read_all(store: S3Store, key: str, chunk_size: int = 64 * 1024) -> bytes:
    chunks = [chunk async for chunk in store.read(key, chunk_size=chunk_size)]
    assert all(0 < len(chunk) <= chunk_size for chunk in chunks)
    return b"".join(chunks)


async def test_restore_state_follows_the_object_from_archived_to_restored_to_expired(
    bed: tuple[S3Server, str],
) -> None:
    server, bucket = bed
    put(server, bucket, "0_cold", "GLACIER")
    async with S3Store(config(bucket)) as store:
        assert await store.restore_state("0_missing") is None
        cold = await store.restore_state("0_cold")
        assert cold is not None
        assert (cold.archived, cold.readable, cold.ongoing, cold.expiry) == (True, False, False, None)
        assert cold.size == len(DATA)
        await store.request_restore("0_cold", storage_class="GLACIER", tier="Standard", days=3)
        ongoing = await store.restore_state("0_cold")
        assert ongoing is not None
        assert (ongoing.readable, ongoing.ongoing, ongoing.expiry) == (False, True, None)
        done = await server.acomplete_restore(bucket, "0_cold")
        restored = await store.restore_state("0_cold")
        assert restored is not None
        assert (restored.readable, restored.ongoing) == (True, False)
        assert restored.expiry is not None
        assert restored.expiry.isoformat() == done["restore"]["expiry"]
        await server.aexpire_restore(bucket, "0_cold")
        expired = await store.restore_state("0_cold")
        assert expired is not None
        assert (expired.readable, expired.ongoing, expired.expiry) == (False, False, None)


@pytest.mark.parametrize("storage_class", ["STANDARD", "GLACIER_IR"])
async def test_an_object_in_an_active_class_is_readable_and_needs_no_restore(
    bed: tuple[S3Server, str], storage_class: str
) -> None:
    server, bucket = bed
    put(server, bucket, "0_warm", storage_class)
    async with S3Store(config(bucket)) as store:
        state = await store.restore_state("0_warm")
        assert state is not None
        assert (state.archived, state.readable) == (False, True)
        answer = await store.request_restore("0_warm", storage_class=storage_class, tier="Standard", days=7)
        assert answer == RestoreAnswer(RestoreOutcome.NOT_NEEDED, "Standard")


async def test_restore_requests_answer_requested_then_in_progress_then_restored(
    bed: tuple[S3Server, str],
) -> None:
    server, bucket = bed
    put(server, bucket, "0_cold", "GLACIER")
    async with S3Store(config(bucket)) as store:
        ask = {"storage_class": "GLACIER", "tier": "Bulk", "days": 2}
        assert await store.request_restore("0_cold", **ask) == RestoreAnswer(RestoreOutcome.REQUESTED, "Bulk")
        assert await store.request_restore("0_cold", **ask) == RestoreAnswer(
            RestoreOutcome.IN_PROGRESS, "Bulk"
        )
        await server.acomplete_restore(bucket, "0_cold")
        assert await store.request_restore("0_cold", **ask) == RestoreAnswer(RestoreOutcome.RESTORED, "Bulk")
    answers = [(a["tier"], a["status"]) for a in await server.arestore_answers()]
    assert answers == [("Bulk", 202), ("Bulk", 409), ("Bulk", 200)]


async def test_expedited_falls_back_to_standard_when_s3_has_no_expedited_capacity(
    bed: tuple[S3Server, str],
) -> None:
    server, bucket = bed
    put(server, bucket, "0_cold", "GLACIER")
    await server.arefuse_expedited(1)
    async with S3Store(config(bucket)) as store:
        answer = await store.request_restore("0_cold", storage_class="GLACIER", tier="Expedited", days=1)
        assert answer == RestoreAnswer(RestoreOutcome.REQUESTED, "Standard")
    answers = [(a["tier"], a["status"]) for a in await server.arestore_answers()]
    assert answers == [("Expedited", 503), ("Standard", 202)]
    assert (await server.arestore_state(bucket, "0_cold"))["restore"]["tier"] == "Standard"


async def test_expedited_is_never_sent_for_deep_archive(bed: tuple[S3Server, str]) -> None:
    server, bucket = bed
    put(server, bucket, "0_deep", "DEEP_ARCHIVE")
    async with S3Store(config(bucket)) as store:
        answer = await store.request_restore("0_deep", storage_class="DEEP_ARCHIVE", tier="Expedited", days=1)
        assert answer == RestoreAnswer(RestoreOutcome.REQUESTED, "Standard")
    assert [(a["tier"], a["status"]) for a in await server.arestore_answers()] == [("Standard", 202)]


async def test_expedited_refused_for_a_class_changed_since_its_head_is_sent_again_as_standard(
    bed: tuple[S3Server, str],
) -> None:
    server, bucket = bed
    put(server, bucket, "0_aging", "GLACIER")
    async with S3Store(config(bucket)) as store:
        state = await store.restore_state("0_aging")
        assert state is not None
        await server.atransition(bucket, "0_aging", "DEEP_ARCHIVE")  # a lifecycle rule moved it meanwhile
        answer = await store.request_restore(
            "0_aging", storage_class=state.storage_class, tier="Expedited", days=1
        )
        assert answer == RestoreAnswer(RestoreOutcome.REQUESTED, "Standard")
    answers = [(a["tier"], a["status"]) for a in await server.arestore_answers()]
    assert answers == [("Expedited", 400), ("Standard", 202)]


@pytest.mark.usefixtures("aws_env")
async def test_a_read_of_an_archived_object_without_a_restored_copy_fails_the_entry_clearly(
    s3_server: S3Server, s3_bucket: str
) -> None:
    server, bucket = s3_server, s3_bucket
    put(server, bucket, "0_cold", "DEEP_ARCHIVE")
    async with S3Store(config(bucket)) as store:
        with pytest.raises(S3ItemError) as failed:
            await read_all(store, "0_cold")
        assert failed.value.code == "InvalidObjectState"
        assert "DEEP_ARCHIVE with no restored copy to read" in str(failed.value)
        assert "0_cold" in str(failed.value)
        await store.request_restore("0_cold", storage_class="DEEP_ARCHIVE", tier="Standard", days=1)
        await server.acomplete_restore(bucket, "0_cold")
        assert await read_all(store, "0_cold") == DATA


@pytest.mark.usefixtures("aws_env")
async def test_a_read_streams_a_restored_object_in_chunks(s3_server: S3Server, s3_bucket: str) -> None:
    server, bucket = s3_server, s3_bucket
    put(server, bucket, "0_cold", "GLACIER")
    async with S3Store(config(bucket)) as store:
        await store.put_bytes("0_empty", b"", {})  # (a boto3 PUT of no bytes hangs on the HTTP testbed)
        await store.request_restore("0_cold", storage_class="GLACIER", tier="Standard", days=1)
        await server.acomplete_restore(bucket, "0_cold")
        assert await read_all(store, "0_cold", chunk_size=10_000) == DATA
        assert await read_all(store, "0_empty") == b""


def proxied(server: S3Server, **plan: Any) -> S3FaultProxy:
    """The fault proxy in front of `server` (over HTTP: closing its TLS connections to an HTTPS upstream
    outlives a test's event loop), cutting GetObject answers as `plan` says."""
    return S3FaultProxy(server.endpoint_url, plan=FaultPlan(operations=GET, **plan))


@pytest.mark.usefixtures("aws_env")
async def test_a_read_cut_mid_body_resumes_from_the_next_byte(s3_server: S3Server, s3_bucket: str) -> None:
    server, bucket = s3_server, s3_bucket
    put(server, bucket, "0_cold", "GLACIER")
    async with (
        proxied(server, cut_next=3, cut_after=70_001) as proxy,
        S3Store(config(bucket, endpoint_url=proxy.endpoint_url)) as store,
    ):
        await store.request_restore("0_cold", storage_class="GLACIER", tier="Standard", days=1)
        await server.acomplete_restore(bucket, "0_cold")
        got = await read_all(store, "0_cold", chunk_size=16_384)
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(DATA).hexdigest()
    assert proxy.faults["cut"] == 3
    assert proxy.requests["GetObject"] == 4  # the first read and three resumes, each from where it stopped


@pytest.mark.usefixtures("aws_env")
async def test_a_read_cut_with_no_progress_more_times_than_the_policy_allows_fails_retryable(
    s3_server: S3Server, s3_bucket: str
) -> None:
    server, bucket = s3_server, s3_bucket
    put(server, bucket, "0_warm", "STANDARD")
    async with (
        proxied(server, cut_next=100, cut_after=0) as proxy,
        S3Store(config(bucket, endpoint_url=proxy.endpoint_url)) as store,
    ):
        with pytest.raises(RetryableError, match=r"s3\.get"):
            await read_all(store, "0_warm")
    assert proxy.requests["GetObject"] == store.config.policy.attempts


@pytest.mark.usefixtures("aws_env")
async def test_an_object_replaced_during_a_cut_read_fails_the_entry_rather_than_mix_two_objects(
    s3_server: S3Server, s3_bucket: str
) -> None:
    server, bucket = s3_server, s3_bucket
    put(server, bucket, "0_warm", "STANDARD")
    async with (
        proxied(server, cut_next=1, cut_after=100_000) as proxy,
        S3Store(config(bucket, endpoint_url=proxy.endpoint_url)) as store,
    ):
        reading = store.read("0_warm", chunk_size=4096)
        first = await anext(reading)
        put(server, bucket, "0_warm", "STANDARD", os.urandom(len(DATA)))  # replaced while being read
        with pytest.raises(S3ItemError) as failed:
            async for _chunk in reading:
                pass
    assert first == DATA[:4096]
    assert failed.value.code == "PreconditionFailed"
    assert "changed while it was read" in str(failed.value)
