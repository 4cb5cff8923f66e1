"""Progress: a bar on a terminal, periodic `progress` log events elsewhere.

The bar (entries done/total, percentage, rate, ETA, bytes and their rate, failures) is redrawn a few times a
second at the bottom of stderr, with log lines written above it. Without a terminal (Fargate, CloudWatch) the
same numbers go out as a structlog `progress` event every `log_every_s` seconds.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TextIO

import anyio
from anyio.abc import TaskGroup
from structlog.typing import FilteringBoundLogger

from engine.logs import get_logger, set_status_line, write_status
from engine.settings import format_bytes

# rates are measured over roughly this much recent time, so the ETA follows the current pace
_RATE_WINDOW_S = 30.0
_BAR_CELLS = 20


@dataclass(frozen=True)
class ProgressSnapshot:
    """The numbers at one moment."""

    done: int  # entries finished, whatever the outcome
    failed: int  # of which failed
    bytes: int
    total: int | None
    elapsed_s: float
    rate: float  # entries per second, recent
    bytes_per_s: float  # recent
    eta_s: float | None  # None when the total or the rate is unknown


class Progress:
    """Counts finished entries and bytes, and shows them; use as `async with Progress(...) as p:`.

    `add(done=1)` per finished entry (`add(failed=1)` for a failed one: it is finished too), `add(done=0,
    bytes=n)` as bytes move. Outside the context manager, start `run()` in a task group and call `close()`.
    """

    def __init__(
        self,
        *,
        total: int | None = None,
        stream: TextIO | None = None,
        tty: bool | None = None,
        log_every_s: float = 30.0,
        redraw_s: float = 0.25,
        show_bytes: bool = True,
        label: str = "entries",
        clock: Callable[[], float] = time.monotonic,
        logger: FilteringBoundLogger | None = None,
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._tty = tty if tty is not None else _isatty(self._stream)
        self._interval = redraw_s if self._tty else log_every_s
        self._show_bytes = show_bytes
        self._label = label
        self._clock = clock
        self._log = logger if logger is not None else get_logger("engine.progress")
        self._total = total
        self._done = self._failed = self._bytes = 0
        self._started = clock()
        self._samples: deque[tuple[float, int, int]] = deque([(self._started, 0, 0)], maxlen=256)
        self._closed = False
        self._tg: TaskGroup | None = None

    def add(self, done: int = 1, failed: int = 0, bytes: int = 0) -> None:
        """Count `done` finished entries (`failed` of them failed; `done` is at least `failed`) and bytes."""
        self._done += max(done, failed)
        self._failed += failed
        self._bytes += bytes

    def set_total(self, n: int | None) -> None:
        self._total = n

    def snapshot(self) -> ProgressSnapshot:
        now = self._clock()
        while len(self._samples) > 1 and now - self._samples[1][0] >= _RATE_WINDOW_S:
            self._samples.popleft()
        t0, done0, bytes0 = self._samples[0]
        span = now - t0
        rate = (self._done - done0) / span if span > 0 else 0.0
        bytes_rate = (self._bytes - bytes0) / span if span > 0 else 0.0
        eta = None
        if self._total is not None and rate > 0:
            eta = max(0, self._total - self._done) / rate
        return ProgressSnapshot(
            done=self._done,
            failed=self._failed,
            bytes=self._bytes,
            total=self._total,
            elapsed_s=now - self._started,
            rate=rate,
            bytes_per_s=bytes_rate,
            eta_s=eta,
        )

    def render(self) -> str:
        """The bar as one line of text."""
        width = shutil.get_terminal_size((100, 24)).columns
        line = format_bar(self.snapshot(), label=self._label, show_bytes=self._show_bytes)
        return line[: max(width - 1, 20)]

    def tick(self) -> None:
        """Redraw the bar or emit one `progress` event, and record a sample for the rates."""
        if self._tty:
            write_status(self._stream, self.render())
        else:
            self._emit()
        self._samples.append((self._clock(), self._done, self._bytes))

    def _emit(self) -> None:
        snap = self.snapshot()
        self._log.info(
            "progress",
            done=snap.done,
            failed=snap.failed,
            total=snap.total,
            bytes=snap.bytes,
            rate=round(snap.rate, 3),
            bytes_per_s=round(snap.bytes_per_s),
            eta_s=None if snap.eta_s is None else round(snap.eta_s),
            elapsed_s=round(snap.elapsed_s, 1),
        )

    async def run(self) -> None:
        """Tick every interval until cancelled."""
        if self._tty:
            set_status_line(self._stream, self.render)
        try:
            while True:
                await anyio.sleep(self._interval)
                self.tick()
        finally:
            if self._tty:
                set_status_line(self._stream, None)

    def close(self) -> None:
        """Show the final numbers once: the bar's last state on its own line, or a last event."""
        if self._closed:
            return
        self._closed = True
        if self._tty:
            set_status_line(self._stream, None)
            write_status(self._stream, self.render(), final=True)
        else:
            self._emit()

    async def __aenter__(self) -> Progress:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self.run)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._tg is not None
        self._tg.cancel_scope.cancel()
        try:
            # the body's own error is not the task group's business: it propagates unchanged from here
            await self._tg.__aexit__(None, None, None)
        finally:
            self.close()


def format_bar(snap: ProgressSnapshot, *, label: str = "entries", show_bytes: bool = True) -> str:
    """`entries 1,234/5,000  24% [####----------------] 12.3/s ETA 5m12s · 1.2GiB 45.6MiB/s · 3 failed`."""
    parts = [f"{label} {snap.done:,}" + (f"/{snap.total:,}" if snap.total is not None else "")]
    if snap.total:
        fraction = min(1.0, snap.done / snap.total)
        cells = int(fraction * _BAR_CELLS)
        parts.append(f"{fraction:4.0%} [{'#' * cells}{'-' * (_BAR_CELLS - cells)}]")
    parts.append(f"{snap.rate:.1f}/s")
    if snap.eta_s is not None:
        parts.append(f"ETA {format_duration(snap.eta_s)}")
    line = " ".join(parts)
    if show_bytes:
        line += f" · {format_bytes(snap.bytes)} {format_bytes(snap.bytes_per_s)}/s"
    if snap.failed:
        line += f" · {snap.failed:,} failed"
    return line


def format_duration(seconds: float) -> str:
    """`5m12s`, `2h03m`, `45s`: short and readable."""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
