"""What restoring an archive needs of S3: an object's restore state, a Glacier restore request, and a
streaming read of its bytes that resumes after a cut connection.

An object in GLACIER or DEEP_ARCHIVE cannot be read until a restore has made a temporary copy of it: S3
answers a GET `403 InvalidObjectState` before that, while the restore is in progress, and once the copy has
expired. HEAD tells which (`x-amz-restore`). A restore request is answered `202` (started), `200` (a copy is
there already: its days now count from today), `409 RestoreAlreadyInProgress`, or `403
ObjectAlreadyInActiveTierError` (the object is in a class read at once: no restore needed).
"""

from __future__ import annotations

import enum
import re
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

import anyio
import botocore.exceptions

from adapters.s3 import errors
from adapters.s3.errors import S3ItemError
from adapters.s3.objects import ObjectCalls
from adapters.s3.wire import ObjectHead
from engine.errors import ItemFailedError
from engine.logs import add_secret, get_logger

ARCHIVED_CLASSES: Final = frozenset({"GLACIER", "DEEP_ARCHIVE"})
RESTORE_TIERS: Final = ("Expedited", "Standard", "Bulk")
READ_CHUNK: Final = 1 << 20  # bytes handed on at a time by `read`

IN_PROGRESS_CODE: Final = "RestoreAlreadyInProgress"
EXPEDITED_UNAVAILABLE_CODE: Final = "GlacierExpeditedRetrievalNotAvailable"
ACTIVE_TIER_CODE: Final = "ObjectAlreadyInActiveTierError"
INVALID_OBJECT_STATE: Final = "InvalidObjectState"
# what S3 may say of a tier the object's class has no such retrieval for (Expedited for DEEP_ARCHIVE)
_TIER_REFUSED_CODES: Final = frozenset({"InvalidArgument", "InvalidTier"})

# a body cut short, in each form botocore and aiohttp report it
_CUT: Final = (*errors.CONNECTION_ERRORS, botocore.exceptions.IncompleteReadError)

_ONGOING = re.compile(r'ongoing-request\s*=\s*"(true|false)"', re.IGNORECASE)
_EXPIRY = re.compile(r'expiry-date\s*=\s*"([^"]+)"', re.IGNORECASE)
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")

_log = get_logger("adapters.s3")


class RestoreOutcome(enum.StrEnum):
    """What a restore request did."""

    REQUESTED = "requested"  # 202: a restore has started
    IN_PROGRESS = "in_progress"  # 409: one was started before and is not done
    RESTORED = "restored"  # 200: a restored copy is there; its days now count from today
    NOT_NEEDED = "not_needed"  # the object is in a class read at once (STANDARD, GLACIER_IR)


@dataclass(frozen=True)
class RestoreAnswer:
    """A restore request's outcome, and the tier it was finally sent with (Standard after a fallback)."""

    outcome: RestoreOutcome
    tier: str


@dataclass(frozen=True)
class RestoreState:
    """Whether an object can be read now, from its HEAD."""

    key: str
    size: int
    etag: str
    storage_class: str
    readable: bool  # a GET gives its bytes now: an active class, or a restored copy not yet expired
    ongoing: bool  # a restore is in progress
    expiry: datetime | None  # when the restored copy is deleted (None: no restored copy)

    @property
    def archived(self) -> bool:
        """In a class that needs a restore before a read (GLACIER, DEEP_ARCHIVE)."""
        return self.storage_class in ARCHIVED_CLASSES


def parse_restore(header: str | None) -> tuple[bool, datetime | None]:
    """`x-amz-restore` as (restore in progress, expiry of the restored copy); (False, None) without one."""
    if not header:
        return False, None
    ongoing = _ONGOING.search(header)
    if ongoing is not None and ongoing.group(1).lower() == "true":
        return True, None
    expiry = _EXPIRY.search(header)
    if expiry is None:
        return False, None
    try:
        return False, parsedate_to_datetime(expiry.group(1))
    except (TypeError, ValueError):
        return False, None


