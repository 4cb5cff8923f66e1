"""The s3copy benchmark's figures: derived rates, the targets' verdicts, the table and the JSON document."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from testbed.bench.floors import Floors, decompose
from testbed.bench.report import (
    OURS,
    SEQUENTIAL,
    Row,
    Spread,
    calls_per_entry,
    cpu_parts,
    document,
    format_calls,
    format_cpu_parts,
    format_report,
    format_row,
    format_summary,
    format_table,
    format_targets,
    header,
    summarize,
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


GIB = 1 << 30
OURS_W2 = replace(OURS_W1, workload="W2", concurrency=16, archived=16, bytes=1_600_000_000, wall_s=20.0,
                  cpu_s=1.6, peak_rss_mb=120.0)  # 80 MB/s, 1 CPU s/GB  # fmt: skip
RCLONE_W2 = Row(
    "W2", "rclone", 16, 16, 0, 0, 1_600_000_000, wall_s=25.0, cpu_s=3.2, peak_rss_mb=47.0
)  # 64 MB/s


def verdicts(rows: Sequence[Row]) -> dict[str, bool | None]:
    return {t.name: t.met for t in targets(rows)}


def values(rows: Sequence[Row]) -> dict[str, str]:
    return {t.name: t.value for t in targets(rows)}


def rounds(row: Row, walls: Sequence[float], **changes: Any) -> list[Row]:
    """`row` once per wall time, as rounds 1, 2, ..."""
    return [replace(row, wall_s=wall, round=n, **changes) for n, wall in enumerate(walls, 1)]


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


def test_w3_rss_limit_is_200_mb_inclusive() -> None:
    w3 = replace(OURS_W1, workload="W3", peak_rss_mb=200.0)
    assert verdicts([w3])["W3 peak RSS"] is True
    assert verdicts([replace(w3, peak_rss_mb=200.1)])["W3 peak RSS"] is False


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


def test_a_spread_is_the_median_and_range_of_odd_and_even_counts() -> None:
    assert Spread.of([3.0, 1.0, 2.0]) == Spread(3, 2.0, 1.0, 3.0)
    assert Spread.of([4.0, 1.0, 3.0, 2.0]) == Spread(4, 2.5, 1.0, 4.0)  # even: the mean of the middle two
    assert Spread.of([None, None]) is None
    assert Spread(4, 2.5, 1.0, 4.0).cell(".1f") == "2.5 (1.0-4.0)"
    assert Spread(1, 5.0, 5.0, 5.0).cell(".1f") == "5.0"  # one round: its value alone


def test_the_summary_gives_each_configuration_its_rounds_medians_and_ranges() -> None:
    ours = rounds(OURS_W1, (5.0, 4.0, 10.0, 8.0))  # 100, 125, 50, 62.5 entries/s
    variant = replace(OURS_W1, variant="ARCHIVER_TRANSFERS=32")
    (mine, seq, other) = summarize([*ours, SEQ_W1, variant])
    assert (mine.label, mine.n, mine.failed) == (OURS, 4, 0)
    assert mine.figures["entries_per_s"] == Spread(4, 81.25, 50.0, 125.0)
    assert mine.figures["peak_rss_mb"] == Spread(4, 90.0, 90.0, 90.0)
    assert mine.figures["tree_rss_mb"] is None  # not sampled for ours
    assert (seq.label, seq.n) == ("sequential x1", 1)
    assert other.label == "kaltura-archiver ARCHIVER_TRANSFERS=32"


def test_a_failed_round_is_left_out_of_the_figures_and_counted() -> None:
    ours = rounds(OURS_W1, (5.0, 4.0, 10.0))
    failed = replace(OURS_W1, failed=1, wall_s=1.0, round=4)  # the fastest round, but one entry failed
    empty = replace(OURS_W1, archived=0, wall_s=1.0, round=5)  # archived nothing
    (mine,) = summarize([*ours, failed, empty])
    assert (mine.n, mine.failed, mine.rounds) == (3, 2, 5)
    assert mine.figures["entries_per_s"] == Spread(3, 100.0, 50.0, 125.0)
    assert mine.failed_note == "2 of 5 rounds failed"
    assert format_summary([mine]).splitlines()[-1].endswith("2 of 5 rounds failed")


def test_the_summary_table_has_aligned_median_min_max_cells_per_workload() -> None:
    rows = [*rounds(OURS_W1, (5.0, 4.0, 10.0)), SEQ_W1, replace(OURS_W2, workload="W3")]
    lines = format_summary(summarize(rows)).splitlines()
    assert lines[0] == "W1: median (min-max) over complete rounds"
    assert lines[1].split()[:3] == ["tool", "rounds", "entries/s"]
    assert len(lines[1]) == len(lines[2]) == len(lines[3])
    assert lines[2].split()[:4] == [OURS, "3", "100.00", "(50.00-125.00)"]
    assert lines[3].split()[:4] == ["sequential", "x1", "1", "4.00"]
    assert lines[4] == "W3: median (min-max) over complete rounds"
    assert len(lines) == 7


def test_kaltura_calls_per_entry_are_medians_over_rounds_for_ours_and_the_sequential_algorithm() -> None:
    base = {"flavorAsset.getUrl": 500, "media.update": 500}
    ours = [
        replace(OURS_W1, calls={**base, "media.list": 10}),
        replace(OURS_W1, calls={**base, "media.list": 12, "baseEntry.get": 1}, round=2),
        replace(OURS_W1, calls={**base, "media.list": 8}, round=3),
    ]
    per = calls_per_entry(ours)
    assert per == {"flavorAsset.getUrl": 1.0, "media.update": 1.0, "media.list": 0.02, "baseEntry.get": 0.0}
    assert list(per) == ["flavorAsset.getUrl", "media.update", "media.list", "baseEntry.get"]  # most first
    seq = replace(SEQ_W1, calls={"media.list": 2, "flavorAsset.getUrl": 100})
    variant = replace(OURS_W1, variant="ARCHIVER_KALTURA_RPS=1000")
    rclone = replace(RCLONE_W2, workload="W1")
    lines = format_calls(summarize([*ours, seq, variant, rclone])).splitlines()
    assert lines == [
        "W1 kaltura-archiver: 0.080 HTTP requests per entry; calls per entry: flavorAsset.getUrl 1.00, "
        "media.update 1.00, media.list 0.02, baseEntry.get 0.00",
        "W1 sequential x1: 4.020 HTTP requests per entry; calls per entry: flavorAsset.getUrl 1.00, "
        "media.list 0.02",
    ]
    assert calls_per_entry([replace(OURS_W1, calls={"media.list": 1})]) == {"media.list": 0.002}
    assert "media.list 0.002" in format_calls(summarize([replace(OURS_W1, calls={"media.list": 1})]))


def test_w1_requests_per_entry_are_judged_on_the_median_against_0_04() -> None:
    name = "W1 Kaltura HTTP requests per archived entry"
    met = [replace(OURS_W1, kaltura_requests=n, round=i) for i, n in enumerate((15, 20, 25), 1)]
    assert verdicts(met)[name] is True  # 0.03, 0.04, 0.05: the median is the goal itself
    assert values(met)[name] == "0.040 (0.030-0.050) over 3 rounds"
    missed = [replace(OURS_W1, kaltura_requests=n, round=i) for i, n in enumerate((20, 25, 30), 1)]
    assert verdicts(missed)[name] is False  # median 0.05


def test_w1_speed_up_compares_the_medians_of_both_sides() -> None:
    name = "W1 speed-up over the sequential algorithm"
    ours = rounds(OURS_W1, (5.0, 4.0, 10.0))  # 100, 125, 50 entries/s: median 100
    seq = rounds(SEQ_W1, (25.0, 10.0, 50.0))  # 4, 10, 2 entries/s: median 4 (the best round, 10, is 12.5x)
    assert verdicts([*ours, *seq])[name] is True
    assert values([*ours, *seq])[name] == (
        "25.0x (100.00 (50.00-125.00) vs 4.00 (2.00-10.00) entries/s; 3 vs 3 rounds)"
    )
    slower = rounds(OURS_W1, (6.0, 6.5, 4.0))  # 83.3, 76.9, 125 entries/s: median 83.3, under 25 x 4
    assert verdicts([*slower, *seq])[name] is False


def test_peak_kaltura_rate_is_judged_in_every_round_and_summarized() -> None:
    name = "W1 peak Kaltura requests/s"
    ours = [replace(OURS_W1, peak_rps=p, round=i) for i, p in enumerate((8, 10, 9, 10, 7), 1)]
    assert verdicts(ours)[name] is True
    assert values(ours)[name] == "max 10 over 5 rounds <= 10"
    over = replace(ours[2], peak_rps=11, failed=3)  # a failed round counts here: the limit holds always
    assert verdicts([*ours[:2], over, *ours[3:]])[name] is False
    assert values([*ours[:2], over, *ours[3:]])[name] == "max 11 over 5 rounds > 10"
    assert verdicts([replace(OURS_W2, peak_rps=11)])["W2 peak Kaltura requests/s"] is False


def test_w2_speed_is_judged_and_cpu_shown_against_rclone_single_put_at_our_concurrency() -> None:
    ours = rounds(OURS_W2, (20.0, 10.0, 40.0))  # 80, 160, 40 MB/s: median 80
    rclone = rounds(RCLONE_W2, (25.0, 10.0, 30.0))  # 64, 160, 53.3 MB/s: median 64
    one_by_one = replace(RCLONE_W2, concurrency=1, wall_s=5.0)  # faster, but not at our concurrency
    multipart = replace(RCLONE_W2, variant="multipart, 16MiB parts", wall_s=5.0)  # a variant: not this target
    found = verdicts([*ours, *rclone, one_by_one, multipart])
    assert found["W2 MB/s against rclone"] is True
    assert found["W2 CPU s/GB against rclone"] is None  # shown: rclone's single PUT neither hashes nor proves
    assert values([*ours, *rclone])["W2 MB/s against rclone"] == (
        "80.0 (40.0-160.0) vs 64.0 (53.3-160.0) MB/s (rclone x16; 3 vs 3 rounds)"
    )
    faster = rounds(RCLONE_W2, (25.0, 10.0, 15.0), cpu_s=0.8)  # median 106.7 MB/s, 0.5 CPU s/GB
    found = verdicts([*ours, *faster])
    assert found["W2 MB/s against rclone"] is False
    assert found["W2 CPU s/GB against rclone"] is None


def test_w2_is_also_compared_like_for_like_with_rclone_in_multipart() -> None:
    name = "W2 MB/s against rclone in multipart of our part size"
    multipart = rounds(
        replace(RCLONE_W2, variant="multipart, 16MiB parts"), (21.0, 19.0, 30.0)
    )  # median 76.2
    assert verdicts([OURS_W2, *multipart])[name] is True
    assert verdicts([replace(OURS_W2, wall_s=22.0), *multipart])[name] is False
    assert verdicts([OURS_W2, RCLONE_W2])[name] is None
    assert format_table([multipart[0]]).splitlines()[1].split()[1:3] == ["rclone", "x16*"]
    cpu = "W2 CPU s/GB against rclone in multipart of our part size"
    assert verdicts([OURS_W2, *multipart])[cpu] is True  # 1 vs 2 CPU s/GB
    assert verdicts([replace(OURS_W2, cpu_s=4.0), *multipart])[cpu] is False  # 2.5 vs 2
    assert verdicts([OURS_W2, RCLONE_W2])[cpu] is None  # no multipart run: not judged
    w2s = [replace(r, workload="W2S") for r in (OURS_W2, *multipart)]
    assert verdicts(w2s)["W2S CPU s/GB against rclone in multipart of our part size"] is True


def test_w2_peak_rss_is_the_worst_complete_round_up_to_256_mb() -> None:
    name = "W2 peak RSS"
    ours = [replace(OURS_W2, peak_rss_mb=mb, round=i) for i, mb in enumerate((120.0, 256.0, 130.0), 1)]
    assert verdicts(ours)[name] is True
    assert values(ours)[name] == "max 256.0 MB over 3 rounds (median 130.0)"
    assert verdicts([*ours, replace(OURS_W2, peak_rss_mb=256.5, round=4)])[name] is False
    failed = replace(OURS_W2, peak_rss_mb=900.0, failed=1, round=4)
    assert values([*ours, failed])[name].endswith(
        "3 rounds; kaltura-archiver: 1 of 4 rounds failed (median 130.0)"
    )


def test_w2s_transfer_speed_is_judged_against_90_percent_of_the_source_limit_and_cpu_shown() -> None:
    name = "W2S MB/s during the transfer against the source's limit"
    whole = "W2S MB/s of the whole process against the source's limit"
    ours = replace(OURS_W2, workload="W2S", wall_s=5.4, transfer_s=4.4)  # 363.6 MB/s in transfer
    assert verdicts([ours])[name] is True
    assert values([ours])[name] == "363.6 MB/s = 91% of the limit, fixed 1.00 s; 1 round"
    assert verdicts([replace(ours, transfer_s=4.5)])[name] is False  # 355.6 MB/s
    # the whole process (start-up and closing checks in it) is shown, not judged
    assert verdicts([ours])[whole] is None
    assert values([ours])[whole] == "296.3 MB/s = 74% of the limit, fixed 1.00 s; 1 round"
    # a run without a transfer span (moto) is not judged on it
    assert verdicts([replace(ours, transfer_s=None)])[name] is None
    rclone = replace(RCLONE_W2, workload="W2S", transfer_s=4.0)  # 2 CPU s/GB, 400 MB/s in transfer
    assert values([ours, rclone])[name] == (
        "363.6 MB/s = 91% of the limit, fixed 1.00 s; rclone x16 400.0 MB/s; 1 vs 1 rounds"
    )
    assert verdicts([ours, rclone])["W2S CPU s/GB against rclone"] is None  # shown, judged like for like
    assert "1.00 vs 2.00 CPU s/GB" in values([ours, rclone])["W2S CPU s/GB against rclone"]


def test_w4_speed_is_shown_as_a_share_of_the_curl_ceiling_and_cpu_against_rclone() -> None:
    name = "W4 MB/s against the curl download ceiling"
    ours = replace(OURS_W2, workload="W4", concurrency=4, archived=4, bytes=4 * GIB, wall_s=20.0)
    curl = Row("W4", "curl", 4, 4, 0, 0, 4 * GIB, wall_s=10.0, cpu_s=2.0, peak_rss_mb=5.0)
    assert curl.label == "curl x4"
    assert verdicts([ours, curl])[name] is None  # shown, not judged: no goal was set
    assert values([ours, curl])[name] == "50% (214.7 vs 429.5 MB/s, curl x4; 1 vs 1 rounds)"
    rclone = Row("W4", "rclone", 4, 4, 0, 0, 4 * GIB, wall_s=15.0, cpu_s=8.0, peak_rss_mb=50.0)
    assert verdicts([ours, rclone])["W4 MB/s against rclone"] is False  # 214.7 vs 286.3 MB/s
    # ours at its 16 transfers, rclone at one process per entry: still the rival (its parallel run)
    assert verdicts([replace(ours, concurrency=16), rclone])["W4 MB/s against rclone"] is False
    assert verdicts([replace(ours, wall_s=14.0), rclone])["W4 MB/s against rclone"] is True
    assert verdicts([ours, rclone])["W4 CPU s/GB against rclone"] is True  # 1.6 / 4.29 GB vs 8 / 4.29 GB
    assert verdicts([replace(ours, cpu_s=9.0), rclone])["W4 CPU s/GB against rclone"] is False


def test_w3s_rss_limit_is_200_mb_like_w3() -> None:
    w3s = replace(OURS_W1, workload="W3S", archived=1, peak_rss_mb=200.0)
    assert verdicts([w3s])["W3S peak RSS"] is True
    assert verdicts([w3s, replace(w3s, peak_rss_mb=201.0, round=2)])["W3S peak RSS"] is False


def test_a_workload_or_tool_not_in_the_run_gives_n_a_not_a_crash() -> None:
    found = {t.name: t for t in targets([OURS_W1])}
    for name in ("W1 speed-up over the sequential algorithm", "W2 MB/s against rclone", "W2 peak RSS",
                 "W2S MB/s during the transfer against the source's limit",
                 "W4 MB/s against the curl download ceiling",
                 "W4 CPU s/GB against rclone", "W3 peak RSS", "W3S peak RSS"):  # fmt: skip
        assert found[name].met is None, name
    assert found["W2 peak RSS"].value == "not measured"
    assert found["W1 speed-up over the sequential algorithm"].value == "sequential not measured"
    assert values([OURS_W2])["W2 MB/s against rclone"] == "rclone not measured"
    failed = rounds(replace(OURS_W2, failed=2), (20.0, 30.0))
    assert (
        values([*failed, RCLONE_W2])["W2 MB/s against rclone"]
        == "kaltura-archiver: no complete round (2 of 2 rounds failed)"
    )
    assert verdicts([])["W1 peak Kaltura requests/s"] is None


def test_targets_print_a_verdict_and_the_goal_beside_each() -> None:
    text = format_targets(targets([OURS_W1, SEQ_W1]))
    first = text.splitlines()[0]
    assert first.split()[0] == "MISSED"  # 0.08 requests per entry
    assert "goal <= 0.04 (median): 0.080 over 1 round" in first
    assert all(line.split()[0] in ("MET", "MISSED", "n/a") for line in text.splitlines())


def test_the_report_gives_the_summary_then_the_calls_then_the_targets() -> None:
    text = format_report([OURS_W1, SEQ_W1])
    summary, calls, found = text.split("\n\n")
    assert summary == format_summary(summarize([OURS_W1, SEQ_W1]))
    assert calls.startswith("W1 kaltura-archiver: 0.080 HTTP requests per entry; calls per entry: media.list")
    assert found == format_targets(targets([OURS_W1, SEQ_W1]))


def test_json_document_round_trips_with_rows_summary_targets_and_derived_figures() -> None:
    rows = [*rounds(OURS_W1, (5.0, 4.0)), replace(OURS_W1, failed=1, round=3), SEQ_W1]
    doc = json.loads(json.dumps(document(rows, {"quick": True}, ["rclone not installed"])))
    assert doc["benchmark"] == "s3copy"
    assert doc["meta"] == {"quick": True}
    assert doc["notes"] == ["rclone not installed"]
    first = doc["results"][0]
    assert first["label"] == "kaltura-archiver"
    assert first["entries_per_s"] == 100.0
    assert first["requests_per_entry"] == 0.08
    assert first["calls"] == {"media.list": 2}
    assert doc["results"][3]["label"] == "sequential x1"
    mine = doc["summary"][0]
    assert (mine["label"], mine["n"], mine["failed"]) == ("kaltura-archiver", 2, 1)
    assert mine["figures"]["entries_per_s"] == {"median": 112.5, "min": 100.0, "max": 125.0}
    assert mine["figures"]["tree_rss_mb"] is None
    assert mine["calls_per_entry"] == {"media.list": 0.004}
    assert doc["summary"][1]["label"] == "sequential x1"
    assert {t["name"] for t in doc["targets"]} >= {"W1 speed-up over the sequential algorithm", "W3 peak RSS"}


def test_cpu_per_gb_is_split_into_start_up_hashing_and_the_transfer() -> None:
    """Start-up CPU is spread over the run's GB; hashing is per GB; the transfer is what remains."""
    floors = Floors(startup_cpu_s=0.4, hashing_s_per_gb=0.6)
    assert decompose(3.0, 1.6, floors) == {"start-up": 0.25, "hashing": 0.6, "transfer": 3.0 - 0.25 - 0.6}
    ours = replace(OURS_W2, cpu_s=3.2)  # 2 CPU s/GB over 1.6 GB
    slower = replace(ours, cpu_s=4.8, round=2)  # 3 CPU s/GB: the median of the two is 2.5
    failed = replace(ours, cpu_s=99.0, failed=1, round=3)  # not a complete round: not counted
    [(workload, total, parts)] = cpu_parts([ours, slower, failed, RCLONE_W2], floors)
    assert (workload, total) == ("W2", 2.5)
    assert parts["start-up"] == 0.25
    assert round(parts["transfer"], 6) == 1.65
    text = format_cpu_parts([ours, slower, RCLONE_W2], floors)
    assert "W2: 2.50 = start-up 0.25 + hashing 0.60 + transfer 1.65; rclone x16 2.00" in text
    assert format_cpu_parts([ours], None) == ""  # not measured: no section
    doc = document([ours], {}, floors=floors)
    assert doc["floors"] == {"startup_cpu_s": 0.4, "hashing_s_per_gb": 0.6}
    assert doc["cpu_s_per_gb_parts"]["W2"]["total"] == 2.0
