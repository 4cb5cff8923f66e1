"""The old tool's per-entry report columns and row, shared by the commands that print one row per entry
(`list --mode video`, `health`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from adapters.kaltura import FlavorAsset, MediaEntry
from adapters.kaltura.wire import ENTRY_STATUS_NAMES, FLAVOR_STATUS_NAMES
from jobs.common.report import Row

# the old tool's columns named after the tags they show (the same names as jobs.lifecycle's tags: common
# imports no lifecycle, so a test keeps the two equal)
TAG_COLUMNS = ("archived_to_s3", "flavors_deleted")

VIDEO_COLUMNS = (
    "last_played_date", "last_played", "plays", "entry_id", "status", *TAG_COLUMNS, "total_KB",
    "orig_KB", "orig_status", "created_date", "created", "creator_id", "tags",
    "name", "original_flavor_id", "original_size_bytes", "categories",
)  # fmt: skip


def date(ts: int | None) -> str | None:
    """A Unix time as the old tool printed it: YYYY-MM-DD in UTC."""
    return None if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def flavor_status(status: int) -> str:
    return FLAVOR_STATUS_NAMES.get(status, str(status))


def video_row(entry: MediaEntry, flavors: Sequence[FlavorAsset], original: FlavorAsset | None) -> Row:
    """The `--mode video` row of one entry; `original` is its source flavor (`lifecycle.original_of`)."""
    return {
        "last_played_date": date(entry.last_played_at),
        "last_played": entry.last_played_at,
        "plays": entry.plays,
        "entry_id": entry.id,
        "status": ENTRY_STATUS_NAMES.get(entry.status, str(entry.status)),
        **{tag: tag if entry.has_tag(tag) else None for tag in TAG_COLUMNS},
        "total_KB": sum(f.size_kb for f in flavors),
        "orig_KB": original.size_kb if original else None,
        "orig_status": flavor_status(original.status) if original else "MISSING",
        "created_date": date(entry.created_at),
        "created": entry.created_at,
        "creator_id": entry.creator_id,
        "tags": ", ".join(entry.tags),
        "name": entry.name,
        "original_flavor_id": original.id if original else None,
        "original_size_bytes": original.size_bytes if original and original.size_bytes else None,
        "categories": entry.categories,
    }
