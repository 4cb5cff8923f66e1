"""What s3copy reports: one row and one event per entry, and the counts by outcome at the end.

Outcomes: `archived` (copied, proven, tagged), `tagged` (a proven copy got its missing tag), `unchanged`
(already archived), `planned` (dry run: what would happen), `skipped`, `conflict` (S3 and Kaltura disagree:
nothing overwritten, someone must look), `failed`, `stopped` (a stop signal came before its check or its
transfer began: nothing was done, the next run does it). The exit code is 1 if any entry failed or
conflicts.
"""

from __future__ import annotations

from typing import Final

from engine.progress import Progress
from jobs.common import events, report
from jobs.common.events import EventLog
from jobs.common.order import InOrder
from jobs.common.report import ACTION_COLUMNS, Outcome, ReportWriter, Row, failed_outcome

COLUMNS: Final = ACTION_COLUMNS

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


class Reporter(report.Reporter[Outcome]):
    """The common reporter with s3copy's outcomes."""

    def __init__(
        self,
        log: EventLog,
        writer: ReportWriter,
        progress: Progress | None = None,
        order: InOrder[Row] | None = None,
    ) -> None:
        super().__init__(log, writer, S3COPY_OUTCOMES, progress, order)


__all__ = ["COLUMNS", "OUTCOMES", "S3COPY_OUTCOMES", "Outcome", "Reporter", "failed_outcome"]