def restore_state(head: ObjectHead) -> RestoreState:
    """The restore state an object's HEAD gives."""
    ongoing, expiry = parse_restore(head.restore)
    archived = head.storage_class in ARCHIVED_CLASSES
    return RestoreState(
        key=head.key,
        size=head.size,
        etag=head.etag,
        storage_class=head.storage_class,
        readable=not archived or (not ongoing and expiry is not None),
        ongoing=ongoing,
        expiry=expiry,
    )


def tier_for(storage_class: str, tier: str) -> str:
    """The tier to ask for: as configured, but never Expedited for DEEP_ARCHIVE (S3 has no such retrieval
    for it): Standard. ValueError for an unknown tier."""
    if tier not in RESTORE_TIERS:
        raise ValueError(f"restore tier must be one of {', '.join(RESTORE_TIERS)}, not {tier!r}")
    return "Standard" if tier == "Expedited" and storage_class == "DEEP_ARCHIVE" else tier


def content_range_start(header: str | None) -> int | None:
    """The first byte of a `Content-Range` (`bytes 100-199/1000`); None when absent or unreadable."""
    match = _CONTENT_RANGE.match((header or "").strip())
    return int(match.group(1)) if match is not None else None


MAX_PRESIGN_S: Final = 7 * 86400  # SigV4's longest presigned URL


