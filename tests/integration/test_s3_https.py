"""The store over verified HTTPS (moto with a throw-away CA), and aws-chunked bodies with a checksum trailer
passing the fault proxy unchanged."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import AsyncIterator

import aiohttp
import crc32c
import pytest

from adapters.s3 import ArchiveRecord, S3FatalError, S3Store, StoreConfig, to_metadata, verify
from adapters.s3.multipart import MiB
from engine.retry import RetryPolicy
from testbed.s3 import S3Server
from testbed.s3_faults import S3FaultProxy

FAST = RetryPolicy(attempts=3, base_s=0.01, max_s=0.05, budget_s=10.0)


@pytest.fixture
def https_env(s3_server_https: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The AWS chain pointed at HTTPS moto, trusting its CA through AWS_CA_BUNDLE as a container would."""
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_server_https.client_env().items():
        monkeypatch.setenv(name, value)


async def chunks_of(data: bytes, size: int = 65_537) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.mark.usefixtures("https_env")
async def test_multipart_and_single_uploads_verify_over_https(s3_server_https: S3Server) -> None:
    bucket = f"https-{uuid.uuid4().hex[:12]}"  # the HTTPS server is shared by the whole session
    await s3_server_https.acreate_bucket(bucket)
    big, small = os.urandom(11 * MiB), os.urandom(3000)
    config = StoreConfig(bucket=bucket, part_size=5 * MiB, policy=FAST, part_policy=FAST)
    async with S3Store(config) as store:
        for key, data in (("0_big", big), ("0_small", small)):
            wanted = ArchiveRecord(1, key, "0_src", "1", len(data), "2026-01-01T00:00:00Z", "test")
            result = await store.put_stream(
                key, chunks_of(data), len(data), to_metadata(wanted), overwrite=True
            )
            head = await store.head(key)
            assert head is not None
            assert verify(head, wanted.with_result(hashlib.sha256(data).hexdigest(), result.checksum)) == []
            assert result.parts == (3 if data is big else 0)


async def test_an_untrusted_certificate_stops_the_run_without_retrying(
    s3_server_https: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in s3_server_https.client_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_CA_BUNDLE")
    async with S3Store(StoreConfig(bucket="any-bucket", policy=FAST)) as store:
        with pytest.raises(S3FatalError, match="TLS failed"):
            await store.check_access()
        assert store.calls == 1


async def test_aws_chunked_body_with_checksum_trailer_passes_the_proxy(
    s3_server: S3Server, s3_bucket: str
) -> None:
    """What botocore sends over HTTPS (aws-chunked framing, checksum in a trailer) reaches S3 intact."""
    data = os.urandom(200_000)
    checksum = base64.b64encode(crc32c.crc32c(data).to_bytes(4, "big")).decode()

    async def aws_chunked() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 65_536):
            piece = data[i : i + 65_536]
            yield b"%x\r\n%s\r\n" % (len(piece), piece)
        yield b"0\r\nx-amz-checksum-crc32c:%s\r\n\r\n" % checksum.encode()

    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": "x-amz-checksum-crc32c",
        "x-amz-sdk-checksum-algorithm": "CRC32C",
        # moto wants a signed request but checks no signature
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=00",
    }
    read_headers = {"x-amz-checksum-mode": "ENABLED", "Authorization": headers["Authorization"]}
    async with S3FaultProxy(s3_server.endpoint_url) as proxy, aiohttp.ClientSession() as http:
        url = f"{proxy.endpoint_url}/{s3_bucket}/0_chunked"
        async with http.put(url, data=aws_chunked(), headers=headers) as resp:
            assert resp.status == 200, await resp.text()
        async with http.get(url, headers=read_headers) as resp:
            assert resp.status == 200
            assert await resp.read() == data
            assert resp.headers.get("x-amz-checksum-crc32c") == checksum
        assert proxy.requests == {"PutObject": 1, "GetObject": 1}
