"""The S3 calls of the archive store: one aioboto3 client, every call retried within a budget and mapped to
engine errors.

Endpoint, credentials and region come from the standard AWS chain (`AWS_ENDPOINT_URL`, a task role, ...)
unless given. botocore's own retries are off: ours have a budget, see throttling, and re-send a part from
memory. Single-object PUTs, HEADs and part uploads take a lighter path than botocore's (`adapters.s3.direct`),
same answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any, Final, TypeVar

import aioboto3
import aiohttp
import botocore.exceptions
from botocore.config import Config

from adapters.s3 import errors, wire
from adapters.s3.checksums import S3Checksum
from adapters.s3.config import StoreConfig
from adapters.s3.direct import DirectS3, Fallback
from adapters.s3.multipart import Completion, OnRetry
from engine.deadlines import deadline
from engine.errors import ConfigError
from engine.logs import get_logger
from engine.pacer import Pacer
from engine.retry import RetryPolicy, retry

T = TypeVar("T")

SLOWEST_PART_RATE: Final = 256 * 1024  # B/s: below this a part attempt is given up and sent again

_log = get_logger("adapters.s3")


class S3Transport:
    """The client and the call path the store's objects and uploads share; use as `async with`."""

    def __init__(self, config: StoreConfig, *, pacer: Pacer | None = None) -> None:
        self.config = config
        self._pacer = pacer
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._direct: DirectS3 | None = None
        self.calls = 0  # requests sent (retries included)

    async def __aenter__(self) -> S3Transport:
        cfg = self.config
        botocore_config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},  # ours, see the module docstring
            connect_timeout=cfg.connect_timeout_s,
            read_timeout=cfg.read_timeout_s,
            max_pool_connections=cfg.max_connections,
            # we send our own part checksums; botocore adds one only where S3 requires it
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            # no second SHA-256 pass over every byte for the signature: each body carries its CRC32C (or
            # SHA-256) checksum, which S3 verifies, and the object is proven afterwards (what botocore
            # itself does over HTTPS when a checksum header is present)
            s3={"payload_signing_enabled": False},
            signature_version="s3v4",  # presigned URLs too (botocore would presign SigV2, which S3 retires)
        )
        kwargs: dict[str, Any] = {"config": botocore_config}
        if cfg.endpoint_url:
            kwargs["endpoint_url"] = cfg.endpoint_url
        if cfg.region:
            kwargs["region_name"] = cfg.region
        if cfg.verify is not None:
            kwargs["verify"] = cfg.verify
        session = aioboto3.Session()
        async with AsyncExitStack() as stack:
            try:
                self._client = await stack.enter_async_context(session.client("s3", **kwargs))
                credentials = await session.get_credentials() if cfg.direct else None
                if credentials is not None:  # none: botocore's calls say so (NoCredentialsError)
                    self._direct = await DirectS3.open(
                        self._client,
                        credentials,
                        cfg.bucket,
                        verify=cfg.verify,
                        max_connections=cfg.max_connections,
                    )
                    stack.push_async_callback(self._direct.close)
            except (ValueError, botocore.exceptions.EndpointResolutionError) as exc:
                # the AWS chain's own settings are wrong (an endpoint that is no URL, a region of spaces)
                raise ConfigError(
                    f"the AWS settings cannot make an S3 client ({exc}): check AWS_ENDPOINT_URL, "
                    "AWS_REGION / AWS_DEFAULT_REGION and the AWS profile"
                ) from None
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()
        self._client = None
        self._direct = None

    @property
    def bucket(self) -> str:
        return self.config.bucket

    # ------------------------------------------------------------------------------------------ calls

    async def _call(
        self,
        operation: str,
        key: str,
        op: Callable[[Any], Awaitable[T]],
        *,
        policy: RetryPolicy | None = None,
        timeout_s: float | None = None,
        on_retry: OnRetry | None = None,
    ) -> T:
        """`op(client)` through the pacer, with a deadline per attempt, retried within the policy."""
        if self._client is None:
            raise RuntimeError("S3Store used outside `async with`")
        client = self._client

        async def attempt() -> T:
            self.calls += 1
            if self._pacer is None:
                return await self._attempt(operation, key, op, client, timeout_s)
            async with self._pacer.slot():
                return await self._attempt(operation, key, op, client, timeout_s)

        return await retry(
            attempt,
            policy=policy or self.config.policy,
            pacer=self._pacer,
            describe=f"{operation} {key}",
            on_retry=on_retry,
        )

    async def _attempt(
        self,
        operation: str,
        key: str,
        op: Callable[[Any], Awaitable[T]],
        client: Any,
        timeout_s: float | None,
    ) -> T:
        try:
            with deadline(timeout_s or self.config.call_timeout_s, f"{operation} {key}"):
                return await op(client)
        except botocore.exceptions.ClientError as exc:
            raise errors.from_client_error(exc, operation=operation, key=key) from None
        except (botocore.exceptions.SSLError, aiohttp.ClientSSLError):
            message = f"{operation}: TLS failed: check the endpoint and its CA bundle"
            raise errors.S3FatalError(message, "SSLError") from None
        except errors.CONNECTION_ERRORS as exc:
            raise errors.from_connection_error(exc, operation=operation, key=key) from None
        except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError) as exc:
            raise errors.from_credentials_error(exc, operation=operation) from None
        except botocore.exceptions.EndpointResolutionError as exc:  # found only when a call needs the URL
            raise ConfigError(f"{operation}: {exc}: check AWS_ENDPOINT_URL (an http(s) URL)") from None

    async def _via_direct(self, call: Callable[[DirectS3], Awaitable[T]]) -> T | None:
        """`call` over the direct path; None when there is none, or when it cannot serve this bucket (a
        redirect): botocore, which follows redirects, serves it from then on."""
        if self._direct is None:
            return None
        try:
            return await call(self._direct)
        except Fallback as exc:
            _log.warning("s3.direct_path_off", reason=str(exc))
            self._direct = None  # its session closes with the store
            return None

    async def _done_before(
        self,
        client: Any,
        exc: botocore.exceptions.ClientError,
        key: str,
        ours: S3Checksum,
        size: int,
        *codes: str,
    ) -> Completion | None:
        """An error that may mean "already done": the object, if it holds exactly what we sent.

        An earlier attempt whose answer was lost (ours, or one aiohttp re-sent by itself on a dropped
        keep-alive connection) leaves the object in place, so the next attempt hears "exists" or "no such
        upload". The same length and S3 checksum (which, for multipart, covers every part's) say it is ours.
        """
        if errors.error_code(exc) not in codes:
            return None
        response = await client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        found = wire.parse_checksum(response)
        if found is None or not found.matches(ours) or int(response["ContentLength"]) != size:
            return None
        _log.info("s3.lost_response_recovered", key=key, code=errors.error_code(exc))
        return Completion(str(response.get("ETag", "")).strip('"'), found)

    def _part_s(self, size: int) -> float:
        return self.config.call_timeout_s + size / SLOWEST_PART_RATE
