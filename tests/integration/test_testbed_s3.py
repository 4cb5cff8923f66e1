"""The S3 testbed (moto in a subprocess): life cycle, reset, verified HTTPS, CRC32C checksums S3 reports.

Checksums are computed here with the `crc32c` package. botocore itself can only compute CRC32C with awscrt
installed (not a dependency), so uploads pass the value they computed (`ChecksumCRC32C`) together with
`ChecksumAlgorithm="CRC32C"`, the header moto needs before it records a checksum. The aws-chunked trailer path
(HTTPS, SDK-computed checksum) is shown with CRC32, which botocore computes without awscrt.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aioboto3
import boto3  # type: ignore[import-untyped]  # boto3 ships no type hints
import crc32c
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, SSLError

from testbed.s3 import S3Server
from tests.fixtures.servers import children_of, running_cli, wait_gone

MIB = 1024 * 1024
PART_1 = os.urandom(5 * MIB)  # S3's smallest part but the last
PART_2 = os.urandom(1000)


def b64_crc32c(data: bytes) -> str:
    return base64.b64encode(crc32c.crc32c(data).to_bytes(4, "big")).decode()


def composite(*part_checksums: str) -> str:
    """S3's COMPOSITE checksum: the CRC32C of the concatenated raw part checksums (without the -N suffix)."""
    raw = b"".join(base64.b64decode(value) for value in part_checksums)
    return b64_crc32c(raw)


def as_text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def crc32c_args(data: bytes) -> dict[str, str]:
    return {"ChecksumAlgorithm": "CRC32C", "ChecksumCRC32C": b64_crc32c(data)}


