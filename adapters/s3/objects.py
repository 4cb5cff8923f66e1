"""Archive objects: HEAD (with the record's tags), part 1's size, tags, one-PUT writes and the record."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, Mapping
from typing import Any
from urllib.parse import urlencode

import botocore.exceptions

from adapters.s3 import errors, multipart, proof, wire
from adapters.s3.checksums import FIELDS, S3Checksum, of_single
from adapters.s3.direct import put_headers
from adapters.s3.errors import PRECONDITION_FAILED, S3ItemError
from adapters.s3.multipart import Completion, PartBuffer
from adapters.s3.reprove import Layout, StoredDigest, digest_as_stored
from adapters.s3.transport import S3Transport
from adapters.s3.wire import ListedObject, ObjectHead, PutResult
from engine.errors import ItemFailedError
from engine.logs import get_logger

_log = get_logger("adapters.s3")


class ObjectCalls(S3Transport):
    """Reads and writes of whole objects (the store's uploads are `adapters.s3.uploads`)."""

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

    async def list_objects(self, *, page_size: int = 1000) -> AsyncGenerator[ListedObject, None]:
        """Every object under our prefix, in key order, one ListObjectsV2 page (`page_size` keys, S3's
        most is 1,000) at a time: size, storage class and date only (no metadata: that takes a HEAD)."""
        prefix = self.config.prefix
        token: dict[str, str] = {}
        while True:

            async def op(client: Any, token: dict[str, str] = token) -> dict[str, Any]:
                page: dict[str, Any] = await client.list_objects_v2(
                    Bucket=self.bucket, Prefix=prefix, MaxKeys=page_size, **token
                )
                return page

            page = await self._call("s3.list_objects", prefix or "/", op)
            for listed in wire.parse_listing(page):
                yield listed
            if not page.get("IsTruncated"):
                return
            token = {"ContinuationToken": str(page["NextContinuationToken"])}

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

    async def stored_digest(self, head: ObjectHead) -> StoredDigest:
        """A digest that says whether a source is the object `head` describes, as S3 stores it: in its part
        layout (part 1's size, asked of S3 only when the object has several parts) and its algorithm.
        ValueError when S3 reports no checksum for the object (nothing to prove against)."""
        stored = head.checksum
        if stored is None:
            raise ValueError(f"{head.key}: S3 reports no checksum for the object")
        several = stored.composite and (stored.parts is None or stored.parts > 1)  # only then is part 1 asked
        first = await self.first_part_size(head.key) if several else None
        today = Layout(multipart.part_size(head.size, self.config.part_size), self.config.checksum_algorithm)
        return digest_as_stored(stored, head.size, first, today)

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

    async def record(self, key: str, sha256: str, checksum: S3Checksum) -> None:
        """Write the checksum record (`ka-sha256`, `ka-checksum`) in the object's tags, keeping its others."""
        await self._merge_tags(key, proof.to_tags(sha256, checksum))

    async def record_new(self, key: str, sha256: str, checksum: S3Checksum) -> None:
        """The record of an object our own upload just completed: it has no tags yet (CreateMultipartUpload
        sends none), so there is nothing to keep and nothing is read first."""
        await self._put_tags(key, proof.to_tags(sha256, checksum))

    async def record_legacy(self, key: str, record: proof.ArchiveRecord) -> None:
        """Write the whole record of an old tool's object, proven to be `record`'s source, in its tags
        (`ka-partner` … `ka-checksum`), keeping its others: its bytes and metadata stay as they are."""
        await self._merge_tags(key, proof.to_legacy_tags(record))

    async def record_restored_version(self, key: str, version: str) -> None:
        """Tag the object with the source flavor's version after a restore (`ka-restored-version`), keeping
        its other tags. Only once the restored content is proven to be the object's bytes."""
        await self._merge_tags(key, proof.to_restored_tags(version))

    async def _merge_tags(self, key: str, ours: Mapping[str, str]) -> None:
        """Set `ours` in the object's tag set: PutObjectTagging replaces the whole set, so the tags already
        there (a bucket's lifecycle rules filter on theirs) are read first and written back with ours.
        ItemFailedError when together they are over S3's limit: the entry fails rather than drop one."""
        try:
            merged = proof.merge_tags(await self.tags(key), ours)
        except ValueError as exc:
            raise ItemFailedError("s3.put_tags", key, str(exc)) from None
        await self._put_tags(key, merged)

    async def _put_tags(self, key: str, tags: Mapping[str, str]) -> None:
        """Replace the object's whole tag set with `tags`."""
        tag_set = [{"Key": k, "Value": v} for k, v in tags.items()]

        async def op(client: Any) -> None:
            await client.put_object_tagging(Bucket=self.bucket, Key=key, Tagging={"TagSet": tag_set})

        await self._call("s3.put_tags", key, op)
