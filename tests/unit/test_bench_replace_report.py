"""The replace_video benchmark's figures: times read from the run's log, the goal checks, table and JSON."""

from __future__ import annotations

import json
from dataclasses import replace

from testbed.bench.replace_report import Run, document, format_goals, format_table, goals, timeline

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z

RUN = Run(
    label="defaults",
    entries=300,
    delay_s=60.0,
    rps_setting=10.0,
    poll_s=30.0,
    wall_s=250.0,
    cpu_s=12.0,
    peak_rss_mb=110.0,
    replaced=300,
    outcomes={"replaced": 300},
    kaltura_requests=1800,
    peak_rps=10,
    calls={"uploadtoken.add": 300, "media.list": 40, "media.updatecontent": 300},
    waiter_polls=12,
    uploads_s=140.0,
    lateness_s=(5.0, 20.0, 31.0),
)


def verdicts(run: Run) -> dict[str, bool | None]:
    return {g.name.split(": ", 1)[1]: g.met for g in goals(run)}


def log_line(event: str, at: float, **fields: object) -> str:
    stamp = f"2023-11-14T22:{13 + int(at) // 60:02d}:{20 + at % 60:09.6f}Z"
    return json.dumps({"timestamp": stamp, "level": "info", "event": event, **fields})


def test_timeline_reads_replacement_times_relative_to_the_start_and_the_run_finished_event() -> None:
    lines = [
        "not json",
        log_line("entry.replace_started", 2.5, entry_id="0_a"),
        log_line("entry.replace_started", 4.0, entry_id="0_b"),
        log_line("replace_video.starting", 0.1),
        log_line("entry.replaced", 8.0, entry_id="0_a"),
        log_line("entry.replaced", 15.0, entry_id="0_b"),
        log_line("run.finished", 16.0, kaltura_requests=14, waiter_polls=3),
    ]
    found = timeline(lines, T0)
    assert found.started == {"0_a": 2.5, "0_b": 4.0}
    assert found.uploads_s == 4.0  # the last replacement Kaltura took in
    assert found.lateness_s(5.0) == [0.5, 6.0]  # tagged this long after each conversion was due
    assert found.finished["waiter_polls"] == 3


def test_a_log_without_replacements_has_no_upload_time() -> None:
    assert timeline([], T0).uploads_s is None
    assert timeline([], T0).lateness_s(60.0) == []


def test_wall_time_goal_is_twice_the_delay_plus_the_uploads_inclusive() -> None:
    assert RUN.wall_goal_s == 260.0
    assert verdicts(RUN)["wall time"] is True
    assert verdicts(replace(RUN, wall_s=260.0))["wall time"] is True
    assert verdicts(replace(RUN, wall_s=260.5))["wall time"] is False
    assert verdicts(replace(RUN, uploads_s=None))["wall time"] is None


def test_at_most_seven_kaltura_requests_per_replaced_entry() -> None:
    assert verdicts(replace(RUN, kaltura_requests=2100))["Kaltura requests per replaced entry"] is True
    assert verdicts(replace(RUN, kaltura_requests=2101))["Kaltura requests per replaced entry"] is False
    assert verdicts(replace(RUN, replaced=0))["Kaltura requests per replaced entry"] is None


def test_peak_requests_per_second_never_above_the_setting() -> None:
    assert verdicts(RUN)["peak Kaltura requests/s"] is True
    assert verdicts(replace(RUN, peak_rps=11))["peak Kaltura requests/s"] is False
    assert verdicts(replace(RUN, peak_rps=20, rps_setting=20.0))["peak Kaltura requests/s"] is True


def test_a_run_that_left_entries_unreplaced_or_a_diagnostic_row_is_not_judged_on_time_or_requests() -> None:
    partial = verdicts(replace(RUN, replaced=200, outcomes={"replaced": 200, "waiting": 100}))
    assert partial["wall time"] is None
    assert partial["Kaltura requests per replaced entry"] is None
    diagnostic = verdicts(replace(RUN, diagnostic=True, wall_s=999.0, peak_rps=11))
    assert diagnostic["wall time"] is None
    assert diagnostic["peak Kaltura requests/s"] is False  # the rate limit holds whatever the settings


def test_table_shows_each_run_with_its_goal_and_its_calls_per_entry() -> None:
    lines = format_table([RUN, replace(RUN, label="ARCHIVER_READY_POLL=5", diagnostic=True)]).splitlines()
    assert lines[1].split()[:6] == ["defaults", "300", "300", "250.0", "260.0", "140.0"]
    assert lines[1].split()[6:8] == ["180.0", "20.0/31.0"]  # 1800 requests at 10/s; lateness median/max
    assert "10/10" in lines[1]
    calls = "calls per replaced entry: media.updatecontent 1, uploadtoken.add 1, media.list 0.133"
    assert lines[2].strip() == calls  # most first, ties by name
    assert lines[3].split()[0] == "ARCHIVER_READY_POLL=5*"
    text = format_goals(goals(RUN))
    assert [line.split()[0] for line in text.splitlines()] == ["MET", "MET", "MET"]


def test_json_document_round_trips_with_goals_and_derived_figures() -> None:
    doc = json.loads(json.dumps(document([RUN], {"quick": False})))
    assert doc["benchmark"] == "replace"
    result = doc["results"][0]
    assert result["requests_per_entry"] == 6.0
    assert result["wall_goal_s"] == 260.0
    assert result["paced_s"] == 180.0
    assert result["lateness_s"] == {"min": 5.0, "median": 20.0, "max": 31.0}
    assert result["calls_per_entry"]["media.list"] == 0.133
    assert [g["met"] for g in doc["goals"]] == [True, True, True]
