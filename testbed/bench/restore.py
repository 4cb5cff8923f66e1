"""Benchmark `kaltura-archiver restore_from_s3` beside `s3copy` on the same entries (not a test): MB/s,
Kaltura requests per entry by action, CPU seconds, peak RSS.

`python -m testbed.bench.restore --out FILE [--quick]` prints a table and its checks, and writes the figures
as JSON (default `bench-results/restore.json`). One simulator (every original `size_mb`, no API latency,
downloads uncapped, conversions done at once: `POST /__sim/faults {"conversion": {"delay_s": 0}}`, so
Kaltura's conversion is not what is measured) and one moto, the objects kept in STANDARD:

1. measured: `kaltura-archiver s3copy --execute --idfile IDS` over the scenario's entries (the catalog is
   chosen so that exactly that many are archivable; `testbed.bench.workloads`);
2. set-up, not measured: `replace_video --execute --idfile IDS` (the placeholder files of
   `testbed.placeholders`; at ARCHIVER_KALTURA_RPS=1000) puts the placeholder in place of every original;
3. measured: `restore_from_s3 --execute --idfile IDS` brings every original back from S3;
4. (not with --quick) steps 2 and 3 again for each diagnostic setting: what the request budget and the
   chunk size cost.

Each measured run is one child process (`testbed.bench.measure`) with the default settings unless the row
says otherwise: ARCHIVER_KALTURA_RPS 10, ARCHIVER_TRANSFERS 16, ARCHIVER_PART_SIZE 8MiB (s3copy's part,
restore_from_s3's upload chunk). Figures: wall time, MB/s (the bytes archived, or brought back into Kaltura),
the simulator's counters (HTTP requests, calls by action, busiest second, bytes it served: s3copy's downloads,
restore_from_s3's proof downloads), the client's S3 requests (`run.finished`), the CPU moto and the
simulator spent meanwhile. The testbed cannot count S3 GET bytes (moto's sockets are not accounted per
process): the S3 requests and the log's resumed reads (`s3.read_resumed`, none means every object was read
once, so the bytes read are the bytes brought back) stand for them.
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

from engine.settings import byte_size
from jobs.common.settings import SETTINGS
from testbed.bench.measure import Measured, measure, process_cpu_s
from testbed.bench.replace_report import timeline
from testbed.bench.restore_report import (
    MB,
    READ_RESUMED,
    RESTORE,
    S3COPY,
    Run,
    checks,
    count_events,
    details,
    document,
    format_checks,
    format_row,
    format_table,
    header,
    upload_calls,
)
from testbed.bench.workloads import (
    ARCHIVED_TAG,
    REPLACED_TAG,
    Workload,
    catalog_snapshot,
    find_catalog,
    first_archivable,
    selected,
)
from testbed.kaltura_sim import SimOptions, SimProcess
from testbed.placeholders import write_placeholders
from testbed.s3 import S3Server

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S: Final = 1800.0
SETUP: Final = {"ARCHIVER_KALTURA_RPS": "1000", "ARCHIVER_READY_POLL": "1"}  # replace_video: not measured
MIB_MB: Final = 1.048576
BUCKET: Final = "bench-restore"
# the caller's settings must not leak into the runs: everything they need is set explicitly
_SCRUBBED = ("AWS_", "KALTURA_", "ARCHIVER_", "DOIT", "N_YEARS", "LDAP_", "PLACEHOLDER_")


@dataclass(frozen=True)
class Setting:
    """One restore_from_s3 run's ARCHIVER_* overrides, and whether the row is a diagnostic."""

    overrides: tuple[tuple[str, str], ...] = ()
    diagnostic: bool = False

    @property
    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.overrides) or "defaults"


@dataclass(frozen=True)
class Scenario:
    """How many entries of what size, and the restore_from_s3 runs after the one s3copy run."""

    entries: int
    size_mb: float
    restores: tuple[Setting, ...]


UNPACED = Setting((("ARCHIVER_KALTURA_RPS", "1000"),), diagnostic=True)
ONE_CHUNK = Setting((("ARCHIVER_PART_SIZE", "32MiB"),), diagnostic=True)
FULL: Final = Scenario(100, 20.0, (Setting(), UNPACED, ONE_CHUNK))
QUICK: Final = Scenario(10, 20.0, (Setting(),))


def default_setting(env: str) -> str:
    return next(str(s.default) for s in SETTINGS if s.env == env)


def setting_of(overrides: Mapping[str, str], env: str) -> str:
    return overrides.get(env, default_setting(env))


