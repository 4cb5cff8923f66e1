"""Figures of the replace_video benchmark: one row per measured run, the issue's goals, the table, the JSON.

Pure functions only (no servers, no clock), so the goal checks and the log reading are unit-tested. Times
from the run's own log (`timeline`) are seconds after the run was started (`t0`, Unix seconds).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Final

REQUESTS_PER_ENTRY: Final = 7.0
DELAY_FACTOR: Final = 2.0  # wall time <= 2 x the conversion delay + the uploads
REPLACE_STARTED: Final = "entry.replace_started"
REPLACED_EVENT: Final = "entry.replaced"
RUN_FINISHED: Final = "run.finished"


@dataclass(frozen=True)
class Timeline:
    """When, after the run started, each entry's replacement began and ended, and the run.finished event."""

    started: Mapping[str, float] = field(default_factory=dict)  # entry id -> entry.replace_started
    replaced: Mapping[str, float] = field(default_factory=dict)  # entry id -> entry.replaced
    finished: Mapping[str, Any] = field(default_factory=dict)  # the run.finished event (empty: none)

    @property
    def uploads_s(self) -> float | None:
        """Start of the run to the last replacement Kaltura took in: listing, checks, every upload and
        `media.updateContent`, at the request budget."""
        return max(self.started.values(), default=None)

    def lateness_s(self, delay_s: float) -> list[float]:
        """Per replaced entry: how long after its conversion was due (began + delay) it was tagged, i.e.
        the waiter's lag behind READY plus the finishing calls."""
        return sorted(
            self.replaced[i] - (self.started[i] + delay_s) for i in self.replaced if i in self.started
        )


