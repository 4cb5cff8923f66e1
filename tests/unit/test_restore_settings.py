"""The restore settings: ARCHIVER_RESTORE_TIER and ARCHIVER_RESTORE_DAYS, checked at start (exit 2)."""

from __future__ import annotations

import pytest

from adapters.s3 import RESTORE_TIERS
from engine.errors import ConfigError
from jobs.common.settings import load_settings
from jobs.restore_from_s3 import restore_config


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


def test_a_memory_budget_below_one_chunk_per_transfer_is_refused_naming_the_settings() -> None:
    knobs = {"ARCHIVER_MEMORY_BUDGET": "16MiB", "ARCHIVER_PART_SIZE": "64MiB", "ARCHIVER_TRANSFERS": "8"}
    with pytest.raises(ConfigError) as caught:
        restore_config(load_settings({}, knobs))
    message = str(caught.value)
    assert "\n" not in message
    for name in ("ARCHIVER_MEMORY_BUDGET", "ARCHIVER_TRANSFERS", "ARCHIVER_PART_SIZE"):
        assert name in message


def test_the_chunks_in_flight_of_every_transfer_fit_the_memory_budget() -> None:
    knobs = {"ARCHIVER_MEMORY_BUDGET": "64MiB", "ARCHIVER_PART_SIZE": "16MiB", "ARCHIVER_TRANSFERS": "4"}
    config = restore_config(load_settings({}, knobs))
    assert config.chunks_in_flight == 1
    assert restore_config(load_settings({}, {})).chunks_in_flight == 1  # 128 MiB / 16 transfers / 8 MiB
