"""README.md stays current with the code a user runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.settings import markdown_table
from jobs.cli import BUILT, UsageError, build_parser
from jobs.common.settings import DEFAULT_SERVICE_URL, SETTINGS
from testbed.kaltura_sim.runner import settings_env
from testbed.s3 import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY

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
    """Regenerate with `python -m jobs.common.settings --markdown` when a setting changes."""
    assert markdown_table(SETTINGS).strip() in README


def test_readme_names_every_subcommand() -> None:
    for name in BUILT:
        assert f"| `{name}` |" in README, name


def test_readme_settings_table_names_an_option_for_most_settings() -> None:
    assert len(TABLE_FLAGS) == len([s for s in SETTINGS if s.option]) > 20


@pytest.mark.parametrize("flag", TABLE_FLAGS)
def test_every_option_of_the_readme_settings_table_is_accepted_by_the_parser(flag: str) -> None:
    assert _accepted_by(flag), f"{flag} is in the README settings table but no subcommand accepts it"


def test_the_try_it_example_exports_what_the_testbed_clients_need() -> None:
    example = README.split("## Try it on the testbed", 1)[1].split("\n## ", 1)[0]
    exported = dict(re.findall(r"(?:export |\s)([A-Z_]+)=(\S+)", example))
    needed = {**settings_env("url", 1, "secret", "user"), "AWS_ENDPOINT_URL": "url", "AWS_BUCKET": "bucket"}
    assert set(needed) <= set(exported)
    assert exported["AWS_ACCESS_KEY_ID"] == ACCESS_KEY_ID
    assert exported["AWS_SECRET_ACCESS_KEY"] == SECRET_ACCESS_KEY
    assert exported["AWS_DEFAULT_REGION"] == REGION
    assert f"create_bucket(Bucket='{exported['AWS_BUCKET']}')" in example


def test_the_quick_start_names_the_kaltura_service_url() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert f"KALTURA_SERVICE_URL={DEFAULT_SERVICE_URL}" in quick


def test_the_readme_links_each_doc() -> None:
    for doc in ("architecture", "lifecycle", "kaltura"):
        assert f"](docs/{doc}.md)" in README, doc
