"""Report rows: the old tool's columns, unpadded TSV, JSON and JSON lines, secrets masked."""

from __future__ import annotations

import io
import json
import uuid

import pytest

from adapters.kaltura.wire import FlavorAsset, MediaEntry
from engine.redact import REDACTED, add_secret
from jobs.common.report import ReportWriter
from jobs.common.rows import TAG_COLUMNS, VIDEO_COLUMNS, video_row
from jobs.count import count_line
from jobs.lifecycle import ARCHIVED_TAG, REPLACED_TAG, original_of
from jobs.listing import FLAVOR_COLUMNS, flavor_rows

ENTRY = MediaEntry(
    id="0_abc", name="Intro\tto physics", created_at=1_500_000_000, updated_at=None, status=-1, media_type=1,
    tags=("lecture", "archived_to_s3"), categories="MediaSpace>Science", categories_ids=("103",), plays=4,
    views=9, last_played_at=None, creator_id="jdoe", user_id="jdoe", duration=60, replacing_entry_id=None,
    replacement_status=0,
)  # fmt: skip


def flavor(fid: str, *, original: bool, size_kb: int, size_bytes: int = 0, status: int = 2) -> FlavorAsset:
    return FlavorAsset(
        id=fid, entry_id="0_abc", is_original=original, flavor_params_id=0 if original else 487, tags=(),
        size_kb=size_kb, size_bytes=size_bytes, status=status, version=2, file_ext="mp4",
        created_at=1_500_000_100, updated_at=None, deleted_at=None,
    )  # fmt: skip


FLAVORS = [
    flavor("0_src", original=True, size_kb=1000, size_bytes=1_024_000),
    flavor("0_d1", original=False, size_kb=50),
]


def test_video_row_has_the_old_columns_and_the_new_ones() -> None:
    row = video_row(ENTRY, FLAVORS, original_of(FLAVORS))
    assert list(VIDEO_COLUMNS[:14]) == [
        "last_played_date", "last_played", "plays", "entry_id", "status", "archived_to_s3", "flavors_deleted",
        "total_KB", "orig_KB", "orig_status", "created_date", "created", "creator_id", "tags",
    ]  # fmt: skip
    assert row["status"] == "ERROR_CONVERTING"
    assert row["archived_to_s3"] == "archived_to_s3"
    assert row["flavors_deleted"] is None
    assert (row["total_KB"], row["orig_KB"], row["orig_status"]) == (1050, 1000, "READY")
    assert (row["created_date"], row["last_played_date"]) == ("2017-07-14", None)
    assert (row["original_flavor_id"], row["original_size_bytes"]) == ("0_src", 1_024_000)


def test_entry_without_original_says_missing() -> None:
    flavors = [flavor("0_d1", original=False, size_kb=50)]
    row = video_row(ENTRY, flavors, original_of(flavors))
    assert row["orig_status"] == "MISSING"
    assert row["original_flavor_id"] is None
    assert original_of([]) is None


def test_flavor_rows_one_per_flavor() -> None:
    rows = flavor_rows(ENTRY, FLAVORS)
    assert [r["flavor_id"] for r in rows] == ["0_src", "0_d1"]
    assert rows[0]["original"] is True
    assert set(rows[0]) == set(FLAVOR_COLUMNS)


def test_tsv_is_unpadded_with_one_line_per_row() -> None:
    out = io.StringIO()
    writer = ReportWriter(out, VIDEO_COLUMNS)
    writer.row(video_row(ENTRY, FLAVORS, original_of(FLAVORS)))
    writer.close()
    header, line = out.getvalue().splitlines()
    assert header.split("\t") == list(VIDEO_COLUMNS)
    cells = line.split("\t")
    assert len(cells) == len(VIDEO_COLUMNS)
    assert cells[VIDEO_COLUMNS.index("name")] == "Intro to physics"  # the tab inside became a space
    assert cells[VIDEO_COLUMNS.index("plays")] == "4"
    assert cells[VIDEO_COLUMNS.index("last_played_date")] == ""


def test_json_array_and_lines_keep_types() -> None:
    for fmt in ("json", "jsonl"):
        out = io.StringIO()
        writer = ReportWriter(out, FLAVOR_COLUMNS, fmt)
        for row in flavor_rows(ENTRY, FLAVORS):
            writer.row(row)
        writer.close()
        text = out.getvalue()
        rows = json.loads(text) if fmt == "json" else [json.loads(line) for line in text.splitlines()]
        assert [r["size_KB"] for r in rows] == [1000, 50]
        assert rows[1]["size_bytes"] is None


def test_empty_json_report_is_an_empty_array() -> None:
    out = io.StringIO()
    ReportWriter(out, ("a",), "json").close()
    assert json.loads(out.getvalue()) == []


def test_count_line_is_the_old_format() -> None:
    assert count_line(42, "Filter(x)") == "#COUNT\t42\tFilter(x)\n"


@pytest.mark.parametrize("fmt", ["tsv", "json", "jsonl"])
def test_a_row_quoting_a_secret_is_masked_in_every_format(fmt: str) -> None:
    secret = f"admin-secret-{uuid.uuid4().hex}"  # unique: the redactor's registry outlives the test
    add_secret(secret)
    ks = "djJ8MTAwMHx" + "A" * 40  # a KS v2 is caught by its shape, registered or not
    out = io.StringIO()
    writer = ReportWriter(out, ("entry_id", "reason", "plays"), fmt)
    writer.row({"entry_id": secret, "reason": f"HTTP 403 for ks={ks} and {secret}", "plays": 3})
    writer.close()
    text = out.getvalue()
    assert secret not in text
    assert ks not in text
    if fmt == "tsv":
        rows = [dict(zip(("entry_id", "reason", "plays"), text.splitlines()[1].split("\t"), strict=True))]
    else:
        rows = json.loads(text) if fmt == "json" else [json.loads(line) for line in text.splitlines()]
    assert rows[0]["entry_id"] == REDACTED
    assert rows[0]["reason"] == f"HTTP 403 for ks={REDACTED} and {REDACTED}"
    assert rows[0]["plays"] == (3 if fmt != "tsv" else "3")


def test_the_tag_columns_are_named_after_the_lifecycle_tags() -> None:
    assert TAG_COLUMNS == (ARCHIVED_TAG, REPLACED_TAG)
