"""Benchmark `kaltura-archiver replace_video` (not a test): wall time, Kaltura requests, requests/s.

`python -m testbed.bench.replace --out FILE [--quick]` prints a table and the issue's goals, and writes the
figures as JSON (default `bench-results/replace.json`). Each run gets its own simulator (50 ms API latency,
every original 0.5 MB) and an empty bucket in one shared moto:

1. set-up, not measured: `kaltura-archiver s3copy --execute --status 2 --tag '!archived_to_s3'` archives the
   scenario's entries (the catalog is chosen so that exactly that many are archivable; it keeps the
   generator's edge cases, which s3copy skips);
2. the simulator's conversions are set to take `delay_s` (`POST /__sim/faults {"conversion": {"delay_s":
   ...}}`). The simulator's clock runs in real seconds (`SimClock` follows the monotonic clock; nothing
   advances it here), so a conversion really takes that long;
3. measured: `kaltura-archiver replace_video --execute --idfile IDS` over exactly the archived entries, with
   the placeholder files of `testbed.placeholders`, as one child process (`testbed.bench.measure`).

Figures: wall time; the uploads' share of it (from the run's start to the last `entry.replace_started` in
its JSON log: listing, checks, placeholder uploads and `media.updateContent`); per entry how late after its
conversion was due it was tagged (the waiter's lag plus the finishing calls); the simulator's HTTP requests,
calls by action and busiest one-second window; the waiter's polls (`run.finished`). Goals (the issue): wall
time <= 2 x the delay + the uploads, <= 7 Kaltura requests per replaced entry, requests/s never above
ARCHIVER_KALTURA_RPS. Runs: the defaults (ARCHIVER_KALTURA_RPS 10, ARCHIVER_READY_POLL 30 s), then
ARCHIVER_KALTURA_RPS=20, then (not with --quick) a diagnostic row with ARCHIVER_READY_POLL=5 to show what
the default poll costs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from jobs.common.settings import SETTINGS
from testbed.bench.measure import measure
from testbed.bench.replace_report import (
    Run,
    document,
    format_calls,
    format_goals,
    format_row,
    format_table,
    goals,
    header,
    timeline,
)
from testbed.bench.workloads import REPLACED_TAG, Workload, find_catalog
from testbed.kaltura_sim import SimOptions, SimProcess
from testbed.placeholders import write_placeholders
from testbed.s3 import S3Server

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S: Final = 1200.0
SETUP_RPS: Final = "1000"  # the set-up archives as fast as the simulator answers: it is not measured
MIB_MB: Final = 1.048576
# the caller's settings must not leak into the runs: everything they need is set explicitly
_SCRUBBED = ("AWS_", "KALTURA_", "ARCHIVER_", "DOIT", "N_YEARS", "LDAP_", "PLACEHOLDER_")


@dataclass(frozen=True)
class Setting:
    """One run's settings: ARCHIVER_* overrides, and whether the row is a diagnostic (not judged)."""

    overrides: tuple[tuple[str, str], ...] = ()
    diagnostic: bool = False

    @property
    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.overrides) or "defaults"


@dataclass(frozen=True)
class Scenario:
    """How many entries, how long a conversion takes, and the runs."""

    entries: int
    delay_s: float
    runs: tuple[Setting, ...]
    size_mb: float = 0.5
    api_latency_ms: float = 50.0


RPS_20 = Setting((("ARCHIVER_KALTURA_RPS", "20"),))
POLL_5 = Setting((("ARCHIVER_READY_POLL", "5"),), diagnostic=True)
FULL: Final = Scenario(300, 60.0, (Setting(), RPS_20, POLL_5))
QUICK: Final = Scenario(30, 5.0, (Setting(), RPS_20))


def default_setting(env: str) -> str:
    return next(str(s.default) for s in SETTINGS if s.env == env)


def cli_path() -> list[str]:
    """Our CLI as installed in this environment (the console script), else `python -m jobs.cli`."""
    script = Path(sys.executable).with_name("kaltura-archiver")
    return [str(script)] if script.exists() else [sys.executable, "-m", "jobs.cli"]


