"""Benchmark sharding (not a test): 4 shards in parallel against 1 task, on the s3copy benchmark's W1.

`python -m testbed.bench.shards --out FILE [--quick] [--rounds R]` prints a table and writes the figures as
JSON (default `bench-results/shards.json`). W1 (`testbed.bench.workloads`) is latency-bound: 500 x 1 MB
behind 50 ms of API and first-byte latency. Each run starts from the same catalog and an empty bucket (tags
are put back between runs), with the selection of the s3copy benchmark (`--status 2 --tag
'!archived_to_s3'`), in rounds that interleave:

1. `one`: one task, ARCHIVER_KALTURA_RPS = the partner's budget (default: the setting's default);
2. `4 x 1/4`: 4 tasks started one after the other and run in parallel as AWS Batch array children
   (ARCHIVER_SHARDS=4, AWS_BATCH_JOB_ARRAY_INDEX, ARCHIVER_SHARD_BOUNDS from `shards 4`), each with a quarter
   of the budget: the deployment the README recommends;
3. `4 x 1`: the same with the whole budget each (four times the partner's requests/s: what splitting the
   budget avoids, shown for what it would gain).

Figures: wall time from the first start to the last exit, entries archived, combined entries/s, Kaltura
requests and peak requests/s (the simulator's counters), and each task's own wall time (the spread shows
how even the windows are in time). `shards 4` is measured once: its requests and seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from testbed.bench.s3copy import ROOT, cli_path, default_setting, git_state
from testbed.bench.workloads import QUICK, WORKLOADS, catalog_snapshot, find_catalog, restore_tags, selected
from testbed.kaltura_sim import SimOptions, SimProcess
from testbed.s3 import S3Server

SHARDS = 4
SELECTION = ("--status", "2", "--tag", "!archived_to_s3")
RUN_TIMEOUT_S = 900.0
_SCRUBBED = ("AWS_", "KALTURA_", "ARCHIVER_", "DOIT", "N_YEARS", "LDAP_", "PLACEHOLDER_")


@dataclass
class Run:
    """One run: one task or N in parallel."""

    kind: str
    round: int
    rps_each: float
    tasks: int
    wall_s: float = 0.0
    archived: int = 0
    skipped: int = 0
    failed: int = 0
    kaltura_requests: int = 0
    peak_rps: int = 0
    task_wall_s: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def entries_per_s(self) -> float:
        return self.archived / self.wall_s if self.wall_s else 0.0


class ShardBench:
    """The simulator and moto of one workload, and how to run our CLI on them."""

    def __init__(self, sim: SimProcess, s3: S3Server, budget: float) -> None:
        self.sim = sim
        self.s3 = s3
        self.budget = budget
        self.tags = {e["id"]: list(e["tags"]) for e in sim.control.get_entries()}
        self.bucket = "bench-shards"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
        env.update(self.s3.client_env())
        env.update(self.sim.client_env())
        env.update(AWS_BUCKET=self.bucket, PYTHONPATH=str(ROOT), **extra)
        return env

    def plan(self) -> tuple[str, dict[str, Any]]:
        """ARCHIVER_SHARD_BOUNDS from `shards 4`, and what computing it cost."""
        self.sim.control.reset_counters()
        started = time.monotonic()
        done = subprocess.run([*cli_path(), "shards", str(SHARDS), *SELECTION], env=self.env(),
                              capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=True)  # fmt: skip
        seconds = time.monotonic() - started
        line = next(x for x in done.stdout.splitlines() if x.startswith("#SHARD_BOUNDS"))
        bounds = line.split("\t")[1].split("=", 1)[1]
        windows = [x.split("\t") for x in done.stdout.splitlines()[1 : SHARDS + 1]]
        cost = {
            "seconds": round(seconds, 2),
            "kaltura_requests": int(self.sim.control.counters()["requests"]),
            "bounds": bounds,
            "window_entries": [int(w[3]) for w in windows],
        }
        return bounds, cost

    def run(self, kind: str, round_no: int, bounds: str) -> Run:
        """One run of `kind` (`one`, `4 x 1/4`, `4 x 1`), tags put back and the bucket emptied first."""
        restore_tags(self.sim, self.tags)
        self.s3.reset()
        self.s3.create_bucket(self.bucket)
        tasks = 1 if kind == "one" else SHARDS
        rps = self.budget / SHARDS if kind == f"{SHARDS} x 1/{SHARDS}" else self.budget
        envs = [self.env(ARCHIVER_KALTURA_RPS=f"{rps:g}")]
        if tasks > 1:
            shard = {"ARCHIVER_SHARDS": str(SHARDS), "ARCHIVER_SHARD_BOUNDS": bounds}
            envs = [
                self.env(ARCHIVER_KALTURA_RPS=f"{rps:g}", AWS_BATCH_JOB_ARRAY_INDEX=str(i), **shard)
                for i in range(tasks)
            ]
        self.sim.control.reset_counters()
        result = Run(kind, round_no, rps, tasks)
        argv = [*cli_path(), "s3copy", "--execute", *SELECTION, "--format", "jsonl"]
        started = time.monotonic()
        processes = [
            subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for env in envs
        ]

        def finish(process: subprocess.Popen[str]) -> tuple[str, str, float]:
            out, err = process.communicate(timeout=RUN_TIMEOUT_S)
            return out, err, time.monotonic() - started

        with ThreadPoolExecutor(max_workers=tasks) as pool:  # each task's own end, as it happens
            ended = list(pool.map(finish, processes))
        for process, (out, err, wall_s) in zip(processes, ended, strict=True):
            result.task_wall_s.append(round(wall_s, 2))
            _add_outcomes(result, out)
            if process.returncode != 0:
                tail = (err.strip().splitlines() or [""])[-1]
                result.notes.append(f"exit {process.returncode}: {tail[:300]}")
        result.wall_s = max(result.task_wall_s)
        counters = self.sim.control.counters()
        result.kaltura_requests, result.peak_rps = int(counters["requests"]), int(counters["peak_rps"])
        return result


def _add_outcomes(result: Run, stdout: str) -> None:
    for line in stdout.splitlines():
        if line.startswith("{"):
            outcome = json.loads(line)["outcome"]
            if outcome == "archived":
                result.archived += 1
            elif outcome == "skipped":
                result.skipped += 1
            else:
                result.failed += 1


def header() -> str:
    return (
        f"{'round':>5} {'run':<8} {'rps/task':>8} {'wall s':>7} {'archived':>8} {'entries/s':>9} "
        f"{'requests':>8} {'peak rps':>8}  task wall s"
    )


def format_run(run: Run) -> str:
    tasks = " ".join(f"{s:.1f}" for s in run.task_wall_s) if run.tasks > 1 else ""
    line = (
        f"{run.round:>5} {run.kind:<8} {run.rps_each:>8g} {run.wall_s:>7.1f} {run.archived:>8} "
        f"{run.entries_per_s:>9.2f} {run.kaltura_requests:>8} {run.peak_rps:>8}  {tasks}"
    )
    return line + "".join(f"\n{'':>5} note: {note}" for note in run.notes)


def summary(runs: Sequence[Run]) -> dict[str, dict[str, float]]:
    """Best and median combined entries/s by kind of run, and the speed-up over one task."""
    by_kind: dict[str, list[float]] = {}
    for run in runs:
        by_kind.setdefault(run.kind, []).append(run.entries_per_s)
    out = {k: {"best": max(v), "median": statistics.median(v)} for k, v in by_kind.items()}
    one = out.get("one", {}).get("best")
    for figures in out.values():
        if one:
            figures["speedup_best"] = figures["best"] / one
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.bench.shards", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--out", default="bench-results/shards.json", help="JSON results file")
    parser.add_argument("--quick", action="store_true", help="W1's quick shape: 60 entries, one round")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of the three runs (default 2)")
    parser.add_argument("--rps", type=float, default=None, help="the partner's request budget (requests/s)")
    args = parser.parse_args(argv)
    workload = (QUICK if args.quick else WORKLOADS)["W1"]
    rounds = args.rounds or (1 if args.quick else 2)
    budget = args.rps or float(default_setting("kaltura_rps"))
    n, seed = find_catalog(workload)
    options = SimOptions(
        entries=n,
        seed=seed,
        size_mb=workload.size_mb,
        api_latency_ms=workload.api_latency_ms,
        download_first_byte_ms=workload.first_byte_ms,
    )
    started = time.time()
    git = git_state()
    runs: list[Run] = []
    kinds = ("one", f"{SHARDS} x 1/{SHARDS}", f"{SHARDS} x 1")
    with S3Server(check_signing=False) as s3, SimProcess(options, start_timeout_s=300) as sim:
        bench = ShardBench(sim, s3, budget)
        bounds, plan = bench.plan()
        print(f"{workload.title}: {len(selected(catalog_snapshot(n, seed, workload.size_mb)))} selected; "
              f"budget {budget:g} requests/s", flush=True)  # fmt: skip
        print(f"shards {SHARDS}: {plan['kaltura_requests']} Kaltura requests, {plan['seconds']} s, "
              f"windows of {plan['window_entries']} entries", flush=True)  # fmt: skip
        print(header(), flush=True)
        for round_no in range(1, rounds + 1):
            shift = (round_no - 1) % len(kinds)  # no kind always runs first on a warm or cold machine
            for kind in kinds[shift:] + kinds[:shift]:
                run = bench.run(kind, round_no, bounds)
                runs.append(run)
                print(format_run(run), flush=True)
    figures = summary(runs)
    for kind, values in figures.items():
        speedup = values.get("speedup_best")
        versus = "" if speedup is None else f", x{speedup:.2f} one task's best"
        print(f"{kind:<8} best {values['best']:.2f} entries/s, median {values['median']:.2f}{versus}")
    doc = {
        "meta": {
            "git": git,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "seconds": round(time.time() - started, 1),
            "host": {"cpus": os.cpu_count(), "load_1m": os.getloadavg()[0]},
            "workload": {"title": workload.title, "catalog_entries": n, "seed": seed},
            "budget_rps": budget,
            "shards_plan": plan,
        },
        "runs": [{**asdict(r), "entries_per_s": round(r.entries_per_s, 3)} for r in runs],
        "summary": _rounded(figures),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"written to {out}")
    return 0


def _rounded(figures: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    return {k: {name: round(v, 3) for name, v in values.items()} for k, values in figures.items()}


if __name__ == "__main__":
    sys.exit(main())
