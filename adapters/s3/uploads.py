"""Multipart uploads: create, upload a part, complete, abort; and the uploads S3 still holds open."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import botocore.exceptions

from adapters.s3 import errors, wire
from adapters.s3.checksums import FIELDS, S3Checksum
from adapters.s3.direct import part_headers
from adapters.s3.errors import NO_SUCH_UPLOAD, PRECONDITION_FAILED
from adapters.s3.multipart import CompletedPart, Completion, OnRetry, PartBuffer
from adapters.s3.transport import S3Transport
from adapters.s3.wire import OpenUpload
from engine.errors import ItemFailedError, RetryableError
from engine.logs import get_logger

_log = get_logger("adapters.s3")


class Uploads(S3Transport):
    """The multipart upload calls a writer makes (`multipart.UploadCalls`), and the sweep of open uploads."""

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