def upload_two_parts(
    client: Any, bucket: str, key: str, **create: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Upload PART_1 + PART_2 as a CRC32C multipart upload with boto3; the parts as completed, and S3's answer
    to the completion."""
    upload = client.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="CRC32C", **create)
    parts = []
    for number, data in enumerate((PART_1, PART_2), start=1):
        response = client.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=data,
            **crc32c_args(data),
        )
        assert response["ChecksumCRC32C"] == b64_crc32c(data)
        parts.append(
            {"PartNumber": number, "ETag": response["ETag"], "ChecksumCRC32C": response["ChecksumCRC32C"]}
        )
    extra = (
        {"ChecksumCRC32C": b64_crc32c(PART_1 + PART_2)} if create.get("ChecksumType") == "FULL_OBJECT" else {}
    )
    completed = client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}, **extra
    )
    return parts, completed


@pytest.fixture
def s3(s3_server: S3Server) -> Any:
    return boto3.client("s3", **s3_server.client_kwargs())


def test_stop_ends_moto_and_removes_its_directory() -> None:
    with S3Server(https=True) as server:
        pid, workdir, port = server.pid, server.workdir, server.port
        assert pid is not None
        assert server.running
        assert (workdir / "ca.pem").is_file()
    assert wait_gone(pid)
    assert not workdir.exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


async def test_async_context_manager_serves_and_stops() -> None:
    async with S3Server() as server:
        pid = server.pid
        await server.acreate_bucket("async-bucket")
        async with aioboto3.Session().client("s3", **server.client_kwargs()) as client:
            assert [b["Name"] for b in (await client.list_buckets())["Buckets"]] == ["async-bucket"]
            await server.areset()
            assert (await client.list_buckets())["Buckets"] == []
    assert pid is not None
    assert wait_gone(pid)


def test_reset_forgets_every_bucket(s3_server: S3Server, s3: Any) -> None:
    s3_server.create_bucket("doomed-bucket")
    assert "doomed-bucket" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3_server.reset()
    assert s3.list_buckets()["Buckets"] == []


def test_s3_bucket_is_new_and_empty(s3: Any, s3_bucket: str) -> None:
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [s3_bucket]
    assert s3.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0


def test_put_object_crc32c_reported_by_head_and_attributes(s3: Any, s3_bucket: str) -> None:
    data = os.urandom(70_000)
    put = s3.put_object(Bucket=s3_bucket, Key="single", Body=data, **crc32c_args(data))
    head = s3.head_object(Bucket=s3_bucket, Key="single", ChecksumMode="ENABLED")
    attributes = s3.get_object_attributes(Bucket=s3_bucket, Key="single", ObjectAttributes=["Checksum"])
    assert put["ChecksumCRC32C"] == head["ChecksumCRC32C"] == b64_crc32c(data)
    assert attributes["Checksum"]["ChecksumCRC32C"] == b64_crc32c(data)


def test_multipart_crc32c_is_composite_by_default(s3: Any, s3_bucket: str) -> None:
    parts, completed = upload_two_parts(s3, s3_bucket, "multi")
    expected = composite(*(part["ChecksumCRC32C"] for part in parts))
    assert expected != b64_crc32c(PART_1 + PART_2)
    head = s3.head_object(Bucket=s3_bucket, Key="multi", ChecksumMode="ENABLED")
    get = s3.get_object(Bucket=s3_bucket, Key="multi", ChecksumMode="ENABLED")
    assert get["Body"].read() == PART_1 + PART_2
    attributes = s3.get_object_attributes(Bucket=s3_bucket, Key="multi", ObjectAttributes=["Checksum"])
    # S3 reports "<value>-<parts>" on HEAD and GET (moto 5 alone leaves it out on HEAD: testbed.moto_faithful)
    assert head["ChecksumCRC32C"] == f"{expected}-2"
    assert get["ChecksumCRC32C"] == f"{expected}-2"
    assert get["ChecksumType"] == "COMPOSITE"
    # and so does the answer to the completion (moto 5 alone gives none: testbed.moto_faithful)
    assert (completed["ChecksumCRC32C"], completed["ChecksumType"]) == (f"{expected}-2", "COMPOSITE")
    assert attributes["Checksum"] == {"ChecksumCRC32C": expected, "ChecksumType": "COMPOSITE"}


def test_multipart_crc32c_full_object_checksum_covers_the_whole_object(s3: Any, s3_bucket: str) -> None:
    _, completed = upload_two_parts(s3, s3_bucket, "full", ChecksumType="FULL_OBJECT")
    head = s3.head_object(Bucket=s3_bucket, Key="full", ChecksumMode="ENABLED")
    attributes = s3.get_object_attributes(Bucket=s3_bucket, Key="full", ObjectAttributes=["Checksum"])
    assert head["ChecksumCRC32C"] == b64_crc32c(PART_1 + PART_2)
    assert head["ChecksumType"] == "FULL_OBJECT"
    whole = b64_crc32c(PART_1 + PART_2)
    assert (completed["ChecksumCRC32C"], completed["ChecksumType"]) == (whole, "FULL_OBJECT")
    assert attributes["Checksum"] == {
        "ChecksumCRC32C": b64_crc32c(PART_1 + PART_2),
        "ChecksumType": "FULL_OBJECT",
    }


def raw_put(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """PUT `body` with exactly `headers` (no SDK in between); the status and the answer's body."""
    sent = {**headers, "Content-Type": "binary/octet-stream"}  # urllib's default would make it a form
    request = urllib.request.Request(url, data=body, method="PUT", headers=sent)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.parametrize(
    ("claimed", "status"),
    [
        (hashlib.sha256(b"archive bytes").hexdigest(), 200),
        ("UNSIGNED-PAYLOAD", 200),
        (hashlib.sha256(b"").hexdigest(), 400),  # the hash of no body, claimed for a body: S3 refuses it
    ],
    ids=["true-hash", "unsigned", "hash-of-nothing"],
)
def test_a_body_must_hash_to_the_sha256_its_request_claims(
    s3_server: S3Server, s3: Any, s3_bucket: str, claimed: str, status: int
) -> None:
    url = f"{s3_server.endpoint_url}/{s3_bucket}/k"
    got, body = raw_put(url, b"archive bytes", {"x-amz-content-sha256": claimed})
    assert got == status
    stored = s3.list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0)
    if status == 400:
        assert b"<Code>XAmzContentSHA256Mismatch</Code>" in body
        assert stored == 0
    else:
        assert s3.get_object(Bucket=s3_bucket, Key="k")["Body"].read() == b"archive bytes"


