"""README.md stays current with the code a user runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.settings import markdown_table
from jobs.cli import BUILT, NOT_BUILT, UsageError, build_parser
from jobs.settings import SETTINGS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
_SETTINGS_TABLE = README.split("<!-- settings table:", 1)[1].split("\n\n", 1)[0]
# the options the settings table names: the second name of a row's first cell (`ENV` / `--flag`)
TABLE_FLAGS = re.findall(r"^\| `[A-Z0-9_]+` / `(--[a-z0-9_-]+)` \|", _SETTINGS_TABLE, re.MULTILINE)


def _accepted_by(flag: str) -> list[str]:
    """The built subcommands whose parser takes `flag` (with a value, when it wants one)."""
    accepted = []
    for command in BUILT:
        try:
            _, extra = build_parser().parse_known_args([command, flag, "1/1"])
        except UsageError:
            continue
        if flag not in extra:
            accepted.append(command)
    return accepted


def test_readme_settings_table_is_the_generated_one() -> None:
    """Regenerate with `python -m jobs.settings --markdown` when a setting changes."""
    assert markdown_table(SETTINGS).strip() in README


def test_readme_names_every_subcommand() -> None:
    for name in [*BUILT, *NOT_BUILT]:
        assert f"| `{name}` |" in README, name


def test_readme_settings_table_names_an_option_for_most_settings() -> None:
    assert len(TABLE_FLAGS) == len([s for s in SETTINGS if s.option]) > 20


@pytest.mark.parametrize("flag", TABLE_FLAGS)
def test_every_option_of_the_readme_settings_table_is_accepted_by_the_parser(flag: str) -> None:
    assert _accepted_by(flag), f"{flag} is in the README settings table but no subcommand accepts it"
