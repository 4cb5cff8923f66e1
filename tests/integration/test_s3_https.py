"""The store over verified HTTPS (moto with a throw-away CA), and aws-chunked bodies with a checksum trailer
passing the fault proxy unchanged.

The store computes each body's checksum before sending it (a part is in memory for its retries anyway), so
on both of its paths the checksum goes in a header, never in an aws-chunked trailer; S3 verifies either.

What goes on the wire is observed, never changed: botocore's `before-send` event shows each request it is
about to send (an observer returning None lets botocore send it as it is), and an aiohttp trace on the direct
path's session shows the headers it sent."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, Final

import aioboto3
import aiohttp
import crc32c
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from adapters.s3 import ArchiveRecord, PutResult, S3FatalError, S3Store, StoreConfig, to_metadata, verify
from adapters.s3.multipart import MIN_PART, MiB
from adapters.s3.wire import parse_checksum
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


def signed(method: str, url: str, headers: dict[str, str], *, trailer: bool = False) -> dict[str, str]:
    """`headers` with SigV4's for the testbed's key; `trailer`: the body's checksum comes in its trailer."""
    request = AWSRequest(method=method, url=url, headers=headers)
    if trailer:
        algorithm = {"in": "trailer", "name": "x-amz-checksum-crc32c"}
        request.context["checksum"] = {"request_algorithm": algorithm}
    S3SigV4Auth(Credentials("testing", "testing"), "s3", "us-east-1").add_auth(request)
    return {name.lower(): value for name, value in request.headers.items()}


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
        "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": "x-amz-checksum-crc32c",
        "x-amz-sdk-checksum-algorithm": "CRC32C",
    }
    async with S3FaultProxy(s3_server.endpoint_url) as proxy, aiohttp.ClientSession() as http:
        url = f"{proxy.endpoint_url}/{s3_bucket}/0_chunked"
        # signed as botocore signs a body with its checksum in a trailer (the testbed checks signatures)
        put_headers = signed("PUT", url, headers, trailer=True)
        assert put_headers["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        async with http.put(url, data=aws_chunked(), headers=put_headers) as resp:
            assert resp.status == 200, await resp.text()
        read_headers = signed("GET", url, {"x-amz-checksum-mode": "ENABLED"})
        async with http.get(url, headers=read_headers) as resp:
            assert resp.status == 200
            assert await resp.read() == data
            assert resp.headers.get("x-amz-checksum-crc32c") == checksum
        assert proxy.requests == {"PutObject": 1, "GetObject": 1}


# -- which framing each path puts on the wire over HTTPS ---------------------------------------------------

# a little over two parts at S3's minimum part size: two full parts and a short last one
MULTIPART_SIZE: Final = 2 * MIN_PART + 123_457
SMALL_SIZE: Final = 3_000
UPLOADS: Final = ("PutObject", "UploadPart")  # the operations that carry an object's bytes
# the headers that say how a body is framed and where its checksum travels
FRAMING: Final = (
    "content-encoding",
    "transfer-encoding",
    "x-amz-content-sha256",
    "x-amz-trailer",
    "x-amz-checksum-crc32c",
)


class BotocoreRequests:
    """The requests a botocore client sends, with their headers, from its `before-send` event (an observer:
    it returns None, so botocore sends each request itself, unchanged)."""

    def __init__(self, client: Any) -> None:
        self.sent: list[tuple[str, dict[str, str]]] = []
        client.meta.events.register("before-send.s3", self._seen)

    def _seen(self, request: Any, event_name: str, **_: Any) -> None:
        items = request.headers.items()
        headers = {k.lower(): v.decode() if isinstance(v, bytes) else str(v) for k, v in items}
        self.sent.append((event_name.rsplit(".", 1)[-1], headers))

    def of(self, *operations: str) -> list[dict[str, str]]:
        return [headers for operation, headers in self.sent if operation in operations]

    def operations(self) -> set[str]:
        return {operation for operation, _ in self.sent}


def trace_puts(http: aiohttp.ClientSession) -> list[dict[str, str]]:
    """The headers of every PUT `http` sends from now on, as sent (an aiohttp trace: it only listens)."""
    sent: list[dict[str, str]] = []

    async def on_headers_sent(
        _session: aiohttp.ClientSession, _ctx: SimpleNamespace, params: aiohttp.TraceRequestHeadersSentParams
    ) -> None:
        if params.method == "PUT":
            sent.append({k.lower(): v for k, v in params.headers.items()})

    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(on_headers_sent)
    trace.freeze()
    http.trace_configs.append(trace)
    return sent


def framing(headers: dict[str, str]) -> dict[str, str | None]:
    return {name: headers.get(name) for name in FRAMING}


def crc32c_b64(data: bytes) -> str:
    return base64.b64encode(crc32c.crc32c(data).to_bytes(4, "big")).decode()


async def stored(server: S3Server, bucket: str, key: str) -> tuple[str, dict[str, Any]]:
    """The SHA-256 of the object's bytes as moto holds them, and its HEAD with ChecksumMode=ENABLED, through
    a client of its own (verifying the testbed's CA)."""
    async with aioboto3.Session().client("s3", **server.client_kwargs()) as s3:
        head: dict[str, Any] = await s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        got = await s3.get_object(Bucket=bucket, Key=key)
        async with got["Body"] as body:
            data = await body.read()
    return hashlib.sha256(data).hexdigest(), head


async def upload_and_prove(
    store: S3Store, server: S3Server, key: str, data: bytes, expected_parts: int
) -> PutResult:
    """Stream `data` through the store's public API; check that moto holds exactly those bytes and that S3's
    stored checksum (HEAD with ChecksumMode=ENABLED) and the store's proof agree with ours."""
    wanted = ArchiveRecord(1, key, "0_src", "1", len(data), "2026-01-01T00:00:00Z", "test")
    result = await store.put_stream(key, chunks_of(data), len(data), to_metadata(wanted), overwrite=True)
    assert result.parts == expected_parts
    sha256, head = await stored(server, store.bucket, key)
    assert sha256 == hashlib.sha256(data).hexdigest() == result.sha256
    assert head["ContentLength"] == len(data)
    theirs = parse_checksum(head)
    assert theirs is not None, head
    assert theirs.matches(result.checksum), (theirs, result.checksum)
    proof = await store.head(key)
    assert proof is not None
    assert verify(proof, wanted.with_result(result.sha256, result.checksum)) == []
    return result


def header_checksums(bodies: list[bytes]) -> list[dict[str, str | None]]:
    """The framing of plain bodies sent with their CRC32C in a header: no aws-chunked, no trailer."""
    return [
        {
            "content-encoding": None,
            "transfer-encoding": None,
            "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
            "x-amz-trailer": None,
            "x-amz-checksum-crc32c": crc32c_b64(body),
        }
        for body in bodies
    ]


@pytest.mark.parametrize(
    ("size", "parts"), [(MULTIPART_SIZE, 3), (SMALL_SIZE, 0)], ids=["multipart", "single-put"]
)
@pytest.mark.usefixtures("https_env")
async def test_botocore_path_over_https_sends_each_body_with_the_checksum_we_computed_in_a_header(
    s3_server_https: S3Server, size: int, parts: int
) -> None:
    """`direct=False` (the path after a redirect): every body goes through botocore. Left to compute a
    checksum itself, botocore would frame the body as aws-chunked with the checksum in a trailer; the store
    hands it the checksum of each part, computed before sending (the part is in memory for its retries
    anyway), so botocore sends it in a header, which S3 verifies the same way."""
    bucket = f"https-{uuid.uuid4().hex[:12]}"
    await s3_server_https.acreate_bucket(bucket)
    data = os.urandom(size)
    config = StoreConfig(
        bucket=bucket,
        part_size=MIN_PART,
        endpoint_url=s3_server_https.endpoint_url,
        verify=s3_server_https.verify,  # certificates checked against the testbed's CA
        direct=False,
        policy=FAST,
        part_policy=FAST,
    )
    async with S3Store(config) as store:
        requests = BotocoreRequests(store._client)
        await upload_and_prove(store, s3_server_https, f"0_{size}", data, parts)

    sent = requests.of(*UPLOADS)
    bodies = [data[i : i + MIN_PART] for i in range(0, len(data), MIN_PART)]
    got = [framing(headers) for headers in sent]
    assert sorted(got, key=repr) == sorted(header_checksums(bodies), key=repr), requests.sent


@pytest.mark.usefixtures("https_env")
async def test_direct_path_over_https_sends_plain_bodies_with_the_checksum_in_a_header(
    s3_server_https: S3Server,
) -> None:
    """The default store sends parts and single PUTs over its direct path: plain bodies of a known length,
    `UNSIGNED-PAYLOAD`, the checksum in a header; no aws-chunked framing, no trailer, none via botocore."""
    bucket = f"https-{uuid.uuid4().hex[:12]}"
    await s3_server_https.acreate_bucket(bucket)
    big, small = os.urandom(MULTIPART_SIZE), os.urandom(SMALL_SIZE)
    config = StoreConfig(
        bucket=bucket,
        part_size=MIN_PART,
        endpoint_url=s3_server_https.endpoint_url,
        verify=s3_server_https.verify,
        policy=FAST,
        part_policy=FAST,
    )
    async with S3Store(config) as store:
        assert store._direct is not None
        puts = trace_puts(store._direct._http)
        requests = BotocoreRequests(store._client)
        await upload_and_prove(store, s3_server_https, "0_big", big, 3)
        await upload_and_prove(store, s3_server_https, "0_small", small, 0)
        assert store._direct is not None  # still on the direct path: no fallback to botocore

    assert requests.of(*UPLOADS) == [], requests.operations()
    bodies = [big[i : i + MIN_PART] for i in range(0, len(big), MIN_PART)] + [small]
    expected = [
        {**sent, "content-length": str(len(body))}
        for sent, body in zip(header_checksums(bodies), bodies, strict=True)
    ]
    got = [{**framing(headers), "content-length": headers.get("content-length")} for headers in puts]
    assert sorted(got, key=repr) == sorted(expected, key=repr)
