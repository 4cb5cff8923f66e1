"""README.md stays current with the code a user runs."""

from __future__ import annotations

from pathlib import Path

from engine.settings import markdown_table
from jobs.cli import BUILT, NOT_BUILT
from jobs.settings import SETTINGS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_readme_settings_table_is_the_generated_one() -> None:
    """Regenerate with `python -m jobs.settings --markdown` when a setting changes."""
    assert markdown_table(SETTINGS).strip() in README


def test_readme_names_every_subcommand() -> None:
    for name in [*BUILT, *NOT_BUILT]:
        assert f"| `{name}` |" in README, name
