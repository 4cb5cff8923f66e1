"""What repair reports: one row and one event per entry, the counts by outcome.

Outcomes: `repaired` (the fix was made and checked), `unchanged` (healthy: nothing to repair), `planned`
(dry run: the fix it would make), `waiting` (an old tool's object in Glacier to prove: a restore was requested
or is in progress, the next run proves it), `needs_person` (no safe fix: the reason says what health found),
`refused` (the entry or its object changed between the check and the fix: the next run looks again),
`conflict` (the fix found something else than it was decided on, e.g. an old tool's object that is not the
original, or a source that changed during its copy: left alone), `failed`, `stopped`. Exit 1 if any entry
failed, conflicts or needs a person; entries only waiting for Glacier leave it 0.
"""

from __future__ import annotations

from typing import Final

from jobs.common import events, report
from jobs.common.report import ACTION_COLUMNS

COLUMNS: Final = ACTION_COLUMNS
REPAIRED, UNCHANGED, PLANNED, NEEDS_PERSON = "repaired", "unchanged", "planned", "needs_person"
WAITING, REFUSED, CONFLICT = "waiting", "refused", "conflict"
FAILED, STOPPED = "failed", "stopped"
OUTCOMES: Final = report.Outcomes(
    order=(REPAIRED, UNCHANGED, PLANNED, WAITING, NEEDS_PERSON, REFUSED, CONFLICT, FAILED, STOPPED),
    events={
        REPAIRED: events.REPAIRED,
        UNCHANGED: events.UNCHANGED,
        PLANNED: events.PLANNED,
        WAITING: events.SKIPPED,
        NEEDS_PERSON: events.SKIPPED,
        REFUSED: events.SKIPPED,
        CONFLICT: events.CONFLICT,
        FAILED: events.FAILED,
        STOPPED: events.SKIPPED,
    },
    bad=frozenset({NEEDS_PERSON, CONFLICT, FAILED}),
    done=frozenset({REPAIRED}),
    planned=frozenset({PLANNED}),
    failed=FAILED,
)
