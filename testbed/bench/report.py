"""Figures of the s3copy benchmark: one row per measured run, the issue's targets, the table and the JSON.

Pure functions only (no servers, no clock), so the formatting is unit-tested. Sizes are decimal: MB = 10^6
bytes, GB = 10^9 bytes; RSS is given in MB too, so "peak RSS ≤ 200 MB" compares like with like.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

OURS: Final = "kaltura-archiver"
SEQUENTIAL: Final = "sequential"
ANCHORS: Final = ("rclone", "aws-cli")
W1_SPEEDUP: Final = 25.0
W3_RSS_MB: Final = 200.0
REQUESTS_PER_ENTRY: Final = 2.0


@dataclass(frozen=True)
class Row:
    """One measured run of one tool on one workload."""

    workload: str
    tool: str  # OURS, SEQUENTIAL or one of ANCHORS
    concurrency: int
    archived: int
    skipped: int
    failed: int
    bytes: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float  # the largest single process
    tree_rss_mb: float | None = None  # sampled sum over the process tree (parallel anchors)
    kaltura_requests: int | None = None
    peak_rps: int | None = None
    rps_setting: float | None = None
    calls: Mapping[str, int] | None = None  # Kaltura calls by action (sub-calls of a multirequest each)
    variant: str = ""  # settings that differ from the defaults (such rows are diagnostics, not judged)
    moto_cpu_s: float | None = None  # CPU the S3 server (moto) spent during the run
    sim_cpu_s: float | None = None  # CPU the Kaltura simulator spent during the run
    load_1m: float | None = None  # the machine's 1-minute load average when the run ended (others' work too)
    round: int = 1  # which round of a workload's repeated runs
    note: str = ""

    @property
    def label(self) -> str:
        base = self.tool if self.tool == OURS else f"{self.tool} x{self.concurrency}"
        return f"{base} {self.variant}" if self.variant else base

    @property
    def short_label(self) -> str:
        """The label in the table: a variant is starred, its settings go on the note line."""
        base = self.tool if self.tool == OURS else f"{self.tool} x{self.concurrency}"
        return f"{base}*" if self.variant else base

    @property
    def notes(self) -> str:
        parts = [f"round {self.round}"] if self.round > 1 else []
        parts += ([f"settings {self.variant}"] if self.variant else []) + ([self.note] if self.note else [])
        return "; ".join(parts)

    @property
    def entries_per_s(self) -> float:
        return self.archived / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def cpu_s_per_gb(self) -> float | None:
        return self.cpu_s / (self.bytes / 1e9) if self.bytes else None

    @property
    def requests_per_entry(self) -> float | None:
        if self.kaltura_requests is None or not self.archived:
            return None
        return self.kaltura_requests / self.archived

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["calls"] = None if self.calls is None else dict(self.calls)
        doc.update(
            label=self.label,
            entries_per_s=round(self.entries_per_s, 3),
            mb_per_s=round(self.mb_per_s, 3),
            cpu_s_per_gb=None if self.cpu_s_per_gb is None else round(self.cpu_s_per_gb, 3),
            requests_per_entry=None if self.requests_per_entry is None else round(self.requests_per_entry, 3),
        )
        for key in ("wall_s", "cpu_s", "peak_rss_mb", "tree_rss_mb", "moto_cpu_s", "sim_cpu_s", "load_1m"):
            if doc[key] is not None:
                doc[key] = round(doc[key], 3)
        return doc


@dataclass(frozen=True)
class Target:
    """One of the issue's targets and whether this run met it (None: not measured)."""

    name: str
    goal: str
    value: str
    met: bool | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _ours(rows: Sequence[Row], workload: str) -> Row | None:
    """Our run at the default settings (the fastest round when there were several)."""
    ours = [r for r in rows if r.workload == workload and r.tool == OURS and not r.variant]
    return max(ours, key=lambda r: r.mb_per_s, default=None)


