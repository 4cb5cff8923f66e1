"""What replace_video reports: one row and one event per entry, the counts by outcome, and the old tool's
counters.

Outcomes: `replaced` (the placeholder is the source now, thumbnail set, tagged `flavors_deleted`),
`unchanged` (replaced earlier), `planned` (dry run: what would happen), `refused` (not in a state to replace,
with the reason and the fix), `skipped` (over `--max-size`: never archived), `waiting` (Kaltura still
converting the placeholder when `ARCHIVER_READY_TIMEOUT` ran out: the next run finishes it), `conflict`
(someone else changed the entry between our check and our act, or the replacement ended elsewhere than on
the placeholder: left alone), `failed`, `stopped` (a stop signal came first: the next run does it). The exit
code is 1 if any entry failed or conflicts.

The old tool's counters follow our summary lines: `REPLACE_DONE` (replaced by this run), `DONE_BEFORE`
(replaced earlier), `BIG_FILE_SKIP` (over `--max-size`), `FAILED` (failed or conflict).
"""

from __future__ import annotations

from typing import Final

from jobs.common import events, report
from jobs.common.report import ACTION_COLUMNS

COLUMNS: Final = ACTION_COLUMNS
REPLACED, UNCHANGED, PLANNED, REFUSED, SKIPPED = "replaced", "unchanged", "planned", "refused", "skipped"
WAITING, CONFLICT, FAILED, STOPPED = "waiting", "conflict", "failed", "stopped"
OUTCOMES: Final = report.Outcomes(
    order=(REPLACED, UNCHANGED, PLANNED, REFUSED, SKIPPED, WAITING, CONFLICT, FAILED, STOPPED),
    events={
        REPLACED: events.REPLACED,
        UNCHANGED: events.UNCHANGED,
        PLANNED: events.PLANNED,
        REFUSED: events.SKIPPED,
        SKIPPED: events.SKIPPED,
        WAITING: events.SKIPPED,
        CONFLICT: events.CONFLICT,
        FAILED: events.FAILED,
        STOPPED: events.SKIPPED,
    },
    bad=frozenset({CONFLICT, FAILED}),
    done=frozenset({REPLACED}),
    planned=frozenset({PLANNED}),
    failed=FAILED,
    legacy_counters=(
        ("REPLACE_DONE", frozenset({REPLACED})),
        ("DONE_BEFORE", frozenset({UNCHANGED})),
        ("BIG_FILE_SKIP", frozenset({SKIPPED})),
        ("FAILED", frozenset({FAILED, CONFLICT})),
    ),
)
