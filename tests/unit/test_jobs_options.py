"""Filter options: both spellings, the old tool's short flags, and one-line errors for bad values."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from adapters.kaltura.filters import DEFAULT_STATUSES
from engine.errors import ConfigError
from jobs.common.options import add_filter_options, add_option, filter_spec, require_selection

ID_A, ID_B = "0_k3x9ab2q", "12_00000abc"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_filter_options(parser, mutating=True)
    return parser.parse_args(list(argv))


def idfile_of(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


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
    ids.write_text(f"{ID_A}\n", encoding="utf-8")
    spec = filter_spec(parse("-i", ID_A, "--id", ID_B.upper(), "-I", str(ids)))
    assert spec.ids == (ID_A, ID_B)  # Kaltura writes ids in lower case
    assert spec.idfile == str(ids)
    assert spec.by_id


NOT_IDS = ["0_x", "k3x9ab2q", "0_k3x9ab2q9", "0-k3x9ab2q", "_k3x9ab2q", "0_k3x9ab2!"]
NOT_IDS += ["0_\u212a3x9ab2q", "\u0661_k3x9ab2q"]  # a Kelvin sign, an Arabic-Indic one: look alike, are not


@pytest.mark.parametrize("bad", NOT_IDS)
def test_an_id_that_is_not_a_kaltura_id_is_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"--id .* is not a Kaltura entry id \(like 0_k3x9ab2q\): give"):
        filter_spec(parse("--id", bad))


def test_idfile_comments_blank_lines_crlf_and_a_bom_are_fine(tmp_path: Path) -> None:
    data = f"\ufeff{ID_A}  # first\r\n\r\n# whole line\n  {ID_B.upper()}\n".encode()
    assert filter_spec(parse("--idfile", idfile_of(tmp_path / "ids.txt", data))).by_id


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (f"{ID_A}\n{ID_B}\n".encode() + b"\xff\xfe\xc3(\n", "line 3 is not UTF-8 text: save the file as"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "line 1 holds a NUL byte (binary or UTF-16)"),
        (f"{ID_A}\n".encode("utf-16"), "line 1 holds a NUL byte"),
        (f"{ID_A}\n# ok\n{ID_A},{ID_B}\n".encode(), "line 3: '0_k3x9ab2q,12_00000abc' is not a Kaltura"),
        (f"{ID_A}\nentry 0_k3x9ab2q\n".encode(), "line 2: 'entry 0_k3x9ab2q' is not"),
        (b"x" * 5000, "line 1 is longer than 4096 bytes"),
        (b"\n# nothing but comments\n\n", "holds no entry id"),
        (b"", "holds no entry id"),
    ],
)
def test_a_bad_idfile_is_refused_whole_before_use_with_its_line_number(
    tmp_path: Path, data: bytes, said: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        filter_spec(parse("--idfile", idfile_of(tmp_path / "ids.txt", data)))
    message = str(caught.value)
    assert message.startswith(f"--idfile '{tmp_path / 'ids.txt'}' ")
    assert said in message
    assert "one entry id per line" in message
    assert "\n" not in message


def test_a_directory_as_idfile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory: give a file with one entry id per line"):
        filter_spec(parse("--idfile", str(tmp_path)))


YEAR_OPTIONS = ["--created_within", "--created_before", "--played_within", "--unplayed_for"]


@pytest.mark.parametrize("option", YEAR_OPTIONS)
@pytest.mark.parametrize("years", ["101", "99999999999"])
def test_years_beyond_100_are_refused_with_the_range(option: str, years: str) -> None:
    with pytest.raises(ConfigError, match=f"{option} {years} is out of range: give 0 to 100 years"):
        filter_spec(parse(option, years))


def test_100_years_and_huge_counts_are_taken() -> None:
    huge = "99999999999999999999"
    spec = filter_spec(parse("--unplayed_for", "100", "--plays", huge, "-M", huge, "--first_page", huge))
    assert (spec.unplayed_for, spec.plays_below, spec.max_entries) == (100, int(huge), int(huge))


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("--created_within", "2", "--created_before", "5"), "--created_within 2 with --created_before 5 "),
        (("--created_within", "3", "--created_before", "3"), "give --created_within more than 3"),
        (("--played_within", "1", "--unplayed_for", "3"), "--played_within 1 with --unplayed_for 3 "),
        (("--created_within", "2", "--unplayed_for", "3"), "--created_within 2 with --unplayed_for 3 "),
        (("--tag", "lecture", "--tag", "!Lecture"), "--tag lecture with --tag '!lecture' selects nothing"),
        (
            (
                "--plays",
                "0",
            ),
            "--plays 0 selects nothing",
        ),
    ],
)
def test_contradictory_filters_are_refused_with_the_reason(argv: tuple[str, ...], said: str) -> None:
    with pytest.raises(ConfigError, match="selects nothing") as caught:
        filter_spec(parse(*argv))
    assert said in str(caught.value)


def test_compatible_year_filters_are_taken() -> None:
    spec = filter_spec(parse("--created_within", "5", "--created_before", "2", "--played_within", "4",
                             "--unplayed_for", "1"))  # fmt: skip
    assert (spec.created_within, spec.created_before, spec.played_within, spec.unplayed_for) == (5, 2, 4, 1)


def test_a_real_run_without_a_selection_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"no selection: .* give a filter .* or --all"):
        require_selection(parse("--max_entries", "5"), real=True)


@pytest.mark.parametrize(
    "argv", [("--all",), ("--status", "2"), ("--tag", "!archived_to_s3"), ("--plays", "1"), ("-c", "1"),
             ("--id", ID_A), ("--created_before", "0"), ("-u", "3"), ("-p", "3"), ("--created_within", "9")],
)  # fmt: skip
def test_any_filter_or_all_is_a_selection(argv: tuple[str, ...]) -> None:
    require_selection(parse(*argv), real=True)


def test_a_dry_run_without_a_selection_goes_on() -> None:
    require_selection(parse(), real=False)


def test_all_with_a_filter_is_refused() -> None:
    with pytest.raises(ConfigError, match="--all with --tag --unplayed_for: --all selects every entry"):
        require_selection(parse("--all", "-u", "3", "-t", "x"), real=False)
