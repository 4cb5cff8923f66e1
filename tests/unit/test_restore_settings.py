"""The restore settings: ARCHIVER_RESTORE_TIER and ARCHIVER_RESTORE_DAYS, checked at start (exit 2)."""

from __future__ import annotations

import pytest

from adapters.s3 import RESTORE_TIERS
from engine.errors import ConfigError
from jobs.common.settings import load_settings


def test_restore_defaults_to_standard_for_7_days() -> None:
    s = load_settings({}, {})
    assert (s.restore_tier, s.restore_days) == ("Standard", 7)


@pytest.mark.parametrize("tier", RESTORE_TIERS)
def test_every_tier_s3_knows_is_taken_in_any_case(tier: str) -> None:
    assert load_settings({}, {"ARCHIVER_RESTORE_TIER": tier.upper()}).restore_tier == tier


@pytest.mark.parametrize(
    ("name", "value"),
    [("ARCHIVER_RESTORE_TIER", "Fast"), ("ARCHIVER_RESTORE_TIER", "Glacier"), ("ARCHIVER_RESTORE_DAYS", "0"),
     ("ARCHIVER_RESTORE_DAYS", "a week")],
)  # fmt: skip
def test_a_bad_restore_setting_is_one_line_naming_it(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({}, {name: value})
    assert str(caught.value).startswith(name)
    assert "\n" not in str(caught.value)
