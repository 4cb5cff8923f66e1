"""stats' options: --unplayed_for is the savable policy, not a filter; a --chart that cannot be written is
refused before anything is listed."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from engine.errors import ConfigError
from jobs import stats
from jobs.common.settings import load_settings


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    stats.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_unplayed_for_sets_the_policy_and_does_not_filter() -> None:
    settings = load_settings({}, {})
    spec, years = stats.selection(parse("--unplayed_for", "5", "--tag", "lectures"), settings)
    assert (spec.unplayed_for, years, spec.tags) == (None, 5, ("lectures",))


def test_the_policy_defaults_to_n_years() -> None:
    spec, years = stats.selection(parse(), load_settings({}, {"N_YEARS": "4"}))
    assert (spec.unplayed_for, years) == (None, 4)


def test_a_chart_in_a_missing_folder_is_refused_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--chart"):
        stats.chart_path(str(tmp_path / "missing" / "stats.html"))
    with pytest.raises(ConfigError, match="--chart"):
        stats.chart_path(str(tmp_path))
    assert stats.chart_path(str(tmp_path / "stats.html")) == tmp_path / "stats.html"
    assert stats.chart_path(None) is None
