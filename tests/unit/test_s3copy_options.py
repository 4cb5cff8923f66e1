"""s3copy's own options as the real parser reads them: --max-size takes KB (the old tool's unit) or a size."""

from __future__ import annotations

import io

import pytest

from jobs.cli import build_parser, run
from jobs.common.archive_plan import DEFAULT_MAX_SIZE_KB


def max_size(*argv: str) -> int:
    value: int = build_parser().parse_args(["s3copy", *argv]).max_size
    return value


@pytest.mark.parametrize(
    ("text", "kb"),
    [
        ("10000000", 10_000_000),  # a bare number is KB, as in the old tool's runbooks
        ("10GB", 10 * 1000**3 // 1024),
        ("9.5GiB", int(9.5 * 1024**2)),
        ("500MB", 500 * 1000**2 // 1024),
        ("8M", 8 * 1024),
        ("1KiB", 1),
    ],
)
def test_max_size_takes_kilobytes_or_a_size_with_a_unit(text: str, kb: int) -> None:
    assert max_size("--max-size", text) == kb


def test_max_size_defaults_to_the_old_tools_ten_million_kb() -> None:
    assert max_size() == DEFAULT_MAX_SIZE_KB == 10_000_000


@pytest.mark.parametrize("text", ["9.5", "10XB", "abc", "-5", "0", "100B"])
def test_a_bad_max_size_is_one_line_naming_the_value_and_exit_2(text: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = run(["s3copy", "--id", "0_x", "--max-size", text], env={}, stdout=out, stderr=err)
    assert code == 2
    assert err.getvalue().count("\n") == 1
    assert f"'{text}'" in err.getvalue()
    assert "10GB" in err.getvalue() or "1KiB" in err.getvalue()