def _unix(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def timeline(log_lines: Iterable[str], t0: float) -> Timeline:
    """The replacement times and the run.finished event from a run's JSON log lines (others ignored)."""
    started: dict[str, float] = {}
    replaced: dict[str, float] = {}
    finished: dict[str, Any] = {}
    for line in log_lines:
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        name = event.get("event")
        if name == RUN_FINISHED:
            finished = event
        elif name in (REPLACE_STARTED, REPLACED_EVENT) and "timestamp" in event:
            into = started if name == REPLACE_STARTED else replaced
            into[str(event["entry_id"])] = _unix(str(event["timestamp"])) - t0
    return Timeline(started, replaced, finished)


@dataclass(frozen=True)
class Run:
    """One measured `replace_video --execute` run over the entries archived for it."""

    label: str  # the settings that differ from the defaults ("defaults" when none)
    entries: int  # archived during set-up and handed to replace_video
    delay_s: float  # the simulator's conversion delay (real seconds)
    rps_setting: float  # ARCHIVER_KALTURA_RPS
    poll_s: float  # ARCHIVER_READY_POLL
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    replaced: int
    outcomes: Mapping[str, int]
    kaltura_requests: int  # HTTP requests the simulator received during the run
    peak_rps: int  # the simulator's busiest one-second window
    calls: Mapping[str, int]  # calls by action (each sub-call of a multirequest counted)
    waiter_polls: int | None = None  # from run.finished
    client_requests: int | None = None  # run.finished's kaltura_requests (the client's own count)
    uploads_s: float | None = None  # see Timeline.uploads_s
    lateness_s: Sequence[float] = ()  # see Timeline.lateness_s
    setup_s: float = 0.0  # archiving the entries first (not measured against anything)
    diagnostic: bool = False  # a row that shows what a setting costs, not judged
    note: str = ""

    @property
    def requests_per_entry(self) -> float | None:
        return self.kaltura_requests / self.replaced if self.replaced else None

    @property
    def paced_s(self) -> float | None:
        """The least time the run's requests take at ARCHIVER_KALTURA_RPS: beside the wall time, how much
        of it the request budget explains."""
        return self.kaltura_requests / self.rps_setting if self.rps_setting > 0 else None

    @property
    def wall_goal_s(self) -> float | None:
        """2 x the delay + the uploads (None when the log gave no upload time)."""
        return None if self.uploads_s is None else DELAY_FACTOR * self.delay_s + self.uploads_s

    def calls_per_entry(self) -> dict[str, float]:
        """Calls by action per replaced entry, most first."""
        if not self.replaced:
            return {}
        ranked = sorted(self.calls.items(), key=lambda kv: (-kv[1], kv[0]))
        return {action: round(n / self.replaced, 3) for action, n in ranked}

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["outcomes"], doc["calls"] = dict(self.outcomes), dict(self.calls)
        late = list(self.lateness_s)
        doc["lateness_s"] = _spread(late)
        per = self.requests_per_entry
        goal = self.wall_goal_s
        doc.update(
            requests_per_entry=None if per is None else round(per, 3),
            wall_goal_s=None if goal is None else round(goal, 3),
            paced_s=None if self.paced_s is None else round(self.paced_s, 3),
            calls_per_entry=self.calls_per_entry(),
        )
        for key in ("wall_s", "cpu_s", "peak_rss_mb", "uploads_s", "setup_s"):
            if doc[key] is not None:
                doc[key] = round(doc[key], 3)
        return doc


def _spread(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "min": round(min(values), 3),
        "median": round(statistics.median(values), 3),
        "max": round(max(values), 3),
    }


@dataclass(frozen=True)
class Goal:
    """One of the issue's goals for one run, and whether it was met (None: not measured or not judged)."""

    name: str
    goal: str
    value: str
    met: bool | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def goals(run: Run) -> list[Goal]:
    """The issue's three goals for `run`: wall time, requests per replaced entry, peak requests/s."""
    where = run.label
    judged = not run.diagnostic and run.replaced == run.entries and run.replaced > 0
    out: list[Goal] = []
    goal_s = run.wall_goal_s
    if goal_s is None or run.uploads_s is None:
        out.append(Goal(f"{where}: wall time", f"<= {DELAY_FACTOR:g} x delay + uploads", "no uploads", None))
    else:
        value = f"{run.wall_s:.1f} s (uploads {run.uploads_s:.1f} s)"
        goal = f"<= {DELAY_FACTOR:g} x {run.delay_s:g} s + uploads = {goal_s:.1f} s"
        out.append(Goal(f"{where}: wall time", goal, value, run.wall_s <= goal_s if judged else None))
    per = run.requests_per_entry
    name = f"{where}: Kaltura requests per replaced entry"
    if per is None:
        out.append(Goal(name, f"<= {REQUESTS_PER_ENTRY:g}", "nothing replaced", None))
    else:
        value = f"{per:.2f} ({run.kaltura_requests} / {run.replaced})"
        out.append(
            Goal(name, f"<= {REQUESTS_PER_ENTRY:g}", value, per <= REQUESTS_PER_ENTRY if judged else None)
        )
    rps_goal = f"<= {run.rps_setting:g} (ARCHIVER_KALTURA_RPS)"
    ok = run.peak_rps <= run.rps_setting
    out.append(Goal(f"{where}: peak Kaltura requests/s", rps_goal, str(run.peak_rps), ok))  # always judged
    return out


_COLUMNS: Final = (
    ("run", 28),
    ("entries", 7),
    ("replaced", 8),
    ("wall s", 7),
    ("goal s", 7),
    ("uploads s", 9),
    ("paced s", 7),
    ("late med/max s", 14),
    ("requests", 8),
    ("req/entry", 9),
    ("peak rps", 8),
    ("polls", 5),
    ("CPU s", 6),
    ("RSS MB", 6),
)


def _cell(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def row_cells(run: Run) -> list[str]:
    late = run.lateness_s
    lateness = f"{statistics.median(late):.1f}/{max(late):.1f}" if late else "-"
    return [
        run.label + ("*" if run.diagnostic else ""),
        str(run.entries),
        str(run.replaced),
        _cell(run.wall_s, ".1f"),
        _cell(run.wall_goal_s, ".1f"),
        _cell(run.uploads_s, ".1f"),
        _cell(run.paced_s, ".1f"),
        lateness,
        str(run.kaltura_requests),
        _cell(run.requests_per_entry, ".2f"),
        f"{run.peak_rps}/{run.rps_setting:g}",
        "-" if run.waiter_polls is None else str(run.waiter_polls),
        _cell(run.cpu_s, ".1f"),
        _cell(run.peak_rss_mb, ".0f"),
    ]


def header() -> str:
    return " ".join(f"{name:>{width}}" for name, width in _COLUMNS)


def format_row(run: Run) -> str:
    return " ".join(f"{cell:>{width}}" for cell, (_, width) in zip(row_cells(run), _COLUMNS, strict=True))


def format_calls(run: Run) -> str:
    """One line: calls by action per replaced entry."""
    per = run.calls_per_entry()
    return ", ".join(f"{action} {n:g}" for action, n in per.items()) or "no calls"


def format_table(runs: Sequence[Run]) -> str:
    """The header, one line per run, then its calls per entry and notes."""
    lines = [header()]
    for run in runs:
        lines.append(format_row(run))
        lines.append(f"{'':>4}calls per replaced entry: {format_calls(run)}")
        if run.note:
            lines.append(f"{'':>4}note: {run.note}")
    return "\n".join(lines)


def format_goals(found: Sequence[Goal]) -> str:
    verdict = {True: "MET", False: "MISSED", None: "n/a"}
    width = max((len(g.name) for g in found), default=0)
    return "\n".join(f"{verdict[g.met]:>6}  {g.name:<{width}}  goal {g.goal}: {g.value}" for g in found)


def document(runs: Sequence[Run], meta: Mapping[str, Any], notes: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON the benchmark writes: what ran where, every run, every goal, notes."""
    return {
        "benchmark": "replace",
        "meta": dict(meta),
        "results": [r.to_json() for r in runs],
        "goals": [g.to_json() for r in runs for g in goals(r)],
        "notes": list(notes),
    }
