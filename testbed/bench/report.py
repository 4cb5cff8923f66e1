"""Figures of the s3copy benchmark: one row per measured run, a summary per configuration over its rounds,
the issue's targets, the tables and the JSON.

A configuration is a workload, a tool, its concurrency and its settings (`Row.label`); its summary gives each
figure's median and range over the complete rounds (archived something, failed nothing) and counts the
others. The targets are judged on those medians (memory on the worst complete round), so one lucky or
unlucky round on a shared machine decides nothing.

Pure functions only (no servers, no clock), so the formatting is unit-tested. Sizes are decimal: MB = 10^6
bytes, GB = 10^9 bytes; RSS is given in MB too, so "peak RSS ≤ 200 MB" compares like with like.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from testbed.bench.floors import Floors, decompose

OURS: Final = "kaltura-archiver"
SEQUENTIAL: Final = "sequential"
ANCHORS: Final = ("rclone", "aws-cli")
CEILING: Final = "curl"  # downloads only, to nowhere: the most any copier can read from the source (W4)
W1_SPEEDUP: Final = 25.0
W1_REQUESTS_PER_ENTRY: Final = 0.04
W2_RSS_MB: Final = 256.0
W3_RSS_MB: Final = 200.0  # W3 and W3S
# W2S's source serves at most this many MB/s over all its streams together (the simulator's total limit in
# that workload) and its sink takes more: a copier that keeps the source busy reaches nearly all of it
W2S_SOURCE_MB_S: Final = 400.0
W2S_SOURCE_SHARE: Final = 0.9
# rclone's single PUTs neither hash the object nor carry part checksums, and stream without parts: our proof's
# SHA-256 and our start-up alone cost about what rclone spends in all (see the CPU split), so CPU is judged
# like for like (rclone in multipart uploads of our part size) and only shown against the single PUTs
CPU_SHOWN: Final = "shown (no goal): rclone's single PUT does not hash or prove; judged like for like below"


@dataclass(frozen=True)
class Row:
    """One measured run of one tool on one workload."""

    workload: str
    tool: str  # OURS, SEQUENTIAL, one of ANCHORS or CEILING
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
    # seconds from the source's first download to the store's last object written (sink workloads): the
    # transfer alone, without the process's start-up, listing and closing checks
    transfer_s: float | None = None

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
    def transfer_mb_s(self) -> float | None:
        """MB/s during the transfer alone (`transfer_s`)."""
        return self.bytes / 1e6 / self.transfer_s if self.transfer_s else None

    @property
    def fixed_s(self) -> float | None:
        """The process's seconds outside the transfer: start-up, listing, the closing checks and tags."""
        return self.wall_s - self.transfer_s if self.transfer_s is not None else None

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
            transfer_mb_s=None if self.transfer_mb_s is None else round(self.transfer_mb_s, 3),
            fixed_s=None if self.fixed_s is None else round(self.fixed_s, 3),
            cpu_s_per_gb=None if self.cpu_s_per_gb is None else round(self.cpu_s_per_gb, 3),
            requests_per_entry=None if self.requests_per_entry is None else round(self.requests_per_entry, 3),
        )
        for key in _ROUNDED:
            if doc[key] is not None:
                doc[key] = round(doc[key], 3)
        return doc


_ROUNDED: Final = (  # figures kept to 3 decimals in the JSON
    "wall_s", "cpu_s", "peak_rss_mb", "tree_rss_mb", "moto_cpu_s", "sim_cpu_s", "load_1m", "transfer_s",
)  # fmt: skip


@dataclass(frozen=True)
class Target:
    """One of the issue's targets and whether this run met it (None: not measured)."""

    name: str
    goal: str
    value: str
    met: bool | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


FIGURES: Final = (  # (Row property, column title, format): the figures summarized per configuration
    ("entries_per_s", "entries/s", ".2f"),
    ("mb_per_s", "MB/s", ".1f"),
    ("transfer_mb_s", "transfer MB/s", ".1f"),
    ("fixed_s", "fixed s", ".2f"),
    ("cpu_s_per_gb", "CPU s/GB", ".2f"),
    ("peak_rss_mb", "RSS MB", ".0f"),
    ("tree_rss_mb", "tree MB", ".0f"),
    ("requests_per_entry", "req/entry", ".3f"),
)
_FORMATS: Final = {key: fmt for key, _, fmt in FIGURES}


