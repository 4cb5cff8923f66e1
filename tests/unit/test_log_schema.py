"""jobs/common/events.schema.json: a valid draft 2020-12 schema that accepts the events as EventLog makes them
and refuses a missing fixed key, a stray key, an unnamed event of ours or a broken EMF block; it names every
event the code logs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from jobs.common import events
from jobs.common.events import ENTRY_KEYS, RunSummary, entry_fields, event_schema, run_finished_fields

ROOT = Path(__file__).resolve().parents[2]
ENVELOPE = {"timestamp": "2026-01-01T12:00:00.123456Z", "logger": "jobs.s3copy"}
# a structlog call whose first argument is the event's name: _log.info("s3copy.starting", ...)
LOG_CALL = re.compile(r"""\b_?log\.(?:debug|info|warning|error|critical)\(\s*"([a-z0-9_.]+)\"""")


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = event_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def entry(**changes: Any) -> dict[str, Any]:
    fields = entry_fields(
        events.ARCHIVED, run_id="r1", job="s3copy", entry_id="0_a", from_state="initial", to_state="archived",
        dry_run=False, bytes=10, duration_ms=5, attempt=1, error=None,
    )  # fmt: skip
    return {**ENVELOPE, "level": "info", **fields, "action": "archive", "reason": "copied", **changes}


def finished() -> dict[str, Any]:
    summary = RunSummary({"archived": 2, "failed": 1}, bytes=20, elapsed_s=2.0)
    fields = run_finished_fields(summary, run_id="r1", job="s3copy", dry_run=False, timestamp_ms=1)
    return {**ENVELOPE, "level": "info", **fields, "kaltura_requests": 4, "stopped": False}


def errors(validator: Draft202012Validator, event: dict[str, Any]) -> list[str]:
    return [e.message for e in validator.iter_errors(event)]


def test_an_entry_event_and_a_run_finished_as_eventlog_makes_them_fit(
    validator: Draft202012Validator,
) -> None:
    assert errors(validator, entry()) == []
    assert errors(validator, finished()) == []


@pytest.mark.parametrize("key", ENTRY_KEYS[1:])
def test_an_entry_event_without_one_of_its_fixed_keys_is_refused(
    validator: Draft202012Validator, key: str
) -> None:
    event = entry()
    del event[key]
    assert errors(validator, event)


def test_an_entry_event_with_a_key_its_job_does_not_list_is_refused(validator: Draft202012Validator) -> None:
    assert errors(validator, entry(verdict="HEALTHY"))  # health's detail, not s3copy's
    assert errors(validator, entry(job="health", action="archive"))


def test_a_failed_entry_event_says_its_error_at_level_error(validator: Draft202012Validator) -> None:
    assert errors(validator, entry(event="entry.failed", level="error"))  # error None
    assert errors(validator, entry(event="entry.failed", level="info", error="boom"))
    assert errors(validator, entry(event="entry.failed", level="error", error="boom")) == []


def test_a_run_finished_without_its_emf_block_or_with_a_bad_unit_is_refused(
    validator: Draft202012Validator,
) -> None:
    event = finished()
    del event["_aws"]
    assert errors(validator, event)
    event = finished()
    event["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = "Parsecs"
    assert errors(validator, event)


def test_an_event_of_ours_must_be_named_in_the_schema_but_a_library_record_is_free(
    validator: Draft202012Validator,
) -> None:
    ours = {**ENVELOPE, "level": "info", "event": "s3copy.something_new", "run_id": "r1", "job": "s3copy"}
    assert errors(validator, ours)
    library = {**ENVELOPE, "logger": "botocore.credentials", "level": "warning", "event": "Found credentials"}
    assert errors(validator, {**library, "whatever": 1}) == []


def test_every_event_name_the_code_logs_is_in_the_schema() -> None:
    named = set(event_schema()["$defs"]["event"]) | {"run.finished", "entry.unknown"}
    logged = {
        name
        for package in ("engine", "adapters", "jobs")
        for path in (ROOT / package).rglob("*.py")
        for name in LOG_CALL.findall(path.read_text(encoding="utf-8"))
    }
    assert logged, "the pattern found no log call: it no longer matches the code"
    assert logged - named == set()
    assert set(event_schema()["$defs"]["entry_event"]["properties"]["event"]["enum"]) == events.ENTRY_EVENTS
