"""Re-proving an object whose checksum record is missing, from the source, without writing a byte of it.

A run can stop between the completion of an upload and the write of its record (the SHA-256 and S3 checksum
object tags). The object then carries our metadata for the current original but nothing proves its bytes.
Rather than overwrite it (never) or trust it (never), the original is streamed again and digested the way the
upload did (same part size, same algorithm): if the object checksum this yields equals the one S3 reports,
the object is that original, and its record can be written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from adapters.s3 import S3Checksum
from adapters.s3.checksums import Algorithm, digest, of_parts, of_single


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
