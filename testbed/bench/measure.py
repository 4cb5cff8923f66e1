"""Run one command as a measured child process: wall time, CPU seconds, peak RSS (benchmarks only).

`measure(argv, env=...)` runs the command under a small wrapper process (this file run as a script, standard
library only) and returns a `Measured`. The wrapper starts the command, reaps it with `os.wait4` and writes
the kernel's rusage of it: `cpu_s` is the user + system time of the command and of every descendant it reaped
itself, `max_rss_mib` the largest resident set any one of them reached (for a single process, its VmHWM).

Why a wrapper: Linux carries a process's peak RSS across `fork` and `exec` into the child's figure, so a
command started straight from a large parent (this benchmark, with boto3 and the Kaltura client loaded)
would report at least the parent's size. Started from the small, freshly exec'd wrapper it reports its own.
With `sample_tree=True` the wrapper also sums VmRSS over the command's process tree every `SAMPLE_S` and
keeps the peak: the memory of N parallel processes together, which no rusage field gives (sampled, so a
spike shorter than the interval can be missed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAMPLE_S = 0.1
STDERR_TAIL = 4000


@dataclass(frozen=True)
class Measured:
    """What one measured run cost and said."""

    exit_code: int
    wall_s: float
    cpu_s: float  # user + system of the command and the descendants it reaped
    max_rss_mib: float  # the largest single process of the tree
    tree_rss_mib: float | None  # sampled peak of the tree's sum (None when not sampled)
    stdout: str
    stderr_tail: str
    timed_out: bool = False


def process_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds `pid` has used so far (its own threads; 0.0 when unknown or gone)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14, 15)


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


def _wrap(argv: Sequence[str], result: Path, sample_tree: bool) -> int:
    """In the wrapper: run `argv` (stdio inherited), reap it, write its figures to `result`."""
    started = time.perf_counter()
    proc = subprocess.Popen(list(argv))
    sampler = _TreeSampler(proc.pid) if sample_tree else None
    if sampler is not None:
        sampler.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        if sampler is not None:
            sampler.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    figures = {
        "exit_code": proc.returncode,
        "wall_s": time.perf_counter() - started,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "max_rss_mib": usage.ru_maxrss / 1024,  # KiB on Linux
        "tree_rss_mib": None if sampler is None else sampler.peak_kib / 1024,
    }
    result.write_text(json.dumps(figures), encoding="utf-8")
    return 0


def measure(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | None = None,
    timeout_s: float = 1800.0,
    sample_tree: bool = False,
    stderr_limit: int | None = STDERR_TAIL,
) -> Measured:
    """Run `argv` to completion (killed, with its process group, after `timeout_s`) and measure it;
    `stderr_tail` keeps the last `stderr_limit` bytes of its stderr (None: all of it, e.g. its JSON log)."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory(prefix="bench-measure-") as workdir,
    ):
        result = Path(workdir, "figures.json")
        wrapper = [sys.executable, "-I", __file__, "--result", str(result)]  # -I: no testbed/ on sys.path
        wrapper += ["--sample-tree"] if sample_tree else []
        started = time.perf_counter()
        proc = subprocess.Popen(
            [*wrapper, "--", *argv],
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group: a timeout kills the whole tree
        )
        timed_out = False
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        wall = time.perf_counter() - started
        figures: dict[str, Any] = json.loads(result.read_text(encoding="utf-8")) if result.exists() else {}
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", errors="replace")
        errors = err.read()
        stderr_tail = (errors if stderr_limit is None else errors[-stderr_limit:]).decode(
            "utf-8", errors="replace"
        )
    tree = figures.get("tree_rss_mib")
    code = figures.get("exit_code")
    return Measured(
        exit_code=int(code) if code is not None else int(proc.returncode or 0),
        wall_s=float(figures.get("wall_s", wall)),
        cpu_s=float(figures.get("cpu_s", 0.0)),
        max_rss_mib=float(figures.get("max_rss_mib", 0.0)),
        tree_rss_mib=None if tree is None else float(tree),
        stdout=stdout,
        stderr_tail=stderr_tail,
        timed_out=timed_out,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the measuring wrapper (used by measure())")
    parser.add_argument("--result", type=Path, required=True, help="where to write the figures (JSON)")
    parser.add_argument("--sample-tree", action="store_true", help="also sample the tree's summed RSS")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    return _wrap(command, args.result, args.sample_tree)


if __name__ == "__main__":
    sys.exit(main())