@pytest.mark.parametrize(
    ("secret", "signed_path", "status"),
    [
        ("testing", "/k", 200),
        ("not-the-key", "/k", 403),  # another secret key
        ("testing", "/other", 403),  # the signature of another request
    ],
    ids=["right", "wrong-key", "other-path"],
)
def test_a_sigv4_signature_must_be_the_requests_own(
    s3_server: S3Server, s3_bucket: str, secret: str, signed_path: str, status: int
) -> None:
    body = b"archive bytes"
    url = f"{s3_server.endpoint_url}/{s3_bucket}"
    signing = AWSRequest(method="PUT", url=url + signed_path, data=body)
    signing.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    S3SigV4Auth(Credentials("testing", secret), "s3", "us-east-1").add_auth(signing)
    got, answer = raw_put(url + "/k", body, dict(signing.headers.items()))
    assert got == status
    if status == 403:
        assert b"<Code>SignatureDoesNotMatch</Code>" in answer


def test_https_needs_the_testbed_ca(s3_server_https: S3Server) -> None:
    assert s3_server_https.endpoint_url.startswith("https://127.0.0.1:")
    # the default trust store only, and no retries of the failed handshake
    kwargs = s3_server_https.client_kwargs() | {
        "verify": True,
        "config": Config(retries={"total_max_attempts": 1}),
    }
    with pytest.raises(SSLError):
        boto3.client("s3", **kwargs).list_buckets()


def test_child_process_reaches_https_server_through_client_env(s3_server_https: S3Server) -> None:
    s3_server_https.create_bucket("env-bucket")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/"),
    } | s3_server_https.client_env()
    script = "import boto3; print(*[b['Name'] for b in boto3.client('s3').list_buckets()['Buckets']])"
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "env-bucket" in result.stdout.split()


async def aupload_two_parts(client: Any, bucket: str, key: str, args: Any) -> list[dict[str, Any]]:
    upload = await client.create_multipart_upload(Bucket=bucket, Key=key, **args(b""))
    parts = []
    for number, data in enumerate((PART_1, PART_2), start=1):
        response = await client.upload_part(
            Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=number, Body=data, **args(data)
        )
        parts.append(response | {"PartNumber": number})
    keep = ("PartNumber", "ETag", "ChecksumCRC32", "ChecksumCRC32C")
    complete = [{k: v for k, v in part.items() if k in keep} for part in parts]
    await client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": complete}
    )
    return parts


async def test_aioboto3_https_multipart_with_precomputed_crc32c(s3_server_https: S3Server) -> None:
    await s3_server_https.acreate_bucket("aio-crc32c")
    async with aioboto3.Session().client("s3", **s3_server_https.client_kwargs()) as client:
        parts = await aupload_two_parts(
            client,
            "aio-crc32c",
            "multi",
            lambda data: crc32c_args(data) if data else {"ChecksumAlgorithm": "CRC32C"},
        )
        head = await client.head_object(Bucket="aio-crc32c", Key="multi", ChecksumMode="ENABLED")
    assert [part["ChecksumCRC32C"] for part in parts] == [b64_crc32c(PART_1), b64_crc32c(PART_2)]
    expected = composite(b64_crc32c(PART_1), b64_crc32c(PART_2))
    assert head["ChecksumCRC32C"] in (expected, f"{expected}-2")


