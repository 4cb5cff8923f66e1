"""The archive proof, pure: what we record on an object, and whether an object proves a copy.

The record is split by when we know it. Facts about the source (partner, entry, flavor id and version, size,
time, tool) are known before the first byte and go in the object's user metadata, which S3 fixes at creation.
Facts about the bytes (our SHA-256, the S3 checksum we computed) are only known after the last byte; a
multipart upload cannot add metadata at completion, so they go in object tags (`ka-sha256`, `ka-checksum`),
which S3 lets us write after completion and on any storage class, Glacier included.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from adapters.s3.checksums import S3Checksum
from adapters.s3.wire import ObjectHead

PARTNER: Final = "ka-partner"
ENTRY: Final = "ka-entry"
FLAVOR: Final = "ka-flavor"
VERSION: Final = "ka-version"
BYTES: Final = "ka-bytes"
ARCHIVED_AT: Final = "ka-archived-at"
TOOL: Final = "ka-tool"
SHA256: Final = "ka-sha256"
CHECKSUM: Final = "ka-checksum"

LEGACY_TOLERANCE: Final = 0.03  # Kaltura reports flavor sizes in KB, rounded: the old tool's rule


@dataclass(frozen=True)
class ArchiveRecord:
    """What an archive object must be a copy of. `sha256` and `checksum` are None until the bytes are in."""

    partner_id: int
    entry_id: str
    flavor_id: str
    flavor_version: str
    source_bytes: int
    archived_at: str = ""  # ISO 8601 UTC; informative, never compared
    tool: str = ""  # kaltura-archiver version; informative, never compared
    sha256: str | None = None
    checksum: S3Checksum | None = None

    def with_result(self, sha256: str, checksum: S3Checksum) -> ArchiveRecord:
        """This record completed with what streaming the bytes produced."""
        return dataclasses.replace(self, sha256=sha256, checksum=checksum)


def to_metadata(record: ArchiveRecord) -> dict[str, str]:
    """The user metadata of an archive object (the facts known before upload)."""
    return {
        PARTNER: str(record.partner_id),
        ENTRY: record.entry_id,
        FLAVOR: record.flavor_id,
        VERSION: record.flavor_version,
        BYTES: str(record.source_bytes),
        ARCHIVED_AT: record.archived_at,
        TOOL: record.tool,
    }


def to_tags(sha256: str, checksum: S3Checksum) -> dict[str, str]:
    """The object tags that complete the record once the bytes are in."""
    return {SHA256: sha256, CHECKSUM: str(checksum)}


def record_in_metadata(metadata: Mapping[str, str]) -> bool:
    """Whether user metadata carries the whole record (a single PUT's does), so no tag read is needed."""
    keys = {str(k).lower() for k in metadata}
    return {ENTRY, SHA256, CHECKSUM} <= keys


def from_head(head: ObjectHead) -> ArchiveRecord | None:
    """The record an object carries (metadata plus tags, if fetched); None for a legacy object."""
    meta = head.metadata
    if ENTRY not in meta:
        return None
    tags: Mapping[str, str] = head.tags or {}
    checksum_text = tags.get(CHECKSUM) or meta.get(CHECKSUM)
    return ArchiveRecord(
        partner_id=_int(meta.get(PARTNER)),
        entry_id=meta.get(ENTRY, ""),
        flavor_id=meta.get(FLAVOR, ""),
        flavor_version=meta.get(VERSION, ""),
        source_bytes=_int(meta.get(BYTES)),
        archived_at=meta.get(ARCHIVED_AT, ""),
        tool=meta.get(TOOL, ""),
        sha256=tags.get(SHA256) or meta.get(SHA256) or None,
        checksum=S3Checksum.parse(checksum_text) if checksum_text else None,
    )


def is_legacy(head: ObjectHead) -> bool:
    """An object the old tool wrote: no archive metadata at all."""
    return from_head(head) is None


def verify(head: ObjectHead, expected: ArchiveRecord) -> list[str]:
    """Why `head` does not prove a copy of `expected`; empty when it does.

    Checked: the length; the source facts in the metadata; our SHA-256 against the recorded one; S3's own
    object checksum against ours (from `expected`, else from the object's record). `archived_at` and `tool`
    differ between runs and are not compared. Tags must have been fetched for the SHA-256 and checksum.
    """
    problems: list[str] = []
    if head.size != expected.source_bytes:
        problems.append(f"size: S3 has {head.size} bytes, expected {expected.source_bytes}")
    stored = from_head(head)
    if stored is None:
        problems.append("no archive metadata (legacy object)")
        return problems
    for name, ours, theirs in (
        (PARTNER, expected.partner_id, stored.partner_id),
        (ENTRY, expected.entry_id, stored.entry_id),
        (FLAVOR, expected.flavor_id, stored.flavor_id),
        (VERSION, expected.flavor_version, stored.flavor_version),
        (BYTES, expected.source_bytes, stored.source_bytes),
    ):
        if str(ours) != str(theirs):
            problems.append(f"metadata {name}: object has {theirs!r}, expected {ours!r}")
    if stored.sha256 is None and head.tags is None:
        problems.append("the record's tags were not read: sha256 unknown")
    elif stored.sha256 is None:
        problems.append("no recorded sha256 (upload interrupted before the record was written?)")
    elif expected.sha256 is not None and stored.sha256 != expected.sha256:
        problems.append(f"sha256: recorded {stored.sha256}, expected {expected.sha256}")
    problems.extend(_checksum_problems(head, expected.checksum or stored.checksum))
    return problems


def _checksum_problems(head: ObjectHead, ours: S3Checksum | None) -> list[str]:
    if ours is None:
        return ["no recorded S3 checksum"]
    if head.checksum is None:
        return ["S3 reports no checksum for the object"]
    if not head.checksum.matches(ours):
        return [f"S3 checksum {head.checksum} differs from ours {ours}"]
    return []


def legacy_problems(head: ObjectHead, expected_bytes: int, tolerance: float = LEGACY_TOLERANCE) -> list[str]:
    """Why a legacy object (size only) does not match a source of `expected_bytes`; empty when it does."""
    if expected_bytes <= 0:
        return [f"source size unknown ({expected_bytes})"]
    off = abs(head.size - expected_bytes) / expected_bytes
    if off > tolerance:
        return [f"size: S3 has {head.size} bytes, source {expected_bytes} ({off:.1%} off, > {tolerance:.0%})"]
    return []


def _int(text: str | None) -> int:
    try:
        return int(text or "")
    except ValueError:
        return -1
