"""Run one command as a measured child process: wall time, CPU seconds, peak RSS (benchmarks only).

`measure(argv, env=...)` starts the command in a new session, reaps it with `os.wait4`, and returns a
`Measured`. The kernel's rusage of a reaped child covers the child and every descendant it reaped itself
(`RUSAGE_BOTH`): `cpu_s` is their user + system time and `max_rss_mib` the largest resident set any one of
them reached (for a single process, its VmHWM). Because each command is reaped on its own, runs never mix, as
`RUSAGE_CHILDREN` deltas in one long-lived parent would for the peak. With `sample_tree=True` a thread also
sums VmRSS over the whole process tree every `SAMPLE_S` and keeps the peak: the memory of N parallel
processes together, which no rusage field gives (sampled, so a short spike between samples can be missed).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SAMPLE_S = 0.1
STDERR_TAIL = 4000


@dataclass(frozen=True)
class Measured:
    """What one measured run cost and said."""

    exit_code: int
    wall_s: float
    cpu_s: float  # user + system of the child and the descendants it reaped
    max_rss_mib: float  # the largest single process of the tree
    tree_rss_mib: float | None  # sampled peak of the tree's sum (None when not sampled)
    stdout: str
    stderr_tail: str
    timed_out: bool = False


def tree_rss_kib(root: int) -> int:
    """Sum of VmRSS (KiB) of `root` and all its descendants, from /proc (0 once everything is gone)."""
    parent_of: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()  # the name before ")" may hold spaces
            parent_of[int(stat.parent.name)] = int(fields[1])
    members = {root}
    grew = True
    while grew:  # a few passes: the tree is shallow
        grew = False
        for pid, ppid in parent_of.items():
            if ppid in members and pid not in members:
                members.add(pid)
                grew = True
    return sum(_vm_rss_kib(pid) for pid in members)


def _vm_rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class _TreeSampler(threading.Thread):
    """Keeps the peak of `tree_rss_kib(root)` until stopped."""

    def __init__(self, root: int) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.root = root
        self.peak_kib = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(SAMPLE_S):
            self.peak_kib = max(self.peak_kib, tree_rss_kib(self.root))

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)


def measure(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | None = None,
    timeout_s: float = 1800.0,
    sample_tree: bool = False,
) -> Measured:
    """Run `argv` to completion (killed, with its process group, after `timeout_s`) and measure it."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group: a timeout kills the whole tree
        )
        sampler = _TreeSampler(proc.pid) if sample_tree else None
        if sampler is not None:
            sampler.start()
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
            if sampler is not None:
                sampler.stop()
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", errors="replace")
        stderr_tail = err.read()[-STDERR_TAIL:].decode("utf-8", errors="replace")
    return Measured(
        exit_code=proc.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        max_rss_mib=usage.ru_maxrss / 1024,  # KiB on Linux
        tree_rss_mib=None if sampler is None else sampler.peak_kib / 1024,
        stdout=stdout,
        stderr_tail=stderr_tail,
        timed_out=timed_out.is_set(),
    )
