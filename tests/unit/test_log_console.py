"""Console log lines (a terminal's): no `key=None` pairs and no EMF block; JSON lines keep both."""

from __future__ import annotations

import io
import json
import logging

from engine.logs import configure_logging
from jobs.common import events
from jobs.common.events import EventLog, RunSummary


def emit_a_run(fmt: str) -> str:
    """An entry event with keys that do not apply, and a run.finished with its EMF block, as `fmt` lines."""
    out = io.StringIO()
    configure_logging(fmt=fmt, stream=out)
    log = EventLog(run_id="run-1", job="s3copy", dry_run=False)
    log.entry(events.UNCHANGED, "0_abc", from_state="archived", to_state="archived", reason="already")
    log.run_finished(RunSummary({"unchanged": 1}, bytes=0, elapsed_s=2.0), stopped=None, kaltura_requests=3)
    return out.getvalue()


def test_console_lines_leave_out_keys_without_a_value_and_the_emf_block() -> None:
    entry, finished = emit_a_run("console").splitlines()
    assert "entry.unchanged" in entry
    assert "entry_id=0_abc" in entry
    assert "dry_run=False" in entry  # a false value is still a value
    assert "bytes=0" in entry
    for line in (entry, finished):
        assert "None" not in line
    for key in ("attempt", "error", "duration_ms"):
        assert key not in entry
    assert "run.finished" in finished
    assert "_aws" not in finished
    assert "CloudWatchMetrics" not in finished
    assert "kaltura_requests=3" in finished
    assert "stopped" not in finished


def test_json_lines_keep_every_fixed_key_and_the_emf_block() -> None:
    entry, finished = (json.loads(line) for line in emit_a_run("json").splitlines())
    assert (entry["attempt"], entry["error"]) == (None, None)
    assert finished["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "KalturaArchiver"
    assert finished["stopped"] is None


def test_third_party_records_on_the_console_leave_out_empty_keys_too() -> None:
    out = io.StringIO()
    configure_logging(fmt="console", stream=out)
    logging.getLogger("botocore.test").warning("slow answer")
    assert "slow answer" in out.getvalue()
    assert "None" not in out.getvalue()
