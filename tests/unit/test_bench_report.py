"""The s3copy benchmark's figures: derived rates, the targets' verdicts, the table and the JSON document."""

from __future__ import annotations

import json
from dataclasses import replace

from testbed.bench.report import (
    OURS,
    SEQUENTIAL,
    Row,
    document,
    format_row,
    format_table,
    format_targets,
    header,
    targets,
)

OURS_W1 = Row(
    workload="W1",
    tool=OURS,
    concurrency=4,
    archived=500,
    skipped=12,
    failed=0,
    bytes=500_000_000,
    wall_s=5.0,
    cpu_s=4.0,
    peak_rss_mb=90.0,
    kaltura_requests=40,
    peak_rps=10,
    rps_setting=10.0,
    calls={"media.list": 2},
)
SEQ_W1 = Row("W1", SEQUENTIAL, 1, archived=100, skipped=0, failed=0, bytes=100_000_000, wall_s=25.0,
             cpu_s=5.0, peak_rss_mb=95.0, kaltura_requests=402, peak_rps=14)  # fmt: skip


def verdicts(rows: list[Row]) -> dict[str, bool | None]:
    return {t.name: t.met for t in targets(rows)}


def test_rates_are_per_second_of_wall_time_and_per_decimal_gigabyte() -> None:
    assert OURS_W1.entries_per_s == 100.0
    assert OURS_W1.mb_per_s == 100.0
    assert OURS_W1.cpu_s_per_gb == 8.0
    assert OURS_W1.requests_per_entry == 0.08


def test_a_run_that_archived_nothing_has_no_per_entry_or_per_byte_figures() -> None:
    empty = replace(OURS_W1, archived=0, bytes=0)
    assert empty.requests_per_entry is None
    assert empty.cpu_s_per_gb is None


def test_w1_speed_up_is_judged_against_25_times_the_sequential_rate() -> None:
    assert verdicts([OURS_W1, SEQ_W1])["W1 speed-up over the sequential algorithm"] is True  # 100 vs 4/s
    slow = replace(OURS_W1, wall_s=6.0)  # 83.3/s: under 25 x 4 = 100/s
    assert verdicts([slow, SEQ_W1])["W1 speed-up over the sequential algorithm"] is False


def test_targets_not_measured_have_no_verdict() -> None:
    found = verdicts([OURS_W1])
    assert found["W1 speed-up over the sequential algorithm"] is None
    assert found["W2 MB/s against the best anchor"] is None
    assert found["W3 peak RSS"] is None


def test_w2_compares_with_the_best_anchor_that_copied_everything() -> None:
    ours = replace(OURS_W1, workload="W2", archived=16, bytes=1_600_000_000, wall_s=20.0)  # 80 MB/s
    rclone = Row("W2", "rclone", 4, 16, 0, 0, 1_600_000_000, wall_s=25.0, cpu_s=1.0, peak_rss_mb=60.0)
    broken = Row("W2", "aws-cli", 4, 15, 0, 1, 1_500_000_000, wall_s=5.0, cpu_s=9.0, peak_rss_mb=110.0)
    assert verdicts([ours, rclone, broken])["W2 MB/s against the best anchor"] is True
    faster = replace(rclone, wall_s=10.0)
    assert verdicts([ours, faster])["W2 MB/s against the best anchor"] is False


def test_w3_rss_limit_is_200_mb_inclusive() -> None:
    w3 = replace(OURS_W1, workload="W3", peak_rss_mb=200.0)
    assert verdicts([w3])["W3 peak RSS"] is True
    assert verdicts([replace(w3, peak_rss_mb=200.1)])["W3 peak RSS"] is False


def test_kaltura_rate_and_requests_per_entry_are_judged_for_each_of_our_rows() -> None:
    over = replace(OURS_W1, peak_rps=11, kaltura_requests=1001)
    found = verdicts([over, SEQ_W1])
    assert found["W1 peak Kaltura requests/s"] is False
    assert found["W1 Kaltura requests per archived entry"] is False
    assert "W1 peak Kaltura requests/s" in verdicts([OURS_W1])
    assert not any(name.startswith("W1 peak") and met is False for name, met in verdicts([OURS_W1]).items())


