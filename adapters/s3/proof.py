"""The archive proof, pure: what we record on an object, and whether an object proves a copy.

The record is split by when we know it. Facts about the source (partner, entry, flavor id and version, size,
time, tool) are known before the first byte and go in the object's user metadata, which S3 fixes at creation.
Facts about the bytes (our SHA-256, the S3 checksum we computed) are only known after the last byte; a
multipart upload cannot add metadata at completion, so they go in object tags (`ka-sha256`, `ka-checksum`),
which S3 lets us write after completion and on any storage class, Glacier included.

Tags are written by merging into the object's tag set, never by replacing it: a bucket's own tags (those its
lifecycle rules filter on) stay. S3 allows `MAX_TAGS` per object; when ours and theirs would exceed it, the
write is refused rather than any of theirs dropped (`merge_tags`).

A restored entry (`restore_from_s3` put the archived bytes back with `media.updateContent`, which bumps the
source flavor's version) is recognised by the tag `ka-restored-version`: the version Kaltura gave the restored
content, written only once those bytes are proven to be the object's. The proof accepts the version in the
metadata or that one (`version_matches`).

An old tool's object carries no metadata, and S3 fixes metadata at creation: once `repair --prove-legacy`
has proven it is the entry's original (its bytes give the checksum S3 reports or, for an object without an S3
checksum, a download of it and of the original are the same bytes), the whole record goes in its tags instead
(`to_legacy_tags`), and `from_head` reads the source facts from there. An object proven by download has its
ETag as the record's check (`checksums.of_etag`): `verify` compares it with the ETag S3 reports.
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
TOTAL_BYTES: Final = "ka-total-bytes"
ARCHIVED_AT: Final = "ka-archived-at"
TOOL: Final = "ka-tool"
SHA256: Final = "ka-sha256"
CHECKSUM: Final = "ka-checksum"
RESTORED_VERSION: Final = "ka-restored-version"
MAX_TAGS: Final = 10  # S3's limit per object

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
    # every flavor's bytes of the entry when it was archived (`total_flavor_bytes`); informative, never
    # compared; None on objects written before it was recorded
    total_bytes: int | None = None
    # the source flavor's version after a proven restore (tag `ka-restored-version`); None if never restored
    restored_version: str | None = None

    def with_result(self, sha256: str, checksum: S3Checksum) -> ArchiveRecord:
        """This record completed with what streaming the bytes produced."""
        return dataclasses.replace(self, sha256=sha256, checksum=checksum)


def to_metadata(record: ArchiveRecord) -> dict[str, str]:
    """The user metadata of an archive object (the facts known before upload)."""
    metadata = {
        PARTNER: str(record.partner_id),
        ENTRY: record.entry_id,
        FLAVOR: record.flavor_id,
        VERSION: record.flavor_version,
        BYTES: str(record.source_bytes),
        ARCHIVED_AT: record.archived_at,
        TOOL: record.tool,
    }
    if record.total_bytes is not None:
        metadata[TOTAL_BYTES] = str(record.total_bytes)
    return metadata


def to_tags(sha256: str, checksum: S3Checksum) -> dict[str, str]:
    """The object tags that complete the record once the bytes are in."""
    return {SHA256: sha256, CHECKSUM: str(checksum)}


# the source facts a proven old tool's object carries in its tags (its metadata cannot change)
LEGACY_RECORD_KEYS: Final = (PARTNER, ENTRY, FLAVOR, VERSION, BYTES)


def to_legacy_tags(record: ArchiveRecord) -> dict[str, str]:
    """The tags that record a proven old tool's object: the source facts and the checksum record (7 of
    S3's 10, leaving room for `ka-restored-version` and the bucket's own)."""
    assert record.sha256 is not None
    assert record.checksum is not None
    facts = to_metadata(record)
    return {**{k: facts[k] for k in LEGACY_RECORD_KEYS}, **to_tags(record.sha256, record.checksum)}


def to_restored_tags(version: str) -> dict[str, str]:
    """The tag that says the source flavor's content, now at `version`, was restored from this object."""
    return {RESTORED_VERSION: version}


def merge_tags(theirs: Mapping[str, str], ours: Mapping[str, str]) -> dict[str, str]:
    """The tag set to write: the object's current tags with ours set over them.

    ValueError when the result would exceed S3's `MAX_TAGS`: no tag of another owner is ever dropped.
    """
    merged = {**theirs, **ours}
    if len(merged) > MAX_TAGS:
        foreign = sorted(set(theirs) - set(ours))
        raise ValueError(
            f"the object has {len(foreign)} other tags ({', '.join(foreign)}); with our {len(ours)} that is "
            f"{len(merged)}, over S3's limit of {MAX_TAGS} per object: free {len(merged) - MAX_TAGS} of them"
        )
    return merged


def record_in_metadata(metadata: Mapping[str, str]) -> bool:
    """Whether user metadata carries the whole record (a single PUT's does), so no tag read is needed."""
    keys = {str(k).lower() for k in metadata}
    return {ENTRY, SHA256, CHECKSUM} <= keys


def from_head(head: ObjectHead) -> ArchiveRecord | None:
    """The record an object carries (metadata plus tags, if fetched); None for a legacy object (one whose
    record `repair --prove-legacy` wrote in its tags has its source facts read from there)."""
    tags: Mapping[str, str] = head.tags or {}
    meta = head.metadata
    if ENTRY not in meta:
        if ENTRY not in tags:
            return None
        meta = {k: tags[k] for k in LEGACY_RECORD_KEYS if k in tags}
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
        total_bytes=_int(meta[TOTAL_BYTES]) if TOTAL_BYTES in meta else None,
        restored_version=tags.get(RESTORED_VERSION) or None,
    )


def version_matches(stored: ArchiveRecord, version: str) -> bool:
    """`version` is the source flavor's version the object holds: the archived one, or the one a proven
    restore of its bytes got (`ka-restored-version`)."""
    return version in (stored.flavor_version, stored.restored_version)


def is_legacy(head: ObjectHead) -> bool:
    """An object the old tool wrote: no archive metadata at all."""
    return from_head(head) is None


def verify(head: ObjectHead, expected: ArchiveRecord) -> list[str]:
    """Why `head` does not prove a copy of `expected`; empty when it does.

    Checked: the length; the source facts in the metadata; our SHA-256 against the recorded one; S3's own
    object checksum against ours (from `expected`, else from the object's record), or its ETag where the
    record holds one (an old tool's object proven by download). The flavor version may be the restored one
    (`version_matches`). `archived_at`, `tool` and `total_bytes` differ between runs and are not compared.
    Tags must have been fetched for the SHA-256 and checksum.
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
        (BYTES, expected.source_bytes, stored.source_bytes),
    ):
        if str(ours) != str(theirs):
            problems.append(f"metadata {name}: object has {theirs!r}, expected {ours!r}")
    if not version_matches(stored, expected.flavor_version):
        restored = f" (restored as {stored.restored_version!r})" if stored.restored_version else ""
        problems.append(
            f"metadata {VERSION}: object has {stored.flavor_version!r}{restored}, "
            f"expected {expected.flavor_version!r}"
        )
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
    if ours.is_etag:  # an old tool's object proven by download: S3 gives a rewritten object a new ETag
        if head.etag.strip('"') != ours.value:
            return [f"ETag: S3 reports {head.etag}, the object proven had {ours.value} (rewritten since?)"]
        return []
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
