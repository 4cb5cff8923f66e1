"""stats' figures, pure, on a fixture of known sizes: every count, byte and dollar exact; units right."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from jobs.stats import report
from jobs.stats.chart import page
from jobs.stats.facts import state_of
from jobs.stats.figures import GiB, KiB, billed, costs
from tests.fixtures.stats import CONTEXT, FIXTURE, PRICES, MiB, TiB, tally_of_fixture


def figures() -> dict[tuple[str, str, str], Any]:
    tally = tally_of_fixture()
    return report.flat(report.document(report.rows(tally, costs(tally, PRICES), CONTEXT)))


def test_each_entry_gets_its_state_from_tags_flavors_and_the_objects_size() -> None:
    states = [state_of(facts, o[1] if o else None) for facts, o in FIXTURE]
    assert states == [
        ("initial", None), ("archived", None), ("place_holder", None), ("initial", None),
        ("unhealthy", "tag_without_object"), ("unhealthy", "not_ready"), ("unhealthy", "object_without_tag"),
        ("unhealthy", "size_mismatch"),
    ]  # fmt: skip


def test_counts_and_bytes_by_year_created_and_by_year_played_are_exact() -> None:
    f = figures()
    assert f["created", "2019", "entries"] == 2
    assert f["created", "2019", "kaltura_bytes"] == 3 * GiB
    assert f["created", "2019", "s3_bytes"] == GiB
    assert (f["created", "2019", "initial"], f["created", "2019", "archived"]) == (1, 1)
    assert f["created", "2020", "kaltura_bytes"] == 400_000 + 5 * MiB
    assert f["created", "2020", "s3_bytes"] == TiB
    assert (f["created", "2020", "place_holder"], f["created", "2020", "unhealthy"]) == (1, 1)
    assert f["created", "2021", "unhealthy"] == 2
    assert f["created", "2024", "kaltura_bytes"] == 30 * MiB
    assert f["played", "never", "entries"] == 4  # a, e, g, h
    assert f["played", "never", "kaltura_bytes"] == GiB + 512 * MiB + 20 * MiB + 3 * MiB
    assert f["played", "2020", "entries"] == 1
    assert f["played", "2021", "s3_bytes"] == TiB
    played_keys = [k for (s, k, m) in f if s == "played" and m == "entries"]
    assert played_keys == ["2020", "2021", "2022", "2026", "never"]  # never played: its own row, last


def test_states_freed_savable_and_the_join_are_exact() -> None:
    f = figures()
    states = ("initial", "archived", "place_holder", "unhealthy")
    assert [f["state", s, "entries"] for s in states] == [2, 1, 1, 4]
    assert f["state", "initial", "kaltura_bytes"] == GiB + 512 * MiB + 10 * MiB
    assert f["kaltura", "all_flavors", "bytes"] == 3 * GiB + 400_000 + 38 * MiB
    # the replaced original's bytes (the object's size) less the placeholder's flavors now in Kaltura
    assert f["kaltura", "freed_by_replacements", "bytes"] == TiB - 400_000
    # initial or archived, unplayed for 3 years and created before: a and b (d was played in 2026)
    assert f["kaltura", "unplayed_for_3y", "entries"] == 2
    assert f["kaltura", "unplayed_for_3y", "bytes"] == 3 * GiB
    assert (f["join", "objects_without_entry", "objects"], f["join", "objects_without_entry", "bytes"]) == (
        2, 3 * MiB + 1000,
    )  # fmt: skip
    assert f["join", "entries_without_object", "entries"] == 4  # a, d, e, f
    assert {k: f["unhealthy", k, "entries"] for (s, k, _) in f if s == "unhealthy"} == {
        "not_ready": 1, "object_without_tag": 1, "tag_without_object": 1, "size_mismatch": 1,
    }  # fmt: skip


def test_s3_classes_carry_glaciers_per_object_overhead_and_minimum_sizes() -> None:
    f = figures()
    assert f["s3_class", "GLACIER", "billed_bytes"] == GiB + 32 * KiB
    assert f["s3_class", "GLACIER", "standard_overhead_bytes"] == 8 * KiB
    assert f["s3_class", "DEEP_ARCHIVE", "billed_bytes"] == TiB + 32 * KiB
    assert f["s3_class", "GLACIER_IR", "bytes"] == 100 * KiB
    assert f["s3_class", "GLACIER_IR", "billed_bytes"] == 128 * KiB  # the class's minimum object size
    assert (f["s3_class", "STANDARD", "objects"], f["s3_class", "STANDARD", "bytes"]) == (3, 5 * MiB + 1000)
    assert (f["s3_class", "total", "objects"], f["s3_class", "total", "bytes"]) == (
        6, GiB + TiB + 100 * KiB + 5 * MiB + 1000,
    )  # fmt: skip
    assert billed("STANDARD", 10) == billed("INTELLIGENT_TIERING", 10)


def test_costs_per_month_and_early_deletion_are_exact() -> None:
    tally = tally_of_fixture()
    c = costs(tally, PRICES)
    assert c.kaltura == Decimal(3 * GiB + 400_000 + 38 * MiB) * Decimal("0.10") / GiB
    glacier = Decimal(GiB + 32 * KiB) * Decimal("0.0036") / GiB + Decimal(8 * KiB) * Decimal("0.023") / GiB
    assert c.s3_by_class["GLACIER"] == glacier
    assert c.freed == Decimal(TiB - 400_000) * Decimal("0.10") / GiB
    assert c.saving == c.freed - c.s3
    # GLACIER: 10 days old, 80 left; GLACIER_IR: 89 whole days old, 1 left (billed at 128 KiB); DEEP_ARCHIVE:
    # 200 days old, none left; STANDARD has no minimum
    assert c.early_deletion["GLACIER"] == Decimal(GiB + 32 * KiB) * 80 * Decimal("0.0036") / GiB / 30
    assert c.early_deletion["GLACIER_IR"] == Decimal(128 * KiB) * 1 * Decimal("0.004") / GiB / 30
    assert c.early_deletion["DEEP_ARCHIVE"] == 0
    assert "STANDARD" not in c.early_deletion
    f = figures()
    assert f["cost", "kaltura", "usd_per_month"] == 0.3037  # 3.03748 GiB x 0.10 = 0.303748
    assert f["cost", "freed_by_replacements", "usd_per_month"] == 102.4  # 1 TiB less 400,000 B, x 0.10
    assert f["cost", "s3_DEEP_ARCHIVE", "usd_per_month"] == 1.0138  # 1 TiB x 0.00099 = 1.01376
    assert f["early_deletion", "GLACIER", "young_objects"] == 1
    assert f["early_deletion", "GLACIER", "usd_if_deleted_now"] == 0.0096
    assert f["early_deletion", "DEEP_ARCHIVE", "min_days"] == 180


def test_bytes_print_in_binary_units_and_money_in_dollars() -> None:
    assert report.human_bytes(TiB) == "1.00 TiB"
    assert report.human_bytes(1536 * MiB) == "1.50 GiB"
    assert report.human_bytes(512) == "512 B"
    assert report.as_row("s3_class", "total", "bytes", TiB)["shown"] == "1.00 TiB"
    assert report.as_row("s3_class", "total", "bytes", TiB)["unit"] == "B"
    assert report.shown(1234.5, "USD/month") == "$1,234.50 per month"
    assert report.shown(-0.0096, "USD/month") == "-$0.0096 per month"
    assert report.shown(0.0036, "USD/GiB-month") == "$0.0036 per GiB-month"


def test_the_chart_is_one_page_with_no_external_url() -> None:
    tally = tally_of_fixture()
    html = page(tally, CONTEXT)
    for outside in ("http", "src=", "<script", "url("):
        assert outside not in html
    assert html.count("<svg") == 2
    assert html.count('data-segment="place_holder"') == 1
    assert 'data-segment="DEEP_ARCHIVE"' in html
    assert "1.00 TiB" in html