@dataclass(frozen=True)
class Spread:
    """One figure over a configuration's complete rounds: how many, their median, least and greatest."""

    n: int
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float | None]) -> Spread | None:
        known = [v for v in values if v is not None]
        if not known:
            return None
        return cls(len(known), statistics.median(known), min(known), max(known))

    def cell(self, fmt: str) -> str:
        """`median (min-max)`; a single round's value alone (it is its own median, min and max)."""
        if self.n == 1:
            return format(self.median, fmt)
        return f"{self.median:{fmt}} ({self.low:{fmt}}-{self.high:{fmt}})"

    def to_json(self) -> dict[str, float]:
        return {"median": round(self.median, 4), "min": round(self.low, 4), "max": round(self.high, 4)}


@dataclass(frozen=True)
class Summary:
    """One configuration (workload, tool, concurrency, settings) over its rounds.

    Only complete rounds (archived something, failed nothing) give figures; the others are counted."""

    workload: str
    tool: str
    concurrency: int
    variant: str
    label: str
    n: int  # complete rounds: the figures are over these
    failed: int  # rounds that failed an entry or archived nothing
    figures: Mapping[str, Spread | None]  # by `FIGURES` key
    calls_per_entry: Mapping[str, float]  # Kaltura sub-calls per archived entry by action, median over rounds

    @property
    def rounds(self) -> int:
        return self.n + self.failed

    @property
    def failed_note(self) -> str:
        return f"{self.failed} of {self.rounds} rounds failed" if self.failed else ""

    def to_json(self) -> dict[str, Any]:
        figures = {key: None if s is None else s.to_json() for key, s in self.figures.items()}
        calls = {action: round(per, 4) for action, per in self.calls_per_entry.items()}
        return {
            "workload": self.workload,
            "tool": self.tool,
            "concurrency": self.concurrency,
            "variant": self.variant,
            "label": self.label,
            "n": self.n,
            "failed": self.failed,
            "figures": figures,
            "calls_per_entry": calls,
        }


def complete(row: Row) -> bool:
    """A round whose figures count: it archived something and failed nothing."""
    return row.archived > 0 and row.failed == 0


def summarize(rows: Sequence[Row]) -> list[Summary]:
    """One `Summary` per configuration, in the order the rows first ran them."""
    groups: dict[tuple[str, str, int, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.workload, row.tool, row.concurrency, row.variant), []).append(row)
    return [_summary(group) for group in groups.values()]


def _summary(group: Sequence[Row]) -> Summary:
    first, done = group[0], [r for r in group if complete(r)]
    figures = {key: Spread.of([getattr(r, key) for r in done]) for key, _, _ in FIGURES}
    return Summary(
        workload=first.workload,
        tool=first.tool,
        concurrency=first.concurrency,
        variant=first.variant,
        label=first.label,
        n=len(done),
        failed=len(group) - len(done),
        figures=figures,
        calls_per_entry=calls_per_entry(done),
    )


def calls_per_entry(rows: Sequence[Row]) -> dict[str, float]:
    """Each action's sub-calls per archived entry, the median over `rows` (an action a round did not call
    counts 0 there), most per entry first."""
    counted = [(r.calls, r.archived) for r in rows if r.calls is not None and r.archived]
    actions = {action for calls, _ in counted for action in calls}
    per = {a: statistics.median(calls.get(a, 0) / archived for calls, archived in counted) for a in actions}
    return dict(sorted(per.items(), key=lambda item: (-item[1], item[0])))


# -- targets: judged on medians of complete rounds (memory on the worst round) -----------------------------


def _find(
    summaries: Sequence[Summary], workload: str, tool: str, concurrency: int | None = None
) -> Summary | None:
    """`tool` at its own settings (no variant) on `workload`, at `concurrency` when given."""
    for s in summaries:
        if (s.workload, s.tool, s.variant) == (workload, tool, "") and concurrency in (None, s.concurrency):
            return s
    return None


def _parallel(summaries: Sequence[Summary], workload: str, tool: str) -> Summary | None:
    """An anchor's parallel run on `workload` (no variant): the one at the most processes at once (the bench
    runs it at our transfers, or at one per entry when there are fewer entries)."""
    runs = [s for s in summaries if (s.workload, s.tool, s.variant) == (workload, tool, "")]
    return max(runs, key=lambda s: s.concurrency, default=None)


