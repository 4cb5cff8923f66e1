"""S3 additional checksums: per-part digests, the object checksum S3 must report, and comparing them.

We upload with CRC32C by default: S3 validates it on every part, it costs almost nothing to compute (the
`crc32c` package uses the CPU's CRC instruction and releases the GIL), and it catches every error a
network or disk is likely to make. SHA256 is allowed for operators who want a cryptographic per-part
digest, at several times the CPU. Either way we also compute the whole object's SHA-256 ourselves while
streaming: that is the archive's content proof; the S3 checksum proves S3 stored what we sent.

For a multipart upload S3's object checksum is COMPOSITE: the digest of the concatenated raw part digests,
reported as `<base64>-<parts>` (moto leaves out the `-<parts>` suffix). A single PUT reports the plain digest.

An old tool's object was written before S3 had additional checksums: it has only its ETag. Once `repair
--prove-legacy` has downloaded it and the original and found them identical, its record's check is that ETag
(`of_etag`, algorithm `ETAG`): not a digest we can compute from bytes, but S3 gives a rewritten object a new
one, so the same ETag is the same object that was proven.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

import crc32c

Algorithm = Literal["CRC32C", "SHA256"]
ALGORITHMS: Final[tuple[Algorithm, ...]] = ("CRC32C", "SHA256")

# the response/request field that carries each algorithm's value, and the ones we may meet on old objects
FIELDS: Final[dict[str, str]] = {
    "CRC32C": "ChecksumCRC32C",
    "SHA256": "ChecksumSHA256",
    "CRC32": "ChecksumCRC32",
    "SHA1": "ChecksumSHA1",
    "CRC64NVME": "ChecksumCRC64NVME",
}

ETAG: Final = "ETAG"  # the record's check of a proven old tool's object: its ETag, not a digest

_SUFFIX = re.compile(r"^(?P<value>[A-Za-z0-9+/=]+)-(?P<parts>[0-9]+)$")


def digest(algorithm: Algorithm, data: bytes | bytearray | memoryview) -> bytes:
    """The raw digest of `data` (4 bytes for CRC32C, 32 for SHA256)."""
    if algorithm == "CRC32C":
        return crc32c.crc32c(data).to_bytes(4, "big")
    return hashlib.sha256(data).digest()


def b64(raw: bytes) -> str:
    """The base64 form S3 uses in `x-amz-checksum-*` headers."""
    return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class S3Checksum:
    """An object checksum as S3 reports it: algorithm, base64 value and, for a composite one, the part count
    (None when it is a full-object checksum or when the server left the `-N` suffix out)."""

    algorithm: str
    value: str
    parts: int | None = None
    composite: bool = False

    def __str__(self) -> str:
        suffix = f"-{self.parts}" if self.parts is not None else ""
        return f"{self.algorithm.lower()}:{self.value}{suffix}"

    @classmethod
    def parse(cls, text: str) -> S3Checksum | None:
        """The inverse of `str()` (`crc32c:dcDL7g==-2`); None for anything else."""
        algorithm, sep, rest = text.partition(":")
        if sep and rest and algorithm.upper() == ETAG:
            return of_etag(rest)
        if not sep or algorithm.upper() not in FIELDS or not rest:
            return None
        return reported(algorithm.upper(), rest)

    @property
    def is_etag(self) -> bool:
        """The check is an object's ETag (a proven old tool's object), not a checksum S3 reports."""
        return self.algorithm == ETAG

    def matches(self, other: S3Checksum) -> bool:
        """Same algorithm and value, and the same part count where both know it."""
        if self.algorithm != other.algorithm or self.value != other.value:
            return False
        return self.parts is None or other.parts is None or self.parts == other.parts


def reported(algorithm: str, value: str, checksum_type: str | None = None) -> S3Checksum:
    """An S3 checksum from a response field: `dcDL7g==-2` is composite over 2 parts."""
    match = _SUFFIX.match(value)
    if match:
        return S3Checksum(algorithm, match["value"], int(match["parts"]), composite=True)
    return S3Checksum(algorithm, value, None, composite=checksum_type == "COMPOSITE")


def of_etag(etag: str) -> S3Checksum:
    """The check recorded for a proven old tool's object: its ETag as S3 reports it (quotes dropped)."""
    return S3Checksum(ETAG, etag.strip('"'))


def computable(checksum: S3Checksum | None) -> bool:
    """S3 reports a checksum we compute (CRC32C, SHA256): a source can be proven against the object without
    reading it. False without one (an old tool's object) or in another algorithm (CRC32, SHA1, ...)."""
    return checksum is not None and checksum.algorithm.upper() in ALGORITHMS


def of_single(algorithm: Algorithm, data: bytes | bytearray | memoryview) -> S3Checksum:
    """What S3 reports for an object written by one PUT."""
    return S3Checksum(algorithm, b64(digest(algorithm, data)))


def of_parts(algorithm: Algorithm, part_digests: Iterable[bytes]) -> S3Checksum:
    """What S3 reports for a multipart object (COMPOSITE) whose parts had these raw digests, in order."""
    raw = list(part_digests)
    return S3Checksum(algorithm, b64(digest(algorithm, b"".join(raw))), len(raw), composite=True)


def check_algorithm(name: str) -> Algorithm:
    """`name` as an upload algorithm; ValueError names the allowed ones."""
    upper = name.upper()
    for algorithm in ALGORITHMS:
        if algorithm == upper:
            return algorithm
    raise ValueError(f"checksum algorithm must be one of {', '.join(ALGORITHMS)}, not {name!r}")
