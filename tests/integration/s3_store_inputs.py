"""What the S3 store tests hand to the store: its configuration, an archive record, a body in chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator

from adapters.s3 import ArchiveRecord, StoreConfig
from adapters.s3.multipart import MiB
from engine.retry import RetryPolicy

FAST = RetryPolicy(attempts=4, base_s=0.01, max_s=0.05, budget_s=10.0)


def config(bucket: str, **changes: object) -> StoreConfig:
    """The store's configuration for `bucket`: 5 MiB parts, three in flight, quick retries; `changes` win."""
    base: dict[str, object] = {"bucket": bucket, "part_size": 5 * MiB, "parts_in_flight": 3, "policy": FAST}
    base["part_policy"] = FAST
    base.update(changes)
    return StoreConfig(**base)  # type: ignore[arg-type]  # keyword bag of StoreConfig fields


def record(data: bytes, entry_id: str = "0_abc") -> ArchiveRecord:
    """The archive record of `data` as the original of `entry_id`."""
    return ArchiveRecord(1000, entry_id, "0_src", "2", len(data), "2026-01-02T03:04:05Z", "test")


async def chunks_of(data: bytes, size: int = 64 * 1024 + 17) -> AsyncIterator[bytes]:
    """`data` in odd-sized chunks, as aiohttp's iter_chunked hands them over."""
    for i in range(0, len(data), size):
        yield data[i : i + size]
