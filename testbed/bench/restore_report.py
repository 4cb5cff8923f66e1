"""Figures of the restore_from_s3 benchmark: one row per measured run (s3copy's and restore_from_s3's, on the
same entries), the upload model, the checks, what limits a run, the table and the JSON.

Pure functions only (no servers, no clock), so the checks are unit-tested. MB are decimal (10^6 bytes).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

S3COPY: Final = "s3copy"
RESTORE: Final = "restore_from_s3"
MB: Final = 1_000_000
DONE: Final = {S3COPY: "archived", RESTORE: "restored"}
# the calls that carry one original's bytes back into Kaltura: the token, its chunks, the swap
UPLOAD_ACTIONS: Final = ("uploadtoken.add", "uploadtoken.upload", "media.updatecontent")
READ_RESUMED: Final = "s3.read_resumed"


def upload_calls(size: int, chunk: int) -> int:
    """The Kaltura calls that bring back one original of `size` bytes in `chunk`-byte chunks: uploadToken.add,
    one uploadToken.upload per chunk (the last one, final, completes the token), media.updateContent."""
    return 1 + max(1, math.ceil(size / chunk)) + 1


def count_events(log_lines: Iterable[str], name: str) -> int:
    """How many JSON log lines are the event `name` (others, and lines that are not JSON, ignored)."""
    found = 0
    for line in log_lines:
        if line.startswith("{") and name in line:  # a cheap text test first: the logs are large
            try:
                found += json.loads(line).get("event") == name
            except (json.JSONDecodeError, AttributeError):
                continue
    return found


@dataclass(frozen=True)
class Run:
    """One measured run of `job` (S3COPY or RESTORE) over the benchmark's entries."""

    job: str
    label: str  # the settings that differ from the defaults ("defaults" when none)
    entries: int  # handed to the run (--idfile)
    done: int  # archived (s3copy) or restored (restore_from_s3)
    bytes: int  # archived, or brought back into Kaltura (the report rows' bytes)
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    rps_setting: float  # ARCHIVER_KALTURA_RPS
    kaltura_requests: int  # HTTP requests the simulator received during the run
    peak_rps: int  # the simulator's busiest one-second window
    calls: Mapping[str, int]  # calls by action (each sub-call of a multirequest counted)
    outcomes: Mapping[str, int] = field(default_factory=dict)
    chunk_bytes: int = 0  # ARCHIVER_PART_SIZE: s3copy's part size, restore_from_s3's upload chunk
    entry_bytes: Sequence[int] = ()  # each done entry's bytes (the upload model)
    served_bytes: int = 0  # the simulator's downloads: s3copy's originals, restore_from_s3's proofs
    s3_requests: int | None = None  # run.finished's s3_requests (the client's count, retries included)
    s3_read_resumes: int = 0  # reads resumed after a cut (each re-reads from the byte it had reached)
    uploads_s: float | None = None  # start to the last media.updateContent (entry.replace_started)
    moto_cpu_s: float = 0.0  # CPU the S3 server spent meanwhile
    sim_cpu_s: float = 0.0  # CPU the simulator spent meanwhile
    setup_s: float = 0.0  # the replace_video set-up before this run (not measured against anything)
    diagnostic: bool = False  # a row that shows what a setting costs
    note: str = ""

    @property
    def name(self) -> str:
        return f"{self.job} {self.label}" + ("*" if self.diagnostic else "")

    @property
    def mb_per_s(self) -> float | None:
        return self.bytes / MB / self.wall_s if self.wall_s > 0 else None

    @property
    def requests_per_entry(self) -> float | None:
        return self.kaltura_requests / self.done if self.done else None

    @property
    def s3_requests_per_entry(self) -> float | None:
        return None if self.s3_requests is None or not self.done else self.s3_requests / self.done

    @property
    def paced_s(self) -> float | None:
        """The least time the run's requests take at ARCHIVER_KALTURA_RPS."""
        return self.kaltura_requests / self.rps_setting if self.rps_setting > 0 else None

    def calls_per_entry(self) -> dict[str, float]:
        """Calls by action per done entry, most first (ties by name)."""
        if not self.done:
            return {}
        ranked = sorted(self.calls.items(), key=lambda kv: (-kv[1], kv[0]))
        return {action: round(n / self.done, 3) for action, n in ranked}

    def upload_calls_made(self) -> int:
        """The upload calls (UPLOAD_ACTIONS) the simulator received."""
        return sum(self.calls.get(action, 0) for action in UPLOAD_ACTIONS)

    def upload_calls_model(self) -> int | None:
        """The upload calls the done entries need, by `upload_calls` (None: no chunk size or sizes)."""
        if self.chunk_bytes <= 0 or len(self.entry_bytes) != self.done or not self.done:
            return None
        return sum(upload_calls(size, self.chunk_bytes) for size in self.entry_bytes)

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["calls"], doc["outcomes"] = dict(self.calls), dict(self.outcomes)
        doc["entry_bytes"] = _spread(self.entry_bytes)
        doc.update(
            mb=round(self.bytes / MB, 3),
            mb_per_s=_round(self.mb_per_s),
            requests_per_entry=_round(self.requests_per_entry),
            s3_requests_per_entry=_round(self.s3_requests_per_entry),
            paced_s=_round(self.paced_s),
            calls_per_entry=self.calls_per_entry(),
        )
        if self.job == RESTORE:
            doc.update(upload_calls=self.upload_calls_made(), upload_calls_model=self.upload_calls_model())
        for key in ("wall_s", "cpu_s", "peak_rss_mb", "uploads_s", "moto_cpu_s", "sim_cpu_s", "setup_s"):
            doc[key] = _round(doc[key])
        return doc


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _spread(values: Sequence[int]) -> dict[str, int] | None:
    return {"min": min(values), "max": max(values), "count": len(values)} if values else None


