"""The one exit-code table: every row, exception groups unwrapped to the error a person must act on first."""

from __future__ import annotations

import asyncio

import pytest

from engine.errors import (
    EXIT_CODES,
    ArchiverError,
    ConfigError,
    DeadlineError,
    ExitCode,
    FatalError,
    ItemFailedError,
    RetryableError,
    SkippedError,
    exit_code_for,
    primary,
)

EXAMPLES: dict[type[BaseException], BaseException] = {
    ConfigError: ConfigError("--tmp '/x' is not a directory: give one"),
    ItemFailedError: ItemFailedError("media.get", "0_aaaaaaaa", "ENTRY_ID_NOT_FOUND"),
    SkippedError: SkippedError("0_aaaaaaaa", "too large"),
    RetryableError: RetryableError("media.list: HTTP 503"),
    FatalError: FatalError("s3.head_bucket: the bucket does not exist: check AWS_BUCKET"),
    ArchiverError: ArchiverError("something of ours"),
    BrokenPipeError: BrokenPipeError(32, "Broken pipe"),
    KeyboardInterrupt: KeyboardInterrupt(),
}


@pytest.mark.parametrize(("cls", "code"), EXIT_CODES, ids=[cls.__name__ for cls, _ in EXIT_CODES])
def test_each_row_of_the_table_gives_its_exit_code(cls: type[BaseException], code: ExitCode) -> None:
    assert exit_code_for(EXAMPLES[cls]) is code


def test_the_table_is_the_documented_one() -> None:
    assert {cls.__name__: int(code) for cls, code in EXIT_CODES} == {
        "ConfigError": 2, "ItemFailedError": 1, "SkippedError": 1, "RetryableError": 3, "FatalError": 3,
        "ArchiverError": 3, "BrokenPipeError": 141, "KeyboardInterrupt": 130,
    }  # fmt: skip


def test_a_subclass_takes_its_nearest_row() -> None:
    assert exit_code_for(DeadlineError("media.list: no answer in 120 s")) is ExitCode.FATAL


def test_an_error_not_in_the_table_is_fatal() -> None:
    assert exit_code_for(ZeroDivisionError("a bug of ours")) is ExitCode.FATAL


def test_a_group_is_reported_by_its_most_pressing_error_not_by_the_cancellations_beside_it() -> None:
    fatal = FatalError("S3 denied access: check the task role")
    group = BaseExceptionGroup(
        "task group",
        [asyncio.CancelledError(), ExceptionGroup("inner", [ItemFailedError("op", "0_a", "x"), fatal])],
    )
    assert primary(group) is fatal
    assert exit_code_for(group) is ExitCode.FATAL


def test_a_bad_setting_found_inside_a_group_is_exit_2() -> None:
    config = ConfigError("ARCHIVER_PART_SIZE='x' is not a size")
    group = ExceptionGroup("task group", [ItemFailedError("op", "0_a", "x"), config])
    assert (primary(group), exit_code_for(group)) == (config, ExitCode.USAGE)


def test_a_refusal_is_reported_before_a_setting_to_fix() -> None:
    refused = FatalError("INVALID_KS: check KALTURA_SECRET")
    group = ExceptionGroup("config", [ConfigError("AWS_BUCKET is not set"), refused])
    assert (primary(group), exit_code_for(group)) == (refused, ExitCode.FATAL)


def test_a_closed_pipe_in_a_group_is_141() -> None:
    group = ExceptionGroup("task group", [BrokenPipeError(32, "Broken pipe")])
    assert exit_code_for(group) is ExitCode.OUTPUT_CLOSED
