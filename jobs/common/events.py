"""The fixed event vocabulary of entry state changes, and the `run.finished` event with its EMF block.

Every state change of an entry is one structlog event whose name comes from `ENTRY_EVENTS` and which carries
every key of `ENTRY_KEYS` (None where it does not apply), so CloudWatch Logs Insights queries can rely on them
(docs/architecture.md, Logs and events). A run ends with one `run.finished` event: counts by outcome, bytes,
rates, and a CloudWatch Embedded Metric Format block (`_aws`) that turns those numbers into metrics with no
agent in between. `events.schema.json` beside this module is the JSON Schema of every event a run logs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from structlog.typing import FilteringBoundLogger

from engine.logs import get_logger

# entry events (one per state change), shared by every job
PLANNED: Final = "entry.planned"  # dry-run: what would have happened
UPLOADED: Final = "entry.uploaded"  # the S3 copy exists and is proven (not tagged yet)
ARCHIVED: Final = "entry.archived"  # proven copy and `archived_to_s3` tag
UNCHANGED: Final = "entry.unchanged"  # already in the wanted state: nothing to do
SKIPPED: Final = "entry.skipped"  # deliberately left alone, with a reason
CONFLICT: Final = "entry.conflict"  # S3 and Kaltura disagree: reported, nothing overwritten
FAILED: Final = "entry.failed"  # this entry failed (the batch goes on)
STALE_UPLOAD_ABORTED: Final = "entry.stale_upload_aborted"  # a multipart upload left by a killed run
REPLACE_STARTED: Final = (
    "entry.replace_started"  # Kaltura took the placeholder; it converts beside the original
)
REPLACE_CANCELLED: Final = "entry.replace_cancelled"  # our replacement failed in Kaltura and was cancelled
REPLACED: Final = "entry.replaced"  # the placeholder is the source, thumbnail set, tagged `flavors_deleted`
RESTORE_REQUESTED: Final = "entry.restore_requested"
RESTORED: Final = "entry.restored"
REPAIRED: Final = "entry.repaired"  # repair made its fix (tags, a copy, a record, a cancelled replacement)
DOWNLOADED: Final = "entry.downloaded"  # its original saved to a local file (the entry is unchanged)

ENTRY_EVENTS: Final[frozenset[str]] = frozenset(
    {PLANNED, UPLOADED, ARCHIVED, UNCHANGED, SKIPPED, CONFLICT, FAILED, STALE_UPLOAD_ABORTED, REPLACE_STARTED,
     REPLACE_CANCELLED, REPLACED, RESTORE_REQUESTED, RESTORED, REPAIRED, DOWNLOADED}
)  # fmt: skip
ENTRY_KEYS: Final[tuple[str, ...]] = (
    "event", "run_id", "job", "entry_id", "from_state", "to_state", "dry_run", "bytes", "duration_ms",
    "attempt", "error",
)  # fmt: skip
RUN_FINISHED: Final = "run.finished"

SCHEMA_PATH: Final = Path(__file__).with_name("events.schema.json")

_LEVEL: Final[dict[str, str]] = {FAILED: "error", CONFLICT: "warning"}

NAMESPACE: Final = "KalturaArchiver"
# EMF units (the CloudWatch StandardUnit names)
COUNT, BYTES, SECONDS, COUNT_PER_S, BYTES_PER_S = "Count", "Bytes", "Seconds", "Count/Second", "Bytes/Second"
_MAX_METRICS = 100  # EMF's limit per directive


class EventLog:
    """Emits the entry events of one run of one job, with the fixed keys always present."""

    def __init__(
        self, *, run_id: str, job: str, dry_run: bool, logger: FilteringBoundLogger | None = None
    ) -> None:
        self.run_id = run_id
        self.job = job
        self.dry_run = dry_run
        self._log = logger if logger is not None else get_logger(f"jobs.{job}")

    def entry(
        self,
        event: str,
        entry_id: str,
        *,
        from_state: str | None,
        to_state: str | None,
        bytes: int = 0,
        duration_ms: int | None = None,
        attempt: int | None = None,
        error: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Log one state change of `entry_id`; the event's fixed keys (as logged, before `extra`)."""
        fields = entry_fields(
            event,
            run_id=self.run_id,
            job=self.job,
            entry_id=entry_id,
            from_state=from_state,
            to_state=to_state,
            dry_run=self.dry_run,
            bytes=bytes,
            duration_ms=duration_ms,
            attempt=attempt,
            error=error,
        )
        clash = set(extra) & set(fields)
        if clash:
            raise ValueError(f"extra keys {sorted(clash)} would overwrite fixed keys")
        name = fields.pop("event")
        getattr(self._log, _LEVEL.get(event, "info"))(name, **fields, **extra)
        return {"event": name, **fields}

    def run_finished(self, summary: RunSummary, **extra: Any) -> dict[str, Any]:
        """Log the run's one `run.finished` event (with its EMF block); the event as logged."""
        fields = run_finished_fields(summary, run_id=self.run_id, job=self.job, dry_run=self.dry_run)
        fields.update(extra)
        name = fields.pop("event")
        self._log.info(name, **fields)
        return {"event": name, **fields}


