"""What restore_from_s3 reports: one row and one event per entry, the counts by outcome, and the old tool's
counters.

Outcomes: `restored` (the original is the READY source again, its bytes proven against the object's record,
the version recorded on the object, `flavors_deleted` removed), `unchanged` (restored before), `planned`
(dry run), `refused` (with the reason), `waiting` (a Glacier restore was requested or is in progress: the
next run brings the original back), `converting` (Kaltura was still converting at `ARCHIVER_READY_TIMEOUT`:
the next run finishes it), `conflict`, `failed`, `stopped`. Exit 1 if any entry failed or conflicts; entries
only waiting for Glacier leave the exit code 0.

The old tool's counters follow our summary lines: `RESTORE_DONE` (restored by this run), `DONE_BEFORE`
(restored before), `WAIT_GLACIER` (waiting for Glacier), `FAILED` (failed or conflict).
"""

from __future__ import annotations

from typing import Final

from jobs.common import events, report
from jobs.common.report import ACTION_COLUMNS

COLUMNS: Final = ACTION_COLUMNS
RESTORED, UNCHANGED, PLANNED, REFUSED = "restored", "unchanged", "planned", "refused"
WAITING, CONVERTING, CONFLICT, FAILED, STOPPED = "waiting", "converting", "conflict", "failed", "stopped"
OUTCOMES: Final = report.Outcomes(
    order=(RESTORED, UNCHANGED, PLANNED, REFUSED, WAITING, CONVERTING, CONFLICT, FAILED, STOPPED),
    events={
        RESTORED: events.RESTORED,
        UNCHANGED: events.UNCHANGED,
        PLANNED: events.PLANNED,
        REFUSED: events.SKIPPED,
        WAITING: events.SKIPPED,
        CONVERTING: events.SKIPPED,
        CONFLICT: events.CONFLICT,
        FAILED: events.FAILED,
        STOPPED: events.SKIPPED,
    },
    bad=frozenset({CONFLICT, FAILED}),
    done=frozenset({RESTORED}),
    planned=frozenset({PLANNED}),
    failed=FAILED,
    legacy_counters=(
        ("RESTORE_DONE", frozenset({RESTORED})),
        ("DONE_BEFORE", frozenset({UNCHANGED})),
        ("WAIT_GLACIER", frozenset({WAITING})),
        ("FAILED", frozenset({FAILED, CONFLICT})),
    ),
)