def test_requests_per_entry_of_a_one_entry_run_is_shown_and_not_judged() -> None:
    one = replace(OURS_W1, workload="W3", archived=1, kaltura_requests=6)
    found = {t.name: t for t in targets([one])}["W3 Kaltura requests per archived entry"]
    assert found.met is None
    assert found.value.startswith("6.000")
    two = replace(one, archived=2, kaltura_requests=6)  # 3 per entry: judged, and over the goal
    assert verdicts([two])["W3 Kaltura requests per archived entry"] is False


def test_table_has_a_header_and_one_aligned_line_per_row_with_notes_after() -> None:
    noted = replace(SEQ_W1, note="first error: boom")
    lines = format_table([OURS_W1, noted]).splitlines()
    assert lines[0] == header()
    assert len(lines) == 4
    assert len(lines[1]) == len(lines[0]) == len(lines[2])
    assert lines[1].split()[:3] == ["W1", "kaltura-archiver", "500"]
    assert lines[2].split()[:3] == ["W1", "sequential", "x1"]
    assert lines[3].strip() == "note: first error: boom"
    assert "10/10" in lines[1]  # peak requests/s against the setting


def test_targets_print_a_verdict_per_line() -> None:
    text = format_targets(targets([OURS_W1, SEQ_W1]))
    assert text.splitlines()[0].split()[0] == "MET"
    assert all(line.split()[0] in ("MET", "MISSED", "n/a") for line in text.splitlines())


def test_json_document_round_trips_with_rows_targets_and_derived_figures() -> None:
    doc = json.loads(json.dumps(document([OURS_W1, SEQ_W1], {"quick": True}, ["rclone not installed"])))
    assert doc["benchmark"] == "s3copy"
    assert doc["meta"] == {"quick": True}
    assert doc["notes"] == ["rclone not installed"]
    first = doc["results"][0]
    assert first["label"] == "kaltura-archiver"
    assert first["entries_per_s"] == 100.0
    assert first["requests_per_entry"] == 0.08
    assert first["calls"] == {"media.list": 2}
    assert doc["results"][1]["label"] == "sequential x1"
    assert {t["name"] for t in doc["targets"]} >= {"W1 speed-up over the sequential algorithm", "W3 peak RSS"}


def test_a_variant_row_is_shown_starred_with_its_settings_and_never_judged() -> None:
    variant = replace(OURS_W1, variant="ARCHIVER_KALTURA_RPS=1000", peak_rps=900, rps_setting=1000.0)
    assert variant.label == "kaltura-archiver ARCHIVER_KALTURA_RPS=1000"
    lines = format_table([variant]).splitlines()
    assert lines[1].split()[1] == "kaltura-archiver*"
    assert lines[2].strip() == "note: settings ARCHIVER_KALTURA_RPS=1000"
    assert all(t.met is None for t in targets([variant]))  # no row of ours at the defaults: nothing judged
    slow_default = replace(OURS_W1, wall_s=50.0)
    found = verdicts([slow_default, variant, SEQ_W1])
    assert found["W1 speed-up over the sequential algorithm"] is False  # the default row, not the variant


def test_server_cpu_is_in_the_table_and_the_json() -> None:
    row = replace(OURS_W1, moto_cpu_s=3.25, sim_cpu_s=0.5)
    assert format_row(row).split()[-3:] == ["3.2", "0.5", "-"]
    doc = document([row], {})
    assert (doc["results"][0]["moto_cpu_s"], doc["results"][0]["sim_cpu_s"]) == (3.25, 0.5)


def test_w2_is_also_compared_like_for_like_with_rclone_in_multipart() -> None:
    ours = replace(OURS_W1, workload="W2", archived=16, bytes=1_600_000_000, wall_s=20.0)  # 80 MB/s
    single = Row("W2", "rclone", 16, 16, 0, 0, 1_600_000_000, wall_s=10.0, cpu_s=1.0, peak_rss_mb=47.0)
    multipart = replace(single, wall_s=21.0, variant="multipart, 16MiB parts")
    found = verdicts([ours, single, multipart])
    assert found["W2 MB/s against the best anchor"] is False
    assert found["W2 MB/s against rclone in multipart of our part size"] is True
    assert format_table([multipart]).splitlines()[1].split()[1:3] == ["rclone", "x16*"]


