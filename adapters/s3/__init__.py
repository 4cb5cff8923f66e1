"""The S3 adapter: the archive store (streaming multipart uploads with checksums) and the archive proof."""

from __future__ import annotations

from adapters.s3.checksums import ALGORITHMS, Algorithm, S3Checksum, computable, of_etag
from adapters.s3.client import S3Store
from adapters.s3.config import StoreConfig
from adapters.s3.errors import (
    CONDITIONAL_CONFLICT,
    NO_SUCH_UPLOAD,
    PRECONDITION_FAILED,
    S3FatalError,
    S3ItemError,
)
from adapters.s3.interfaces import ArchiveStore, PartWriter
from adapters.s3.multipart import WriterStats, part_size
from adapters.s3.proof import ArchiveRecord, from_head, is_legacy, legacy_problems, to_metadata, verify
from adapters.s3.reprove import StoredDigest, StoredProof
from adapters.s3.restores import (
    ARCHIVED_CLASSES,
    RESTORE_TIERS,
    RestoreAnswer,
    RestoreOutcome,
    RestoreState,
    restore_state,
)
from adapters.s3.wire import STORAGE_CLASSES, ListedObject, ObjectHead, OpenUpload, PutResult

__all__ = [
    "ALGORITHMS",
    "ARCHIVED_CLASSES",
    "CONDITIONAL_CONFLICT",
    "NO_SUCH_UPLOAD",
    "PRECONDITION_FAILED",
    "RESTORE_TIERS",
    "STORAGE_CLASSES",
    "Algorithm",
    "ArchiveRecord",
    "ArchiveStore",
    "ListedObject",
    "ObjectHead",
    "OpenUpload",
    "PartWriter",
    "PutResult",
    "RestoreAnswer",
    "RestoreOutcome",
    "RestoreState",
    "S3Checksum",
    "S3FatalError",
    "S3ItemError",
    "S3Store",
    "StoreConfig",
    "StoredDigest",
    "StoredProof",
    "WriterStats",
    "computable",
    "from_head",
    "is_legacy",
    "legacy_problems",
    "of_etag",
    "part_size",
    "restore_state",
    "to_metadata",
    "verify",
]
