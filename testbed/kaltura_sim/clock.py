"""The simulator clock: Unix seconds that follow real time from a start instant, and that tests can move."""

from __future__ import annotations

import time


class SimClock:
    """Simulated Unix time.

    A running clock advances with real (monotonic) time from ``start``; a frozen one (``running=False``) only
    moves when told to. ``advance`` and ``set`` work on both, so tests can jump over conversion delays.
    """

    __slots__ = ("_base", "_mono0", "_running")

    def __init__(self, start: float | None = None, *, running: bool = True) -> None:
        self._base = float(time.time() if start is None else start)
        self._mono0 = time.monotonic()
        self._running = running

    @property
    def running(self) -> bool:
        return self._running

    def now(self) -> float:
        """The current simulated time in Unix seconds."""
        if not self._running:
            return self._base
        return self._base + (time.monotonic() - self._mono0)

    def now_int(self) -> int:
        """The current simulated time truncated to whole seconds, as Kaltura timestamps are."""
        return int(self.now())

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, with a negative value) by ``seconds``."""
        self._base += seconds

    def set(self, ts: float) -> None:
        """Make ``now()`` return ``ts`` at this instant."""
        self._base = float(ts)
        self._mono0 = time.monotonic()
