"""The dry-run gate refuses every write in a dry run; the reporter's rows, counts, summary and exit rule."""

from __future__ import annotations

import io
from collections.abc import AsyncIterable, Mapping
from typing import Any

import pytest
import structlog

from adapters.s3 import PutResult, S3Checksum, StoreConfig
from jobs.common.archive_plan import Action, Kind
from jobs.common.archive_report import COLUMNS, Outcome, Reporter
from jobs.common.events import EventLog
from jobs.common.gate import DryRunViolation, Gate
from jobs.common.report import ReportWriter


class Nothing:
    """Stands in for the store and Kaltura: remembers what was asked, answers nothing useful."""

    config = StoreConfig(bucket="bucket")

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __getattr__(self, name: str) -> Any:
        async def call(*args: Any, **kwargs: Any) -> Any:
            self.asked.append(name)
            return None

        return call


async def chunks() -> AsyncIterable[bytes]:
    yield b"x"


async def test_a_dry_run_gate_refuses_every_write_and_lets_nothing_through() -> None:
    store, kaltura = Nothing(), Nothing()
    gate = Gate(dry_run=True, store=store, kaltura=kaltura)
    checksum = S3Checksum("CRC32C", "AAAAAA==")
    writes = [
        gate.put_stream("0_a", chunks(), 1, {}),
        gate.record("0_a", "ab" * 32, checksum),
        gate.abort_stale_uploads("0_a", {"upload-1"}),
        gate.write_tags("0_a", "archived_to_s3"),
    ]
    for write in writes:
        with pytest.raises(DryRunViolation):
            await write
    assert store.asked == kaltura.asked == []
    assert gate.writes == 0


async def test_a_real_gate_passes_writes_on_and_never_overwrites() -> None:
    seen: dict[str, Any] = {}

    class Store(Nothing):
        async def put_stream(
            self, key: str, data: AsyncIterable[bytes], size: int, meta: Mapping[str, str], *, overwrite: bool
        ) -> PutResult | None:
            seen["overwrite"] = overwrite
            return None

    gate = Gate(dry_run=False, store=Store(), kaltura=Nothing())  # type: ignore[arg-type]
    await gate.put_stream("0_a", chunks(), 1, {})
    assert seen == {"overwrite": False}
    assert gate.writes == 1


@pytest.mark.parametrize(("kind", "allowed"), [(Kind.ARCHIVE, False), (Kind.TAG, False), (Kind.SKIP, True)])
def test_a_dry_run_allows_only_decisions_that_write_nothing(kind: Kind, allowed: bool) -> None:
    gate = Gate(dry_run=True, store=Nothing(), kaltura=Nothing())
    assert gate.allows(Action(kind, "0_a", "initial", "why")) is allowed


def test_the_reporter_writes_a_row_and_an_event_per_entry_and_counts_outcomes() -> None:
    out = io.StringIO()
    reporter = Reporter(EventLog(run_id="r", job="s3copy", dry_run=False), ReportWriter(out, COLUMNS, "tsv"))
    with structlog.testing.capture_logs() as captured:
        reporter.add(
            Outcome("0_a", "archive", "archived", "initial", "archived", "not archived yet", 10, 1.5)
        )
        reporter.add(
            Outcome("0_b", "archive", "failed", "initial", "initial", "transfer: boom", error="boom")
        )
        reporter.add(Outcome("0_c", "skip", "skipped", "not_ready", "not_ready", "no original"))
    assert [e["event"] for e in captured] == ["entry.archived", "entry.failed", "entry.skipped"]
    assert captured[0]["duration_ms"] == 1500
    reporter.write_summary(out, "tsv")
    lines = out.getvalue().splitlines()
    assert lines[0] == "entry_id\taction\toutcome\tbytes\tseconds\treason"
    assert lines[1] == "0_a\tarchive\tarchived\t10\t1.5\tnot archived yet"
    assert lines[-4:] == [
        "#SUMMARY\tarchived\t1",
        "#SUMMARY\tskipped\t1",
        "#SUMMARY\tfailed\t1",
        "#SUMMARY\ttotal\t3",
    ]
    assert reporter.bad == 1
    assert reporter.bytes == 10
    assert reporter.summary(2.0).counts == {"archived": 1, "failed": 1, "skipped": 1}


def test_json_reports_get_no_summary_lines() -> None:
    out = io.StringIO()
    reporter = Reporter(EventLog(run_id="r", job="s3copy", dry_run=True), ReportWriter(out, COLUMNS, "jsonl"))
    reporter.add(Outcome("0_a", "archive", "planned", "initial", "archived", "not archived yet", 10))
    reporter.write_summary(out, "jsonl")
    assert "#SUMMARY" not in out.getvalue()
    assert reporter.planned_bytes == 10
    assert reporter.bytes == 0