def _figure(summary: Summary | None, key: str, who: str) -> tuple[Summary, Spread] | str:
    """`summary` and its spread of `key`, or why there is none (the value of an n/a target)."""
    if summary is None:
        return f"{who} not measured".strip()
    spread = summary.figures[key]
    if spread is None:
        why = f"no complete round ({summary.failed_note})" if summary.failed else "no figure"
        return f"{who or summary.label}: {why}"
    return summary, spread


def _rounds(*sides: Summary) -> str:
    """`5 vs 4 rounds` (`1 round` alone), and any side's failed rounds."""
    plural = "" if [s.n for s in sides] == [1] else "s"
    text = " vs ".join(str(s.n) for s in sides) + f" round{plural}"
    return text + "".join(f"; {s.label}: {s.failed_note}" for s in sides if s.failed)


def _against(
    name: str,
    goal: str,
    key: str,
    ours: Summary | None,
    rival: Summary | None,
    rival_name: str,
    *,
    lower: bool,
    judged: bool = True,
) -> Target:
    """Our median of `key` against `rival`'s: at most theirs when `lower`, else at least theirs (shown, not
    judged, unless `judged`)."""
    mine, theirs = _figure(ours, key, ""), _figure(rival, key, rival_name)
    if isinstance(mine, str) or isinstance(theirs, str):
        return Target(name, goal, mine if isinstance(mine, str) else str(theirs), None)
    (me, a), (them, b) = mine, theirs
    fmt, unit = _FORMATS[key], _UNITS[key]
    value = f"{a.cell(fmt)} vs {b.cell(fmt)} {unit} ({them.label}; {_rounds(me, them)})"
    if not judged:
        return Target(name, goal, value, None)
    return Target(name, goal, value, a.median <= b.median if lower else a.median >= b.median)


_UNITS: Final = {"entries_per_s": "entries/s", "mb_per_s": "MB/s", "cpu_s_per_gb": "CPU s/GB"}


def _peak_rss(summaries: Sequence[Summary], workload: str, limit: float) -> Target:
    """Our peak RSS on `workload`: the worst complete round decides."""
    name, goal = f"{workload} peak RSS", f"<= {limit:g} MB in every round"
    found = _figure(_find(summaries, workload, OURS), "peak_rss_mb", "")
    if isinstance(found, str):
        return Target(name, goal, found, None)
    ours, rss = found
    value = f"max {rss.high:.1f} MB over {_rounds(ours)} (median {rss.median:.1f})"
    return Target(name, goal, value, rss.high <= limit)


def _w1(summaries: Sequence[Summary]) -> list[Target]:
    ours = _find(summaries, "W1", OURS)
    name, goal = "W1 Kaltura HTTP requests per archived entry", f"<= {W1_REQUESTS_PER_ENTRY:g} (median)"
    found = _figure(ours, "requests_per_entry", "")
    if isinstance(found, str):
        requests = Target(name, goal, found, None)
    else:
        me, per = found
        requests = Target(
            name, goal, f"{per.cell('.3f')} over {_rounds(me)}", per.median <= W1_REQUESTS_PER_ENTRY
        )
    name, goal = "W1 speed-up over the sequential algorithm", f">= {W1_SPEEDUP:g}x (medians)"
    mine = _figure(ours, "entries_per_s", "")
    theirs = _figure(_find(summaries, "W1", SEQUENTIAL), "entries_per_s", SEQUENTIAL)
    if isinstance(mine, str) or isinstance(theirs, str):
        speed_up = Target(name, goal, mine if isinstance(mine, str) else str(theirs), None)
    elif theirs[1].median <= 0:
        speed_up = Target(name, goal, "the sequential algorithm archived nothing per second", None)
    else:
        (me, a), (seq, b) = mine, theirs
        ratio = a.median / b.median
        value = f"{ratio:.1f}x ({a.cell('.2f')} vs {b.cell('.2f')} entries/s; {_rounds(me, seq)})"
        speed_up = Target(name, goal, value, ratio >= W1_SPEEDUP)
    return [requests, speed_up]


