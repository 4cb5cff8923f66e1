"""S3 errors as engine errors: throttling and 5xx retry, credentials and bucket stop the run, the rest fail
the item; messages never carry S3's text for credential errors."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from adapters.s3.errors import (
    S3FatalError,
    S3ItemError,
    from_client_error,
    from_connection_error,
    is_not_found,
)
from adapters.s3.wire import check_storage_class
from engine.errors import FatalError, ItemFailedError, RetryableError


def client_error(code: str, status: int, message: str = "") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )


@pytest.mark.parametrize(("code", "status"), [("SlowDown", 503), ("ServiceUnavailable", 503), ("", 503)])
def test_throttling_is_retryable_and_throttled(code: str, status: int) -> None:
    error = from_client_error(client_error(code, status), operation="s3.put", key="k")
    assert isinstance(error, RetryableError)
    assert error.throttled


@pytest.mark.parametrize(
    ("code", "status"), [("InternalError", 500), ("RequestTimeout", 400), ("BadDigest", 400), ("", 502)]
)
def test_transient_faults_are_retryable_not_throttled(code: str, status: int) -> None:
    error = from_client_error(client_error(code, status), operation="s3.put", key="k")
    assert isinstance(error, RetryableError)
    assert not error.throttled


@pytest.mark.parametrize(
    "code", ["AccessDenied", "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch"]
)
def test_credential_and_bucket_errors_stop_the_run(code: str) -> None:
    error = from_client_error(
        client_error(code, 403, "key AKIASECRETSECRET is bad"), operation="s3.put", key="k"
    )
    assert isinstance(error, FatalError)
    assert isinstance(error, S3FatalError)
    assert error.code == code
    assert "AKIA" not in str(error)


def test_denied_head_without_a_body_stops_the_run() -> None:
    assert isinstance(from_client_error(client_error("403", 403), operation="s3.head", key="k"), FatalError)


def test_other_errors_fail_the_item_with_the_code() -> None:
    error = from_client_error(
        client_error("NoSuchUpload", 404, "gone"), operation="s3.upload_part", key="0_a"
    )
    assert isinstance(error, ItemFailedError)
    assert isinstance(error, S3ItemError)
    assert (error.code, error.operation, error.entry_id) == ("NoSuchUpload", "s3.upload_part", "0_a")


@pytest.mark.parametrize(("code", "found"), [("404", True), ("NoSuchKey", True), ("NoSuchBucket", False)])
def test_not_found_on_head(code: str, found: bool) -> None:
    assert is_not_found(client_error(code, 404)) is found


def test_connection_errors_are_retryable() -> None:
    error = from_connection_error(ConnectionResetError(), operation="s3.upload_part", key="k")
    assert isinstance(error, RetryableError)
    assert "ConnectionResetError" in str(error)


@pytest.mark.parametrize("name", ["STANDARD", "glacier", "DEEP_ARCHIVE", "GLACIER_IR"])
def test_allowed_storage_classes(name: str) -> None:
    assert check_storage_class(name) == name.upper()


def test_unknown_storage_class_is_refused() -> None:
    with pytest.raises(ValueError, match="STANDARD, GLACIER, DEEP_ARCHIVE, GLACIER_IR"):
        check_storage_class("REDUCED_REDUNDANCY")
