"""engine.progress: counts, recent rates and ETA, the bar on a terminal, `progress` events elsewhere."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, cast

import anyio
import pytest
import structlog

from engine.progress import Progress, ProgressSnapshot, format_bar, format_duration


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _default_structlog() -> Iterator[None]:
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


def test_failed_entries_count_as_done() -> None:
    progress = Progress(tty=False, stream=io.StringIO())
    progress.add()
    progress.add(failed=1)
    progress.add(done=0, bytes=1000)
    snap = progress.snapshot()
    assert (snap.done, snap.failed, snap.bytes) == (2, 1, 1000)


def test_rate_and_eta_follow_the_recent_pace() -> None:
    clock = FakeClock()
    progress = Progress(total=1000, tty=False, stream=io.StringIO(), clock=clock)
    clock.now += 10
    progress.add(done=100, bytes=10 * 1024**2)
    snap = progress.snapshot()
    assert snap.rate == pytest.approx(10.0)
    assert snap.bytes_per_s == pytest.approx(1024**2)
    assert snap.eta_s == pytest.approx(90.0)
    assert snap.elapsed_s == pytest.approx(10.0)


def test_rate_forgets_samples_older_than_its_window() -> None:
    clock = FakeClock()
    progress = Progress(total=1000, tty=False, stream=io.StringIO(), clock=clock)
    with structlog.testing.capture_logs():
        for _ in range(10):  # a fast start: 50/s for 10 s, sampled every second
            clock.now += 1
            progress.add(done=50)
            progress.tick()
        for _ in range(60):  # then 1/s for a minute
            clock.now += 1
            progress.add(done=1)
            progress.tick()
    assert progress.snapshot().rate == pytest.approx(1.0)


def test_unknown_total_has_no_eta() -> None:
    progress = Progress(tty=False, stream=io.StringIO())
    progress.add(done=5)
    assert progress.snapshot().eta_s is None


def test_log_mode_emits_progress_events_with_the_numbers() -> None:
    clock = FakeClock()
    progress = Progress(total=10, tty=False, stream=io.StringIO(), clock=clock)
    clock.now += 2
    progress.add(done=4, failed=1, bytes=2048)
    with structlog.testing.capture_logs() as events:
        progress.tick()
    assert events == [{
        "event": "progress", "log_level": "info", "done": 4, "failed": 1, "total": 10, "bytes": 2048,
        "rate": 2.0, "bytes_per_s": 1024, "eta_s": 3, "elapsed_s": 2.0,
    }]  # fmt: skip


def test_close_emits_the_final_numbers_once() -> None:
    progress = Progress(tty=False, stream=io.StringIO())
    progress.add(done=3)
    with structlog.testing.capture_logs() as events:
        progress.close()
        progress.close()
    assert [(e["event"], e["done"]) for e in events] == [("progress", 3)]


def test_terminal_mode_redraws_the_bar_in_place_and_ends_the_line_on_close() -> None:
    out = FakeTty()
    progress = Progress(total=4, stream=out, show_bytes=False)
    progress.add(done=1)
    progress.tick()
    progress.add(done=1)
    progress.tick()
    progress.close()
    text = out.getvalue()
    frames = text.split("\r\x1b[K")[1:]
    assert [f.split(" [")[0] for f in frames] == ["entries 1/4  25%", "entries 2/4  50%", "entries 2/4  50%"]
    assert text.endswith("\n")
    assert text.count("\n") == 1


def test_bar_format_shows_counts_percent_rate_eta_bytes_and_failures() -> None:
    snap = ProgressSnapshot(
        done=1234, failed=3, bytes=5 * 1024**3, total=5000, elapsed_s=100.0, rate=12.34,
        bytes_per_s=45.6 * 1024**2, eta_s=312.0,
    )  # fmt: skip
    assert format_bar(snap) == (
        "entries 1,234/5,000  25% [####----------------] 12.3/s ETA 5m12s · 5GiB 45.6MiB/s · 3 failed"
    )


def test_bar_without_total_shows_counts_and_rate_only() -> None:
    snap = ProgressSnapshot(
        done=7, failed=0, bytes=0, total=None, elapsed_s=1.0, rate=7.0, bytes_per_s=0.0, eta_s=None
    )
    assert format_bar(snap, show_bytes=False) == "entries 7 7.0/s"


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (45.4, "45s"), (312, "5m12s"), (7380, "2h03m"), (90000, "1d01h")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


class ListLogger:
    """A logger sink that records `progress` events and says when it has seen enough."""

    def __init__(self, wanted: int) -> None:
        self.events: list[dict[str, Any]] = []
        self.enough = anyio.Event()
        self.wanted = wanted

    def info(self, event: str, **kw: Any) -> None:
        self.events.append({"event": event, **kw})
        if len(self.events) >= self.wanted:
            self.enough.set()


async def test_context_manager_ticks_until_exit_then_closes() -> None:
    log = ListLogger(wanted=2)
    async with Progress(tty=False, log_every_s=0.01, logger=cast(Any, log)) as progress:
        progress.add(done=2)
        with anyio.fail_after(10):
            await log.enough.wait()
    assert len(log.events) >= 3  # at least two periodic events and the final one
    assert log.events[-1]["done"] == 2


async def test_error_in_the_body_comes_out_unwrapped() -> None:
    with structlog.testing.capture_logs(), pytest.raises(KeyError):
        async with Progress(tty=False, stream=io.StringIO()):
            raise KeyError("boom")
