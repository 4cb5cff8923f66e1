"""S3 failures (error codes, HTTP statuses, broken connections) as the engine's error classes.

One table per backend (docs/architecture.md, conventions 6): throttling and transient server faults are
retryable, credential and bucket problems stop the run, anything else belongs to the one object it names.
"""

from __future__ import annotations

import asyncio
from typing import Final

import aiohttp
import botocore.exceptions

from engine.errors import ArchiverError, FatalError, ItemFailedError, RetryableError

# code -> throttled?
RETRYABLE_CODES: Final[dict[str, bool]] = {
    "SlowDown": True,
    "503": True,
    "ServiceUnavailable": True,
    "Throttling": True,
    "ThrottlingException": True,
    "RequestLimitExceeded": True,
    "TooManyRequests": True,
    "429": True,
    "InternalError": False,
    "500": False,
    "502": False,
    "504": False,
    "RequestTimeout": False,
    "RequestTimeTooSkewed": False,
    # the body arrived damaged: the part is still in memory, so sending it again is the fix
    "BadDigest": False,
    "XAmzContentChecksumMismatch": False,
    "IncompleteBody": False,
}

FATAL_CODES: Final[dict[str, str]] = {
    "AccessDenied": "S3 denied access: check the task role or AWS credentials and the bucket policy",
    "AllAccessDisabled": "S3 denied access: all access to the bucket is disabled",
    "InvalidAccessKeyId": "S3 does not know this access key id: check AWS_ACCESS_KEY_ID or the task role",
    "SignatureDoesNotMatch": "S3 rejected the request signature: check the AWS secret key",
    "ExpiredToken": "the AWS session token expired: renew the credentials",
    "InvalidToken": "the AWS session token is invalid: check the AWS credentials",
    "AccountProblem": "S3 reports a problem with the AWS account",
    "NoSuchBucket": "the bucket does not exist: check AWS_BUCKET",
    "PermanentRedirect": "the bucket is in another region: check AWS_REGION / AWS_DEFAULT_REGION",
    "AuthorizationHeaderMalformed": "the bucket is in another region: check AWS_REGION / AWS_DEFAULT_REGION",
    "InvalidBucketName": "the bucket name is not valid: check AWS_BUCKET",
}

PRECONDITION_FAILED: Final = "PreconditionFailed"  # S3ItemError.code when the key already holds an object
NO_SUCH_UPLOAD: Final = "NoSuchUpload"
CONDITIONAL_CONFLICT: Final = "ConditionalRequestConflict"  # 409: a concurrent write; send again

NOT_FOUND_CODES: Final = frozenset({"404", "NoSuchKey", "NotFound"})

# what a dropped, refused or stalled connection looks like through botocore and aiohttp
CONNECTION_ERRORS: Final = (
    botocore.exceptions.ConnectionError,  # EndpointConnectionError, ConnectionClosedError, ...
    botocore.exceptions.HTTPClientError,  # ReadTimeoutError and friends
    botocore.exceptions.ResponseStreamingError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
    ConnectionError,
)


class S3ItemError(ItemFailedError):
    """An S3 error about one object; `code` is S3's (e.g. `NoSuchUpload`, `InvalidObjectState`)."""

    def __init__(self, operation: str, key: str, code: str, cause: str) -> None:
        super().__init__(operation, key, cause)
        self.code = code


class S3FatalError(FatalError):
    """An S3 error that stops the run (credentials, permissions, bucket); `code` is S3's."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def error_code(exc: botocore.exceptions.ClientError) -> str:
    """S3's error code, or the HTTP status when the answer had no body (HEAD)."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "")
    if code:
        return code
    return str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def is_not_found(exc: botocore.exceptions.ClientError) -> bool:
    return error_code(exc) in NOT_FOUND_CODES


def from_client_error(exc: botocore.exceptions.ClientError, *, operation: str, key: str) -> ArchiverError:
    """The engine error for an S3 error answer to `operation` on `key`."""
    code = error_code(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code in RETRYABLE_CODES or status >= 500:
        throttled = RETRYABLE_CODES.get(code, status == 503)
        return RetryableError(f"{operation} {key}: S3 {code or status}", throttled=throttled)
    if code in FATAL_CODES:
        # S3's own message may quote the access key id: keep to ours
        return S3FatalError(f"{operation}: {FATAL_CODES[code]}", code)
    if code == "403":  # a HEAD denied has no body to name the reason
        return S3FatalError(f"{operation}: {FATAL_CODES['AccessDenied']}", "AccessDenied")
    message = str(exc.response.get("Error", {}).get("Message") or "")
    return S3ItemError(operation, key, code, f"S3 {code}: {message}" if message else f"S3 {code}")


def from_connection_error(exc: BaseException, *, operation: str, key: str) -> RetryableError:
    """Refused, reset, timed out: worth another try."""
    return RetryableError(f"{operation} {key}: connection failed ({type(exc).__name__})", throttled=True)


def from_credentials_error(exc: botocore.exceptions.BotoCoreError, *, operation: str) -> S3FatalError:
    """No credentials in the AWS chain, or an unusable profile: stops the run."""
    return S3FatalError(f"{operation}: no usable AWS credentials ({type(exc).__name__})", "NoCredentials")