@dataclass(frozen=True)
class Limits:
    """What one run's wall time went on: the request budget's least time, and the machine's CPU."""

    paced_share: float | None  # paced_s / wall_s
    cpu_s: float  # the client, moto and the simulator together
    cpu_share: float | None  # of cpus x wall_s

    def describe(self, run: Run, cpus: int) -> str:
        parts = []
        if run.paced_s is not None and self.paced_share is not None:
            parts.append(
                f"request budget {run.kaltura_requests} requests at {run.rps_setting:g}/s = "
                f"{run.paced_s:.1f} s of {run.wall_s:.1f} s wall ({self.paced_share:.0%})"
            )
        if self.cpu_share is not None:
            parts.append(
                f"CPU {run.cpu_s:.1f} s ours + {run.moto_cpu_s:.1f} s moto + {run.sim_cpu_s:.1f} s "
                f"simulator = {self.cpu_s:.1f} s of {cpus} cores x wall ({self.cpu_share:.0%})"
            )
        return "; ".join(parts)


def limits(run: Run, cpus: int) -> Limits:
    """The share of `run`'s wall time the request budget accounts for, and of the machine's CPU it used."""
    paced = run.paced_s
    total_cpu = run.cpu_s + run.moto_cpu_s + run.sim_cpu_s
    wall = run.wall_s
    return Limits(
        paced_share=None if paced is None or wall <= 0 else paced / wall,
        cpu_s=total_cpu,
        cpu_share=None if wall <= 0 or cpus <= 0 else total_cpu / (wall * cpus),
    )


@dataclass(frozen=True)
class Check:
    """One check of one run, and whether it held (None: not judged)."""

    name: str
    want: str
    value: str
    met: bool | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def checks(runs: Sequence[Run]) -> list[Check]:
    """Per run: every entry done, peak requests/s within the setting; per restore_from_s3 run also the bytes
    brought back equal to those s3copy archived (its first run) and the upload calls equal to the model."""
    archived = next((r.bytes for r in runs if r.job == S3COPY), None)
    out: list[Check] = []
    for run in runs:
        word = DONE.get(run.job, "done")
        whole = run.done == run.entries and run.done > 0
        out.append(Check(f"{run.name}: entries {word}", f"= {run.entries}", str(run.done), whole))
        if run.job == RESTORE:
            out.extend(_restore_checks(run, archived, whole))
        want = f"<= {run.rps_setting:g} (ARCHIVER_KALTURA_RPS)"
        ok = run.peak_rps <= run.rps_setting
        out.append(Check(f"{run.name}: peak Kaltura requests/s", want, str(run.peak_rps), ok))
    return out