class RestoreCalls(ObjectCalls):
    """Restore state, restore requests, streaming reads and presigned GET URLs of archive objects."""

    async def presigned_get(self, key: str, *, expires_s: int) -> str:
        """A URL that lets whoever holds it GET the object for `expires_s` seconds, signed here with the
        run's credentials (no request is sent; temporary credentials end it when they expire). It is a
        secret: registered for redaction before it is returned."""
        if self._client is None:
            raise RuntimeError("S3Store used outside `async with`")
        url: str = await self._client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": key},
            ExpiresIn=max(1, min(MAX_PRESIGN_S, int(expires_s))),
        )
        add_secret(url)
        return url

    async def restore_state(self, key: str) -> RestoreState | None:
        """The object's restore state from its HEAD (no tag read); None when there is no object."""
        head = await self.head(key, with_tags=False)
        return restore_state(head) if head is not None else None

    async def request_restore(self, key: str, *, storage_class: str, tier: str, days: int) -> RestoreAnswer:
        """Ask S3 to restore `key` (in `storage_class`, from its HEAD) at `tier` for `days` days.

        Expedited goes as Standard for DEEP_ARCHIVE, and falls back to Standard when S3 has no Expedited
        capacity (`503 GlacierExpeditedRetrievalNotAvailable`) or refuses the tier for the object's class
        (it may have moved on since its HEAD). ValueError for an unknown tier or days below 1.
        """
        if days < 1:
            raise ValueError(f"restore days must be at least 1, not {days}")
        first = tier_for(storage_class, tier)

        async def op(client: Any) -> RestoreAnswer:
            sent = first
            while True:
                try:
                    return await self._restore_once(client, key, storage_class, sent, days)
                except botocore.exceptions.ClientError as exc:
                    code = errors.error_code(exc)
                    refused = code == EXPEDITED_UNAVAILABLE_CODE or code in _TIER_REFUSED_CODES
                    if sent != "Expedited" or not refused:
                        raise
                    _log.info("s3.restore_expedited_refused", key=key, code=code, tier="Standard")
                    sent = "Standard"

        return await self._call("s3.restore", key, op)

    async def _restore_once(
        self, client: Any, key: str, storage_class: str, tier: str, days: int
    ) -> RestoreAnswer:
        """One RestoreObject at `tier`: its outcome; ClientError for any other refusal."""
        request = {"Days": days, "GlacierJobParameters": {"Tier": tier}}
        try:
            response = await client.restore_object(Bucket=self.bucket, Key=key, RestoreRequest=request)
        except botocore.exceptions.ClientError as exc:
            code = errors.error_code(exc)
            if code == IN_PROGRESS_CODE:
                return RestoreAnswer(RestoreOutcome.IN_PROGRESS, tier)
            # S3 documents the first; the second is what it (and moto) has been seen to answer for an
            # object in a class read at once
            active = code == INVALID_OBJECT_STATE and storage_class not in ARCHIVED_CLASSES
            if code == ACTIVE_TIER_CODE or active:
                return RestoreAnswer(RestoreOutcome.NOT_NEEDED, tier)
            raise
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        outcome = RestoreOutcome.RESTORED if status == 200 else RestoreOutcome.REQUESTED
        return RestoreAnswer(outcome, tier)

    async def read(
        self, key: str, *, etag: str | None = None, chunk_size: int = READ_CHUNK
    ) -> AsyncGenerator[bytes, None]:
        """The object's bytes, `chunk_size` at most at a time, never the whole object in memory.

        A connection cut mid-body resumes from the next byte (`Range`, and `If-Match` on the ETag the first
        answer gave, or `etag`), within the store's retry policy; an object that changed meanwhile, a server
        that ignores Range, or an archived object with no restored copy (`403 InvalidObjectState`) is an
        S3ItemError for this entry.
        """
        position, failures = 0, 0
        total: int | None = None
        while total is None or position < total:
            response = await self._open_read(key, position, etag)  # retried within the policy itself
            etag = etag or str(response.get("ETag", "")).strip('"') or None
            total = _total(response, position)
            try:
                async for chunk in _chunks(response["Body"], chunk_size):
                    position += len(chunk)
                    failures = 0  # progress: the policy counts failures in a row
                    yield chunk
                if position < total:
                    raise ConnectionError(f"the body ended at byte {position} of {total}")
            except _CUT as exc:
                failures += 1
                if failures >= self.config.policy.attempts:
                    raise errors.from_connection_error(exc, operation="s3.get", key=key) from None
                _log.info("s3.read_resumed", key=key, position=position, error=type(exc).__name__)
                await anyio.sleep(self.config.policy.backoff_s(failures))

    async def _open_read(self, key: str, position: int, etag: str | None) -> dict[str, Any]:
        """A GetObject from byte `position` (its body not read yet), of the object whose ETag is `etag`."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if position:
            args["Range"] = f"bytes={position}-"
        if etag:
            args["IfMatch"] = f'"{etag}"'

        async def op(client: Any) -> dict[str, Any]:
            try:
                response: dict[str, Any] = await client.get_object(**args)
            except botocore.exceptions.ClientError as exc:
                raise _read_refused(exc, key) or exc from None
            if position and content_range_start(response.get("ContentRange")) != position:
                response["Body"].close()
                raise ItemFailedError("s3.get", key, f"S3 ignored Range from byte {position}: cannot resume")
            return response

        return await self._call("s3.get", key, op)


def _read_refused(exc: botocore.exceptions.ClientError, key: str) -> S3ItemError | None:
    """The entry's error for a GET S3 refuses because of the object's state; None for any other refusal."""
    code = errors.error_code(exc)
    if code == INVALID_OBJECT_STATE:
        storage_class = exc.response.get("Error", {}).get("StorageClass") or "an archive class"
        cause = (
            f"the object is in {storage_class} with no restored copy to read (never restored, restore in "
            "progress, or its copy expired): request a restore and read it once done"
        )
        return S3ItemError("s3.get", key, code, cause)
    if code in ("PreconditionFailed", "412"):
        return S3ItemError("s3.get", key, "PreconditionFailed", "the object changed while it was read")
    return None


def _total(response: dict[str, Any], position: int) -> int:
    """The object's whole length, from a GET answer starting at `position`."""
    content_range = str(response.get("ContentRange") or "")
    if "/" in content_range and content_range.rpartition("/")[2].isdigit():
        return int(content_range.rpartition("/")[2])
    return position + int(response.get("ContentLength") or 0)


async def _chunks(body: Any, chunk_size: int) -> AsyncIterator[bytes]:
    """The chunks of a streaming body as they arrive; the body is closed however the iteration ends."""
    try:
        while chunk := await body.read(chunk_size):
            yield chunk
    finally:
        body.close()