async def test_aioboto3_https_streams_parts_as_aws_chunked_with_trailer_checksum(
    s3_server_https: S3Server,
) -> None:
    sent: list[dict[str, str]] = []

    def record_headers(request: Any, **_: Any) -> None:
        sent.append({name.lower(): as_text(value) for name, value in request.headers.items()})

    def b64_crc32(data: bytes) -> str:
        return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()

    await s3_server_https.acreate_bucket("aio-trailer")
    async with aioboto3.Session().client("s3", **s3_server_https.client_kwargs()) as client:
        client.meta.events.register("before-send.s3.UploadPart", record_headers)
        parts = await aupload_two_parts(
            client, "aio-trailer", "multi", lambda data: {"ChecksumAlgorithm": "CRC32"}
        )
        get = await client.get_object(Bucket="aio-trailer", Key="multi")
        body = await get["Body"].read()
    assert len(sent) == 2
    for headers in sent:
        assert "aws-chunked" in headers["content-encoding"]
        assert headers["x-amz-trailer"] == "x-amz-checksum-crc32"
        assert "x-amz-checksum-crc32" not in headers
    assert [part["ChecksumCRC32"] for part in parts] == [b64_crc32(PART_1), b64_crc32(PART_2)]
    assert body == PART_1 + PART_2  # the chunk framing and the trailer were taken off


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
def test_cli_prints_endpoint_and_stops_on_sigterm(https: bool) -> None:
    with running_cli("testbed.s3", "--port", "0", *(["--https"] if https else [])) as (cli, line):
        assert line["endpoint_url"].startswith("https://" if https else "http://")
        assert line["region"] == "us-east-1"
        verify = line.get("ca_bundle") if https else None
        assert (verify is not None) == https
        client = boto3.client(
            "s3",
            endpoint_url=line["endpoint_url"],
            region_name=line["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            verify=verify,
        )
        assert client.list_buckets()["Buckets"] == []
        [moto] = children_of(cli.pid)
        cli.send_signal(signal.SIGTERM)
        assert cli.wait(15) == 0
    assert wait_gone(moto)


def test_moto_dies_with_a_killed_parent() -> None:
    with running_cli("testbed.s3", "--port", "0") as (cli, _line):
        [moto] = children_of(cli.pid)
        workdir = Path(os.readlink(f"/proc/{moto}/fd/1")).parent  # moto's stdout is its log, in the workdir
        cli.kill()
        cli.wait(10)
    assert wait_gone(moto)
    shutil.rmtree(workdir)  # nobody was left to remove it


NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})  # an S3 refusal is the answer


def emptied(request: pytest.FixtureRequest, scheme: str, bucket: str) -> S3Server:
    """The S3 server over `scheme` (HTTP: waitress; HTTPS: moto's werkzeug server), holding only `bucket`."""
    server: S3Server = request.getfixturevalue("s3_server" if scheme == "http" else "s3_server_https")
    server.reset()
    server.create_bucket(bucket)
    return server


@pytest.fixture(params=["http", "https"])
def either_s3(request: pytest.FixtureRequest) -> tuple[Any, str]:
    """A boto3 client and a new bucket on moto over HTTP (waitress) or HTTPS (moto's werkzeug server)."""
    bucket = f"faithful-{request.param}"
    server = emptied(request, request.param, bucket)
    return boto3.client("s3", config=NO_RETRIES, **server.client_kwargs()), bucket


def test_a_part_or_completion_for_an_aborted_upload_is_no_such_upload(either_s3: tuple[Any, str]) -> None:
    # S3 answers 404 NoSuchUpload (a client gives up on that upload); moto 5 alone answers 500 (retried)
    client, bucket = either_s3
    upload_id = client.create_multipart_upload(Bucket=bucket, Key="gone")["UploadId"]
    part = client.upload_part(Bucket=bucket, Key="gone", UploadId=upload_id, PartNumber=1, Body=b"p" * 1024)
    client.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=upload_id)
    for call in (
        lambda: client.upload_part(Bucket=bucket, Key="gone", UploadId=upload_id, PartNumber=2, Body=b"q"),
        lambda: client.complete_multipart_upload(
            Bucket=bucket,
            Key="gone",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        ),
    ):
        with pytest.raises(client.exceptions.ClientError) as failed:
            call()
        assert failed.value.response["Error"]["Code"] == "NoSuchUpload"
        assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


