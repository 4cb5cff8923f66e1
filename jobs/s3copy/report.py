"""What s3copy reports: one row and one event per entry, and the counts by outcome at the end.

Outcomes: `archived` (copied, proven, tagged), `tagged` (a proven copy got its missing tag), `unchanged`
(already archived), `planned` (dry run: what would happen), `skipped`, `conflict` (S3 and Kaltura disagree:
nothing overwritten, someone must look), `failed`, `stopped` (a stop signal came before its check or its
transfer began: nothing was done, the next run does it). The exit code is 1 if any entry failed or
conflicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from engine.pipeline import Failed
from engine.progress import Progress
from jobs.common import events, report
from jobs.common.events import EventLog
from jobs.common.report import ReportWriter, Row, Value

COLUMNS: Final = ("entry_id", "action", "outcome", "bytes", "seconds", "reason")

ARCHIVED, TAGGED, UNCHANGED, PLANNED = "archived", "tagged", "unchanged", "planned"
SKIPPED, CONFLICT, FAILED, STOPPED = "skipped", "conflict", "failed", "stopped"
OUTCOMES: Final = (ARCHIVED, TAGGED, UNCHANGED, PLANNED, SKIPPED, CONFLICT, FAILED, STOPPED)
S3COPY_OUTCOMES: Final = report.Outcomes(
    order=OUTCOMES,
    events={
        ARCHIVED: events.ARCHIVED,
        TAGGED: events.ARCHIVED,
        UNCHANGED: events.UNCHANGED,
        PLANNED: events.PLANNED,
        SKIPPED: events.SKIPPED,
        CONFLICT: events.CONFLICT,
        FAILED: events.FAILED,
        STOPPED: events.SKIPPED,  # left alone for now, with its reason
    },
    bad=frozenset({CONFLICT, FAILED}),
    done=frozenset({ARCHIVED}),
    planned=frozenset({PLANNED}),
    failed=FAILED,
)


@dataclass(frozen=True)
class Outcome:
    """How one entry ended."""

    entry_id: str
    action: str  # the planned Kind's value
    outcome: str
    from_state: str | None
    to_state: str | None
    reason: str
    bytes: int = 0  # archived: bytes copied; planned: bytes that would be copied
    seconds: float = 0.0
    attempt: int | None = None
    error: str | None = None

    def row(self) -> Row:
        return {
            "entry_id": self.entry_id,
            "action": self.action,
            "outcome": self.outcome,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "reason": self.reason,
        }

    def details(self) -> Mapping[str, Value]:
        return {"action": self.action, "reason": self.reason}


def failed_outcome(
    failure: Failed,
    *,
    entry_id: str,
    action: str,
    from_state: str | None,
    to_state: str | None,
    seconds: float,
    attempt: int | None,
) -> Outcome:
    """The outcome of an entry whose stage raised: the error (with its notes) is the reason."""
    error = failure.error
    text = " ".join([str(error) or type(error).__name__, *getattr(error, "__notes__", [])])
    return Outcome(
        entry_id, action, FAILED, from_state, to_state, f"{failure.stage}: {text}", 0, seconds, attempt, text
    )


class Reporter(report.Reporter[Outcome]):
    """The common reporter with s3copy's outcomes."""

    def __init__(self, log: EventLog, writer: ReportWriter, progress: Progress | None = None) -> None:
        super().__init__(log, writer, S3COPY_OUTCOMES, progress)
