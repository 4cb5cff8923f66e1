"""The part size: at least 8 MiB, S3's 5 MiB-5 GiB, under 10,000 parts, an override clamped to the limits."""

from __future__ import annotations

import math

import pytest

from adapters.s3.multipart import DEFAULT_PART, MAX_PART, MAX_PARTS, MIN_PART, MiB, part_size

GiB = 1 << 30
TiB = 1 << 40


@pytest.mark.parametrize("size", [0, 1, 5 * MiB, 8 * MiB, 8 * MiB + 1, 70 * GiB, 78 * GiB])
def test_small_and_medium_objects_use_8_mib_parts(size: int) -> None:
    assert part_size(size) == DEFAULT_PART


@pytest.mark.parametrize("size", [79 * GiB, 100 * GiB, 1 * TiB, 5 * TiB, 48 * TiB])
def test_large_objects_grow_parts_to_stay_within_10000(size: int) -> None:
    chosen = part_size(size)
    assert math.ceil(size / chosen) <= MAX_PARTS
    assert chosen % MiB == 0
    assert DEFAULT_PART < chosen <= MAX_PART


def test_parts_are_the_smallest_whole_mib_that_fits() -> None:
    size = 200 * GiB
    chosen = part_size(size)
    assert math.ceil(size / (chosen - MiB)) > MAX_PARTS


def test_a_5_gib_object_fits_in_8_mib_parts() -> None:
    assert part_size(5 * GiB) == DEFAULT_PART
    assert math.ceil(5 * GiB / DEFAULT_PART) == 640


def test_an_object_beyond_10000_parts_of_5_gib_is_refused() -> None:
    with pytest.raises(ValueError, match="10000 parts"):
        part_size(MAX_PARTS * MAX_PART + 1)


def test_the_largest_possible_object_takes_5_gib_parts() -> None:
    assert part_size(MAX_PARTS * MAX_PART) == MAX_PART


def test_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        part_size(-1)


@pytest.mark.parametrize(
    ("override", "expected"),
    [(1, MIN_PART), (5 * MiB, 5 * MiB), (16 * MiB, 16 * MiB), (64 * GiB, MAX_PART)],
)
def test_override_is_clamped_to_s3_limits(override: int, expected: int) -> None:
    assert part_size(40 * MiB, override) == expected


def test_override_too_small_for_10000_parts_is_raised() -> None:
    size = 100 * GiB
    chosen = part_size(size, 5 * MiB)
    assert chosen > 5 * MiB
    assert math.ceil(size / chosen) <= MAX_PARTS
