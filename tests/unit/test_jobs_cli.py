"""The command line before any call: usage errors, settings errors and subcommands still to come exit 2."""

from __future__ import annotations

import io

import pytest

from jobs.cli import BUILT, NOT_BUILT, build_parser, run


def run_cli(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), env=env or {}, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_every_subcommand_of_the_design_is_known() -> None:
    assert set(BUILT) | set(NOT_BUILT) == {
        "config", "list", "count", "health", "s3copy", "replace_video", "restore_from_s3", "repair",
        "download", "stats", "ldap_status", "shards", "demo",
    }  # fmt: skip


@pytest.mark.parametrize("command", sorted(NOT_BUILT))
def test_subcommand_not_built_yet_says_so_in_one_line(command: str) -> None:
    code, out, err = run_cli(command, "--unplayed_for", "3", "--execute")
    assert code == 2
    assert out == ""
    assert err == f"kaltura-archiver: {command} is not built yet: see CHANGELOG.md for what is available\n"


def test_unknown_option_is_one_line_and_exit_2() -> None:
    code, _, err = run_cli("list", "--no-such-option")
    assert code == 2
    assert err.count("\n") == 1
    assert "--no-such-option" in err


def test_bad_number_in_an_option_is_one_line() -> None:
    code, _, err = run_cli("count", "--unplayed_for", "three")
    assert code == 2
    assert err.count("\n") == 1
    assert "three" in err


def test_bad_number_in_the_environment_is_one_line_naming_the_variable() -> None:
    code, _, err = run_cli("count", env={"ARCHIVER_KALTURA_RPS": "fast"})
    assert (code, err.splitlines()) == (2, [err.strip()])
    assert err.startswith("kaltura-archiver: ARCHIVER_KALTURA_RPS='fast' is not a number")


def test_global_options_go_before_or_after_the_subcommand() -> None:
    parser = build_parser()
    before = parser.parse_args(["-l", "debug", "--log-format", "json", "count"])
    after = parser.parse_args(["count", "--loglevel", "WARN", "--log_format", "console"])
    assert (before.loglevel, before.log_format) == ("DEBUG", "json")
    assert (after.loglevel, after.log_format) == ("WARN", "console")


def test_settings_have_options_both_spellings() -> None:
    args = build_parser().parse_args(["list", "--kaltura-rps", "3", "--kaltura_in_flight", "2"])
    assert (args.setting_kaltura_rps, args.setting_kaltura_in_flight) == ("3", "2")
