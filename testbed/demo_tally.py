"""The demo's closing table: entries per state, bytes in Kaltura before and after, bytes in S3 by class.

Read from the testbed itself (the simulator's control surface and a listing of the bucket), not from the
tool's reports, so the table is a second opinion on what the steps did. A state here is judged from the tags
and the object under the entry's key only: `initial` (neither), `archived` (the tag and an object of the
source's size, exactly or within Kaltura's KB rounding), `place_holder` (both tags and an object), `other`
(anything else: the tags and the bucket disagree). Deleted entries are left out: their bytes are gone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3  # type: ignore[import-untyped]  # no stubs installed

ARCHIVED_TAG, REPLACED_TAG = "archived_to_s3", "flavors_deleted"
STATES = ("initial", "archived", "place_holder", "other")
DELETED = "3"  # an entry's status once deleted
FLAVOR_DELETED = 3
KB = 1024


@dataclass(frozen=True)
class S3Class:
    """Objects and bytes of one storage class."""

    objects: int
    bytes: int


@dataclass(frozen=True)
class Closing:
    """The figures of the closing table."""

    states: dict[str, int]
    kaltura_bytes_before: int
    kaltura_bytes_after: int
    s3: dict[str, S3Class] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "states": self.states,
            "kaltura_bytes": {"before": self.kaltura_bytes_before, "after": self.kaltura_bytes_after,
                              "freed": self.kaltura_bytes_before - self.kaltura_bytes_after},
            "s3": {name: {"objects": c.objects, "bytes": c.bytes} for name, c in self.s3.items()},
        }  # fmt: skip


def live(entries: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The entries that are not deleted."""
    return [e for e in entries if str(e["status"]) != DELETED]


def flavor_bytes(flavor: Mapping[str, Any]) -> int:
    """What one flavor takes in Kaltura: its bytes, or its KB figure when Kaltura gives no byte count."""
    if flavor["status"] == FLAVOR_DELETED:
        return 0
    return int(flavor["sizeInBytes"] or int(flavor["size"]) * KB)


def kaltura_bytes(entries: Iterable[Mapping[str, Any]]) -> int:
    """Bytes of every flavor of every entry not deleted."""
    return sum(flavor_bytes(f) for e in live(entries) for f in e["flavors"])


def _source_agrees(entry: Mapping[str, Any], size: int) -> bool:
    sources = [f for f in entry["flavors"] if f["isOriginal"]]
    if not sources:
        return False
    source = sources[0]
    return size == source["sizeInBytes"] or -(-size // KB) == int(source["size"])


def state_of(entry: Mapping[str, Any], object_size: int | None) -> str:
    """One of STATES, from the entry's tags and the object under its key."""
    tags = set(entry["tags"])
    archived, replaced = ARCHIVED_TAG in tags, REPLACED_TAG in tags
    if not archived and not replaced:
        return "initial" if object_size is None else "other"
    if object_size is None or not archived:
        return "other"
    if replaced:
        return "place_holder"
    return "archived" if _source_agrees(entry, object_size) else "other"


def states(entries: Iterable[Mapping[str, Any]], objects: Mapping[str, int]) -> dict[str, int]:
    """Entries per state; `objects` maps each key of the bucket to its size."""
    counts = Counter(state_of(e, objects.get(e["id"])) for e in live(entries))
    return {state: counts[state] for state in STATES}


def list_bucket(client_kwargs: Mapping[str, Any], bucket: str) -> list[tuple[str, int, str]]:
    """Every object of the bucket: key, size, storage class (blocking: run it in a thread)."""
    client = boto3.client("s3", **client_kwargs)
    found = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            found.append((obj["Key"], int(obj["Size"]), obj.get("StorageClass", "STANDARD")))
    return found


Entries = Sequence[Mapping[str, Any]]


def closing(before: Entries, after: Entries, objects: Sequence[tuple[str, int, str]]) -> Closing:
    """The closing figures from the entries at the start and at the end and the bucket at the end."""
    by_class: dict[str, S3Class] = {}
    for _, size, storage_class in objects:
        seen = by_class.get(storage_class, S3Class(0, 0))
        by_class[storage_class] = S3Class(seen.objects + 1, seen.bytes + size)
    return Closing(
        states=states(after, {key: size for key, size, _ in objects}),
        kaltura_bytes_before=kaltura_bytes(before),
        kaltura_bytes_after=kaltura_bytes(after),
        s3=dict(sorted(by_class.items())),
    )


def human_bytes(n: float) -> str:
    """Decimal units, as a person reads a size."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    raise AssertionError("unreachable")


def table_lines(figures: Closing) -> list[str]:
    """The closing table for people: exact counts and bytes, a readable size beside each."""
    lines = ["state\tentries"]
    lines += [f"{state}\t{n}" for state, n in figures.states.items()]
    before, after = figures.kaltura_bytes_before, figures.kaltura_bytes_after
    lines += ["", "kaltura\tbytes"]
    for name, value in (("before", before), ("after", after), ("freed", before - after)):
        lines.append(f"{name}\t{value}\t({human_bytes(value)})")
    lines += ["", "s3 class\tobjects\tbytes"]
    lines += [f"{name}\t{c.objects}\t{c.bytes}\t({human_bytes(c.bytes)})" for name, c in figures.s3.items()]
    if not figures.s3:
        lines.append("(the bucket is empty)")
    return lines