def test_with_rounds_speed_takes_the_best_round_and_memory_the_worst() -> None:
    first = replace(OURS_W1, workload="W2", archived=16, bytes=1_600_000_000, wall_s=40.0)  # 40 MB/s
    second = replace(first, wall_s=20.0, round=2)  # 80 MB/s
    rclone = Row("W2", "rclone", 16, 16, 0, 0, 1_600_000_000, wall_s=25.0, cpu_s=1.0, peak_rss_mb=47.0)
    assert verdicts([first, second, rclone])["W2 MB/s against the best anchor"] is True
    light = replace(OURS_W1, workload="W3", peak_rss_mb=150.0)
    heavy = replace(light, peak_rss_mb=250.0, round=2)
    assert verdicts([light, heavy])["W3 peak RSS"] is False
    assert "W3 (round 2) peak Kaltura requests/s" in verdicts([light, heavy])
    assert format_table([second]).splitlines()[2].strip() == "note: round 2"


def test_w2_values_give_each_sides_median_round_beside_the_best_rounds_that_decide() -> None:
    ours = [replace(OURS_W1, workload="W2", archived=16, bytes=1_600_000_000, wall_s=w, round=i)
            for i, w in enumerate((10.0, 20.0, 8.0), 1)]  # fmt: skip
    rclone = [Row("W2", "rclone", 16, 16, 0, 0, 1_600_000_000, wall_s=w, cpu_s=1.0, peak_rss_mb=47.0, round=i)
              for i, w in enumerate((9.0, 16.0, 12.0), 1)]  # fmt: skip
    failed = replace(rclone[0], archived=15, failed=1, bytes=1_500_000_000, wall_s=1.0, round=4)
    multipart = replace(rclone[1], variant="multipart, 8MiB parts", wall_s=32.0)
    found = {t.name: t for t in targets([*ours, *rclone, failed, multipart])}
    best = found["W2 MB/s against the best anchor"]
    # best rounds 200 vs 177.8 MB/s decide; the medians (160 vs 133.3) leave out the failed round
    assert best.value == "200.0 vs 177.8 MB/s (rclone x16); medians 160.0 vs 133.3 (3 vs 3 rounds)"
    assert best.met is True
    like = found["W2 MB/s against rclone in multipart of our part size"]
    assert like.value == (
        "200.0 vs 50.0 MB/s (rclone x16 multipart, 8MiB parts); medians 160.0 vs 50.0 (3 vs 1 rounds)"
    )
    one = {t.name: t for t in targets([ours[0], rclone[0]])}["W2 MB/s against the best anchor"]
    assert one.value == "160.0 vs 177.8 MB/s (rclone x16)"  # one round a side: no median to give


def test_the_w1_speed_up_compares_best_rounds_on_both_sides() -> None:
    ours = replace(OURS_W1, wall_s=5.0)  # 100 entries/s
    slow_seq = SEQ_W1  # 4 entries/s: 25x
    fast_seq = replace(SEQ_W1, wall_s=20.0, round=2)  # 5 entries/s: 20x
    assert verdicts([ours, slow_seq])["W1 speed-up over the sequential algorithm"] is True
    assert verdicts([ours, slow_seq, fast_seq])["W1 speed-up over the sequential algorithm"] is False
    value = {t.name: t.value for t in targets([ours, slow_seq, fast_seq])}
    assert value["W1 speed-up over the sequential algorithm"] == "20.0x (100.0 vs 5.00 entries/s)"


def test_the_best_anchor_is_one_at_its_own_settings_not_a_variant() -> None:
    ours = replace(OURS_W1, workload="W2", archived=16, bytes=1_600_000_000, wall_s=20.0)  # 80 MB/s
    tuned = Row("W2", "rclone", 16, 16, 0, 0, 1_600_000_000, wall_s=10.0, cpu_s=1.0, peak_rss_mb=47.0,
                variant="multipart, 16MiB parts")  # fmt: skip
    plain = replace(tuned, wall_s=40.0, variant="")
    found = verdicts([ours, tuned, plain])
    assert found["W2 MB/s against the best anchor"] is True  # 80 vs the plain 40, not the variant's 160
    assert found["W2 MB/s against rclone in multipart of our part size"] is False
