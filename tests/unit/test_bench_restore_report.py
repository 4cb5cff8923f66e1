"""The restore benchmark's figures: the upload model, the checks, what limits a run, table and JSON."""

from __future__ import annotations

import json
from dataclasses import replace

from testbed.bench.restore_report import (
    RESTORE,
    S3COPY,
    Run,
    checks,
    count_events,
    document,
    format_checks,
    format_table,
    limits,
    upload_calls,
)

MIB8 = 8 << 20
SIZE = 20_000_000

S3COPY_RUN = Run(
    job=S3COPY,
    label="defaults",
    entries=100,
    done=100,
    bytes=100 * SIZE,
    wall_s=40.0,
    cpu_s=20.0,
    peak_rss_mb=250.0,
    rps_setting=10.0,
    kaltura_requests=120,
    peak_rps=9,
    calls={"flavorasset.geturl": 100, "media.update": 100, "media.list": 10},
    chunk_bytes=MIB8,
    entry_bytes=(SIZE,) * 100,
    served_bytes=100 * SIZE,
    s3_requests=900,
    moto_cpu_s=15.0,
    sim_cpu_s=5.0,
)
RESTORE_RUN = replace(
    S3COPY_RUN,
    job=RESTORE,
    wall_s=80.0,
    kaltura_requests=600,
    peak_rps=10,
    calls={"uploadtoken.add": 100, "uploadtoken.upload": 300, "media.updatecontent": 100, "media.list": 70},
    s3_requests=800,
    uploads_s=70.0,
)


def verdicts(runs: list[Run]) -> dict[str, bool | None]:
    return {c.name: c.met for c in checks(runs)}


def test_a_20_mb_original_at_8_mib_chunks_takes_three_chunks_the_last_final_plus_token_and_update() -> None:
    assert upload_calls(SIZE, MIB8) == 5
    assert upload_calls(2 * MIB8, MIB8) == 4  # two full chunks, the second one final
    assert upload_calls(SIZE, 32 << 20) == 3  # one chunk, final
    assert upload_calls(0, MIB8) == 3  # nothing to send: the final chunk alone


def test_upload_calls_equal_to_the_model_pass_and_one_more_fails() -> None:
    name = "restore_from_s3 defaults: upload calls (uploadtoken.add, uploadtoken.upload, media.updatecontent)"
    assert verdicts([S3COPY_RUN, RESTORE_RUN])[name] is True
    retried = replace(RESTORE_RUN, calls={**RESTORE_RUN.calls, "uploadtoken.upload": 301})
    assert verdicts([S3COPY_RUN, retried])[name] is False
    partial = replace(RESTORE_RUN, done=99, bytes=99 * SIZE, entry_bytes=(SIZE,) * 99)
    assert verdicts([S3COPY_RUN, partial])[name] is None  # a run that left entries behind is not judged on it


def test_bytes_brought_back_must_equal_what_s3copy_archived() -> None:
    name = "restore_from_s3 defaults: bytes brought back"
    assert verdicts([S3COPY_RUN, RESTORE_RUN])[name] is True
    assert verdicts([S3COPY_RUN, replace(RESTORE_RUN, bytes=100 * SIZE - 1)])[name] is False
    assert verdicts([RESTORE_RUN])[name] is None  # nothing to compare with


def test_every_entry_done_and_peak_requests_per_second_within_the_setting() -> None:
    found = verdicts([S3COPY_RUN, replace(RESTORE_RUN, done=98, peak_rps=11)])
    assert found["s3copy defaults: entries archived"] is True
    assert found["s3copy defaults: peak Kaltura requests/s"] is True
    assert found["restore_from_s3 defaults: entries restored"] is False
    assert found["restore_from_s3 defaults: peak Kaltura requests/s"] is False
    unpaced = replace(RESTORE_RUN, label="ARCHIVER_KALTURA_RPS=1000", rps_setting=1000.0, peak_rps=40)
    assert verdicts([unpaced])["restore_from_s3 ARCHIVER_KALTURA_RPS=1000: peak Kaltura requests/s"] is True


def test_limits_give_the_request_budget_and_the_machine_cpu_shares_of_the_wall_time() -> None:
    found = limits(RESTORE_RUN, cpus=2)
    assert found.paced_share == 0.75  # 600 requests at 10/s = 60 s of 80 s
    assert found.cpu_s == 40.0  # ours 20 + moto 15 + simulator 5
    assert found.cpu_share == 0.25  # of 2 cores x 80 s
    assert limits(replace(RESTORE_RUN, wall_s=0.0), cpus=2).paced_share is None


def test_count_events_counts_only_that_event_in_json_lines() -> None:
    lines = [
        json.dumps({"event": "s3.read_resumed", "key": "0_a"}),
        json.dumps({"event": "entry.restored", "reason": "s3.read_resumed once"}),
        "s3.read_resumed (not json)",
        '{"event": "s3.read_resumed", broken',
        json.dumps({"event": "s3.read_resumed", "key": "0_b"}),
    ]
    assert count_events(lines, "s3.read_resumed") == 2


def test_table_shows_mb_per_s_and_requests_per_entry_side_by_side_and_the_calls_per_entry() -> None:
    lines = format_table([S3COPY_RUN, RESTORE_RUN], cpus=2).splitlines()
    copy_row = lines[1].split()
    assert copy_row[:8] == ["s3copy", "defaults", "100", "100", "2000", "40.0", "50.0", "-"]
    restore_at = next(i for i, line in enumerate(lines) if line.split()[0] == RESTORE)
    row = lines[restore_at].split()
    assert row[4:12] == ["2000", "80.0", "25.0", "70.0", "60.0", "600", "6.00", "10/10"]
    assert lines[restore_at + 1].strip().startswith("calls per restored entry: uploadtoken.upload 3,")
    assert lines[restore_at + 2].strip() == "upload calls per entry: 5 (model 5); S3 reads resumed: 0"
    assert "request budget 600 requests at 10/s = 60.0 s of 80.0 s wall (75%)" in lines[restore_at + 3]
    text = format_checks(checks([S3COPY_RUN, RESTORE_RUN]))
    assert [line.split()[0] for line in text.splitlines()] == ["OK"] * 6


def test_json_document_round_trips_with_derived_figures_limits_and_checks() -> None:
    doc = json.loads(json.dumps(document([S3COPY_RUN, RESTORE_RUN], {"host": {"cpus": 2}})))
    assert doc["benchmark"] == "restore"
    copy, restore = doc["results"]
    assert copy["mb_per_s"] == 50.0
    assert "upload_calls" not in copy
    assert restore["mb_per_s"] == 25.0
    assert restore["requests_per_entry"] == 6.0
    assert restore["s3_requests_per_entry"] == 8.0
    assert restore["upload_calls"] == restore["upload_calls_model"] == 500
    assert restore["entry_bytes"] == {"min": SIZE, "max": SIZE, "count": 100}
    assert restore["calls_per_entry"]["uploadtoken.upload"] == 3.0
    assert restore["limits"]["paced_share"] == 0.75
    assert all(c["met"] for c in doc["checks"])