def targets(rows: Sequence[Row]) -> list[Target]:
    """The issue's targets against the rows measured (a workload not run gives `met=None`)."""
    out: list[Target] = []
    w1 = _ours(rows, "W1")
    sequential = [r for r in rows if r.workload == "W1" and r.tool == SEQUENTIAL and r.archived]
    seq = max(sequential, key=lambda r: r.entries_per_s, default=None)  # best round, as for ours
    if w1 is not None and seq is not None and seq.entries_per_s > 0:
        ratio = w1.entries_per_s / seq.entries_per_s
        value = f"{ratio:.1f}x ({w1.entries_per_s:.1f} vs {seq.entries_per_s:.2f} entries/s)"
        out.append(
            Target(
                "W1 speed-up over the sequential algorithm", f">= {W1_SPEEDUP:g}x", value, ratio >= W1_SPEEDUP
            )
        )
    else:
        out.append(
            Target("W1 speed-up over the sequential algorithm", f">= {W1_SPEEDUP:g}x", "not measured", None)
        )
    w2 = _ours(rows, "W2")
    anchors = [
        r
        for r in rows
        if r.workload == "W2" and r.tool in ANCHORS and not r.variant and not r.failed and r.archived
    ]
    if w2 is not None and anchors:
        best = max(anchors, key=lambda r: r.mb_per_s)
        value = f"{w2.mb_per_s:.1f} vs {best.mb_per_s:.1f} MB/s ({best.label})"
        value += _medians(_rounds(rows, w2), _rounds(rows, best))
        out.append(
            Target("W2 MB/s against the best anchor", ">= best anchor", value, w2.mb_per_s >= best.mb_per_s)
        )
    else:
        out.append(Target("W2 MB/s against the best anchor", ">= best anchor", "no anchor measured", None))
    like = [
        r for r in rows if r.workload == "W2" and r.tool == "rclone" and r.variant.startswith("multipart")
    ]
    like = [r for r in like if r.archived and not r.failed]
    if w2 is not None and like:
        rival = max(like, key=lambda r: r.mb_per_s)
        value = f"{w2.mb_per_s:.1f} vs {rival.mb_per_s:.1f} MB/s ({rival.label})"
        value += _medians(_rounds(rows, w2), _rounds(rows, rival))
        out.append(Target("W2 MB/s against rclone in multipart of our part size", ">= (like for like)", value,
                          w2.mb_per_s >= rival.mb_per_s))  # fmt: skip
    w3s = [r for r in rows if r.workload == "W3" and r.tool == OURS and not r.variant]
    w3 = max(w3s, key=lambda r: r.peak_rss_mb, default=None)  # memory: the worst round
    out.append(
        Target("W3 peak RSS", f"<= {W3_RSS_MB:g} MB", f"{w3.peak_rss_mb:.1f} MB", w3.peak_rss_mb <= W3_RSS_MB)
        if w3 is not None
        else Target("W3 peak RSS", f"<= {W3_RSS_MB:g} MB", "not measured", None)
    )
    for row in (r for r in rows if r.tool == OURS and not r.variant):
        where = row.workload if row.round == 1 else f"{row.workload} (round {row.round})"
        if row.peak_rps is not None and row.rps_setting is not None:
            out.append(
                Target(
                    f"{where} peak Kaltura requests/s",
                    f"<= {row.rps_setting:g} (setting)",
                    str(row.peak_rps),
                    row.peak_rps <= row.rps_setting,
                )
            )
        per = row.requests_per_entry
        if per is not None:
            out.append(_per_entry(where, row.archived, per))
    return out


def _rounds(rows: Sequence[Row], like: Row) -> list[float]:
    """MB/s of every complete run of `like`'s workload, tool, concurrency and settings (its rounds)."""
    key = (like.workload, like.tool, like.concurrency, like.variant)
    return [
        r.mb_per_s
        for r in rows
        if (r.workload, r.tool, r.concurrency, r.variant) == key and r.archived and not r.failed
    ]


