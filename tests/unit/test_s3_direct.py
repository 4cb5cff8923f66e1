"""The direct path's pure parts: request headers, answers in botocore's shapes, errors, the bucket's URL."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

import botocore.exceptions
import pytest
from botocore.utils import percent_encode

from adapters.s3.direct import (
    Fallback,
    _error,
    _locate,
    _proxy_for,
    head_response,
    part_headers,
    part_query,
    put_headers,
)


def test_put_headers_carry_what_botocores_put_object_sends() -> None:
    headers = put_headers(
        {"ka-entry": "0_abc"},
        storage_class="GLACIER",
        algorithm="CRC32C",
        checksum="AAAAAA==",
        tagging="ka-sha256=ff",
        if_none_match=True,
    )
    assert headers == {
        "x-amz-meta-ka-entry": "0_abc",
        "x-amz-storage-class": "GLACIER",
        "x-amz-sdk-checksum-algorithm": "CRC32C",
        "x-amz-checksum-crc32c": "AAAAAA==",
        "x-amz-tagging": "ka-sha256=ff",
        "If-None-Match": "*",
    }
    overwrite = put_headers(
        {}, storage_class="STANDARD", algorithm="SHA256", checksum="x", tagging="", if_none_match=False
    )
    assert "If-None-Match" not in overwrite
    assert overwrite["x-amz-checksum-sha256"] == "x"


def test_a_head_answer_reads_as_botocores_head_object() -> None:
    answer = head_response(
        {
            "Content-Length": "1234",
            "ETag": '"abc"',
            "x-amz-meta-Ka-Entry": "0_abc",
            "x-amz-checksum-crc32c": "AAAAAA==",
            "x-amz-checksum-type": "COMPOSITE",
            "x-amz-storage-class": "GLACIER",
            "x-amz-tagging-count": "2",
            "Last-Modified": "Fri, 27 Nov 2026 06:00:00 GMT",
        }
    )
    assert answer == {
        "ContentLength": 1234,
        "ETag": '"abc"',
        "Metadata": {"Ka-Entry": "0_abc"},
        "ChecksumCRC32C": "AAAAAA==",
        "ChecksumType": "COMPOSITE",
        "StorageClass": "GLACIER",
        "TagCount": 2,
        "LastModified": datetime(2026, 11, 27, 6, 0, tzinfo=UTC),
    }


def test_an_error_answer_is_botocores_client_error_with_s3s_code() -> None:
    body = b"<Error><Code>PreconditionFailed</Code><Message>At least one failed</Message></Error>"
    error = _error(412, "Precondition Failed", body, "PutObject")
    assert isinstance(error, botocore.exceptions.ClientError)
    assert error.response["Error"] == {"Code": "PreconditionFailed", "Message": "At least one failed"}
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    head = _error(404, "Not Found", b"", "HeadObject")  # a HEAD has no body: the status is the code
    assert isinstance(head, botocore.exceptions.ClientError)
    assert head.response["Error"]["Code"] == "404"
    garbled = _error(503, "Service Unavailable", b"<not xml", "PutObject")
    assert isinstance(garbled, botocore.exceptions.ClientError)
    assert garbled.response["Error"]["Code"] == "503"


@pytest.mark.parametrize(
    ("status", "body"),
    [(301, b""), (400, b"<Error><Code>AuthorizationHeaderMalformed</Code></Error>"), (307, b"")],
)
def test_a_redirect_hands_the_bucket_back_to_botocore(status: int, body: bytes) -> None:
    assert isinstance(_error(status, "", body, "HeadObject"), Fallback)


def test_the_bucket_url_comes_from_a_presigned_url_of_the_probe_key() -> None:
    assert _locate("http://127.0.0.1:9000/bucket/k?X-Amz-Signature=s") == "http://127.0.0.1:9000/bucket/"
    assert (
        _locate("https://b.s3.eu-west-1.amazonaws.com/k?Signature=s")
        == "https://b.s3.eu-west-1.amazonaws.com/"
    )
    with pytest.raises(ValueError, match="unexpected presigned URL"):
        _locate("https://b.s3.amazonaws.com/other")


def test_the_proxy_is_the_one_the_environment_gives_the_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert _proxy_for("https://b.s3.amazonaws.com/") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.edu:3128")
    assert _proxy_for("https://b.s3.amazonaws.com/") == "http://proxy.example.edu:3128"
    assert _proxy_for("http://127.0.0.1:9000/bucket/") is None  # an HTTP endpoint: HTTPS_PROXY does not apply
    monkeypatch.setenv("NO_PROXY", ".amazonaws.com")
    assert _proxy_for("https://b.s3.amazonaws.com/") is None


def test_a_part_url_carries_its_query_as_sigv4_signs_it() -> None:
    upload_id = "2~Ab.c-d_e+f/g=h"  # S3's upload ids may hold characters a URL must encode
    query = part_query(upload_id, 7)
    assert query == "?partNumber=7&uploadId=" + percent_encode(upload_id)  # SigV4's encoding, in sorted order
    assert parse_qs(query[1:]) == {"partNumber": ["7"], "uploadId": [upload_id]}


def test_part_headers_are_botocores_for_the_checksum() -> None:
    assert part_headers("CRC32C", "dcDL7g==") == {
        "x-amz-sdk-checksum-algorithm": "CRC32C",
        "x-amz-checksum-crc32c": "dcDL7g==",
    }
