"""What s3copy reports: one row and one event per entry, and the counts by outcome at the end.

Outcomes: `archived` (copied, proven, tagged), `tagged` (a proven copy got its missing tag), `unchanged`
(already archived), `planned` (dry run: what would happen), `skipped`, `conflict` (S3 and Kaltura disagree:
nothing overwritten, someone must look), `failed`, `stopped` (a stop signal came before its check or its
transfer began: nothing was done, the next run does it). The exit code is 1 if any entry failed or
conflicts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Final, TextIO

from engine.pipeline import Failed
from engine.progress import Progress
from jobs.common import events
from jobs.common.events import EventLog, RunSummary
from jobs.common.report import ReportWriter, Row

COLUMNS: Final = ("entry_id", "action", "outcome", "bytes", "seconds", "reason")

ARCHIVED, TAGGED, UNCHANGED, PLANNED = "archived", "tagged", "unchanged", "planned"
SKIPPED, CONFLICT, FAILED, STOPPED = "skipped", "conflict", "failed", "stopped"
OUTCOMES: Final = (ARCHIVED, TAGGED, UNCHANGED, PLANNED, SKIPPED, CONFLICT, FAILED, STOPPED)
BAD_OUTCOMES: Final = frozenset({CONFLICT, FAILED})

_EVENT: Final[dict[str, str]] = {
    ARCHIVED: events.ARCHIVED,
    TAGGED: events.ARCHIVED,
    UNCHANGED: events.UNCHANGED,
    PLANNED: events.PLANNED,
    SKIPPED: events.SKIPPED,
    CONFLICT: events.CONFLICT,
    FAILED: events.FAILED,
    STOPPED: events.SKIPPED,  # left alone for now, with its reason
}


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


class Reporter:
    """The sink's side of the run: a report row, an event and a count per entry; the summary at the end."""

    def __init__(self, log: EventLog, writer: ReportWriter, progress: Progress | None = None) -> None:
        self.log = log
        self.writer = writer
        self.progress = progress
        self.counts: Counter[str] = Counter()
        self.bytes = 0  # bytes archived by this run
        self.planned_bytes = 0

    def add(self, outcome: Outcome) -> None:
        self.log.entry(
            _EVENT[outcome.outcome],
            outcome.entry_id,
            from_state=outcome.from_state,
            to_state=outcome.to_state,
            bytes=outcome.bytes,
            duration_ms=round(outcome.seconds * 1000),
            attempt=outcome.attempt,
            error=outcome.error,
            action=outcome.action,
            reason=outcome.reason,
        )
        self.writer.row(outcome.row())
        self.counts[outcome.outcome] += 1
        if outcome.outcome == ARCHIVED:
            self.bytes += outcome.bytes
        elif outcome.outcome == PLANNED:
            self.planned_bytes += outcome.bytes
        if self.progress is not None:
            self.progress.add(done=1, failed=int(outcome.outcome == FAILED))

    @property
    def bad(self) -> int:
        """Entries that failed or conflict: the run exits 1 if there is any."""
        return sum(self.counts[o] for o in BAD_OUTCOMES)

    def summary(self, elapsed_s: float) -> RunSummary:
        return RunSummary(counts=dict(self.counts), bytes=self.bytes, elapsed_s=elapsed_s)

    def write_summary(self, stream: TextIO, fmt: str) -> None:
        """`#SUMMARY<TAB>outcome<TAB>n` lines after a TSV report (JSON reports stay pure JSON)."""
        if fmt != "tsv":
            return
        for outcome in OUTCOMES:
            if self.counts[outcome]:
                stream.write(f"#SUMMARY\t{outcome}\t{self.counts[outcome]}\n")
        stream.write(f"#SUMMARY\ttotal\t{sum(self.counts.values())}\n")
        stream.flush()