def report_rows(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


class Bench:
    """The shared moto, the scenario, the runs so far."""

    def __init__(self, s3: S3Server, scenario: Scenario) -> None:
        self.s3 = s3
        self.scenario = scenario
        self.runs: list[Run] = []
        self.workload = Workload(
            "replace",
            f"{scenario.entries} archived x {scenario.size_mb:g} MB",
            scenario.entries,
            scenario.size_mb,
            api_latency_ms=scenario.api_latency_ms,
        )
        self.catalog = find_catalog(self.workload)

    def env(self, sim: SimProcess, bucket: str, extra: Mapping[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
        env.update(self.s3.client_env())
        env.update(sim.client_env())
        env.update(PYTHONPATH=str(ROOT), AWS_BUCKET=bucket)
        env.update(extra)
        return env

    def archive(self, sim: SimProcess, bucket: str) -> list[str]:
        """Set-up: s3copy archives the scenario's entries; their ids."""
        argv = [*cli_path(), "s3copy", "--execute", "--status", "2", "--tag", "!archived_to_s3"]
        env = self.env(sim, bucket, {"ARCHIVER_KALTURA_RPS": SETUP_RPS})
        done = subprocess.run(
            [*argv, "--format", "jsonl"], env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
        )
        ids = [r["entry_id"] for r in report_rows(done.stdout) if r["outcome"] == "archived"]
        if len(ids) != self.scenario.entries:
            tail = done.stderr.strip().splitlines()[-1:] or [""]
            raise RuntimeError(
                f"set-up archived {len(ids)} entries, not {self.scenario.entries} (exit {done.returncode}: "
                f"{tail[0][:300]})"
            )
        return ids

    def run(self, setting: Setting) -> Run:
        """One fresh simulator and bucket: archive, then measure replace_video over what was archived."""
        n, seed = self.catalog
        sc = self.scenario
        options = SimOptions(entries=n, seed=seed, size_mb=sc.size_mb, api_latency_ms=sc.api_latency_ms)
        self.s3.reset()
        bucket = "bench-replace"
        self.s3.create_bucket(bucket)
        with SimProcess(options, start_timeout_s=300) as sim, tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            ids = self.archive(sim, bucket)
            setup_s = time.perf_counter() - started
            idfile = Path(tmp, "archived.txt")
            idfile.write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
            overrides = dict(setting.overrides)
            env = self.env(sim, bucket, {**write_placeholders(Path(tmp)), **overrides})
            sim.control.set_faults({"conversion": {"delay_s": sc.delay_s}})
            sim.control.reset_counters()
            argv = [*cli_path(), "replace_video", "--execute", "--idfile", str(idfile), "--format", "jsonl"]
            t0 = time.time()
            m = measure(argv, env=env, timeout_s=RUN_TIMEOUT_S, stderr_limit=None)
            counters = sim.control.counters()
            mine = set(ids)
            tagged = sum(e["id"] in mine and REPLACED_TAG in e["tags"] for e in sim.control.get_entries())
        outcomes = Counter(str(r["outcome"]) for r in report_rows(m.stdout))
        events = timeline(m.stderr_tail.splitlines(), t0)
        finished = events.finished
        notes = []
        if m.timed_out:
            notes.append(f"killed after {RUN_TIMEOUT_S:.0f} s")
        elif m.exit_code != 0:
            notes.append(f"exit {m.exit_code}")
        if set(outcomes) - {"replaced"}:
            notes.append("outcomes " + ", ".join(f"{k}={v}" for k, v in sorted(outcomes.items())))
        if tagged != outcomes["replaced"]:
            notes.append(f"{tagged} entries tagged {REPLACED_TAG} in the simulator")
        client = finished.get("kaltura_requests")
        if client is not None and int(client) != int(counters["requests"]):
            notes.append(f"the client counted {client} requests")
        polls = finished.get("waiter_polls")
        return Run(
            label=setting.label,
            entries=len(ids),
            delay_s=sc.delay_s,
            rps_setting=float(overrides.get("ARCHIVER_KALTURA_RPS", default_setting("ARCHIVER_KALTURA_RPS"))),
            poll_s=float(overrides.get("ARCHIVER_READY_POLL", default_setting("ARCHIVER_READY_POLL"))),
            wall_s=m.wall_s,
            cpu_s=m.cpu_s,
            peak_rss_mb=m.max_rss_mib * MIB_MB,
            replaced=outcomes["replaced"],
            outcomes=dict(outcomes),
            kaltura_requests=int(counters["requests"]),
            peak_rps=int(counters["peak_rps"]),
            calls=dict(counters["calls"]),
            waiter_polls=None if polls is None else int(polls),
            client_requests=None if client is None else int(client),
            uploads_s=events.uploads_s,
            lateness_s=events.lateness_s(sc.delay_s),
            setup_s=setup_s,
            diagnostic=setting.diagnostic,
            note="; ".join(notes),
        )

    def add(self, run: Run) -> None:
        self.runs.append(run)
        print(format_row(run), flush=True)
        print(f"{'':>4}calls per replaced entry: {format_calls(run)}", flush=True)
        if run.note:
            print(f"{'':>4}note: {run.note}", flush=True)


def git_state() -> dict[str, Any]:
    """The commit measured, and the tracked files that differed from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout if done.returncode == 0 else ""

    status = git("status", "--porcelain", "--untracked-files=no").splitlines()
    return {"commit": git("rev-parse", "HEAD").strip(), "modified": [line[3:] for line in status if line]}


def meta(bench: Bench, started: float, quick: bool) -> dict[str, Any]:
    sc = bench.scenario
    n, seed = bench.catalog
    return {
        "git": git_state(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "quick": quick,
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()},
        "scenario": {
            "entries": sc.entries,
            "conversion_delay_s": sc.delay_s,
            "clock": "real seconds: the simulator's clock follows real time, nothing advances it",
            "api_latency_ms": sc.api_latency_ms,
            "original_mb": sc.size_mb,
            "catalog_entries": n,
            "catalog_seed": seed,
            "setup": f"s3copy --execute at ARCHIVER_KALTURA_RPS={SETUP_RPS} (not measured)",
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m testbed.bench.replace",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="bench-results/replace.json", help="JSON results file")
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK.entries} entries, {QUICK.delay_s:g} s conversions"
    )
    args = parser.parse_args(argv)
    scenario = QUICK if args.quick else FULL
    started = time.time()
    print(
        f"{scenario.entries} archived entries, conversion delay {scenario.delay_s:g} s (real seconds), "
        f"API latency {scenario.api_latency_ms:g} ms",
        flush=True,
    )
    with S3Server() as s3:
        bench = Bench(s3, scenario)
        print(header(), flush=True)
        for setting in scenario.runs:
            bench.add(bench.run(setting))
    print()
    print(format_table(bench.runs))
    print()
    print(format_goals([g for r in bench.runs for g in goals(r)]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = document(bench.runs, meta(bench, started, args.quick))
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
