"""Shutdown on SIGTERM/SIGINT: stop taking work, drain what is in flight, then cancel; exit 143/130.

```python
async with handle_signals(drain_s=25) as shutdown:
    await run_pipeline(source, stages, sink, stop=shutdown.stop_intake)
sys.exit(shutdown.exit_code(default=0))
```

The first signal sets `stop_intake` (the pipeline stops reading its source) and gives the body `drain_s`
seconds to finish; after that the body is cancelled (cleanups run under their own shielded scopes) and the
context manager returns normally, so the caller can still write its summary. A second signal cancels at once.
Fargate sends SIGTERM and kills 30 s later: the default 25 s drain leaves time for the summary.

A signal can also come before the body starts (a task stopped while still starting up): SIGTERM's default is
to die without a word, SIGINT's to raise KeyboardInterrupt wherever start-up is. `catch_early_signals()`,
called first thing, remembers them instead; `handle_signals` then acts on them at once: nothing has begun,
so nothing is drained, the body is cancelled at its first step and the caller logs that the run was cut
short (exit 130/143).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio

from engine.logs import get_logger

EXIT_SIGINT = 130
EXIT_SIGTERM = 143

_log = get_logger("engine.shutdown")

# signals that came between catch_early_signals() and handle_signals(), in order
_early: list[signal.Signals] = []


def catch_early_signals(signals: Sequence[signal.Signals] = (signal.SIGINT, signal.SIGTERM)) -> None:
    """Remember `signals` from now on (instead of dying, or KeyboardInterrupt) until `handle_signals` takes
    over and acts on them. For a program's entry point, before its slow start-up; main thread only."""
    for sig in signals:
        signal.signal(sig, _remember)


def _remember(signum: int, frame: object) -> None:
    _early.append(signal.Signals(signum))


class Shutdown:
    """What the signals asked for, and the means to act on it."""

    def __init__(self, *, drain_s: float = 25.0) -> None:
        self.drain_s = drain_s
        self.stop_intake = anyio.Event()
        self.signal: signal.Signals | None = None  # the first one received
        self._scope: anyio.CancelScope | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deadline: float | None = None  # loop time at which the drain is over

    @property
    def cancelled(self) -> bool:
        """The body was cut short (drain deadline passed, or a second signal)."""
        return self._scope is not None and self._scope.cancel_called

    def request(self, signum: int) -> None:
        """Act as if `signum` arrived: first time stop intake and start the drain clock, then cancel."""
        if self.signal is not None:
            _log.warning("run.aborting", signal=signal.Signals(signum).name)
            self.cancel()
            return
        self.signal = signal.Signals(signum)
        self.stop_intake.set()
        _log.warning("run.stopping", signal=self.signal.name, drain_s=self.drain_s)
        if self._scope is not None and self._loop is not None:
            # the scope's own deadline cancels the body when the drain time is up (anyio uses loop time)
            self._deadline = self._loop.time() + self.drain_s
            self._scope.deadline = min(self._scope.deadline, self._deadline)

    def time_left(self) -> float | None:
        """Seconds until the drain is over (0 once it is); None while no signal has come. Cleanups that
        must not outlast it (an abort at shutdown) take the smaller of their own deadline and this."""
        if self._deadline is None or self._loop is None:
            return None
        return max(0.0, self._deadline - self._loop.time())

    def cancel(self) -> None:
        """Cancel the guarded body now."""
        if self._scope is not None:
            self._scope.cancel()

    def exit_code(self, default: int = 0) -> int:
        """130 after SIGINT, 143 after SIGTERM (128 + the signal number in general), else `default`."""
        if self.signal is None:
            return default
        return {signal.SIGINT: EXIT_SIGINT, signal.SIGTERM: EXIT_SIGTERM}.get(self.signal, 128 + self.signal)


@asynccontextmanager
async def handle_signals(
    *,
    drain_s: float = 25.0,
    signals: Sequence[signal.Signals] = (signal.SIGINT, signal.SIGTERM),
) -> AsyncIterator[Shutdown]:
    """Handle `signals` while the body runs (asyncio event loop, main thread); yield the `Shutdown`."""
    shutdown = Shutdown(drain_s=drain_s)
    loop = asyncio.get_running_loop()
    previous: dict[signal.Signals, Callable[[int, Any], Any] | int | None] = {}
    with anyio.CancelScope() as scope:
        shutdown._scope, shutdown._loop = scope, loop
        try:
            for sig in signals:
                previous[sig] = signal.getsignal(sig)
                loop.add_signal_handler(sig, shutdown.request, sig)
            _act_on_early(shutdown)
            yield shutdown
        finally:
            for sig, handler in previous.items():
                loop.remove_signal_handler(sig)
                if handler is not None:
                    # put back what was there (asyncio.run's own SIGINT handler, say), not just the default
                    signal.signal(sig, handler)


def _act_on_early(shutdown: Shutdown) -> None:
    """The signals caught before the body started: requested now, in order; the body is cancelled at its
    first step (it has begun nothing that a drain could finish)."""
    early, _early[:] = list(_early), []
    for sig in early:
        shutdown.request(sig)
    if early:
        shutdown.cancel()
