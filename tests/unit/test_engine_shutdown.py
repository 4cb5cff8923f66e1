"""engine.shutdown: real signals to a real process; drain on the first, cancel on the deadline or a second."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from engine.shutdown import Shutdown, handle_signals

ROOT = Path(__file__).resolve().parents[2]


class Run:
    """The helper script in a subprocess, read line by line."""

    def __init__(self, hold_s: float, drain_s: float, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.unit.engine_signal_script", str(hold_s), str(drain_s), *extra],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []

    def wait_for(self, wanted: str) -> None:
        assert self.proc.stdout is not None
        while wanted not in self.lines:
            line = self.proc.stdout.readline()
            assert line, f"the script ended before printing {wanted!r}: {self.lines}"
            self.lines.append(line.strip())

    def send(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def go_on(self) -> None:
        """Let an `early` script's start-up go on."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def finish(self) -> int:
        out, err = self.proc.communicate(timeout=30)
        self.lines.extend(line.strip() for line in out.splitlines())
        self.stderr = err
        return self.proc.returncode

    def items(self, verb: str) -> set[int]:
        return {int(line.split()[1]) for line in self.lines if line.startswith(f"{verb} ")}


@pytest.fixture
def run_script() -> Iterator[type[Run]]:
    runs: list[Run] = []

    class Tracked(Run):
        def __init__(self, hold_s: float, drain_s: float, *extra: str) -> None:
            super().__init__(hold_s, drain_s, *extra)
            runs.append(self)

    yield Tracked
    for run in runs:  # never leave a helper process behind, whatever the test did
        if run.proc.poll() is None:
            run.proc.kill()
        run.proc.communicate()


def test_sigterm_drains_items_in_flight_then_exits_143(run_script: type[Run]) -> None:
    run = run_script(hold_s=0.3, drain_s=25)
    run.wait_for("start 2")
    run.send(signal.SIGTERM)
    assert run.finish() == 143
    started = run.items("start")
    assert started
    assert run.items("done") == started  # every item taken was completed
    assert run.items("cancel") == set()
    assert run.lines[-1] == "summary cancelled=False"
    assert '"event": "run.stopping"' in run.stderr
    assert '"signal": "SIGTERM"' in run.stderr


def test_drain_deadline_cancels_what_is_left_and_still_exits_143(run_script: type[Run]) -> None:
    run = run_script(hold_s=60, drain_s=0.2)
    run.wait_for("start 2")
    run.send(signal.SIGTERM)
    assert run.finish() == 143
    assert run.items("cancel") == run.items("start") == {0, 1, 2}
    assert run.lines[-1] == "summary cancelled=True"


def test_second_sigint_cancels_at_once_and_exits_130(run_script: type[Run]) -> None:
    run = run_script(hold_s=60, drain_s=60)
    run.wait_for("start 2")
    run.send(signal.SIGINT)
    run.wait_for("stopping")
    run.send(signal.SIGINT)
    assert run.finish() == 130
    assert run.items("cancel") == {0, 1, 2}
    assert run.items("done") == set()
    assert run.lines[-1] == "summary cancelled=True"
    assert '"event": "run.aborting"' in run.stderr


def test_sigterm_during_start_up_is_kept_and_cuts_the_run_short_before_it_starts(
    run_script: type[Run],
) -> None:
    run = run_script(60, 60, "early")
    run.wait_for("starting up")
    run.send(signal.SIGTERM)  # without catch_early_signals the process would die here without a word
    run.go_on()
    assert run.finish() == 143
    assert run.items("start") == set()  # nothing begun, nothing drained
    assert run.lines[-1] == "summary cancelled=True"  # the caller logs run.cut_short on this
    assert '"event": "run.stopping"' in run.stderr
    assert '"signal": "SIGTERM"' in run.stderr


def test_sigint_during_start_up_exits_130_without_a_keyboard_interrupt(run_script: type[Run]) -> None:
    run = run_script(60, 60, "early")
    run.wait_for("starting up")
    run.send(signal.SIGINT)
    run.go_on()
    assert run.finish() == 130
    assert "KeyboardInterrupt" not in run.stderr
    assert run.lines[-1] == "summary cancelled=True"


def test_exit_code_follows_the_first_signal() -> None:
    assert Shutdown().exit_code(default=1) == 1
    for first, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        shutdown = Shutdown()
        shutdown.request(first)
        shutdown.request(signal.SIGINT if first == signal.SIGTERM else signal.SIGTERM)
        assert shutdown.exit_code(default=0) == code
        assert shutdown.stop_intake.is_set()


async def test_request_in_process_stops_intake_and_cancels_after_the_drain() -> None:
    async with handle_signals(drain_s=0.05) as shutdown:
        shutdown.request(signal.SIGTERM)
        await shutdown.stop_intake.wait()
        await anyio.sleep(30)  # cut short by the drain deadline
    assert shutdown.cancelled
    assert shutdown.exit_code() == 143


async def test_time_left_counts_down_the_drain_from_the_first_signal() -> None:
    async with handle_signals(drain_s=30) as shutdown:
        assert shutdown.time_left() is None  # no shutdown under way
        shutdown.request(signal.SIGTERM)
        first = shutdown.time_left()
        assert first is not None
        assert 0 < first <= 30
        await anyio.sleep(0.05)
        later = shutdown.time_left()
        assert later is not None
        assert later < first
        shutdown.request(signal.SIGTERM)  # a second signal cancels; it does not move the drain's end
        assert shutdown.time_left() is not None
    assert shutdown.cancelled


async def test_previous_signal_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    async with handle_signals():
        pass
    assert signal.getsignal(signal.SIGTERM) == before
