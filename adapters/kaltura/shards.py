"""Shard windows: a selection split into N createdAt ranges of balanced size, found with `media.count`.

Window k of N is the half-open range [cut k-1, cut k) of createdAt Unix seconds; window 1 is open below and
window N reaches up to the run's start (as every listing does). The N-1 cuts are all a task needs to know
its window: `kaltura-archiver shards N` prints them (ARCHIVER_SHARD_BOUNDS) so that every task of an array
uses the same ones, however the catalog changes meanwhile.

How a cut is found (each cut on its own, so a task that needs only its own window asks only for its two
cuts, and every task that sees the same counts finds the same cuts):

- the selection's total (one `media.count`), and its first and last createdAt (two one-row `media.list`);
- cut i aims at round(i x total / N) entries created before it: between the cuts of a bracket whose counts
  are known, the next probe is interpolated from those counts (a bisection instead whenever the last probe
  did not halve the bracket), one `media.count` per probe, until the count before the probe is within 0.5%
  of total/N of the aim (so every window is within 1% of total/N) or the bracket is one second wide (that
  second alone holds more than the tolerance: its entries cannot be split, the windows next to it are off
  by at most what it holds). Once the aim is less than a page (500) of matches past the bracket's lower
  end, one `media.list` of that page gives the exact cut, where counting would take a request per halving
  (and a second holding many entries would take 30: one per halving of the years between the ends).

Balance is on the server-side filter: what we check ourselves (`!TAG`, `--plays`, the exact match of a tag)
is not counted. So the windows do not move while a run works (s3copy's tagging changes no count that
`--tag '!archived_to_s3'` balances on), and a task's window holds fewer entries than counted by as many as
its own checks drop.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

import anyio

from adapters.kaltura.filters import MAX_PAGE_SIZE, FilterSpec, Window, created_window, media_filter
from adapters.kaltura.listing import MediaLister

TOLERANCE = 0.005  # of total/N, for each cut: a window, between two cuts, is within twice that (1%)


@dataclass(frozen=True)
class Cut:
    """A createdAt second and how many matches were created before it."""

    at: int
    before: int


Below = Callable[[int], Awaitable[int]]
Rows = Callable[[Cut, Cut], Awaitable[Sequence[int]]]


async def find_cut(
    below: Below, target: int, tolerance: int, lo: Cut, hi: Cut, *, rows: Rows | None = None, page: int = 1
) -> Cut:
    """The cut between `lo` and `hi` with `target` matches before it, give or take `tolerance`; the nearest
    one when a single second holds more than that. `below(t)` counts the matches created before t, and
    `lo.before <= target <= hi.before`. Once the target is less than a `page` of matches past `lo`,
    `rows(lo, hi)` (the createdAt of the first `page` matches from `lo`, in order) settles the cut in one
    request where counting would take one per halving."""
    halve = False
    while True:
        for end in (lo, hi):
            if abs(end.before - target) <= tolerance:
                return end
        width = hi.at - lo.at
        if width <= 1:  # one second holds more than the tolerance: it cannot be split
            return nearest(target, [lo, hi])
        if rows is not None and target - lo.before < page:
            cut, settled = await _from_rows(rows, below, target, lo, hi, page)
            if settled:
                return cut
            lo, halve = cut, False
            continue
        if halve or hi.before == lo.before:
            at = lo.at + width // 2
        else:
            at = lo.at + (target - lo.before) * width // (hi.before - lo.before)
            at = min(max(at, lo.at + 1), hi.at - 1)
        probe = Cut(at, await below(at))
        if probe.before < target:
            lo = probe
        else:
            hi = probe
        halve = hi.at - lo.at > width // 2  # interpolation did not halve it: bisect next


async def _from_rows(
    rows: Rows, below: Below, target: int, lo: Cut, hi: Cut, page: int
) -> tuple[Cut, bool]:
    """(the cut, True) from the first page of matches from `lo`; or, when the page ends before the target,
    (the cut just past the page's last second, False): a new `lo`, as that second's matches may go on past
    the page."""
    created = await rows(lo, hi)
    known = [lo, *(Cut(at, lo.before + bisect.bisect_left(created, at)) for at in sorted(set(created)))]
    if len(created) < page:  # every match of the bracket: the exact cut is among them
        return nearest(target, [*known, hi]), True
    last = known[-1]  # counts are exact up to the page's last second
    if last.before >= target:
        return nearest(target, known), True
    after = Cut(last.at + 1, await below(last.at + 1))
    if after.before >= target:
        return nearest(target, [last, after]), True
    return after, False


def nearest(target: int, cuts: Sequence[Cut]) -> Cut:
    """The cut whose count is nearest `target` (the earlier one on a tie)."""
    return min(cuts, key=lambda c: (abs(c.before - target), c.at))


def cut_target(i: int, n: int, total: int) -> int:
    """How many matches should be created before cut i of n: i x total / n, rounded half up."""
    return (2 * i * total + n) // (2 * n)


def cut_tolerance(n: int, total: int) -> int:
    """How far a cut's count may be from its target (0.5% of total/N, in whole entries)."""
    return int(total / n * TOLERANCE)


@dataclass(frozen=True)
class ShardPlan:
    """The cuts found for a selection (all N-1 of them, or those one window needs) and what they cost."""

    n: int
    total: int  # server-side matches in the selection as of the run start
    window: Window  # the selection's own createdAt bounds (inclusive; upper is the run start at most)
    cuts: dict[int, Cut]  # cut index (1 to N-1) -> cut
    requests: int  # Kaltura requests spent: media.count and the two one-row media.list

    def bounds(self) -> tuple[int, ...]:
        """The N-1 cuts as ARCHIVER_SHARD_BOUNDS holds them (only when all were found)."""
        return tuple(self.cuts[i].at for i in range(1, self.n))

    def counted(self, k: int) -> int:
        """Server-side matches in window k (its two cuts must have been found)."""
        lower = self.cuts[k - 1].before if k > 1 else 0
        upper = self.cuts[k].before if k < self.n else self.total
        return upper - lower


class _Counter:
    """`media.count` of the selection's matches created before a second, counting its requests."""

    def __init__(self, client: MediaLister, spec: FilterSpec, run_start: int) -> None:
        self.client = client
        self.spec = dataclasses.replace(spec, extra_created_after=None, extra_created_until=None)
        self.run_start = run_start
        self.window = created_window(self.spec, now=run_start, snapshot=run_start)
        self.requests = 0

    async def count(self, until: int) -> int:
        """Matches created at or before `until` (inclusive)."""
        self.requests += 1
        now, lower = self.run_start, self.window.lower
        flt = media_filter(self.spec, now=now, created_from=lower, created_until=until, with_order=False)
        return await self.client.count_media(flt)

    async def below(self, at: int) -> int:
        return await self.count(at - 1)

    async def rows(self, lo: Cut, hi: Cut) -> list[int]:
        """createdAt of the first page of matches from `lo` to before `hi`, in order."""
        self.requests += 1
        flt = media_filter(self.spec, now=self.run_start, created_from=lo.at, created_until=hi.at - 1)
        page = await self.client.list_media(flt, page_size=MAX_PAGE_SIZE, page_index=1)
        return [entry.created_at for entry in page.objects]

    async def edge(self, order: str) -> int | None:
        """createdAt of the first (`+createdAt`) or last (`-createdAt`) match; None when there is none."""
        self.requests += 1
        flt = media_filter(
            self.spec, now=self.run_start, created_from=self.window.lower, created_until=self.window.upper
        )
        flt.orderBy = order
        page = await self.client.list_media(flt, page_size=1, page_index=1)
        return page.objects[0].created_at if page.objects else None


async def plan_shards(
    client: MediaLister, spec: FilterSpec, n: int, *, run_start: int, only: Collection[int] | None = None
) -> ShardPlan:
    """The cuts that split `spec`'s selection as of `run_start` into `n` balanced createdAt windows;
    `only` names the cuts wanted (default: all N-1). The same counts give the same cuts."""
    counter = _Counter(client, spec, run_start)
    wanted = sorted(set(range(1, n)) if only is None else {i for i in only if 1 <= i < n})
    window = counter.window
    if window.empty or not wanted:
        total = 0 if window.empty else await counter.count(_upper(window))
        return _flat(n, total, window, wanted, counter.requests)
    total = await counter.count(_upper(window))
    first = await counter.edge("+createdAt") if total else None
    last = await counter.edge("-createdAt") if first is not None else None
    if first is None or last is None:
        return _flat(n, total, window, wanted, counter.requests)
    lo, hi = Cut(first, 0), Cut(last + 1, total)
    tolerance = cut_tolerance(n, total)
    cuts: dict[int, Cut] = {}

    async def search(i: int) -> None:
        target = cut_target(i, n, total)
        page = MAX_PAGE_SIZE
        cuts[i] = await find_cut(counter.below, target, tolerance, lo, hi, rows=counter.rows, page=page)

    async with anyio.create_task_group() as tg:  # the cuts are independent: their counts go out together
        for i in wanted:
            tg.start_soon(search, i)
    return ShardPlan(n, total, window, dict(sorted(cuts.items())), counter.requests)


def _upper(window: Window) -> int:
    assert window.upper is not None  # the run start always bounds it
    return window.upper


def _flat(n: int, total: int, window: Window, wanted: Sequence[int], requests: int) -> ShardPlan:
    """Cuts for a selection with nothing to balance: all at the end, so window N is the only one not empty
    (whatever is created after this run start falls in it too)."""
    end = _upper(window) + 1
    return ShardPlan(n, total, window, {i: Cut(end, total) for i in wanted}, requests)


def window_of(k: int, n: int, bounds: Sequence[int]) -> tuple[int | None, int | None]:
    """Window k of n as inclusive createdAt bounds (None: open), from the N-1 cuts."""
    after = bounds[k - 2] if k > 1 else None
    until = bounds[k - 1] - 1 if k < n else None
    return after, until


def in_window(spec: FilterSpec, k: int, n: int, bounds: Sequence[int]) -> FilterSpec:
    """`spec` narrowed to window k of n."""
    after, until = window_of(k, n, bounds)
    return dataclasses.replace(spec, extra_created_after=after, extra_created_until=until)
