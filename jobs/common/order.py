"""Report rows in listing order, whatever order the entries finish in, holding back a bounded number of them.

Each listed item gets the next place as the lister yields it (`InOrder.number`); a row for it waits until
the rows of every item listed before it are written. At most `window` places are open at once (listed but
not yet written): when they are all open, the lister waits, so a slow entry holds back at most `window`
rows and memory stays bounded by the setting, not by the catalog. A row for something that was never
numbered (an id Kaltura does not know, reported by the lister itself) takes the next place when it comes,
so it lands where the listing was.

Every numbered item must come back (`put`) or the rows after it wait until `flush`, which the job calls at
its end however it ends (a cancelled run writes what it holds, in order, gaps skipped).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Generic, TypeVar

import anyio

from engine.logs import get_logger

C = TypeVar("C")
T = TypeVar("T")

_log = get_logger("jobs.common.order")


class InOrder(Generic[T]):
    """Puts values (report rows) keyed by entry id back in the order the keys were listed, and hands them to
    `write` as soon as every earlier one has been written."""

    def __init__(self, window: int, write: Callable[[T], None]) -> None:
        if window < 1:
            raise ValueError(f"window must be 1 or more, not {window}")
        self.window = window
        self._write = write
        self._places: dict[str, int] = {}  # key -> its place, while its value has not come
        self._keys: dict[int, str] = {}  # place -> key, same lifetime (to name what the report waits for)
        self._held: dict[int, T] = {}  # values that came before an earlier one
        self._given = 0  # places given so far
        self._written = 0  # the first place not written yet
        self._moved = anyio.Event()
        self.waits = 0  # how often the lister waited for room (a run's hint that the window is small)

    @property
    def open(self) -> int:
        """Places given but not written yet: at most `window`, plus values reported out of band."""
        return self._given - self._written

    async def number(
        self, items: AsyncGenerator[C, None], key: Callable[[C], str]
    ) -> AsyncGenerator[C, None]:
        """`items` unchanged, each given the next place under `key(item)`; waits while `window` are open.
        Closing it closes `items`."""
        async with aclosing(items) as source:
            async for item in source:
                await self._room()
                self._give(key(item))
                yield item

    async def _room(self) -> None:
        while self.open >= self.window:
            if self.waits == 0:  # once a run: the first time tells the operator what holds the report
                waiting_for = self._keys.get(self._written)
                _log.info("report.order_window_full", window=self.window, waiting_for=waiting_for)
            self.waits += 1
            self._moved = anyio.Event()
            await self._moved.wait()

    def _give(self, key: str) -> int:
        place = self._given
        self._given += 1
        self._places[key] = place
        self._keys[place] = key
        return place

    def put(self, key: str, value: T) -> None:
        """The value of `key`: written now with those it was waiting for, or held until its turn."""
        place = self._places.pop(key, None)
        if place is None:  # never listed (an unknown id): its place is where the listing is now
            place = self._give(key)
            del self._places[key]
        self._keys.pop(place, None)
        self._held[place] = value
        self._advance()

    def _advance(self) -> None:
        moved = False
        while self._written in self._held:
            value = self._held.pop(self._written)
            self._written += 1
            moved = True
            self._write(value)
        if moved:
            self._moved.set()

    def flush(self) -> None:
        """Write every value still held, in order (the end of a run: places that never came are skipped)."""
        for place in sorted(self._held):
            self._write(self._held.pop(place))
        self._written = self._given
        self._places.clear()
        self._keys.clear()
        self._moved.set()
