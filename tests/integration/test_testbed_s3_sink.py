"""The benchmark-only S3 sink (`testbed.s3_sink`): what it keeps, and what it refuses as S3 does.

Checksums are computed here with the `crc32c` package and passed with `ChecksumAlgorithm="CRC32C"`, as our
store sends them (botocore computes CRC32C only with awscrt installed).
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]  # boto3 ships no type hints
import crc32c
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from testbed.s3_sink import SinkServer

MIB = 1 << 20
PART_1 = os.urandom(5 * MIB)  # S3's smallest part but the last
PART_2 = os.urandom(1000)
BUCKET = "sink-test"
ONE_ATTEMPT = Config(retries={"total_max_attempts": 1})  # botocore retries BadDigest: refusals show at once


def crc(data: bytes) -> bytes:
    return crc32c.crc32c(data).to_bytes(4, "big")


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.fixture(scope="module")
def sink() -> Iterator[SinkServer]:
    with SinkServer() as server:
        yield server


@pytest.fixture
def s3(sink: SinkServer) -> Any:
    sink.reset()
    sink.create_bucket(BUCKET)
    return boto3.client("s3", **sink.client_kwargs(), config=ONE_ATTEMPT)


def test_put_keeps_size_etag_and_checksum_for_head(s3: Any) -> None:
    """A PUT with a CRC32C is taken; HEAD answers its size, MD5 ETag, checksum, metadata and tag count."""
    answer = s3.put_object(
        Bucket=BUCKET,
        Key="one/obj",
        Body=PART_1,
        ChecksumAlgorithm="CRC32C",
        ChecksumCRC32C=b64(crc(PART_1)),
        Metadata={"ka-bytes": "1"},
        Tagging="ka-sha256=abc",
    )
    assert answer["ChecksumCRC32C"] == b64(crc(PART_1))
    head = s3.head_object(Bucket=BUCKET, Key="one/obj", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(PART_1)
    assert head["ETag"] == f'"{hashlib.md5(PART_1).hexdigest()}"'
    assert (head["ChecksumCRC32C"], head["ChecksumType"]) == (b64(crc(PART_1)), "FULL_OBJECT")
    assert head["Metadata"] == {"ka-bytes": "1"}
    assert s3.get_object_tagging(Bucket=BUCKET, Key="one/obj")["TagSet"] == [
        {"Key": "ka-sha256", "Value": "abc"}
    ]


def test_multipart_upload_answers_composite_checksum_and_multipart_etag(s3: Any) -> None:
    """Parts with CRC32C complete into S3's multipart ETag and COMPOSITE checksum, which HEAD reports."""
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="mp", ChecksumAlgorithm="CRC32C")["UploadId"]
    assert [u["Key"] for u in s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]] == ["mp"]
    parts = []
    for number, data in enumerate((PART_1, PART_2), start=1):
        answer = s3.upload_part(
            Bucket=BUCKET,
            Key="mp",
            UploadId=upload,
            PartNumber=number,
            Body=data,
            ChecksumAlgorithm="CRC32C",
            ChecksumCRC32C=b64(crc(data)),
        )
        assert answer["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
        parts.append(
            {"PartNumber": number, "ETag": answer["ETag"], "ChecksumCRC32C": answer["ChecksumCRC32C"]}
        )
    done = s3.complete_multipart_upload(
        Bucket=BUCKET, Key="mp", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    composite = b64(crc(crc(PART_1) + crc(PART_2))) + "-2"
    etag = hashlib.md5(hashlib.md5(PART_1).digest() + hashlib.md5(PART_2).digest()).hexdigest() + "-2"
    assert (done["ChecksumCRC32C"], done["ETag"]) == (composite, f'"{etag}"')
    head = s3.head_object(Bucket=BUCKET, Key="mp", ChecksumMode="ENABLED")
    assert (head["ContentLength"], head["ChecksumCRC32C"]) == (len(PART_1) + len(PART_2), composite)
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_complete_refuses_a_wrong_part_etag_and_a_taken_key(s3: Any) -> None:
    """Completing with a part ETag not the part's is InvalidPart; with If-None-Match on a taken key 412."""
    s3.put_object(Bucket=BUCKET, Key="taken", Body=b"x")
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="taken")["UploadId"]
    etag = s3.upload_part(Bucket=BUCKET, Key="taken", UploadId=upload, PartNumber=1, Body=PART_2)["ETag"]
    wrong = {"Parts": [{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}]}
    with pytest.raises(ClientError) as refused:
        s3.complete_multipart_upload(Bucket=BUCKET, Key="taken", UploadId=upload, MultipartUpload=wrong)
    assert refused.value.response["Error"]["Code"] == "InvalidPart"
    right = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    with pytest.raises(ClientError) as refused:
        s3.complete_multipart_upload(
            Bucket=BUCKET, Key="taken", UploadId=upload, MultipartUpload=right, IfNoneMatch="*"
        )
    assert refused.value.response["Error"]["Code"] == "PreconditionFailed"


def test_a_bad_signature_or_unknown_key_is_refused(sink: SinkServer, s3: Any) -> None:
    """Signed with another secret: 403 SignatureDoesNotMatch; with another key id: InvalidAccessKeyId."""
    for key_id, secret, code in (
        ("testing", "not-the-secret", "SignatureDoesNotMatch"),
        ("someone", "testing", "InvalidAccessKeyId"),
    ):
        kwargs = {**sink.client_kwargs(), "aws_access_key_id": key_id, "aws_secret_access_key": secret}
        other = boto3.client("s3", **kwargs, config=ONE_ATTEMPT)
        with pytest.raises(ClientError) as refused:
            other.put_object(Bucket=BUCKET, Key="k", Body=b"data")
        assert (
            refused.value.response["Error"]["Code"],
            refused.value.response["ResponseMetadata"]["HTTPStatusCode"],
        ) == (code, 403)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


def test_a_wrong_checksum_or_content_md5_is_refused(s3: Any) -> None:
    """A CRC32C or Content-MD5 that is not the body's is 400 BadDigest, and nothing is stored."""
    with pytest.raises(ClientError) as refused:
        s3.put_object(
            Bucket=BUCKET, Key="k", Body=PART_2, ChecksumAlgorithm="CRC32C", ChecksumCRC32C=b64(crc(b"other"))
        )
    assert refused.value.response["Error"]["Code"] == "BadDigest"
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=BUCKET, Key="k", Body=PART_2, ContentMD5=b64(hashlib.md5(b"other").digest()))
    assert refused.value.response["Error"]["Code"] == "BadDigest"
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