def _rates(rows: Sequence[Row]) -> list[Target]:
    """Peak Kaltura requests/s against the setting, in every round of ours (failed ones too), per workload;
    W1 always (n/a when not measured)."""
    ours = [r for r in rows if r.tool == OURS and not r.variant]
    out = []
    for workload in dict.fromkeys(["W1", *(r.workload for r in ours)]):
        name, goal = f"{workload} peak Kaltura requests/s", "<= the setting in every round"
        pairs = [
            (r.peak_rps, r.rps_setting)
            for r in ours
            if r.workload == workload and r.peak_rps is not None and r.rps_setting is not None
        ]
        if not pairs:
            out.append(Target(name, goal, "not measured", None))
            continue
        met = all(peak <= setting for peak, setting in pairs)
        top, setting = max(p for p, _ in pairs), min(s for _, s in pairs)
        value = f"max {top} over {len(pairs)} rounds {'<=' if met else '>'} {setting:g}"
        out.append(Target(name, goal, value, met))
    return out


def _w2(summaries: Sequence[Summary]) -> list[Target]:
    ours = _find(summaries, "W2", OURS)
    rclone = _parallel(summaries, "W2", "rclone")
    multipart = max(_multipart(summaries, "W2"), key=lambda s: s.concurrency, default=None)
    return [
        _against("W2 MB/s against rclone", ">= rclone's median (single PUT, in parallel)", "mb_per_s",
                 ours, rclone, "rclone", lower=False),
        _against("W2 MB/s against rclone in multipart of our part size", ">= rclone's median (like for like)",
                 "mb_per_s", ours, multipart, "rclone multipart", lower=False),
        _against("W2 CPU s/GB against rclone", CPU_SHOWN, "cpu_s_per_gb", ours, rclone, "rclone", lower=True,
                 judged=False),
        _cpu_like_for_like(summaries, "W2", ours),
        _peak_rss(summaries, "W2", W2_RSS_MB),
    ]  # fmt: skip


def _multipart(summaries: Sequence[Summary], workload: str) -> list[Summary]:
    """rclone in multipart uploads (the part size of ours) on `workload`."""
    return [
        s
        for s in summaries
        if (s.workload, s.tool) == (workload, "rclone") and s.variant.startswith("multipart")
    ]


def _w2s(summaries: Sequence[Summary]) -> list[Target]:
    """The source's limit is judged on the transfer (first byte served to last object stored); the whole
    process, start-up and closing checks included, is shown beside it with those fixed seconds."""
    ours = _find(summaries, "W2S", OURS)
    rclone = _parallel(summaries, "W2S", "rclone")
    goal_mb_s = W2S_SOURCE_SHARE * W2S_SOURCE_MB_S
    share = f"{W2S_SOURCE_SHARE:.0%} of {W2S_SOURCE_MB_S:g} MB/s, median"
    speed = _share_of_source(
        "W2S MB/s during the transfer against the source's limit", f">= {goal_mb_s:g} MB/s ({share})",
        ours, "transfer_mb_s", goal_mb_s, rclone,
    )  # fmt: skip
    whole = _share_of_source(
        "W2S MB/s of the whole process against the source's limit", "shown (no goal): the fixed seconds too",
        ours, "mb_per_s", None, rclone,
    )  # fmt: skip
    cpu = _against(
        "W2S CPU s/GB against rclone",
        CPU_SHOWN,
        "cpu_s_per_gb",
        ours,
        rclone,
        "rclone",
        lower=True,
        judged=False,
    )
    return [speed, whole, cpu, _cpu_like_for_like(summaries, "W2S", ours)]


def _cpu_like_for_like(summaries: Sequence[Summary], workload: str, ours: Summary | None) -> Target:
    """Our CPU per GB against rclone's in multipart uploads of our part size (what we send)."""
    multipart = max(_multipart(summaries, workload), key=lambda s: s.concurrency, default=None)
    return _against(
        f"{workload} CPU s/GB against rclone in multipart of our part size",
        "<= rclone's median (like for like)",
        "cpu_s_per_gb",
        ours,
        multipart,
        "rclone multipart",
        lower=True,
    )


def _share_of_source(
    name: str, goal: str, ours: Summary | None, key: str, goal_mb_s: float | None, rclone: Summary | None
) -> Target:
    """Our median of `key` (MB/s) as a share of W2S's source limit, judged against `goal_mb_s` when given;
    our fixed seconds and rclone's figure beside it."""
    found = _figure(ours, key, "")
    if isinstance(found, str):
        return Target(name, goal, found, None)
    me, mb = found
    value = f"{mb.cell('.1f')} MB/s = {mb.median / W2S_SOURCE_MB_S:.0%} of the limit"
    fixed = me.figures["fixed_s"]
    if fixed is not None:
        value += f", fixed {fixed.cell('.2f')} s"
    theirs = rclone.figures[key] if rclone is not None else None
    if rclone is not None and theirs is not None:
        value += f"; {rclone.label} {theirs.cell('.1f')} MB/s"
    value += f"; {_rounds(me, rclone) if rclone is not None and theirs is not None else _rounds(me)}"
    return Target(name, goal, value, None if goal_mb_s is None else mb.median >= goal_mb_s)


def _w4(summaries: Sequence[Summary]) -> list[Target]:
    """W4 has no speed goal of its own: our share of the download-only ceiling is shown, not judged; our
    speed and CPU are judged against rclone's on the same sink."""
    ours = _find(summaries, "W4", OURS)
    curls = [s for s in summaries if (s.workload, s.tool, s.variant) == ("W4", CEILING, "")]
    curl = max(curls, key=lambda s: _median(s, "mb_per_s"), default=None)  # the ceiling: the fastest
    name = f"W4 MB/s against the {CEILING} download ceiling"
    goal = f"shown (no goal): share of {CEILING}'s median"
    mine, theirs = _figure(ours, "mb_per_s", ""), _figure(curl, "mb_per_s", CEILING)
    if isinstance(mine, str) or isinstance(theirs, str):
        share = Target(name, goal, mine if isinstance(mine, str) else str(theirs), None)
    else:
        (me, a), (top, b) = mine, theirs
        fraction = a.median / b.median if b.median > 0 else 0.0
        value = f"{fraction:.0%} ({a.cell('.1f')} vs {b.cell('.1f')} MB/s, {top.label}; {_rounds(me, top)})"
        share = Target(name, goal, value, None)
    rclone = _parallel(summaries, "W4", "rclone")
    speed = _against(
        "W4 MB/s against rclone", ">= rclone's median", "mb_per_s", ours, rclone, "rclone", lower=False
    )
    cpu = _against(
        "W4 CPU s/GB against rclone", "<= rclone's median", "cpu_s_per_gb", ours, rclone, "rclone", lower=True
    )
    return [share, speed, cpu]


def _median(summary: Summary, key: str) -> float:
    spread = summary.figures[key]
    return spread.median if spread is not None else 0.0


def targets(rows: Sequence[Row]) -> list[Target]:
    """The issue's targets judged on the medians of complete rounds (a workload not run gives `met=None`)."""
    summaries = summarize(rows)
    rates = _rates(rows)
    return [
        *_w1(summaries),
        *rates[:1],
        *_w2(summaries),
        *_w2s(summaries),
        *_w4(summaries),
        _peak_rss(summaries, "W3", W3_RSS_MB),
        _peak_rss(summaries, "W3S", W3_RSS_MB),
        *rates[1:],
    ]


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
    ("xfer MB/s", 9),
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
        _cell(row.transfer_mb_s, ".1f"),
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


def format_summary(summaries: Sequence[Summary]) -> str:
    """Per workload, one aligned line per configuration: its complete rounds and each figure's
    `median (min-max)` over them, then how many rounds failed."""
    titles = ["tool", "rounds", *(title for _, title, _ in FIGURES), ""]
    lines: list[str] = []
    for workload in dict.fromkeys(s.workload for s in summaries):
        table = [titles] + [_summary_cells(s) for s in summaries if s.workload == workload]
        widths = [max(len(cells[i]) for cells in table) for i in range(len(titles))]
        lines.append(f"{workload}: median (min-max) over complete rounds")
        for cells in table:
            label, *rest = cells
            line = (
                "  "
                + label.ljust(widths[0])
                + "".join(f"  {c:>{w}}" for c, w in zip(rest[:-1], widths[1:-1], strict=True))
            )
            lines.append(f"{line}  {rest[-1]}".rstrip())
    return "\n".join(lines)


