"""Filter semantics: year arithmetic, the createdAt window, our own checks, the server filter's fields."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from adapters.kaltura.filters import (
    ALL_STATUSES,
    FilterSpec,
    accepts,
    created_window,
    entry_id_of,
    id_chunks,
    media_filter,
    years_ago,
)
from adapters.kaltura.wire import MediaEntry

NOW = int(datetime(2026, 3, 1, 12, tzinfo=UTC).timestamp())


def entry(**changes: object) -> MediaEntry:
    base = MediaEntry(
        id="0_a", name="n", created_at=NOW - 10, updated_at=None, status=2, media_type=1, tags=("lecture",),
        categories="", categories_ids=(), plays=0, views=0, last_played_at=None, creator_id="c", user_id="u",
        duration=None, replacing_entry_id=None, replacement_status=0,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def test_years_ago_is_calendar_years_in_utc() -> None:
    assert years_ago(NOW, 3) == int(datetime(2023, 3, 1, 12, tzinfo=UTC).timestamp())


def test_years_ago_from_29_february_lands_on_28_february() -> None:
    leap = int(datetime(2024, 2, 29, tzinfo=UTC).timestamp())
    assert years_ago(leap, 1) == int(datetime(2023, 2, 28, tzinfo=UTC).timestamp())


def test_unplayed_for_also_requires_age() -> None:
    """--unplayed_for 3: created at least 3 years ago, and the run start caps everything."""
    window = created_window(FilterSpec(unplayed_for=3), now=NOW, snapshot=NOW)
    assert window.upper == years_ago(NOW, 3)
    assert window.lower is None


def test_snapshot_caps_the_window_at_run_start() -> None:
    assert created_window(FilterSpec(), now=NOW, snapshot=NOW).upper == NOW


def test_created_within_and_before_make_an_empty_window_when_crossed() -> None:
    window = created_window(FilterSpec(created_within=1, created_before=2), now=NOW, snapshot=NOW)
    assert window.empty


def test_server_filter_carries_every_server_side_condition() -> None:
    spec = FilterSpec(tags=("a", "b"), category="7", played_within=2, unplayed_for=4, statuses=(2, 4))
    params = media_filter(spec, now=NOW, created_from=5, created_until=9).toParams().get()
    assert params == {
        "objectType": "KalturaMediaEntryFilter",
        "orderBy": "+createdAt",
        "mediaTypeEqual": "1",
        "statusIn": "2,4",
        "tagsMultiLikeAnd": "a,b",
        "categoryAncestorIdIn": "7",
        "lastPlayedAtGreaterThanOrEqual": str(years_ago(NOW, 2)),
        "lastPlayedAtLessThanOrEqualOrNull": str(years_ago(NOW, 4)),
        "createdAtGreaterThanOrEqual": "5",
        "createdAtLessThanOrEqual": "9",
    }


def test_id_lookup_filter_lists_every_status() -> None:
    params = media_filter(FilterSpec(media_type=None), now=NOW, statuses=ALL_STATUSES, ids=("0_a", "0_b"))
    assert params.toParams().get()["statusIn"] == "-2,-1,0,1,2,4,5,6,7"
    assert params.toParams().get()["idIn"] == "0_a,0_b"


def test_tag_must_be_a_real_tag_not_a_word_of_one() -> None:
    """The server's word search matches `lecture` inside `lecture hall`; we do not."""
    spec = FilterSpec(tags=("lecture",))
    assert accepts(spec, entry(tags=("Lecture",)), now=NOW)
    assert not accepts(spec, entry(tags=("lecture hall",)), now=NOW)


def test_negated_tag_and_plays_are_checked_by_us() -> None:
    spec = FilterSpec(not_tags=("archived_to_s3",), plays_below=3)
    assert accepts(spec, entry(tags=("x",), plays=2), now=NOW)
    assert not accepts(spec, entry(tags=("archived_to_s3",), plays=0), now=NOW)
    assert not accepts(spec, entry(tags=(), plays=3), now=NOW)


def test_id_selection_checks_status_type_and_window_itself() -> None:
    spec = FilterSpec(ids=("0_a",), statuses=(2,), created_before=1)
    assert not accepts(spec, entry(status=1, created_at=NOW - 3 * 365 * 86400), now=NOW)
    assert not accepts(spec, entry(media_type=5, created_at=NOW - 3 * 365 * 86400), now=NOW)
    assert not accepts(spec, entry(created_at=NOW - 10), now=NOW)
    assert accepts(spec, entry(created_at=NOW - 3 * 365 * 86400), now=NOW)


def test_id_chunks_are_at_most_100_unique_ids_in_order() -> None:
    lines = [f"0_{i:08d}\n" for i in range(250)] + ["\n", "# comment\n", "0_00000000 # again\n"]
    chunks = list(id_chunks(lines))
    assert [len(c) for c in chunks] == [100, 100, 50]
    assert chunks[0][0] == "0_00000000"
    assert chunks[2][-1] == "0_00000249"


def test_an_id_line_may_end_in_a_comment_and_is_lower_cased() -> None:
    assert entry_id_of("  1_K3X9AB2Q   # the lecture of May\r\n") == "1_k3x9ab2q"
    assert entry_id_of("# 0_k3x9ab2q\n") is None
    with pytest.raises(ValueError, match="'0_k3x9ab2q 0_k3x9ab2r' is not a Kaltura entry id"):
        entry_id_of("0_k3x9ab2q 0_k3x9ab2r")


@pytest.mark.parametrize("years", [-1, 101, 99999999999])
def test_years_ago_refuses_years_out_of_range(years: int) -> None:
    with pytest.raises(ValueError, match="out of range: give 0 to 100"):
        years_ago(NOW, years)


def test_describe_names_every_condition() -> None:
    spec = FilterSpec(tags=("a",), not_tags=("b",), plays_below=2, unplayed_for=3, max_entries=5)
    text = spec.describe()
    for part in ("tag=a", "tag=!b", "plays<2", "unplayed_for=3", "max_entries=5"):
        assert part in text
