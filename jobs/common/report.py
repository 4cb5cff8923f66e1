"""Report rows on stdout: TSV with a header (the default), a JSON array, or JSON lines; and the `Reporter`
that turns each entry's outcome into its row, its event and its count, with the job's own outcomes.

TSV is unpadded UTF-8: one row per line, fields joined by tabs; tabs and line breaks inside a value become
spaces so a row stays one line. Missing values are empty; JSON keeps types and writes null. Every value
passes the same redactor as the logs (docs/lifecycle.md, safety rule 8): a secret quoted in a name or a
reason never reaches the report.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Generic, Protocol, TextIO, TypeVar

from engine.pipeline import Failed
from engine.progress import Progress
from engine.redact import redact_value
from jobs.common.events import EventLog, RunSummary
from jobs.common.order import InOrder

Value = str | int | float | bool | None
Row = Mapping[str, Value]

FORMATS = ("tsv", "json", "jsonl")


def tsv_field(value: Value) -> str:
    """One TSV cell."""
    if value is None:
        return ""
    text = str(value)
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\r\n", " ").replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return text


class ReportWriter:
    """Writes rows as they come (nothing is held back), in one of FORMATS."""

    def __init__(self, stream: TextIO, columns: Sequence[str], fmt: str = "tsv") -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown report format {fmt!r}")
        self._stream = stream
        self._columns = tuple(columns)
        self._fmt = fmt
        self._rows = 0
        if fmt == "tsv":
            self._write("\t".join(self._columns) + "\n")
        elif fmt == "json":
            self._write("[")

    @property
    def rows(self) -> int:
        return self._rows

    def row(self, row: Row) -> None:
        values = {c: redact_value(row.get(c)) for c in self._columns}
        if self._fmt == "tsv":
            self._write("\t".join(tsv_field(values[c]) for c in self._columns) + "\n")
        elif self._fmt == "jsonl":
            self._write(json.dumps(values, ensure_ascii=False) + "\n")
        else:
            self._write(("\n" if self._rows == 0 else ",\n") + json.dumps(values, ensure_ascii=False))
        self._rows += 1

    def close(self) -> None:
        if self._fmt == "json":
            self._write("\n]\n" if self._rows else "]\n")
        self._stream.flush()

    def _write(self, text: str) -> None:
        self._stream.write(text)


class Reported(Protocol):
    """How one entry ended, as the reporter needs it (each job has its own dataclass)."""

    @property
    def entry_id(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def from_state(self) -> str | None: ...
    @property
    def to_state(self) -> str | None: ...
    @property
    def bytes(self) -> int: ...
    @property
    def seconds(self) -> float: ...
    @property
    def attempt(self) -> int | None: ...
    @property
    def error(self) -> str | None: ...

    def row(self) -> Row:
        """Its report row."""
        ...

    def details(self) -> Mapping[str, Value]:
        """The keys its event carries besides the fixed ones."""
        ...


R = TypeVar("R", bound=Reported)


@dataclass(frozen=True)
class Outcomes:
    """A job's outcomes: their order in the summary, the entry event of each, which make the run exit 1, and
    which count their bytes as done or as planned."""

    order: tuple[str, ...]
    events: Mapping[str, str]
    bad: frozenset[str]
    done: frozenset[str] = frozenset()
    planned: frozenset[str] = frozenset()
    failed: str = "failed"
    # the old tool's counters, written after ours: (name, the outcomes it counts)
    legacy_counters: tuple[tuple[str, frozenset[str]], ...] = ()


class Reporter(Generic[R]):
    """The sink's side of a run: a report row, an event and a count per entry; the summary at the end.

    The event, the count and the progress are of the moment the entry ends; with `order`, its row waits
    there until the rows of the entries listed before it are written (`flush` writes what is left)."""

    def __init__(
        self,
        log: EventLog,
        writer: ReportWriter,
        outcomes: Outcomes,
        progress: Progress | None = None,
        order: InOrder[Row] | None = None,
    ) -> None:
        self.log = log
        self.writer = writer
        self.outcomes = outcomes
        self.progress = progress
        self.order = order
        self.counts: Counter[str] = Counter()
        self.bytes = 0  # bytes done by this run
        self.planned_bytes = 0

    def add(self, outcome: R) -> None:
        self.log.entry(
            self.outcomes.events[outcome.outcome],
            outcome.entry_id,
            from_state=outcome.from_state,
            to_state=outcome.to_state,
            bytes=outcome.bytes,
            duration_ms=round(outcome.seconds * 1000),
            attempt=outcome.attempt,
            error=outcome.error,
            **outcome.details(),
        )
        if self.order is not None:
            self.order.put(outcome.entry_id, outcome.row())
        else:
            self.writer.row(outcome.row())
        self.counts[outcome.outcome] += 1
        if outcome.outcome in self.outcomes.done:
            self.bytes += outcome.bytes
        elif outcome.outcome in self.outcomes.planned:
            self.planned_bytes += outcome.bytes
        if self.progress is not None:
            self.progress.add(done=1, failed=int(outcome.outcome == self.outcomes.failed))

    def flush(self) -> None:
        """Write the rows still held back for their turn (the end of a run, however it ends)."""
        if self.order is not None:
            self.order.flush()

    @property
    def bad(self) -> int:
        """Entries whose outcome is a bad one: the run exits 1 if there is any."""
        return sum(self.counts[o] for o in self.outcomes.bad)

    def summary(self, elapsed_s: float) -> RunSummary:
        return RunSummary(counts=dict(self.counts), bytes=self.bytes, elapsed_s=elapsed_s)

    def write_summary(self, stream: TextIO, fmt: str) -> None:
        """`#SUMMARY<TAB>outcome<TAB>n` lines after a TSV report (JSON reports stay pure JSON)."""
        if fmt != "tsv":
            return
        for outcome in self.outcomes.order:
            if self.counts[outcome]:
                stream.write(f"#SUMMARY\t{outcome}\t{self.counts[outcome]}\n")
        stream.write(f"#SUMMARY\ttotal\t{sum(self.counts.values())}\n")
        for name, counted in self.outcomes.legacy_counters:
            stream.write(f"#SUMMARY\t{name}\t{sum(self.counts[o] for o in counted)}\n")
        stream.flush()


ACTION_COLUMNS: Final = ("entry_id", "action", "outcome", "bytes", "seconds", "reason")


@dataclass(frozen=True)
class Outcome:
    """How one entry ended, in the jobs that act on entries (s3copy, replace_video): one row of
    ACTION_COLUMNS."""

    entry_id: str
    action: str  # the planned Kind's value
    outcome: str
    from_state: str | None
    to_state: str | None
    reason: str
    bytes: int = 0  # done: bytes copied (or freed); planned: bytes that would be
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
        entry_id,
        action,
        "failed",
        from_state,
        to_state,
        f"{failure.stage}: {text}",
        0,
        seconds,
        attempt,
        text,
    )