def entry_fields(event: str, **values: Any) -> dict[str, Any]:
    """The fixed keys of an entry event, in order; ValueError for an event or key outside the vocabulary."""
    if event not in ENTRY_EVENTS:
        raise ValueError(f"{event!r} is not an entry event: use one of {sorted(ENTRY_EVENTS)}")
    unknown = set(values) - set(ENTRY_KEYS)
    if unknown:
        raise ValueError(f"unknown entry event keys {sorted(unknown)}")
    return {"event": event, **{key: values.get(key) for key in ENTRY_KEYS[1:]}}


@dataclass(frozen=True)
class Metric:
    """One EMF metric: a name, a value and a CloudWatch unit."""

    name: str
    value: float
    unit: str = COUNT


def emf_block(
    metrics: Sequence[Metric],
    *,
    dimensions: Mapping[str, str],
    namespace: str = NAMESPACE,
    timestamp_ms: int | None = None,
) -> dict[str, Any]:
    """The EMF fields of one log event: `_aws` (the directive), the dimension values and the metric values
    at top level, as CloudWatch reads them."""
    if len(metrics) > _MAX_METRICS:
        raise ValueError(f"EMF allows {_MAX_METRICS} metrics per directive, not {len(metrics)}")
    names = [m.name for m in metrics]
    if len(set(names)) != len(names) or set(names) & set(dimensions) or "_aws" in names:
        raise ValueError("metric names must be unique and differ from the dimension names")
    block: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [list(dimensions)],
                    "Metrics": [{"Name": m.name, "Unit": m.unit} for m in metrics],
                }
            ],
        }
    }
    block.update(dimensions)
    block.update({m.name: m.value for m in metrics})
    return block


@dataclass(frozen=True)
class RunSummary:
    """What a run did: entries by outcome, bytes moved, and how long it took."""

    counts: Mapping[str, int]
    bytes: int
    elapsed_s: float

    @property
    def entries(self) -> int:
        return sum(self.counts.values())

    @property
    def entries_per_s(self) -> float:
        return self.entries / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def bytes_per_s(self) -> float:
        return self.bytes / self.elapsed_s if self.elapsed_s > 0 else 0.0


def run_metrics(summary: RunSummary) -> list[Metric]:
    """The metrics of a run: one count per outcome, then totals and rates."""
    metrics = [Metric(f"entries_{outcome}", count) for outcome, count in sorted(summary.counts.items())]
    metrics += [
        Metric("entries", summary.entries),
        Metric("bytes", summary.bytes, BYTES),
        Metric("duration", round(summary.elapsed_s, 3), SECONDS),
        Metric("entries_per_s", round(summary.entries_per_s, 3), COUNT_PER_S),
        Metric("bytes_per_s", round(summary.bytes_per_s), BYTES_PER_S),
    ]
    return metrics


def run_finished_fields(
    summary: RunSummary, *, run_id: str, job: str, dry_run: bool, timestamp_ms: int | None = None
) -> dict[str, Any]:
    """The `run.finished` event: counts, bytes and rates, plus the EMF block (dimensions job and mode)."""
    mode = "dry_run" if dry_run else "execute"
    fields: dict[str, Any] = {
        "event": RUN_FINISHED,
        "run_id": run_id,
        "dry_run": dry_run,
        "counts": dict(sorted(summary.counts.items())),
        "entries": summary.entries,
        "bytes": summary.bytes,
        "elapsed_s": round(summary.elapsed_s, 3),
        "entries_per_s": round(summary.entries_per_s, 3),
        "bytes_per_s": round(summary.bytes_per_s),
    }
    emf = emf_block(run_metrics(summary), dimensions={"job": job, "mode": mode}, timestamp_ms=timestamp_ms)
    # EMF reads metric values at top level: `entries`, `bytes` and the rates are the plain fields themselves
    fields.update(emf)
    return fields


def event_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one log line of any run, as CloudWatch reads it."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema
