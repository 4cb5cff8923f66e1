"""Entry events carry the fixed keys (docs/architecture.md, Logs and events); run.finished an EMF block."""

from __future__ import annotations

import pytest
import structlog

from jobs.common import events
from jobs.common.events import ENTRY_KEYS, EventLog, Metric, RunSummary, emf_block, run_finished_fields


def test_every_entry_event_has_all_fixed_keys_even_when_they_do_not_apply() -> None:
    log = EventLog(run_id="r1", job="s3copy", dry_run=True)
    with structlog.testing.capture_logs() as captured:
        log.entry(events.SKIPPED, "0_a", from_state="initial", to_state="initial", reason="no original")
    (event,) = captured
    assert set(ENTRY_KEYS) <= set(event)
    assert event["event"] == "entry.skipped"
    assert (event["run_id"], event["job"], event["dry_run"]) == ("r1", "s3copy", True)
    assert event["error"] is None
    assert event["attempt"] is None
    assert event["reason"] == "no original"


def test_failures_log_as_errors_and_conflicts_as_warnings() -> None:
    log = EventLog(run_id="r", job="s3copy", dry_run=False)
    with structlog.testing.capture_logs() as captured:
        log.entry(events.FAILED, "0_a", from_state="initial", to_state="initial", error="boom")
        log.entry(events.CONFLICT, "0_b", from_state="mismatch", to_state="mismatch")
        log.entry(events.ARCHIVED, "0_c", from_state="initial", to_state="archived", bytes=5)
    assert [e["log_level"] for e in captured] == ["error", "warning", "info"]


def test_an_event_outside_the_vocabulary_is_refused() -> None:
    log = EventLog(run_id="r", job="s3copy", dry_run=False)
    with pytest.raises(ValueError, match="not an entry event"):
        log.entry("entry.vanished", "0_a", from_state=None, to_state=None)


def test_extra_fields_cannot_overwrite_fixed_keys() -> None:
    log = EventLog(run_id="r", job="s3copy", dry_run=False)
    with pytest.raises(ValueError, match="fixed keys"):
        log.entry(events.SKIPPED, "0_a", from_state=None, to_state=None, run_id="other")


def test_emf_block_declares_every_metric_and_puts_values_at_top_level() -> None:
    block = emf_block(
        [Metric("entries_archived", 3), Metric("bytes", 10, events.BYTES)],
        dimensions={"job": "s3copy", "mode": "execute"},
        timestamp_ms=1234,
    )
    directive = block["_aws"]
    assert directive["Timestamp"] == 1234
    (metrics,) = directive["CloudWatchMetrics"]
    assert metrics["Namespace"] == "KalturaArchiver"
    assert metrics["Dimensions"] == [["job", "mode"]]
    assert metrics["Metrics"] == [
        {"Name": "entries_archived", "Unit": "Count"},
        {"Name": "bytes", "Unit": "Bytes"},
    ]
    assert (block["job"], block["mode"], block["entries_archived"], block["bytes"]) == (
        "s3copy",
        "execute",
        3,
        10,
    )


def test_emf_refuses_metric_names_that_clash() -> None:
    with pytest.raises(ValueError, match="unique"):
        emf_block([Metric("job", 1)], dimensions={"job": "s3copy"})
    with pytest.raises(ValueError, match="unique"):
        emf_block([Metric("a", 1), Metric("a", 2)], dimensions={"job": "s3copy"})


def test_run_finished_carries_counts_bytes_rates_and_their_metrics() -> None:
    summary = RunSummary(counts={"archived": 3, "failed": 1}, bytes=4000, elapsed_s=2.0)
    fields = run_finished_fields(summary, run_id="r", job="s3copy", dry_run=False, timestamp_ms=1)
    assert fields["event"] == "run.finished"
    assert fields["counts"] == {"archived": 3, "failed": 1}
    assert (fields["entries"], fields["bytes"], fields["entries_per_s"], fields["bytes_per_s"]) == (
        4,
        4000,
        2.0,
        2000,
    )
    declared = {m["Name"] for m in fields["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"entries_archived", "entries_failed", "entries", "bytes", "bytes_per_s"} <= declared
    assert all(name in fields for name in declared)  # EMF needs every declared metric's value at top level
    assert fields["mode"] == "execute"


def test_a_dry_run_is_its_own_metric_dimension() -> None:
    fields = run_finished_fields(RunSummary({}, 0, 0.0), run_id="r", job="s3copy", dry_run=True)
    assert fields["mode"] == "dry_run"
    assert fields["entries_per_s"] == 0.0
