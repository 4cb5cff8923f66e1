"""S3 responses as frozen dataclasses: object heads, upload results, open multipart uploads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from adapters.s3.checksums import FIELDS, S3Checksum, reported

STORAGE_CLASSES: Final[tuple[str, ...]] = ("STANDARD", "GLACIER", "DEEP_ARCHIVE", "GLACIER_IR")
DEFAULT_STORAGE_CLASS: Final = "STANDARD"  # what the old tool wrote; a bucket lifecycle rule moves it on


def check_storage_class(name: str) -> str:
    """`name` as a storage class we write; ValueError names the allowed ones."""
    upper = name.upper()
    if upper not in STORAGE_CLASSES:
        raise ValueError(f"storage class must be one of {', '.join(STORAGE_CLASSES)}, not {name!r}")
    return upper


@dataclass(frozen=True)
class ObjectHead:
    """What S3 says about one object: size, checksum, user metadata, tags (when fetched), class, restore."""

    key: str
    size: int
    etag: str
    checksum: S3Checksum | None
    metadata: Mapping[str, str]
    storage_class: str = DEFAULT_STORAGE_CLASS
    last_modified: datetime | None = None
    restore: str | None = None  # the raw `x-amz-restore` header of an archived object, if any
    tags: Mapping[str, str] | None = None  # None: not fetched


@dataclass(frozen=True)
class ListedObject:
    """One object as ListObjectsV2 reports it: no metadata, no tags, no checksum (those need a HEAD)."""

    key: str
    size: int
    storage_class: str
    last_modified: datetime | None


@dataclass(frozen=True)
class PutResult:
    """A finished upload: what we streamed and what S3 must now report about the object."""

    key: str
    bytes_written: int
    sha256: str  # hex, of every byte streamed
    checksum: S3Checksum  # S3's object checksum, computed from our own part digests
    etag: str
    parts: int  # 0 for a single PUT


@dataclass(frozen=True)
class OpenUpload:
    """A multipart upload S3 still holds (never completed nor aborted)."""

    key: str
    upload_id: str = field(repr=False)
    initiated: datetime | None = None


def parse_head(key: str, response: Mapping[str, Any], tags: Mapping[str, str] | None = None) -> ObjectHead:
    """An `ObjectHead` from a `head_object(ChecksumMode="ENABLED")` response."""
    return ObjectHead(
        key=key,
        size=int(response["ContentLength"]),
        etag=str(response.get("ETag", "")).strip('"'),
        checksum=parse_checksum(response),
        metadata={str(k).lower(): str(v) for k, v in (response.get("Metadata") or {}).items()},
        storage_class=str(response.get("StorageClass") or DEFAULT_STORAGE_CLASS),
        last_modified=response.get("LastModified"),
        restore=response.get("Restore"),
        tags=tags,
    )


def parse_checksum(response: Mapping[str, Any]) -> S3Checksum | None:
    """The object checksum a response carries, whichever algorithm; None when it has none."""
    for algorithm, name in FIELDS.items():
        value = response.get(name)
        if value:
            return reported(algorithm, str(value), response.get("ChecksumType"))
    return None


def parse_tags(response: Mapping[str, Any]) -> dict[str, str]:
    """`get_object_tagging`'s TagSet as a dict."""
    return {str(t["Key"]): str(t["Value"]) for t in response.get("TagSet", [])}


def parse_listing(response: Mapping[str, Any]) -> list[ListedObject]:
    """The objects on one page of `list_objects_v2`."""
    return [
        ListedObject(
            key=str(o["Key"]),
            size=int(o.get("Size", 0)),
            storage_class=str(o.get("StorageClass") or DEFAULT_STORAGE_CLASS),
            last_modified=o.get("LastModified"),
        )
        for o in response.get("Contents", [])
    ]


def parse_uploads(response: Mapping[str, Any]) -> list[OpenUpload]:
    """The uploads on one page of `list_multipart_uploads`."""
    return [
        OpenUpload(key=str(u["Key"]), upload_id=str(u["UploadId"]), initiated=u.get("Initiated"))
        for u in response.get("Uploads", [])
    ]