def _summary_cells(summary: Summary) -> list[str]:
    figures = [
        "-" if s is None else s.cell(fmt)
        for s, (_, _, fmt) in zip(summary.figures.values(), FIGURES, strict=True)
    ]
    return [summary.label, str(summary.n), *figures, summary.failed_note]


def format_calls(summaries: Sequence[Summary]) -> str:
    """Kaltura requests per archived entry by call, for our default configuration and the sequential
    algorithm: HTTP requests (a multirequest is one), then each action's sub-calls."""
    lines = []
    for s in summaries:
        if s.tool not in (OURS, SEQUENTIAL) or s.variant or not s.calls_per_entry:
            continue
        http = s.figures["requests_per_entry"]
        per = "-" if http is None else format(http.median, ".3f")
        calls = ", ".join(f"{action} {_per_entry(n)}" for action, n in s.calls_per_entry.items())
        lines.append(f"{s.workload} {s.label}: {per} HTTP requests per entry; calls per entry: {calls}")
    return "\n".join(lines)


def _per_entry(value: float) -> str:
    """Two decimals, three under 0.01 (a page's list call shared by 500 entries is not 0)."""
    return f"{value:.2f}" if value >= 0.01 or value == 0 else f"{value:.3f}"


def cpu_parts(rows: Sequence[Row], floors: Floors) -> list[tuple[str, float, Mapping[str, float]]]:
    """Per workload, our median CPU s/GB (default settings, complete rounds) and its split into start-up,
    hashing and the transfer (`testbed.bench.floors`)."""
    out = []
    for workload in dict.fromkeys(r.workload for r in rows):
        done = [r for r in rows if (r.workload, r.tool, r.variant) == (workload, OURS, "") and complete(r)]
        per_gb = [r.cpu_s_per_gb for r in done if r.cpu_s_per_gb is not None]
        if per_gb:
            median = statistics.median(per_gb)
            gb = statistics.median(r.bytes for r in done) / 1e9
            out.append((workload, median, decompose(median, gb, floors)))
    return out


def format_cpu_parts(rows: Sequence[Row], floors: Floors | None) -> str:
    """One line per workload: where our CPU per GB goes, beside rclone's (parallel) median."""
    if floors is None:
        return ""
    summaries = summarize(rows)
    lines = [
        f"CPU s/GB of {OURS} (median), split: start-up ({floors.startup_cpu_s:.2f} CPU s a run, over the "
        f"workload's GB), the proof's hashing (SHA-256 + CRC32C, {floors.hashing_s_per_gb:.2f} s/GB here), "
        "and the transfer"
    ]
    for workload, total, parts in cpu_parts(rows, floors):
        split = " + ".join(f"{name} {value:.2f}" for name, value in parts.items())
        rclone = _parallel(summaries, workload, "rclone")
        theirs = None if rclone is None else rclone.figures["cpu_s_per_gb"]
        beside = "" if rclone is None or theirs is None else f"; {rclone.label} {theirs.median:.2f}"
        lines.append(f"  {workload}: {total:.2f} = {split}{beside}")
    return "\n".join(lines) if len(lines) > 1 else ""


def format_report(rows: Sequence[Row], floors: Floors | None = None) -> str:
    """What follows the per-run table: the summary per workload, the requests by call, where our CPU goes
    (given the floors), the targets."""
    summaries = summarize(rows)
    parts = [
        format_summary(summaries),
        format_calls(summaries),
        format_cpu_parts(rows, floors),
        format_targets(targets(rows)),
    ]
    return "\n\n".join(part for part in parts if part)


def document(
    rows: Sequence[Row], meta: dict[str, Any], notes: Sequence[str] = (), floors: Floors | None = None
) -> dict[str, Any]:
    """The JSON written by the benchmark: what ran where, every row, each configuration's summary, where our
    CPU goes (given the floors), every target, notes."""
    parts = [] if floors is None else cpu_parts(rows, floors)
    return {
        "benchmark": "s3copy",
        "meta": meta,
        "results": [r.to_json() for r in rows],
        "summary": [s.to_json() for s in summarize(rows)],
        "floors": None if floors is None else floors.to_json(),
        "cpu_s_per_gb_parts": {
            workload: {"total": round(total, 3), **{k: round(v, 3) for k, v in split.items()}}
            for workload, total, split in parts
        },
        "targets": [t.to_json() for t in targets(rows)],
        "notes": list(notes),
    }
