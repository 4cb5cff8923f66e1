"""Re-proving an object whose checksum record is missing, from the source, without writing a byte of it.

A run can stop between the completion of an upload and the write of its record (the SHA-256 and S3 checksum
object tags). The object then carries our metadata for the current original but nothing proves its bytes.
Rather than overwrite it (never) or trust it (never), the original is streamed again and digested the way the
upload did (same part size, same algorithm): if the object checksum this yields equals the one S3 reports,
the object is that original, and its record can be written.

The way the upload was digested is read from the object, not from today's settings (`ARCHIVER_PART_SIZE` may
have changed since): a plain checksum is one PUT's, a composite one of N parts has every part but the last
the size of part 1 (a HEAD of part 1 says it), and the algorithm is the one S3 reports.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from adapters.s3 import S3Checksum
from adapters.s3.checksums import Algorithm, check_algorithm, digest, of_parts, of_single


@dataclass(frozen=True)
class StreamProof:
    """What digesting a stream gave: its length, SHA-256 and the S3 object checksum an upload of it has."""

    bytes: int
    sha256: str
    checksum: S3Checksum


class StreamDigest:
    """Digests a stream as an upload of `expected_size` bytes in parts of `part_size` would be checksummed.

    Objects smaller than one part are written with one PUT, whose checksum is the plain digest; larger ones
    are multipart uploads, whose checksum is the composite of the part digests. Holds at most one part.
    """

    def __init__(self, *, expected_size: int, part_size: int, algorithm: Algorithm) -> None:
        self._single = expected_size < part_size
        self._part_size = part_size
        self._algorithm: Algorithm = algorithm
        self._sha = hashlib.sha256()
        self._buffer = bytearray()
        self._parts: list[bytes] = []
        self._bytes = 0

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        self._sha.update(chunk)
        self._bytes += len(chunk)
        self._buffer += chunk
        if self._single:
            return
        while len(self._buffer) >= self._part_size:
            self._parts.append(digest(self._algorithm, memoryview(self._buffer)[: self._part_size]))
            del self._buffer[: self._part_size]

    def result(self) -> StreamProof:
        if self._single:
            checksum = of_single(self._algorithm, self._buffer)
        else:
            parts = [*self._parts, digest(self._algorithm, self._buffer)] if self._buffer else self._parts
            checksum = of_parts(self._algorithm, parts)
        return StreamProof(self._bytes, self._sha.hexdigest(), checksum)


@dataclass(frozen=True)
class Layout:
    """How an object's upload was checksummed: the part size (over the size: one PUT) and the algorithm."""

    part_size: int
    algorithm: Algorithm


def layout_of(stored: S3Checksum, size: int, first_part: int | None, default: Layout) -> Layout:
    """The layout an object of `size` bytes with checksum `stored` was uploaded in; `first_part` is the size
    of its part 1 where S3 told it. `default` (today's settings) where the object does not say."""
    try:
        algorithm = check_algorithm(stored.algorithm)
    except ValueError:
        algorithm = default.algorithm
    if not stored.composite:
        return Layout(size + 1, algorithm)  # one PUT: a plain digest of the whole
    if stored.parts == 1:
        return Layout(size, algorithm)
    parts = stored.parts
    if first_part and (parts is None or -(-size // first_part) == parts):
        return Layout(first_part, algorithm)
    return Layout(default.part_size, algorithm)