WRITERS = 10  # concurrent conditional writes of one key


def all_at_once(calls: list[Any]) -> list[int]:
    """Run `calls` in threads released together; the HTTP status each got."""
    start = threading.Barrier(len(calls))
    statuses: list[int] = [0] * len(calls)

    def run(i: int) -> None:
        start.wait()
        try:
            statuses[i] = calls[i]()["ResponseMetadata"]["HTTPStatusCode"]
        except ClientError as exc:
            statuses[i] = exc.response["ResponseMetadata"]["HTTPStatusCode"]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_of_concurrent_conditional_completions_of_one_key_one_wins_the_others_get_412(
    either_s3: tuple[Any, str],
) -> None:
    # S3 decides "no object yet" and stores as one step; moto alone checks, assembles, then stores, so two
    # writers could both pass and the second replace the first (its tags lost with it)
    client, bucket = either_s3
    uploads = []
    for writer in range(WRITERS):
        upload_id = client.create_multipart_upload(Bucket=bucket, Key="contended")["UploadId"]
        body = bytes([writer]) * (8 * 1024 * 1024)
        part = client.upload_part(Bucket=bucket, Key="contended", UploadId=upload_id, PartNumber=1, Body=body)
        uploads.append((upload_id, part["ETag"]))
    calls = [
        lambda u=upload_id, e=etag: client.complete_multipart_upload(
            Bucket=bucket,
            Key="contended",
            UploadId=u,
            IfNoneMatch="*",
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]},
        )
        for upload_id, etag in uploads
    ]
    statuses = all_at_once(calls)
    assert sorted(statuses) == [200] + [412] * (WRITERS - 1)
    winner = statuses.index(200)
    stored = client.get_object(Bucket=bucket, Key="contended")["Body"].read(1)
    assert stored == bytes([winner])  # the object is the winner's, not replaced after its answer


def test_of_concurrent_conditional_puts_of_one_key_one_wins_the_others_get_412(
    either_s3: tuple[Any, str],
) -> None:
    client, bucket = either_s3
    calls = [
        lambda w=writer: client.put_object(
            Bucket=bucket, Key="contended", Body=bytes([w]) * (4 * 1024 * 1024), IfNoneMatch="*"
        )
        for writer in range(WRITERS)
    ]
    statuses = all_at_once(calls)
    assert sorted(statuses) == [200] + [412] * (WRITERS - 1)
    stored = client.get_object(Bucket=bucket, Key="contended")["Body"].read(1)
    assert stored == bytes([statuses.index(200)])


def test_open_uploads_are_listed_with_their_own_initiation_times(either_s3: tuple[Any, str]) -> None:
    client, bucket = either_s3
    start = datetime.now(UTC).replace(microsecond=0)
    first = client.create_multipart_upload(Bucket=bucket, Key="a")["UploadId"]
    time.sleep(1.1)  # S3 lists times to the millisecond: a second apart tells the two uploads' times apart
    second = client.create_multipart_upload(Bucket=bucket, Key="b")["UploadId"]
    end = datetime.now(UTC)
    listed = {u["UploadId"]: u["Initiated"] for u in client.list_multipart_uploads(Bucket=bucket)["Uploads"]}
    assert set(listed) == {first, second}
    assert start <= listed[first] < listed[second] <= end
    assert listed[second] - listed[first] >= timedelta(seconds=1)


