"""Filter options: both spellings, the old tool's short flags, and one-line errors for bad values."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from adapters.kaltura.filters import DEFAULT_STATUSES
from engine.errors import ConfigError
from jobs.options import add_filter_options, add_option, filter_spec


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_filter_options(parser)
    return parser.parse_args(list(argv))


def test_underscore_and_dash_spellings_are_the_same_option() -> None:
    assert parse("--created_before", "3").created_before == 3
    assert parse("--created-before", "3").created_before == 3
    assert parse("--unplayed-for", "2").unplayed_for == parse("-u", "2").unplayed_for == 2


def test_dash_named_option_also_takes_underscores() -> None:
    parser = argparse.ArgumentParser()
    add_option(parser, "--log-format", default=None)
    assert parser.parse_args(["--log_format", "json"]).log_format == "json"


def test_defaults_select_every_listable_status_and_everything() -> None:
    spec = filter_spec(parse())
    assert spec.statuses == DEFAULT_STATUSES
    assert (spec.max_entries, spec.skip, spec.tags, spec.ids) == (-1, 0, (), ())


def test_tags_split_into_wanted_and_negated() -> None:
    spec = filter_spec(parse("-t", "lecture", "--tag", "!archived_to_s3", "-t", " ! flavors_deleted "))
    assert spec.tags == ("lecture",)
    assert spec.not_tags == ("archived_to_s3", "flavors_deleted")


def test_statuses_take_spaces_commas_and_negative_numbers() -> None:
    assert filter_spec(parse("--status", "-1", "2,7")).statuses == (-1, 2, 7)


def test_unknown_status_is_a_config_error_naming_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"--status '9' is not an entry status: use some of -2 -1 0"):
        filter_spec(parse("--status", "9"))


def test_first_page_becomes_an_offset_of_whole_pages() -> None:
    spec = filter_spec(parse("--first_page", "3", "--page_size", "100"))
    assert (spec.skip, spec.page_size) == (200, 100)


@pytest.mark.parametrize(
    "argv", [("--page_size", "501"), ("--first_page", "0"), ("--max_entries", "-2"), ("-c", "science")]
)
def test_out_of_range_values_are_config_errors(argv: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError):
        filter_spec(parse(*argv))


def test_missing_idfile_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        filter_spec(parse("--idfile", str(tmp_path / "nope.txt")))


def test_ids_repeat_and_idfile_is_kept_as_a_path(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("0_a\n", encoding="utf-8")
    spec = filter_spec(parse("-i", "0_x", "--id", "0_y", "-I", str(ids)))
    assert spec.ids == ("0_x", "0_y")
    assert spec.idfile == str(ids)
    assert spec.by_id
