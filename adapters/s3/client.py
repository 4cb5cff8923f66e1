"""The S3 archive store: one aioboto3 client, every call retried within a budget and mapped to engine errors.

Endpoint, credentials and region come from the standard AWS chain (`AWS_ENDPOINT_URL`, a task role, ...)
unless given. botocore's own retries are off: ours have a budget, see throttling, and re-send a part from
memory. Uploads refuse to replace an existing object (`If-None-Match: *`) unless told to overwrite; a retry
that finds its own earlier attempt already done (lost response) is recognised by the object's checksum.
Single-object PUTs, HEADs and part uploads take a lighter path than botocore's (`adapters.s3.direct`), same
answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar
from urllib.parse import urlencode

import aioboto3
import aiohttp
import botocore.exceptions
from botocore.config import Config

from adapters.s3 import errors, multipart, proof, wire
from adapters.s3.checksums import FIELDS, Algorithm, S3Checksum, check_algorithm, of_single
from adapters.s3.direct import DirectS3, Fallback, part_headers, put_headers
from adapters.s3.errors import S3ItemError
from adapters.s3.multipart import (
    CompletedPart,
    Completion,
    MemoryBudget,
    MultipartWriter,
    OnRetry,
    PartBuffer,
    TimeLeft,
    open_writer,
)
from adapters.s3.names import bucket_problem, prefix_problem
from adapters.s3.wire import ObjectHead, OpenUpload, PutResult, check_storage_class
from engine.deadlines import deadline
from engine.errors import ItemFailedError, RetryableError
from engine.logs import get_logger
from engine.pacer import Pacer
from engine.retry import RetryPolicy, retry

T = TypeVar("T")

PRECONDITION_FAILED: Final = "PreconditionFailed"  # S3ItemError.code when the key already holds an object
NO_SUCH_UPLOAD: Final = "NoSuchUpload"
CONDITIONAL_CONFLICT: Final = "ConditionalRequestConflict"  # 409: a concurrent write; send again
SLOWEST_PART_RATE: Final = 256 * 1024  # B/s: below this a part attempt is given up and sent again

_log = get_logger("adapters.s3")


@dataclass(frozen=True)
class StoreConfig:
    """Where and how to archive. Memory per transfer: `parts_in_flight` times the part size (>= 8 MiB); with
    `memory_budget`, the part buffers of all uploads together (each at its real size) stay within it."""

    bucket: str
    prefix: str = ""  # put before the entry id to make the key (e.g. "archive/"); "" = bucket root
    storage_class: str = wire.DEFAULT_STORAGE_CLASS
    part_size: int | None = None  # override of the computed part size, clamped to S3's limits
    parts_in_flight: int = 4  # parts of one upload sent at once (and buffered at most)
    memory_budget: int | None = None  # bytes of part buffers of all uploads together; None: no shared bound
    checksum_algorithm: Algorithm = "CRC32C"
    endpoint_url: str | None = None  # None: AWS_ENDPOINT_URL if set (botocore reads it), else AWS
    region: str | None = None  # None: the AWS chain (AWS_REGION, profile, ...)
    verify: bool | str | None = None  # a CA bundle path for test servers; None: botocore's default
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    call_timeout_s: float = 60.0  # whole-call deadline for every call but part uploads
    max_connections: int = 32
    abort_timeout_s: float = 30.0  # the shielded abort's own deadline
    direct: bool = True  # PUTs, HEADs and parts over `adapters.s3.direct` (False: all through botocore)
    policy: RetryPolicy = field(default_factory=lambda: RetryPolicy(attempts=5, base_s=0.25, budget_s=60.0))
    part_policy: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(attempts=8, base_s=0.25, max_s=10.0, budget_s=300.0)
    )

    def __post_init__(self) -> None:
        if not self.bucket:
            raise ValueError("no bucket: set AWS_BUCKET")
        for what, value, problem in (
            ("bucket", self.bucket, bucket_problem(self.bucket)),
            ("prefix", self.prefix, prefix_problem(self.prefix)),
        ):
            if problem is not None:
                raise ValueError(f"{what} {value!r} {problem}")
        object.__setattr__(self, "storage_class", check_storage_class(self.storage_class))
        object.__setattr__(self, "checksum_algorithm", check_algorithm(self.checksum_algorithm))
        if self.parts_in_flight < 1:
            raise ValueError(f"parts in flight must be at least 1, not {self.parts_in_flight}")
        if self.memory_budget is not None and self.memory_budget < 1:
            raise ValueError(f"the memory budget must be at least 1 byte, not {self.memory_budget}")


class S3Store:
    """The `ArchiveStore` on S3; use as `async with S3Store(config) as store`."""

    def __init__(
        self, config: StoreConfig, *, pacer: Pacer | None = None, time_left: TimeLeft | None = None
    ) -> None:
        """`time_left`: a shutdown's (engine.shutdown.Shutdown.time_left), which the shielded create and
        abort of an upload stay within."""
        self.config = config
        self._pacer = pacer
        self._time_left = time_left
        # shared by every upload of this store: a part takes its real size from it before it is read in
        self.budget = MemoryBudget(config.memory_budget) if config.memory_budget is not None else None
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._direct: DirectS3 | None = None
        self.calls = 0  # requests sent (retries included)

    async def __aenter__(self) -> S3Store:
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

    def single_put(self, size: int) -> bool:
        """Whether an object of `size` bytes goes up in one PUT (below the part size), not in parts."""
        return size < multipart.part_size(size, self.config.part_size)

    def key_for(self, entry_id: str) -> str:
        """The object key of an entry's archive: the entry id, after the prefix."""
        return self.config.prefix + entry_id

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

    # ------------------------------------------------------------------------------------------ reads

    async def check_access(self) -> None:
        """Prove the bucket exists and we may use it; FatalError naming the fix otherwise."""

        async def op(client: Any) -> None:
            try:
                await client.head_bucket(Bucket=self.bucket)
            except botocore.exceptions.ClientError as exc:
                if errors.is_not_found(exc):  # HEAD has no body to say NoSuchBucket
                    raise errors.S3FatalError(
                        f"s3.head_bucket: {errors.FATAL_CODES['NoSuchBucket']}", "NoSuchBucket"
                    ) from None
                if errors.error_code(exc) == "403":
                    # nor to say why it is refused (unknown key id, wrong secret, policy): a listing, which
                    # needs the same permission, is refused with the reason in its body
                    await client.list_objects_v2(Bucket=self.bucket, MaxKeys=1)
                raise

        await self._call("s3.head_bucket", self.bucket, op)

    async def head(self, key: str, *, with_tags: bool = True, record_only: bool = False) -> ObjectHead | None:
        """The object at `key` with its checksum and metadata (and tags, if it has any); None if absent.

        `record_only` (the proof right after our own upload): an object whose metadata already carries the
        whole record (a single PUT puts SHA-256 and checksum there too) costs no tag read.
        """

        async def op(client: Any) -> dict[str, Any] | None:
            try:
                response = await self._via_direct(lambda direct: direct.head_object(key))
                if response is None:
                    response = await client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
            except botocore.exceptions.ClientError as exc:
                if errors.is_not_found(exc):
                    return None
                raise
            return response

        response = await self._call("s3.head", key, op)
        if response is None:
            return None
        tags: dict[str, str] | None = None
        in_metadata = proof.record_in_metadata(response.get("Metadata") or {})
        if record_only and in_metadata:
            with_tags = False
        # S3 leaves the tag count out when there are none, and for a caller that may not read tags: with no
        # record in the metadata, read them (a refusal stops the run with its reason) rather than take the
        # object for one whose proof record was never written
        count = response.get("TagCount")
        if with_tags and (int(count or 0) > 0 or (count is None and not in_metadata)):
            try:
                tags = await self.tags(key)
            except S3ItemError as exc:
                if exc.code != "InvalidObjectState":
                    raise
                # a store may refuse tag reads on archived classes (moto 5 does; S3 does not): record unknown
                _log.warning("s3.tags_unreadable", key=key, storage_class=response.get("StorageClass"))
        elif with_tags:
            tags = {}
        return wire.parse_head(key, response, tags)

    async def first_part_size(self, key: str) -> int | None:
        """The size of part 1 of a multipart object (every part but the last has it); None when S3 does
        not tell (the object is gone, or the server does not answer part HEADs)."""

        async def op(client: Any) -> int | None:
            try:
                response = await client.head_object(Bucket=self.bucket, Key=key, PartNumber=1)
            except botocore.exceptions.ClientError as exc:
                status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
                if errors.is_not_found(exc) or status in (400, 416, 501):
                    return None
                raise
            length = response.get("ContentLength")
            return int(length) if length else None

        return await self._call("s3.head_part", key, op)

    async def tags(self, key: str) -> dict[str, str]:
        """The object's tags."""

        async def op(client: Any) -> dict[str, str]:
            return wire.parse_tags(await client.get_object_tagging(Bucket=self.bucket, Key=key))

        return await self._call("s3.get_tags", key, op)

    # ------------------------------------------------------------------------------------------ writes

    async def put_bytes(
        self, key: str, data: bytes, metadata: Mapping[str, str], *, overwrite: bool = False
    ) -> PutResult:
        """One PUT of a small object, with its checksum and its record in the same request: in the tags, as
        for multipart objects, and in the metadata too (known before the PUT here), so a proof needs no tag
        read."""
        body = PartBuffer(len(data))
        body.write(data)
        return await self._put_body(key, body, metadata, overwrite=overwrite)

    async def _put_body(
        self, key: str, body: PartBuffer, metadata: Mapping[str, str], *, overwrite: bool
    ) -> PutResult:
        """PUT the whole of `body`, which this takes over: it is released when the PUT is done or failed."""
        try:
            return await self._put_owned(key, body, metadata, overwrite=overwrite)
        finally:
            body.release()

    async def _put_owned(
        self, key: str, body: PartBuffer, metadata: Mapping[str, str], *, overwrite: bool
    ) -> PutResult:
        with body.getbuffer() as view:
            sha256 = hashlib.sha256(view).hexdigest()
            ours = of_single(self.config.checksum_algorithm, view)
            size = view.nbytes
        algorithm = self.config.checksum_algorithm
        args: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Body": body,  # rewound for every attempt, see op()
            "Metadata": {**metadata, **proof.to_tags(sha256, ours)},
            "StorageClass": self.config.storage_class,
            "ChecksumAlgorithm": algorithm,
            FIELDS[algorithm]: ours.value,
            "Tagging": urlencode(proof.to_tags(sha256, ours)),
        }
        if not overwrite:
            args["IfNoneMatch"] = "*"

        async def op(client: Any) -> Completion:
            body.seek(0)
            try:
                response = await self._put_direct(key, body, args)
                if response is None:
                    response = await client.put_object(**args)
            except botocore.exceptions.ClientError as exc:
                done = await self._done_before(client, exc, key, ours, size, PRECONDITION_FAILED)
                if done is None:
                    raise
                return done
            return Completion(str(response.get("ETag", "")).strip('"'), wire.parse_checksum(response))

        policy, timeout_s = self.config.part_policy, self._part_s(size)
        done = await self._call("s3.put", key, op, policy=policy, timeout_s=timeout_s)
        if done.checksum is not None and not done.checksum.matches(ours):
            raise ItemFailedError("s3.put", key, f"S3 checksum {done.checksum} differs from ours {ours}")
        return PutResult(key, size, sha256, ours, done.etag, 0)

    async def _put_direct(self, key: str, body: PartBuffer, args: Mapping[str, Any]) -> dict[str, Any] | None:
        """`put_object(**args)` over the direct path; None when there is none for the bucket."""
        algorithm = args["ChecksumAlgorithm"]
        headers = put_headers(
            args["Metadata"],
            storage_class=args["StorageClass"],
            algorithm=algorithm,
            checksum=args[FIELDS[algorithm]],
            tagging=args["Tagging"],
            if_none_match=args.get("IfNoneMatch") == "*",
        )
        with body.getbuffer() as view:
            return await self._via_direct(lambda direct: direct.put_object(key, view, headers))

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

    def writer(
        self, key: str, expected_size: int, metadata: Mapping[str, str], *, overwrite: bool = False
    ) -> AbstractAsyncContextManager[MultipartWriter]:
        """A multipart upload of `expected_size` bytes to `key`: `async with` it, `write()`, `complete()`."""
        if expected_size < 1:
            raise ValueError("a multipart upload needs at least one byte: use put_bytes")
        part = multipart.part_size(expected_size, self.config.part_size)
        self._check_budget(key, part)
        return open_writer(
            self,
            key,
            metadata,
            expected_size=expected_size,
            part_size=part,
            parts_in_flight=self.config.parts_in_flight,
            algorithm=self.config.checksum_algorithm,
            overwrite=overwrite,
            abort_timeout_s=self.config.abort_timeout_s,
            time_left=self._time_left,
            budget=self.budget,
        )

    def _check_budget(self, key: str, part: int) -> None:
        """ItemFailedError, before anything is sent, when one part of `part` bytes is more than the memory
        budget holds (a part raised far above the part size, to keep a huge object within 10,000 parts)."""
        if self.budget is not None and not self.budget.fits(part):
            cause = (
                f"a part of {part} bytes does not fit in the memory budget of {self.budget.total} bytes: "
                f"raise ARCHIVER_MEMORY_BUDGET to at least {part} bytes"
            )
            raise ItemFailedError("s3.upload", key, cause)

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        expected_size: int,
        metadata: Mapping[str, str],
        *,
        overwrite: bool = False,
    ) -> PutResult:
        """Stream `chunks` (exactly `expected_size` bytes) to `key`: one PUT below the part size, else
        a multipart upload; ItemFailedError (nothing left behind) when the stream is shorter or longer."""
        if self.single_put(expected_size):
            return await self._put_gathered(key, chunks, expected_size, metadata, overwrite=overwrite)
        async with self.writer(key, expected_size, metadata, overwrite=overwrite) as upload:
            async for chunk in chunks:
                await upload.write(chunk)
            return await upload.complete()

    async def _put_gathered(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        expected_size: int,
        metadata: Mapping[str, str],
        *,
        overwrite: bool,
    ) -> PutResult:
        """One PUT of a stream smaller than a part, gathered in one buffer: its size is taken from the
        budget first."""
        self._check_budget(key, expected_size)
        if self.budget is not None:
            await self.budget.acquire(expected_size)
        try:
            body = await _gather(chunks, expected_size, key)
            return await self._put_body(key, body, metadata, overwrite=overwrite)
        finally:
            if self.budget is not None:
                self.budget.release(expected_size)

    # ------------------------------------------------------------------------------------------ stale uploads

    async def open_uploads(self, key: str | None = None) -> AsyncIterator[OpenUpload]:
        """Multipart uploads S3 still holds for `key`, or for every key under our prefix."""
        prefix = key if key is not None else self.config.prefix
        markers: dict[str, str] = {}
        while True:

            async def op(client: Any, markers: dict[str, str] = markers) -> dict[str, Any]:
                page: dict[str, Any] = await client.list_multipart_uploads(
                    Bucket=self.bucket, Prefix=prefix, **markers
                )
                return page

            page = await self._call("s3.list_uploads", prefix or "/", op)
            for upload in wire.parse_uploads(page):
                if key is None or upload.key == key:
                    yield upload
            if not page.get("IsTruncated"):
                return
            markers = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}

    async def abort_uploads(self, key: str | None = None) -> int:
        """Abort the open uploads of `key`, or all under our prefix; how many."""
        # the whole listing first: an abort between two pages can take away the upload the next page starts
        # after, and S3 then goes on from the next key, leaving the rest of that key's uploads unlisted
        found = [u async for u in self.open_uploads(key)]
        aborted = 0
        for upload in found:
            if await self.abort_upload(upload.key, upload.upload_id):
                _log.info("s3.stale_upload_aborted", key=upload.key, initiated=str(upload.initiated))
                aborted += 1
        return aborted

    # ------------------------------------------------------------------------------------------ UploadCalls

    async def create_upload(self, key: str, metadata: Mapping[str, str]) -> str:
        attempts = 0

        async def op(client: Any) -> str:
            nonlocal attempts
            attempts += 1
            response = await client.create_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                Metadata=dict(metadata),
                StorageClass=self.config.storage_class,
                ChecksumAlgorithm=self.config.checksum_algorithm,
                ChecksumType="COMPOSITE",
            )
            return str(response["UploadId"])

        upload_id = await self._call("s3.create_upload", key, op)
        if attempts > 1:  # an attempt whose answer was lost may have created an upload nobody knows of
            await self._abort_others(key, upload_id)
        return upload_id

    async def _abort_others(self, key: str, upload_id: str) -> None:
        """Abort every open upload of `key` but `upload_id`: the checker already swept the ones open at the
        run's start, so what is left is a retried request's lost upload (or another writer's, which sends
        its entry again as a new upload, and whose completion never overwrites ours anyway)."""
        others = [u async for u in self.open_uploads(key) if u.upload_id != upload_id]  # listed, then aborted
        for upload in others:
            await self.abort_upload(upload.key, upload.upload_id)
            _log.info("s3.lost_upload_aborted", key=key, initiated=str(upload.initiated))

    async def upload_part(
        self, key: str, upload_id: str, number: int, body: PartBuffer, checksum: str, on_retry: OnRetry
    ) -> str:
        algorithm = self.config.checksum_algorithm

        async def op(client: Any) -> str:
            # the same buffer on every attempt: a retry never re-reads the source
            with body.getbuffer() as view:
                headers = part_headers(algorithm, checksum)
                response = await self._via_direct(
                    lambda direct: direct.upload_part(key, upload_id, number, view, headers)
                )
            if response is None:
                body.seek(0)
                response = await client.upload_part(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    # a file object, not raw bytes, lets aiohttp send a large body in slices
                    Body=body,
                    ChecksumAlgorithm=algorithm,
                    **{FIELDS[algorithm]: checksum},
                )
            echoed = response.get(FIELDS[algorithm])
            if echoed and echoed != checksum:
                raise RetryableError(f"s3.upload_part {key}: part {number} checksum differs")
            return str(response["ETag"])

        return await self._call(
            f"s3.upload_part#{number}",
            key,
            op,
            policy=self.config.part_policy,
            timeout_s=self._part_s(body.size),
            on_retry=on_retry,
        )

    async def complete_upload(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[CompletedPart],
        *,
        checksum: S3Checksum,
        overwrite: bool,
    ) -> Completion:
        field_name = FIELDS[self.config.checksum_algorithm]
        args: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "UploadId": upload_id,
            "MultipartUpload": {
                "Parts": [{"PartNumber": p.number, "ETag": p.etag, field_name: p.checksum} for p in parts]
            },
        }
        if not overwrite:
            args["IfNoneMatch"] = "*"
        size = sum(p.size for p in parts)
        refused = False  # S3 refused to complete this upload (its key was taken): the upload is still open

        async def op(client: Any) -> Completion:
            nonlocal refused
            try:
                response = await client.complete_multipart_upload(**args)
            except botocore.exceptions.ClientError as exc:
                codes = (NO_SUCH_UPLOAD, PRECONDITION_FAILED)
                done = await self._done_before(client, exc, key, checksum, size, *codes)
                if done is None:
                    raise
                refused = errors.error_code(exc) == PRECONDITION_FAILED
                return done
            return Completion(str(response.get("ETag", "")).strip('"'), wire.parse_checksum(response))

        # S3 may take minutes to assemble a large object
        timeout_s = max(self.config.call_timeout_s, 600.0)
        done = await self._call("s3.complete_upload", key, op, timeout_s=timeout_s)
        if refused:  # the object under the key is already ours: this second upload of it is not needed
            try:
                await self.abort_upload(key, upload_id)
            except (RetryableError, ItemFailedError) as exc:  # ours stands; a later sweep aborts this one
                _log.warning("s3.abort_failed", key=key, error=str(exc))
        return done

    async def abort_upload(self, key: str, upload_id: str) -> bool:
        """Abort one upload; False when it was gone already (aborted or completed): what we wanted."""

        async def op(client: Any) -> bool:
            try:
                await client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except botocore.exceptions.ClientError as exc:
                if errors.error_code(exc) != NO_SUCH_UPLOAD:
                    raise
                return False
            return True

        return await self._call("s3.abort_upload", key, op)

    async def record(self, key: str, sha256: str, checksum: S3Checksum) -> None:
        tag_set = [{"Key": k, "Value": v} for k, v in proof.to_tags(sha256, checksum).items()]

        async def op(client: Any) -> None:
            await client.put_object_tagging(Bucket=self.bucket, Key=key, Tagging={"TagSet": tag_set})

        await self._call("s3.put_tags", key, op)

    # ------------------------------------------------------------------------------------------ helpers

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


async def _gather(chunks: AsyncIterable[bytes], expected_size: int, key: str) -> PartBuffer:
    """All of a small stream in one buffer; ItemFailedError if it is not `expected_size` bytes long."""
    body = PartBuffer(expected_size)  # filled in place; a longer stream is refused before it overflows
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > expected_size:
                raise ItemFailedError("s3.put", key, f"stream longer than the expected {expected_size} bytes")
            body.write(chunk)
        if size != expected_size:
            raise ItemFailedError("s3.put", key, f"stream ended at {size} of {expected_size} bytes")
    except BaseException:
        body.release()
        raise
    return body


__all__ = [
    "CONDITIONAL_CONFLICT",
    "NO_SUCH_UPLOAD",
    "PRECONDITION_FAILED",
    "S3ItemError",
    "S3Store",
    "StoreConfig",
]
