"""A task's shard from its settings: --shard K/N (ARCHIVER_SHARD), or ARCHIVER_SHARDS with the 0-based
AWS_BATCH_JOB_ARRAY_INDEX; bad input is one line naming the fix (exit 2)."""

from __future__ import annotations

import pytest

from adapters.kaltura import FilterSpec
from engine.errors import ConfigError
from jobs.common.settings import load_settings
from jobs.common.shards import Shard, shard_of

SELECTION = FilterSpec(unplayed_for=3)


def shard(
    env: dict[str, str], cli: dict[str, str] | None = None, spec: FilterSpec = SELECTION
) -> Shard | None:
    return shard_of(load_settings(cli or {}, env), spec)


def refusal(env: dict[str, str], cli: dict[str, str] | None = None, spec: FilterSpec = SELECTION) -> str:
    with pytest.raises(ConfigError) as caught:
        shard(env, cli, spec)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_no_shard_setting_is_the_whole_selection() -> None:
    assert shard({}) is None


def test_shard_k_of_n_from_the_option_or_the_environment() -> None:
    assert shard({}, {"shard": "3/8"}) == Shard(3, 8, None)
    assert shard({"ARCHIVER_SHARD": " 1/4 "}) == Shard(1, 4, None)
    assert shard({"ARCHIVER_SHARD": "1/4"}, {"shard": "2/4"}) == Shard(2, 4, None)  # the option wins


def test_an_array_index_is_zero_based() -> None:
    assert shard({"ARCHIVER_SHARDS": "4", "AWS_BATCH_JOB_ARRAY_INDEX": "0"}) == Shard(1, 4, None)
    assert shard({"ARCHIVER_SHARDS": "4", "AWS_BATCH_JOB_ARRAY_INDEX": "3"}) == Shard(4, 4, None)


def test_bounds_are_taken_with_the_shard() -> None:
    env = {"ARCHIVER_SHARD": "2/4", "ARCHIVER_SHARD_BOUNDS": "100, 200,300"}
    assert shard(env) == Shard(2, 4, (100, 200, 300))


@pytest.mark.parametrize("value", ["0/4", "5/4", "a/b", "4", "1/0", "-1/4", "1/4/2", "²/4", "", "1/10001"])
def test_a_value_that_is_no_shard_is_refused_naming_the_form(value: str) -> None:
    if value == "":  # an empty option value is given, not unset
        message = refusal({}, {"shard": value})
        assert message.startswith("--shard=''")
    else:
        message = refusal({"ARCHIVER_SHARD": value})
        assert message.startswith(f"ARCHIVER_SHARD={value!r} is not a shard")
    assert "K/N with 1 <= K <= N" in message


def test_an_index_without_shards_is_refused() -> None:
    message = refusal({"AWS_BATCH_JOB_ARRAY_INDEX": "1"})
    assert message.startswith("AWS_BATCH_JOB_ARRAY_INDEX=1 without ARCHIVER_SHARDS: set ARCHIVER_SHARDS")


def test_shards_without_an_index_is_refused() -> None:
    assert "without AWS_BATCH_JOB_ARRAY_INDEX" in refusal({"ARCHIVER_SHARDS": "4"})


@pytest.mark.parametrize(
    ("env", "said"),
    [
        (
            {"ARCHIVER_SHARDS": "4", "AWS_BATCH_JOB_ARRAY_INDEX": "4"},
            "is beyond ARCHIVER_SHARDS=4 (indexes 0 to 3)",
        ),
        ({"ARCHIVER_SHARDS": "4", "AWS_BATCH_JOB_ARRAY_INDEX": "x"}, "is not an array index"),
        ({"ARCHIVER_SHARDS": "0", "AWS_BATCH_JOB_ARRAY_INDEX": "0"}, "ARCHIVER_SHARDS='0'"),
        ({"ARCHIVER_SHARD": "1/4", "ARCHIVER_SHARDS": "4"}, "both set: keep one"),
        ({"ARCHIVER_SHARD_BOUNDS": "100,200"}, "ARCHIVER_SHARD_BOUNDS is set without a shard"),
        ({"ARCHIVER_SHARD": "1/4", "ARCHIVER_SHARD_BOUNDS": "100,200"}, "holds 2 cut(s) but 4 shards need 3"),
        ({"ARCHIVER_SHARD": "1/4", "ARCHIVER_SHARD_BOUNDS": "300,200,100"}, "not in ascending order"),
        ({"ARCHIVER_SHARD": "1/4", "ARCHIVER_SHARD_BOUNDS": "1,2,x"}, "not a list of Unix seconds"),
    ],
)
def test_settings_that_make_no_shard_are_one_line_naming_the_fix(env: dict[str, str], said: str) -> None:
    assert said in refusal(env)


@pytest.mark.parametrize("spec", [FilterSpec(ids=("0_abcdefgh",)), FilterSpec(idfile="ids.txt")])
def test_a_shard_of_an_id_selection_is_refused(spec: FilterSpec) -> None:
    message = refusal({"ARCHIVER_SHARD": "2/4"}, spec=spec)
    assert message.startswith("shard 2/4 with --id/--idfile")
    message = refusal({"ARCHIVER_SHARDS": "4", "AWS_BATCH_JOB_ARRAY_INDEX": "1"}, spec=spec)
    assert message.startswith("shard 2/4 with --id/--idfile")