def _medians(ours: Sequence[float], theirs: Sequence[float]) -> str:
    """The best rounds decide; with several rounds a side, their medians say how often that happens."""
    if len(ours) < 2 and len(theirs) < 2:
        return ""
    mine, other = statistics.median(ours), statistics.median(theirs)
    return f"; medians {mine:.1f} vs {other:.1f} ({len(ours)} vs {len(theirs)} rounds)"


def _per_entry(where: str, archived: int, per: float) -> Target:
    """The requests-per-entry goal is about sharing requests between entries (a page's flavors in one
    `entryIdIn` list, many entries' calls in one multirequest): a run that archived one entry has nothing
    to share, so its figure (the run's probe, list and flavor list plus that entry's URL, re-read and tag)
    is shown and not judged."""
    name, goal = f"{where} Kaltura requests per archived entry", f"<= {REQUESTS_PER_ENTRY:g}"
    if archived < 2:
        return Target(name, goal, f"{per:.3f} (one entry: no request to share)", None)
    return Target(name, goal, f"{per:.3f}", per <= REQUESTS_PER_ENTRY)


_COLUMNS: Final = (
    ("work", 4),
    ("tool", 18),
    ("archived", 8),
    ("skip", 4),
    ("fail", 4),
    ("MB", 7),
    ("wall s", 7),
    ("entries/s", 9),
    ("MB/s", 7),
    ("CPU s", 6),
    ("CPU s/GB", 8),
    ("RSS MB", 7),
    ("tree MB", 7),
    ("req/entry", 9),
    ("peak rps", 8),
    ("moto s", 6),
    ("sim s", 5),
    ("load", 4),
)


def _cell(value: float | int | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def row_cells(row: Row) -> list[str]:
    """The table cells of `row`, in `_COLUMNS` order."""
    rps = (
        None
        if row.peak_rps is None
        else f"{row.peak_rps}" + (f"/{row.rps_setting:g}" if row.rps_setting is not None else "")
    )
    return [
        row.workload,
        row.short_label,
        str(row.archived),
        str(row.skipped),
        str(row.failed),
        _cell(row.bytes / 1e6, ".0f"),
        _cell(row.wall_s, ".2f"),
        _cell(row.entries_per_s, ".2f"),
        _cell(row.mb_per_s, ".1f"),
        _cell(row.cpu_s, ".2f"),
        _cell(row.cpu_s_per_gb, ".2f"),
        _cell(row.peak_rss_mb, ".0f"),
        _cell(row.tree_rss_mb, ".0f"),
        _cell(row.requests_per_entry, ".3f"),
        rps if rps is not None else "-",
        _cell(row.moto_cpu_s, ".1f"),
        _cell(row.sim_cpu_s, ".1f"),
        _cell(row.load_1m, ".1f"),
    ]


def header() -> str:
    return " ".join(f"{name:>{width}}" for name, width in _COLUMNS)


def format_row(row: Row) -> str:
    return " ".join(f"{cell:>{width}}" for cell, (_, width) in zip(row_cells(row), _COLUMNS, strict=True))


def format_table(rows: Sequence[Row]) -> str:
    """The header and one line per row (notes follow the rows that have one)."""
    lines = [header()]
    for row in rows:
        lines.append(format_row(row))
        if row.notes:
            lines.append(f"{'':>5}note: {row.notes}")
    return "\n".join(lines)


def format_targets(found: Sequence[Target]) -> str:
    verdict = {True: "MET", False: "MISSED", None: "n/a"}
    width = max((len(t.name) for t in found), default=0)
    return "\n".join(f"{verdict[t.met]:>6}  {t.name:<{width}}  goal {t.goal}: {t.value}" for t in found)


def document(rows: Sequence[Row], meta: dict[str, Any], notes: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON written by the benchmark: what ran where, every row, every target, notes."""
    return {
        "benchmark": "s3copy",
        "meta": meta,
        "results": [r.to_json() for r in rows],
        "targets": [t.to_json() for t in targets(rows)],
        "notes": list(notes),
    }
