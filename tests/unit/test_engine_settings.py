"""engine.settings: CLI over environment over default, parsers, one-line errors that never show a secret."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import ConfigError
from engine.settings import (
    Setting,
    boolean,
    byte_size,
    choice,
    duration_s,
    format_bytes,
    help_line,
    in_range,
    markdown_table,
    non_negative_float,
    positive_int,
    require,
    resolve,
    secret_values,
)

TRANSFERS = Setting(
    name="transfers",
    env="ARCHIVER_TRANSFERS",
    default=4,
    parse=positive_int(1, 64),
    help="entries transferred at once",
)
PART_SIZE = Setting(
    name="part_size",
    env="ARCHIVER_PART_SIZE",
    default="8MiB",
    parse=byte_size,
    help="multipart part size | memory per transfer",
    unit="bytes",
    check=in_range(5 * 1024**2, 5 * 1024**3, show=format_bytes),
    show=format_bytes,
)
SECRET = Setting(
    name="secret",
    env="KALTURA_SECRET",
    default=None,
    parse=str,
    help="the partner's admin secret",
    secret=True,
)
DOIT = Setting(name="execute", env="DOIT", default=False, parse=boolean, help="really change things")
ALL = [TRANSFERS, PART_SIZE, SECRET, DOIT]


def values(cli: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Any:
    return resolve(ALL, cli or {}, env or {})


def test_defaults_apply_when_nothing_is_given() -> None:
    got = values()
    assert got["transfers"] == 4
    assert got["part_size"] == 8 * 1024**2  # a string default is parsed like an environment value
    assert got["secret"] is None
    assert got["execute"] is False


def test_cli_value_wins_over_environment_and_default() -> None:
    got = values(cli={"transfers": "7"}, env={"ARCHIVER_TRANSFERS": "3"})
    assert got["transfers"] == 7


def test_environment_wins_over_default() -> None:
    assert values(env={"ARCHIVER_TRANSFERS": "3", "DOIT": "true"})["transfers"] == 3
    assert values(env={"DOIT": "true"})["execute"] is True


def test_cli_none_means_not_given() -> None:
    assert values(cli={"transfers": None}, env={"ARCHIVER_TRANSFERS": "3"})["transfers"] == 3


def test_empty_environment_value_counts_as_unset() -> None:
    assert values(env={"ARCHIVER_TRANSFERS": ""})["transfers"] == 4


def test_bad_environment_value_names_variable_value_and_fix() -> None:
    with pytest.raises(ConfigError) as caught:
        values(env={"ARCHIVER_TRANSFERS": "abc"})
    expected = "ARCHIVER_TRANSFERS='abc' is not a whole number: set it to an integer from 1 to 64"
    assert str(caught.value) == expected


def test_out_of_range_cli_value_names_the_flag() -> None:
    with pytest.raises(ConfigError) as caught:
        values(cli={"transfers": "65"})
    assert str(caught.value) == "--transfers='65' is out of range: set it to an integer from 1 to 64"


def test_check_failure_is_one_line_naming_the_bounds() -> None:
    with pytest.raises(ConfigError) as caught:
        values(env={"ARCHIVER_PART_SIZE": "1MiB"})
    message = str(caught.value)
    assert "\n" not in message
    assert message == "ARCHIVER_PART_SIZE='1MiB' is out of range: set it between 5MiB and 5GiB"


def test_typed_cli_value_is_checked_not_parsed() -> None:
    assert values(cli={"part_size": 16 * 1024**2})["part_size"] == 16 * 1024**2
    with pytest.raises(ConfigError, match="out of range"):
        values(cli={"part_size": 1024})


def test_secret_value_never_appears_in_the_error() -> None:
    def parse_hex(text: str) -> str:
        int(text, 16)  # its own ValueError quotes the text
        return text

    setting = Setting(
        name="secret", env="KALTURA_SECRET", default=None, parse=parse_hex, help="", secret=True
    )
    with pytest.raises(ConfigError) as caught:
        resolve([setting], {}, {"KALTURA_SECRET": "not-hex-topsecret"})
    assert "topsecret" not in str(caught.value)
    assert str(caught.value).startswith("KALTURA_SECRET (value hidden) ")


def test_require_names_the_environment_variable_and_flag() -> None:
    got = values()
    with pytest.raises(ConfigError) as caught:
        require(ALL, got, "transfers", "secret")
    assert str(caught.value) == (
        "KALTURA_SECRET is not set: set KALTURA_SECRET or pass --secret (the partner's admin secret)"
    )


def test_resolved_mapping_is_read_only() -> None:
    got = values()
    with pytest.raises(TypeError):
        got["transfers"] = 9


def test_secret_values_lists_only_set_secrets() -> None:
    assert secret_values(ALL, values(env={"KALTURA_SECRET": "abcdef123456"})) == ["abcdef123456"]
    assert secret_values(ALL, values()) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("on", True),
     ("false", False), ("0", False), ("No", False), ("off", False)],
)  # fmt: skip
def test_boolean_accepts_the_usual_spellings(text: str, expected: bool) -> None:
    assert boolean(text) is expected


def test_boolean_rejects_anything_else_with_the_fix() -> None:
    with pytest.raises(ValueError, match="set it to true or false"):
        boolean("maybe")


def test_simple_parsers_work_called_or_not() -> None:
    assert boolean()("yes") is True
    assert byte_size()("1KiB") == 1024
    assert duration_s()("1m") == 60.0
    assert non_negative_float()("2.5") == 2.5


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1048576", 1048576), ("8MiB", 8 * 1024**2), ("8 MiB", 8 * 1024**2), ("100MB", 100_000_000),
     ("8M", 8 * 1024**2), ("1.5GiB", 1536 * 1024**2), ("5gib", 5 * 1024**3), ("10kB", 10_000)],
)  # fmt: skip
def test_byte_size_units(text: str, expected: int) -> None:
    assert byte_size(text) == expected


@pytest.mark.parametrize("text", ["", "MiB", "8 parsecs", "-1MiB", "1e6"])
def test_byte_size_rejects_nonsense_with_examples(text: str) -> None:
    with pytest.raises(ValueError, match=r"e\.g\. 8MiB, 100MB"):
        byte_size(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30", 30.0), ("30s", 30.0), ("2.5", 2.5), ("500ms", 0.5), ("5m", 300.0), ("2h", 7200.0),
     ("1d", 86400.0), ("1h30m", 5400.0), ("1h 30m", 5400.0)],
)  # fmt: skip
def test_duration_units(text: str, expected: float) -> None:
    assert duration_s(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "5 fortnights", "-3s", "30s5"])
def test_duration_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        duration_s(text)


def test_non_negative_float_rejects_negative_and_nan() -> None:
    for text in ("-1", "nan", "inf"):
        with pytest.raises(ValueError, match="at least 0"):
            non_negative_float(text)


def test_choice_matches_any_case_and_returns_the_declared_spelling() -> None:
    parse = choice("STANDARD", "GLACIER", "DEEP_ARCHIVE")
    assert parse("glacier") == "GLACIER"
    with pytest.raises(ValueError, match="set it to one of STANDARD, GLACIER, DEEP_ARCHIVE"):
        parse("tape")


def test_positive_int_without_upper_bound() -> None:
    parse = positive_int(0)
    assert parse("0") == 0
    with pytest.raises(ValueError, match="an integer of at least 0"):
        parse("-1")


def test_markdown_table_has_name_default_unit_meaning() -> None:
    table = markdown_table(ALL).splitlines()
    assert table[0] == "| name | default | unit | meaning |"
    part_row = (
        "| `ARCHIVER_PART_SIZE` / `--part_size` | 8MiB | bytes "
        "| multipart part size \\| memory per transfer |"
    )
    assert part_row in table
    assert "| `DOIT` / `--execute` | false |  | really change things |" in table
    assert "| `KALTURA_SECRET` / `--secret` | — |  | the partner's admin secret |" in table


def test_secret_default_is_hidden_in_table_and_help() -> None:
    setting = Setting(
        name="pwd", env="LDAP_PWD", default="changeme", parse=str, help="LDAP password", secret=True
    )
    assert "changeme" not in markdown_table([setting])
    assert "changeme" not in help_line(setting)


def test_help_line_names_environment_and_default() -> None:
    expected = "multipart part size | memory per transfer; env ARCHIVER_PART_SIZE; default 8MiB"
    assert help_line(PART_SIZE) == expected


def test_help_line_gives_the_unit_only_after_a_bare_number() -> None:
    ttl = Setting(name="ttl_s", env="TTL", default="24h", parse=duration_s, help="lifetime", unit="s")
    drain = Setting(name="drain_s", env="DRAIN", default="25", parse=duration_s, help="drain", unit="s")
    assert help_line(ttl) == "lifetime; env TTL; default 24h"
    assert help_line(drain) == "drain; env DRAIN; default 25 s"


ENV_ONLY = Setting(name="shards", env="SHARDS", default=None, parse=str, help="windows", own_flag=False)
SET_ELSEWHERE = Setting(name="doit", env="DOIT", default="false", parse=boolean, help="real",
                        own_flag=False, flag="--execute")  # fmt: skip


def test_table_shows_only_the_environment_variable_of_a_setting_without_an_option() -> None:
    table = markdown_table([ENV_ONLY, SET_ELSEWHERE])
    assert "| `SHARDS` | — |  | windows |" in table
    assert "| `DOIT` / `--execute` | false |  | real |" in table
    assert "--shards" not in table
    assert "--doit" not in table


def test_require_of_a_setting_without_an_option_names_only_its_environment_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        require([ENV_ONLY], {"shards": None}, "shards")
    assert str(caught.value) == "SHARDS is not set: set SHARDS (windows)"


def test_a_very_long_bad_value_is_shortened_in_the_message() -> None:
    """One line stays short whatever was typed: the middle of a long value is cut out."""
    setting = Setting("prefix", "ARCHIVER_S3_PREFIX", "", _refuse_all, "key prefix")
    with pytest.raises(ConfigError) as caught:
        resolve([setting], {}, {"ARCHIVER_S3_PREFIX": "p" * 1100 + "/"})
    message = str(caught.value)
    assert len(message) < 200
    assert message.startswith("ARCHIVER_S3_PREFIX='ppppp")
    assert message.endswith("pppp/' (1101 characters) is refused")
    assert "ppp...ppp" in message


def _refuse_all(text: str) -> str:
    raise ValueError("is refused")
