"""The pacer: every call to a rate-limited service takes a slot here first.

A slot is a place among at most `max_in_flight` calls plus a token from a bucket refilled at the current rate.
The current rate starts at the configured one, is cut in half (down to `min_rate`) when the service says it is
overloaded, and climbs back linearly while calls succeed, reaching the configured rate `recovery_s` after a
cut to zero. Besides the bucket, a sliding log of the last starts makes sure no window of 1.05 s ever holds
more starts than the current rate allows, whatever the burst (the margin absorbs the jitter between a start
and its arrival, so no second of arrivals holds more either).

A lone call (nothing in flight, the last window under half full, a rate of 2/s or more) does not wait for
a token: a run's few calls in a row, each waiting for the answer before (count, list, check, URLs; re-read,
tag), would otherwise wait 1/rate each. It still takes its token (the bucket may go below zero, so the calls
after it repay it; at most half a window's calls are lone, fewer than the bucket refills), and the window
still holds. Lone calls never overlap, so they cannot arrive in a cluster the way concurrent starts can.

Waiters are served in arrival order (anyio's semaphore and lock are FIFO). A task cancelled while waiting
takes nothing and leaves its place to the next.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio

from engine.logs import get_logger

# a volley of failures from calls already in flight is one signal, not many: cut at most once per this
_CUT_GUARD_S = 1.0
# the sliding log's window: a second, and a margin for the time between a start here and the request's
# arrival, which varies (a new connection, a busy event loop): the service counts arrivals, and a start that
# arrives late must not land in the next second beside that second's full share
_WINDOW_S = 1.05

_log = get_logger("engine.pacer")


@dataclass(frozen=True)
class PacerStats:
    """A snapshot of a pacer."""

    rate: float  # requests per second allowed now
    configured_rate: float
    max_in_flight: int
    in_flight: int  # calls started and not finished
    peak_in_flight: int
    waiting: int  # tasks waiting for a slot
    total_calls: int
    throttles: int  # on_throttle signals received


class Pacer:
    """A token bucket (requests/s, burst) plus a cap on calls in flight, slowing down when told to."""

    def __init__(
        self,
        rate: float,
        *,
        burst: int | None = None,
        max_in_flight: int = 8,
        min_rate: float | None = None,
        recovery_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        name: str = "pacer",
    ) -> None:
        if not rate > 0 or not math.isfinite(rate):
            raise ValueError(f"pacer rate must be a positive number, not {rate!r}")
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {max_in_flight!r}")
        self.name = name
        self._configured = float(rate)
        self._rate = self._configured
        self._min_rate = min(self._configured, min_rate if min_rate is not None else self._configured / 16)
        self._burst = max(1, min(burst if burst is not None else 1, math.ceil(self._configured)))
        self._recovery_s = max(recovery_s, 1e-9)
        self._clock = clock
        self._sleep = sleep
        self._max_in_flight = max_in_flight
        self._places = anyio.Semaphore(max_in_flight)
        self._turn = anyio.Lock()  # one waiter at a time watches the bucket, in FIFO order
        now = clock()
        self._tokens = float(self._burst)
        self._refilled_at = now
        self._starts: deque[float] = deque()
        self._blocked_until = now
        self._last_cut = -math.inf
        self._last_adjust = now
        self._in_flight = 0
        self._peak = 0
        self._waiting = 0
        self._total = 0
        self._throttles = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a place and a token, then hold the place while the body runs: `async with p.slot():`."""
        self._waiting += 1
        try:
            await self._places.acquire()
        except BaseException:
            self._waiting -= 1
            raise
        try:
            try:
                async with self._turn:
                    await self._take_token()
            finally:
                self._waiting -= 1
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)
            self._total += 1
            try:
                yield
            finally:
                self._in_flight -= 1
        finally:
            self._places.release()

    async def ready(self, poll_s: float = 0.005) -> None:
        """Wait until a call could start now (a free place and a due token) without taking either: a batcher
        waits here, then sends everything that arrived meanwhile, so batches grow when the rate binds (a lone
        call's exemption does not apply here: its token is what lets company gather)."""
        while True:
            wait = self._wait_s(self._clock(), lone_ok=False)  # a batch waiting here gathers company
            if wait <= 0 and self._places.value > 0:
                return
            await self._sleep(max(wait, poll_s))

    async def _take_token(self) -> None:
        while True:
            wait = self._wait_s(self._clock())
            if wait <= 0:
                break
            # at least a microsecond, so a clock that only moves when slept on still moves
            await self._sleep(max(wait, 1e-6))
        now = self._clock()
        self._tokens -= 1.0
        self._starts.append(now)

    def _wait_s(self, now: float, *, lone_ok: bool = True) -> float:
        """How long until a call may start at `now` (0 or less: now), a lone one without a token if
        `lone_ok`; refills the bucket as a side effect."""
        self._refill(now)
        while self._starts and self._starts[0] <= now - _WINDOW_S:
            self._starts.popleft()
        per_second = max(1, math.floor(self._rate))
        # below 2/s (a small setting, or after cuts) every call waits for its token: a lone call there could
        # start each time the window empties, and nothing would repay the bucket
        lone = lone_ok and self._in_flight == 0 and per_second >= 2 and len(self._starts) < per_second / 2
        waits = [self._blocked_until - now, 0.0 if lone else (1.0 - self._tokens) / self._rate]
        if len(self._starts) >= per_second:
            waits.append(self._starts[-per_second] + _WINDOW_S - now)
        return max(waits)

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._refilled_at)
        self._tokens = min(float(self._burst), self._tokens + elapsed * self._rate)
        self._refilled_at = now

    def on_throttle(self, retry_after: float | None = None) -> None:
        """The service pushed back (ACTION_BLOCKED, 429, 5xx, connection error): halve the rate."""
        now = self._clock()
        self._throttles += 1
        if retry_after is not None and retry_after > 0:
            self._blocked_until = max(self._blocked_until, now + retry_after)
        if now - self._last_cut < _CUT_GUARD_S:
            return
        self._refill(now)
        self._rate = max(self._min_rate, self._rate / 2)
        self._tokens = min(self._tokens, 1.0)  # no saved-up burst right after a push-back
        self._last_cut = now
        self._last_adjust = now
        _log.info("pacer.slowed", pacer=self.name, rate=round(self._rate, 3), retry_after=retry_after)

    def on_success(self) -> None:
        """A call went through: climb back toward the configured rate, linearly over `recovery_s`."""
        now = self._clock()
        if self._rate < self._configured:
            self._refill(now)
            step = self._configured * max(0.0, now - self._last_adjust) / self._recovery_s
            self._rate = min(self._configured, self._rate + step)
            if self._rate == self._configured:
                _log.info("pacer.recovered", pacer=self.name, rate=self._rate)
        self._last_adjust = now

    def statistics(self) -> PacerStats:
        return PacerStats(
            rate=self._rate,
            configured_rate=self._configured,
            max_in_flight=self._max_in_flight,
            in_flight=self._in_flight,
            peak_in_flight=self._peak,
            waiting=self._waiting,
            total_calls=self._total,
            throttles=self._throttles,
        )