def test_open_uploads_come_in_pages_in_key_then_initiation_order(either_s3: tuple[Any, str]) -> None:
    client, bucket = either_s3
    made = [(key, client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]) for key in "cabba"]
    order = sorted(made, key=lambda upload: (upload[0], made.index(upload)))  # by key, then as created
    pages = list(client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, MaxUploads=2))
    assert [len(p.get("Uploads", [])) for p in pages] == [2, 2, 1]
    assert [p["IsTruncated"] for p in pages] == [True, True, False]
    assert [(u["Key"], u["UploadId"]) for p in pages for u in p["Uploads"]] == order
    assert (pages[0]["NextKeyMarker"], pages[0]["NextUploadIdMarker"]) == order[1]
    under_b = client.list_multipart_uploads(Bucket=bucket, Prefix="b")["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in under_b] == [u for u in order if u[0] == "b"]


def test_a_body_that_does_not_match_its_checksum_header_is_refused_as_bad_digest(
    either_s3: tuple[Any, str],
) -> None:
    # S3 checks the checksum a client claims; moto 5 alone stores the body and reports the claim as its own
    client, bucket = either_s3
    body, wrong = b"the bytes sent", b64_crc32c(b"other bytes")
    with pytest.raises(client.exceptions.ClientError) as refused:
        client.put_object(Bucket=bucket, Key="k", Body=body, ChecksumCRC32C=wrong)
    assert refused.value.response["Error"]["Code"] == "BadDigest"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    upload_id = client.create_multipart_upload(Bucket=bucket, Key="p", ChecksumAlgorithm="CRC32C")["UploadId"]
    with pytest.raises(client.exceptions.ClientError) as refused:
        client.upload_part(
            Bucket=bucket, Key="p", UploadId=upload_id, PartNumber=1, Body=body, ChecksumCRC32C=wrong
        )
    assert refused.value.response["Error"]["Code"] == "BadDigest"
    assert client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    assert client.list_parts(Bucket=bucket, Key="p", UploadId=upload_id).get("Parts", []) == []
    # the right checksum passes, and S3 reports the body's own
    client.put_object(Bucket=bucket, Key="k", Body=body, **crc32c_args(body))
    head = client.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32C"] == b64_crc32c(body)


@pytest.mark.parametrize("storage_class", ["GLACIER", "DEEP_ARCHIVE"])
def test_tags_of_an_archived_object_are_read_but_not_its_data(
    either_s3: tuple[Any, str], storage_class: str
) -> None:
    client, bucket = either_s3
    client.put_object(Bucket=bucket, Key="cold", Body=b"archived", StorageClass=storage_class, Tagging="a=1")
    assert client.get_object_tagging(Bucket=bucket, Key="cold")["TagSet"] == [{"Key": "a", "Value": "1"}]
    assert client.head_object(Bucket=bucket, Key="cold")["StorageClass"] == storage_class
    with pytest.raises(client.exceptions.ClientError) as refused:
        client.get_object(Bucket=bucket, Key="cold")
    assert refused.value.response["Error"]["Code"] == "InvalidObjectState"


def signed_headers(method: str, url: str, key_id: str = "testing", secret: str = "testing") -> dict[str, str]:
    """The headers of a bodiless request to `url` signed with SigV4 by `key_id` and `secret`."""
    request = AWSRequest(method=method, url=url)
    request.headers["x-amz-content-sha256"] = hashlib.sha256(b"").hexdigest()
    S3SigV4Auth(Credentials(key_id, secret), "s3", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def send(stream: Any, server: S3Server, method: str, path: str, key_id: str, secret: str) -> None:
    """Write a signed, bodiless request to `stream` (a socket's file) as raw HTTP/1.1."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}"]
    signed = signed_headers(method, server.endpoint_url + path, key_id, secret)
    lines += [f"{name}: {value}" for name, value in signed.items()]
    stream.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    stream.flush()


def read_head(stream: Any) -> tuple[bytes, dict[str, str]]:
    """The status line and headers (names in lower case) of the next answer on `stream`."""
    status = stream.readline().rstrip(b"\r\n")
    headers = {}
    while line := stream.readline().rstrip(b"\r\n"):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


def raw_stream(server: S3Server) -> Any:
    """A read-write file on a new connection to `server` (TLS for HTTPS), read through one buffer."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    if server.https:
        context = ssl.create_default_context(cafile=server.verify)
        sock = context.wrap_socket(sock, server_hostname="127.0.0.1")
    stream = sock.makefile("rwb")
    sock.close()  # the connection closes with the file
    return stream


@pytest.mark.parametrize(
    ("scheme", "key_id", "secret"),
    [
        ("http", "testing", "not-the-key"),  # refused by the signature check
        ("http", "AKIAUNKNOWN", "testing"),  # refused by the access key check
        ("https", "AKIAUNKNOWN", "testing"),  # moto's werkzeug server: no signature check
    ],
    ids=["http-wrong-secret", "http-unknown-key", "https-unknown-key"],
)
def test_a_refused_head_is_answered_without_a_body(
    request: pytest.FixtureRequest, scheme: str, key_id: str, secret: str
) -> None:
    # HTTP forbids a body after a HEAD answer: sent anyway, it is read as the start of the next answer on a
    # kept-alive connection (HTTP), and is left unread before the server closes (HTTPS, one answer each)
    server = emptied(request, scheme, "heads")
    stream = raw_stream(server)
    for path in ["/heads", "/heads/some-key"] * 3:
        send(stream, server, "HEAD", path, key_id, secret)
        status, headers = read_head(stream)
        assert status.startswith(b"HTTP/1.1 403 ")
        assert "transfer-encoding" not in headers  # a chunked answer would end in a body of its own
        if server.https:  # werkzeug closes after each answer: nothing may follow the head
            assert stream.read() == b""
            stream.close()
            stream = raw_stream(server)
    # the next answer on the connection is the next request's own
    send(stream, server, "GET", "/heads", "testing", "testing")
    status, headers = read_head(stream)
    assert status == b"HTTP/1.1 200 OK"
    assert b"<ListBucketResult" in stream.read(int(headers["content-length"]))
    stream.close()


@pytest.mark.parametrize("key", ["a?b", "clip?v=2&x=y", "dir/%3F?/end", "é?ü"])
def test_a_key_with_a_question_mark_is_stored_and_read_whole(either_s3: tuple[Any, str], key: str) -> None:
    # sent as %3F: moto on waitress took the decoded path and cut the key at the `?`
    client, bucket = either_s3
    client.put_object(Bucket=bucket, Key=key, Body=b"whole key")
    assert [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
    assert client.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(b"whole key")
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == b"whole key"
    with pytest.raises(client.exceptions.ClientError) as missing:
        client.head_object(Bucket=bucket, Key=key.split("?")[0])
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_a_key_over_1024_utf8_bytes_is_refused_as_key_too_long(either_s3: tuple[Any, str]) -> None:
    client, bucket = either_s3
    longest, too_long = "é" * 512, "é" * 512 + "a"  # 1,024 and 1,025 bytes in UTF-8 (513 characters)
    client.put_object(Bucket=bucket, Key=longest, Body=b"fits")
    for call in (
        lambda: client.put_object(Bucket=bucket, Key=too_long, Body=b"too long"),
        lambda: client.create_multipart_upload(Bucket=bucket, Key=too_long),
        lambda: client.get_object(Bucket=bucket, Key=too_long),
    ):
        with pytest.raises(client.exceptions.ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == "KeyTooLongError"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]] == [longest]
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_an_unknown_access_key_id_is_refused_as_invalid_access_key_id(
    request: pytest.FixtureRequest, scheme: str
) -> None:
    server = emptied(request, scheme, "strangers")
    known = boto3.client("s3", config=NO_RETRIES, **server.client_kwargs())
    kwargs = server.client_kwargs() | {"aws_access_key_id": "AKIAUNKNOWN"}
    stranger = boto3.client("s3", config=NO_RETRIES, **kwargs)
    for call in (
        lambda: stranger.put_object(Bucket="strangers", Key="k", Body=b"not stored"),
        lambda: stranger.list_objects_v2(Bucket="strangers"),
    ):
        with pytest.raises(stranger.exceptions.ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"
        assert refused.value.response["Error"]["Message"] == (
            "The AWS Access Key Id you provided does not exist in our records."
        )
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert known.list_objects_v2(Bucket="strangers")["KeyCount"] == 0