def _restore_checks(run: Run, archived: int | None, whole: bool) -> list[Check]:
    out: list[Check] = []
    if archived is None:
        out.append(Check(f"{run.name}: bytes brought back", "= bytes archived", "no s3copy run", None))
    else:
        value = f"{run.bytes} B"
        out.append(
            Check(f"{run.name}: bytes brought back", f"= {archived} B archived", value, run.bytes == archived)
        )
    model = run.upload_calls_model()
    name = f"{run.name}: upload calls ({', '.join(UPLOAD_ACTIONS)})"
    if model is None:
        out.append(Check(name, "= model", "no model (no chunk size or sizes)", None))
    else:
        want = (
            f"= {model} (per entry: token + ceil(size / {run.chunk_bytes} B) chunks, the last final, "
            "+ updateContent)"
        )
        made = run.upload_calls_made()
        out.append(Check(name, want, str(made), made == model if whole else None))
    return out


_COLUMNS: Final = (
    ("run", 40),
    ("entries", 7),
    ("done", 5),
    ("MB", 6),
    ("wall s", 7),
    ("MB/s", 6),
    ("uploads s", 9),
    ("paced s", 7),
    ("requests", 8),
    ("req/entry", 9),
    ("peak rps", 8),
    ("S3 req/e", 8),
    ("served MB", 9),
    ("CPU s", 6),
    ("moto/sim CPU s", 14),
    ("RSS MB", 6),
)


def _cell(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def row_cells(run: Run) -> list[str]:
    return [
        run.name,
        str(run.entries),
        str(run.done),
        f"{run.bytes / MB:.0f}",
        _cell(run.wall_s, ".1f"),
        _cell(run.mb_per_s, ".1f"),
        _cell(run.uploads_s, ".1f"),
        _cell(run.paced_s, ".1f"),
        str(run.kaltura_requests),
        _cell(run.requests_per_entry, ".2f"),
        f"{run.peak_rps}/{run.rps_setting:g}",
        _cell(run.s3_requests_per_entry, ".2f"),
        f"{run.served_bytes / MB:.0f}",
        _cell(run.cpu_s, ".1f"),
        f"{run.moto_cpu_s:.1f}/{run.sim_cpu_s:.1f}",
        _cell(run.peak_rss_mb, ".0f"),
    ]


def header() -> str:
    return " ".join(f"{name:>{width}}" for name, width in _COLUMNS)


def format_row(run: Run) -> str:
    return " ".join(f"{cell:>{width}}" for cell, (_, width) in zip(row_cells(run), _COLUMNS, strict=True))


def format_calls(run: Run) -> str:
    """One line: calls by action per done entry."""
    return ", ".join(f"{action} {n:g}" for action, n in run.calls_per_entry().items()) or "no calls"


def details(run: Run, cpus: int) -> list[str]:
    """The lines under a run's row: calls per entry, the upload model, what limited it, its note."""
    word = DONE.get(run.job, "done")
    lines = [f"calls per {word} entry: {format_calls(run)}"]
    model = run.upload_calls_model()
    if run.job == RESTORE and model is not None and run.done:
        lines.append(
            f"upload calls per entry: {run.upload_calls_made() / run.done:g} (model {model / run.done:g}); "
            f"S3 reads resumed: {run.s3_read_resumes}"
        )
    lines.append(f"limits: {limits(run, cpus).describe(run, cpus)}")
    if run.note:
        lines.append(f"note: {run.note}")
    return [f"{'':>4}{line}" for line in lines]


def format_table(runs: Sequence[Run], cpus: int) -> str:
    """The header, then each run's row and its detail lines."""
    lines = [header()]
    for run in runs:
        lines.append(format_row(run))
        lines.extend(details(run, cpus))
    return "\n".join(lines)


def _limits_json(found: Limits) -> dict[str, float | None]:
    return {key: _round(value) for key, value in asdict(found).items()}


def format_checks(found: Sequence[Check]) -> str:
    verdict = {True: "OK", False: "FAILED", None: "n/a"}
    width = max((len(c.name) for c in found), default=0)
    return "\n".join(f"{verdict[c.met]:>6}  {c.name:<{width}}  want {c.want}: {c.value}" for c in found)


def document(runs: Sequence[Run], meta: Mapping[str, Any], notes: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON the benchmark writes: what ran where, every run, every check, notes."""
    cpus = int(meta.get("host", {}).get("cpus") or 0)
    return {
        "benchmark": "restore",
        "meta": dict(meta),
        "results": [{**r.to_json(), "limits": _limits_json(limits(r, cpus)) if cpus else None} for r in runs],
        "checks": [c.to_json() for c in checks(runs)],
        "notes": list(notes),
    }
