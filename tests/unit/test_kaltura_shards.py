"""The search for balanced createdAt cuts, over sorted createdAt values counted the way media.count does."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence

import anyio
import pytest

from adapters.kaltura.filters import FilterSpec, created_window
from adapters.kaltura.shards import Cut, cut_target, cut_tolerance, find_cut, in_window, window_of

PAGE = 500
START = 1_500_000_000
YEARS_8 = 8 * 365 * 86400


class Created:
    """createdAt values, counted below a second and paged from a second, counting the requests."""

    def __init__(self, values: Sequence[int]) -> None:
        self.values = sorted(values)
        self.requests = 0

    async def below(self, at: int) -> int:
        self.requests += 1
        return bisect.bisect_left(self.values, at)

    async def rows(self, lo: Cut, hi: Cut) -> Sequence[int]:
        self.requests += 1
        start = bisect.bisect_left(self.values, lo.at)
        return [v for v in self.values[start : start + PAGE] if v < hi.at]

    def cuts(self, n: int, *, rows: bool = True) -> list[Cut]:
        total = len(self.values)
        lo, hi = Cut(self.values[0], 0), Cut(self.values[-1] + 1, total)

        async def all_cuts() -> list[Cut]:
            return [
                await find_cut(
                    self.below,
                    cut_target(i, n, total),
                    cut_tolerance(n, total),
                    lo,
                    hi,
                    rows=self.rows if rows else None,
                    page=PAGE,
                )
                for i in range(1, n)
            ]

        return anyio.run(all_cuts)


def spread(n: int, seed: int) -> list[int]:
    """n createdAt values over 8 years, denser in later years (uploads grow), as catalogs are."""
    rng = random.Random(seed)
    return [START + int(YEARS_8 * rng.random() ** 0.5) for _ in range(n)]


def window_sizes(values: Sequence[int], cuts: Sequence[Cut]) -> list[int]:
    edges = [0, *(bisect.bisect_left(sorted(values), c.at) for c in cuts), len(values)]
    return [b - a for a, b in itertools.pairwise(edges)]


@pytest.mark.parametrize(("entries", "n"), [(100_000, 8), (100_000, 4), (20_000, 16), (1_000, 8)])
def test_windows_are_within_one_percent_of_total_over_n(entries: int, n: int) -> None:
    created = Created(spread(entries, seed=entries + n))
    sizes = window_sizes(created.values, created.cuts(n))
    ideal = entries / n
    assert all(abs(size - ideal) <= 0.01 * ideal + 1 for size in sizes), sizes
    assert sum(sizes) == entries


def test_shards_8_over_100k_entries_costs_a_few_counts_per_cut() -> None:
    created = Created(spread(100_000, seed=1))
    created.cuts(8)
    assert created.requests <= 7 * 6  # 30 would be one per halving of 8 years down to a second


def test_without_listing_a_page_the_counts_alone_find_the_cuts() -> None:
    created = Created(spread(3_000, seed=2))
    sizes = window_sizes(created.values, created.cuts(4, rows=False))
    assert all(abs(size - 750) <= 8 for size in sizes), sizes


def test_a_second_holding_more_than_a_window_is_not_split_and_costs_few_requests() -> None:
    values = spread(2_000, seed=3)
    burst = sorted(values)[1000]
    values += [burst] * 600  # a bulk upload: 600 entries in one second
    created = Created(values)
    cuts = created.cuts(8)
    assert [c.at for c in cuts] == sorted(c.at for c in cuts)
    sizes = window_sizes(created.values, cuts)
    assert sum(sizes) == 2_600
    assert max(sizes) >= 600  # the burst stays whole, in one window
    normal = [s for s in sizes if s and s < 600]
    assert all(abs(s - 325) <= 4 for s in normal[:2]), sizes  # windows away from it stay balanced
    assert created.requests <= 7 * 6  # no halving of the years down to the one second


def test_the_same_counts_give_the_same_cuts() -> None:
    values = spread(50_000, seed=4)
    assert Created(values).cuts(8) == Created(values).cuts(8)


def test_fewer_entries_than_shards_leaves_windows_empty_but_covers_all() -> None:
    created = Created([START + 10, START + 20, START + 30])
    sizes = window_sizes(created.values, created.cuts(5))
    assert sum(sizes) == 3
    assert sorted(sizes) == [0, 0, 1, 1, 1]


def test_window_k_of_n_is_half_open_and_the_outer_ones_are_open() -> None:
    bounds = (100, 200, 300)
    assert window_of(1, 4, bounds) == (None, 99)
    assert window_of(2, 4, bounds) == (100, 199)
    assert window_of(4, 4, bounds) == (300, None)
    narrowed = in_window(FilterSpec(created_before=1), 3, 4, bounds)
    window = created_window(narrowed, now=START, snapshot=START)
    assert (window.lower, window.upper) == (200, 299)  # within the user's own bounds
    assert "created_window=200..299" in narrowed.describe()
