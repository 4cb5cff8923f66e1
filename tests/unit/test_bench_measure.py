"""Measuring a child process: its exit code, output, CPU time and peak memory are its own."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from testbed.bench.measure import measure, process_cpu_s, tree_rss_kib

ALLOCATE_100MB = "b = bytearray(100 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); print('done')"


def test_child_output_and_exit_code_are_reported() -> None:
    m = measure([sys.executable, "-c", "import sys; print('hi'); sys.exit(3)"], env=os.environ)
    assert m.exit_code == 3
    assert m.stdout == "hi\n"
    assert not m.timed_out


def test_peak_rss_is_the_childs_high_water_mark_not_its_final_size() -> None:
    code = ALLOCATE_100MB + "; del b"
    m = measure([sys.executable, "-c", code], env=os.environ)
    assert m.exit_code == 0
    assert m.max_rss_mib >= 100
    small = measure([sys.executable, "-c", "pass"], env=os.environ)
    assert small.max_rss_mib < 100  # each run is measured on its own


def test_cpu_time_includes_grandchildren_the_child_waited_for() -> None:
    spin = "import time; t = time.process_time(); exec('while time.process_time() - t < 0.3: pass')"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {spin!r}], check=True)"
    m = measure([sys.executable, "-c", parent], env=os.environ)
    assert m.exit_code == 0
    assert m.cpu_s >= 0.3


def test_tree_sampling_sums_parallel_children(tmp_path: Path) -> None:
    # each child holds its 100 MB for 0.6 s after both have them (a barrier of files: on a busy machine one
    # child can start long after the other)
    child = (
        f"import os, pathlib, time; {ALLOCATE_100MB}; d = pathlib.Path({str(tmp_path)!r}); "
        "(d / str(os.getpid())).touch(); "
        "exec('while len(list(d.iterdir())) < 2: time.sleep(0.01)'); time.sleep(0.6)"
    )
    parent = (
        "import subprocess, sys; "
        f"ps = [subprocess.Popen([sys.executable, '-c', {child!r}]) for _ in range(2)]; "
        "[p.wait() for p in ps]"
    )
    m = measure([sys.executable, "-c", parent], env=os.environ, sample_tree=True)
    assert m.exit_code == 0
    assert m.tree_rss_mib is not None
    assert m.tree_rss_mib >= 200
    assert m.max_rss_mib < 200  # no single process held both


def test_a_command_past_its_deadline_is_killed_with_its_children() -> None:
    m = measure([sys.executable, "-c", "import time; time.sleep(60)"], env=os.environ, timeout_s=0.5)
    assert m.timed_out
    assert m.exit_code == -9


def test_tree_rss_of_a_gone_process_is_zero() -> None:
    assert tree_rss_kib(2**22 + 12345) == 0


def test_process_cpu_of_this_process_grows_and_of_a_gone_one_is_zero() -> None:
    before = process_cpu_s(os.getpid())
    sum(i * i for i in range(2_000_000))
    assert process_cpu_s(os.getpid()) > before
    assert process_cpu_s(None) == 0.0
    assert process_cpu_s(2**22 + 12345) == 0.0