def cli_path() -> list[str]:
    """Our CLI as installed in this environment (the console script), else `python -m jobs.cli`."""
    script = Path(sys.executable).with_name("kaltura-archiver")
    return [str(script)] if script.exists() else [sys.executable, "-m", "jobs.cli"]


def report_rows(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def last_line(text: str) -> str:
    tail = text.strip().splitlines()[-1:] or [""]
    return tail[0][:300]


class Bench:
    """The servers, the entries, the runs so far."""

    def __init__(self, s3: S3Server, sim: SimProcess, ids: list[str], scenario: Scenario, tmp: Path) -> None:
        self.s3 = s3
        self.sim = sim
        self.ids = ids
        self.scenario = scenario
        self.runs: list[Run] = []
        self.idfile = tmp / "ids.txt"
        self.idfile.write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
        self.placeholders = write_placeholders(tmp)
        self.cpus = os.cpu_count() or 1

    def env(self, extra: Mapping[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
        env.update(self.s3.client_env())
        env.update(self.sim.client_env())
        env.update(PYTHONPATH=str(ROOT), AWS_BUCKET=BUCKET, **self.placeholders)
        env.update(extra)
        return env

    def argv(self, job: str) -> list[str]:
        return [*cli_path(), job, "--execute", "--idfile", str(self.idfile), "--format", "jsonl"]

    def measured(
        self, job: str, overrides: Mapping[str, str]
    ) -> tuple[Measured, dict[str, Any], float, float]:
        """One measured run: its figures, the simulator's counters, the CPU moto and the simulator spent."""
        self.sim.control.reset_counters()
        before = (process_cpu_s(self.s3.pid), process_cpu_s(self.sim.pid))
        m = measure(self.argv(job), env=self.env(overrides), timeout_s=RUN_TIMEOUT_S, stderr_limit=None)
        after = (process_cpu_s(self.s3.pid), process_cpu_s(self.sim.pid))
        return m, self.sim.control.counters(), after[0] - before[0], after[1] - before[1]

    def run(self, job: str, setting: Setting, setup_s: float = 0.0) -> Run:
        overrides = dict(setting.overrides)
        t0 = time.time()
        m, counters, moto_cpu, sim_cpu = self.measured(job, overrides)
        rows = report_rows(m.stdout)
        outcomes = Counter(str(r["outcome"]) for r in rows)
        word = "archived" if job == S3COPY else "restored"
        sizes = [int(r["bytes"]) for r in rows if r["outcome"] == word]
        log = m.stderr_tail.splitlines()
        events = timeline(log, t0)
        notes = self.notes(m, outcomes, word, job)
        client = events.finished.get("kaltura_requests")
        if client is not None and int(client) != int(counters["requests"]):
            notes.append(f"the client counted {client} Kaltura requests")
        s3_requests = events.finished.get("s3_requests")
        return Run(
            job=job,
            label=setting.label,
            entries=len(self.ids),
            done=outcomes[word],
            bytes=sum(sizes),
            wall_s=m.wall_s,
            cpu_s=m.cpu_s,
            peak_rss_mb=m.max_rss_mib * MIB_MB,
            rps_setting=float(setting_of(overrides, "ARCHIVER_KALTURA_RPS")),
            kaltura_requests=int(counters["requests"]),
            peak_rps=int(counters["peak_rps"]),
            calls=dict(counters["calls"]),
            outcomes=dict(outcomes),
            chunk_bytes=byte_size(setting_of(overrides, "ARCHIVER_PART_SIZE")),
            entry_bytes=tuple(sizes),
            served_bytes=int(counters["bytes_served"]),
            s3_requests=None if s3_requests is None else int(s3_requests),
            s3_read_resumes=count_events(log, READ_RESUMED),
            uploads_s=events.uploads_s if job == RESTORE else None,
            moto_cpu_s=moto_cpu,
            sim_cpu_s=sim_cpu,
            setup_s=setup_s,
            diagnostic=setting.diagnostic,
            note="; ".join(notes),
        )

    def notes(self, m: Measured, outcomes: Mapping[str, int], word: str, job: str) -> list[str]:
        notes = []
        if m.timed_out:
            notes.append(f"killed after {RUN_TIMEOUT_S:.0f} s")
        elif m.exit_code != 0:
            notes.append(f"exit {m.exit_code}: {last_line(m.stderr_tail)}")
        if set(outcomes) - {word}:
            notes.append("outcomes " + ", ".join(f"{k}={v}" for k, v in sorted(outcomes.items())))
        if job == RESTORE:
            mine = set(self.ids)
            left = [
                e["id"]
                for e in self.sim.control.get_entries()
                if e["id"] in mine and (REPLACED_TAG in e["tags"] or ARCHIVED_TAG not in e["tags"])
            ]
            if left:
                notes.append(f"{len(left)} entries not back to {ARCHIVED_TAG} without {REPLACED_TAG}")
        return notes

    def replace_all(self) -> float:
        """Set-up: the placeholder in place of every original (replace_video); its wall time."""
        started = time.perf_counter()
        done = subprocess.run(
            self.argv("replace_video"),
            env=self.env(SETUP),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )
        replaced = sum(r["outcome"] == "replaced" for r in report_rows(done.stdout))
        if replaced != len(self.ids):
            raise RuntimeError(
                f"set-up replaced {replaced} entries, not {len(self.ids)} (exit {done.returncode}: "
                f"{last_line(done.stderr)})"
            )
        return time.perf_counter() - started

    def add(self, run: Run) -> None:
        self.runs.append(run)
        print(format_row(run), flush=True)
        print("\n".join(details(run, self.cpus)), flush=True)


def peak_rss_mb(pid: int | None) -> float | None:
    """A live process's peak resident set (VmHWM), MB; None when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) * 1024 / MB, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def git_state() -> dict[str, Any]:
    """The commit measured, and the tracked files that differed from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout if done.returncode == 0 else ""

    status = git("status", "--porcelain", "--untracked-files=no").splitlines()
    return {"commit": git("rev-parse", "HEAD").strip(), "modified": [line[3:] for line in status if line]}


def meta(scenario: Scenario, catalog: tuple[int, int], started: float, quick: bool) -> dict[str, Any]:
    n, seed = catalog
    chunk = byte_size(default_setting("ARCHIVER_PART_SIZE"))
    size = int(scenario.size_mb * MB)
    return {
        "git": git_state(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "quick": quick,
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()},
        "settings": {
            env: default_setting(env)
            for env in (
                "ARCHIVER_KALTURA_RPS",
                "ARCHIVER_TRANSFERS",
                "ARCHIVER_PART_SIZE",
                "ARCHIVER_MEMORY_BUDGET",
            )
        },
        "scenario": {
            "entries": scenario.entries,
            "original_mb": scenario.size_mb,
            "storage_class": "STANDARD",
            "conversion_delay_s": 0,
            "api_latency_ms": 0,
            "download_mbps": "uncapped",
            "catalog_entries": n,
            "catalog_seed": seed,
            "setup": "replace_video --execute at " + " ".join(f"{k}={v}" for k, v in SETUP.items()),
            "upload_calls_per_entry_model": upload_calls(size, chunk),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m testbed.bench.restore",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="bench-results/restore.json", help="JSON results file")
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK.entries} entries, the default settings only"
    )
    args = parser.parse_args(argv)
    scenario = QUICK if args.quick else FULL
    started = time.time()
    workload = Workload(
        "restore", f"{scenario.entries} x {scenario.size_mb:g} MB", scenario.entries, scenario.size_mb
    )
    catalog = find_catalog(workload)
    n, seed = catalog
    _, ids = first_archivable(selected(catalog_snapshot(n, seed, scenario.size_mb)), None)
    print(
        f"{len(ids)} entries x {scenario.size_mb:g} MB, STANDARD; conversions done at once (delay 0: not "
        "measured), no API latency, downloads uncapped",
        flush=True,
    )
    options = SimOptions(entries=n, seed=seed, size_mb=scenario.size_mb)
    with (
        S3Server() as s3,
        SimProcess(options, start_timeout_s=300) as sim,
        tempfile.TemporaryDirectory(prefix="bench-restore-") as tmp,
    ):
        s3.create_bucket(BUCKET)
        sim.control.set_faults({"conversion": {"delay_s": 0}})
        bench = Bench(s3, sim, ids, scenario, Path(tmp))
        print(header(), flush=True)
        bench.add(bench.run(S3COPY, Setting()))
        for setting in scenario.restores:
            setup_s = bench.replace_all()
            bench.add(bench.run(RESTORE, setting, setup_s))
        servers = {"moto_peak_rss_mb": peak_rss_mb(s3.pid), "sim_peak_rss_mb": peak_rss_mb(sim.pid)}
    print()
    print(format_table(bench.runs, bench.cpus))
    moto_mb, sim_mb = servers["moto_peak_rss_mb"], servers["sim_peak_rss_mb"]
    print(f"servers' peak RSS: moto {moto_mb} MB, simulator {sim_mb} MB")
    print()
    doc = document(bench.runs, {**meta(scenario, catalog, started, args.quick), "servers": servers})
    print(format_checks(checks(bench.runs)))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