def test_a_body_other_than_its_signed_sha256_is_refused(sink: SinkServer, s3: Any) -> None:
    """A body whose SHA-256 is not the signed `x-amz-content-sha256` is 400 XAmzContentSHA256Mismatch."""
    url = f"{sink.endpoint_url}/{BUCKET}/k"
    request = AWSRequest(method="PUT", url=url, data=b"signed body")
    S3SigV4Auth(Credentials("testing", "testing"), "s3", "us-east-1").add_auth(request)
    sent = urllib.request.Request(
        url, data=b"sent! body!", method="PUT", headers=dict(request.headers.items())
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(sent, timeout=10)
    assert refused.value.code == 400
    assert b"<Code>XAmzContentSHA256Mismatch</Code>" in refused.value.read()
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


def _expecting(sink: SinkServer, secret: str, body: bytes) -> tuple[socket.socket, bytes]:
    """A connection that sent a signed PUT's head with `Expect: 100-continue`, and what the sink answered."""
    url = f"{sink.endpoint_url}/{BUCKET}/expect"
    request = AWSRequest(method="PUT", url=url, data=body, headers={"Expect": "100-continue"})
    S3SigV4Auth(Credentials("testing", secret), "s3", "us-east-1").add_auth(request)
    head = f"PUT /{BUCKET}/expect HTTP/1.1\r\nHost: 127.0.0.1:{sink.port}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in request.headers.items()) + "\r\n"
    conn = socket.create_connection(("127.0.0.1", sink.port), timeout=10)  # a guard: the answer comes at once
    conn.sendall(head.encode())
    return conn, conn.recv(65536)


def test_expect_100_continue_is_answered_before_the_body(sink: SinkServer, s3: Any) -> None:
    """`Expect: 100-continue` gets `100 Continue` once the signature is right, then the body is taken; a bad
    signature is answered 403 at once, without waiting for a body."""
    conn, interim = _expecting(sink, "testing", PART_2)
    with conn:
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        conn.sendall(PART_2)
        assert conn.recv(65536).startswith(b"HTTP/1.1 200 OK")
    assert s3.head_object(Bucket=BUCKET, Key="expect")["ContentLength"] == len(PART_2)
    conn, answer = _expecting(sink, "not-the-secret", PART_2)
    with conn:
        assert answer.startswith(b"HTTP/1.1 403 Forbidden")


def test_a_presigned_put_is_taken_and_a_tampered_one_refused(sink: SinkServer, s3: Any) -> None:
    """A PUT to a presigned URL (signature in the query) is stored; that URL for another key is 403."""
    signer = boto3.client("s3", **sink.client_kwargs(), config=Config(signature_version="s3v4"))
    url = signer.generate_presigned_url(
        "put_object", Params={"Bucket": BUCKET, "Key": "signed"}, ExpiresIn=60
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(urllib.request.Request(url, data=PART_2, method="PUT"), timeout=10) as answer:
        assert answer.status == 200
    assert s3.head_object(Bucket=BUCKET, Key="signed")["ContentLength"] == len(PART_2)
    tampered = url.replace("/signed?", "/other?")
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(urllib.request.Request(tampered, data=PART_2, method="PUT"), timeout=10)
    assert refused.value.code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in refused.value.read()


def test_last_written_is_when_the_newest_object_was_stored(sink: SinkServer, s3: Any) -> None:
    """The control surface answers when the bucket's newest object was stored (a benchmark's end of
    transfer): none while the bucket is empty, then a time between the PUTs' own start and end."""
    assert sink.last_written(BUCKET) is None
    before = time.time()
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="b", Body=b"y")
    after = time.time()
    last = sink.last_written(BUCKET)
    assert last is not None
    assert before <= last <= after
    with pytest.raises(urllib.error.HTTPError):
        sink.last_written("no-such-bucket")
