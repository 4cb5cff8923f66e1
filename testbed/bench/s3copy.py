"""Benchmark `kaltura-archiver s3copy` against the old algorithm, rclone and aws-cli (not a test).

`python -m testbed.bench.s3copy --out FILE [--workload W1,W2,W3,W2S,W4,W3S] [--quick]` prints a table and the
issue's targets, and writes the figures as JSON (default `bench-results/s3copy.json`). Every workload
(`testbed.bench.workloads`) gets its own simulator (the latency knobs are per process). The S3 store is the
workload's: moto (W1, W2, W3), or the benchmark-only sink (`testbed.s3_sink`: checks signatures and
checksums, discards the bytes; W2S, W4, W3S), each started once, and only when a selected workload needs it.
In each workload, one after the other, each run starting from the same catalog and an empty bucket:

1. our CLI, as a user runs it: `kaltura-archiver s3copy --execute --status 2 --tag '!archived_to_s3'` with
   default settings (environment: KALTURA_*, AWS_BUCKET and moto's standard AWS variables);
2. the old tool's algorithm, one entry at a time (`testbed.bench.sequential`), on `baseline_entries`;
3. where installed, rclone and aws-cli on the same entries' flavor URLs (`testbed.bench.anchors`), with our
   default number of transfers as parallel processes (at most one per entry), then one at a time;
4. where the workload asks for it (W4), curl downloading the same URLs to /dev/null at once: the ceiling.

Each run is a child process measured from outside (`testbed.bench.measure`): wall time, CPU seconds, peak RSS.
The simulator's counters give Kaltura HTTP requests (the delta of `requests`) and peak requests/s. Bytes
are what the bucket holds afterwards (curl's: what it downloaded). Between runs, tags are put back as they
were and the store is reset. The `moto_cpu_s` column is the CPU of the workload's store: the sink's on W2S,
W4 and W3S. On the sink, `xfer MB/s` is the transfer alone: bytes over the time from the simulator's first
download to the sink's last object stored (without start-up, listing and the closing checks: `fixed s`).
Before the workloads, `testbed.bench.floors` measures our start-up CPU and the proof's hashing per GB on this
machine: the report splits our CPU per GB into them and the transfer.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Protocol

import boto3  # type: ignore[import-untyped]  # no stubs installed; only the client calls are used

from engine.settings import byte_size
from jobs.common.settings import SETTINGS
from testbed.bench import anchors
from testbed.bench.floors import measure_floors
from testbed.bench.measure import Measured, measure, process_cpu_s
from testbed.bench.report import OURS, SEQUENTIAL, Row, document, format_report, format_row, header
from testbed.bench.workloads import (
    QUICK,
    WORKLOADS,
    Workload,
    catalog_snapshot,
    find_catalog,
    first_archivable,
    flavor_urls,
    restore_tags,
    selected,
)
from testbed.kaltura_sim import SimOptions, SimProcess
from testbed.s3 import S3Server
from testbed.s3_sink import SinkServer

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 900.0
# the caller's settings must not leak into the runs: everything they need is set explicitly
# (and our modules are compiled once and cached, as an installed package's are, whatever the caller's Python
# is told: compiling them again in every run is not the program's cost)
_SCRUBBED = (
    "AWS_", "KALTURA_", "ARCHIVER_", "DOIT", "N_YEARS", "LDAP_", "PLACEHOLDER_", "PYTHONDONTWRITEBYTECODE",
)  # fmt: skip
MIB_MB: Final = 1.048576  # MiB to MB
ANCHOR_LABELS = {"rclone": "rclone", "aws": "aws-cli", anchors.CEILING: "curl"}
TOOL_CHOICES = ("ours", "sequential", *anchors.TOOLS, anchors.CEILING)
CEILING_NOTE: Final = "download only, to /dev/null: the loopback ceiling"


def default_setting(name: str) -> str:
    return next(str(s.default) for s in SETTINGS if s.name == name)


def cli_path() -> list[str]:
    """Our CLI as installed in this environment (the console script), else `python -m jobs.cli`."""
    script = Path(sys.executable).with_name("kaltura-archiver")
    return [str(script)] if script.exists() else [sys.executable, "-m", "jobs.cli"]


class Store(Protocol):
    """An S3 stand-in the runs upload to: `testbed.s3.S3Server` (moto) or `testbed.s3_sink.SinkServer`."""

    @property
    def endpoint_url(self) -> str: ...
    @property
    def pid(self) -> int | None: ...
    def client_env(self) -> dict[str, str]: ...
    def client_kwargs(self) -> dict[str, Any]: ...
    def reset(self) -> None: ...
    def create_bucket(self, bucket: str) -> None: ...


@dataclass(frozen=True)
class Backdrop:
    """What went on around one run: the CPU the servers spent, the machine's load."""

    moto: float  # the workload's S3 store: moto, or the sink
    sim: float
    load_1m: float  # the machine's load average when the run ended


class Bench:
    """One benchmark run: the S3 stores by name ("moto", "sink"), the rows so far, notes."""

    def __init__(
        self,
        stores: Mapping[str, Store],
        *,
        overrides: Mapping[str, str],
        only: Sequence[str],
        variants: bool = True,
    ) -> None:
        self.stores = dict(stores)
        self.s3: Store = next(iter(self.stores.values()))  # the current workload's store
        self.overrides = dict(overrides)
        self.only = set(only)
        self.variants = variants
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.catalogs: dict[str, Any] = {}
        self.transfers = int(self.overrides.get("ARCHIVER_TRANSFERS", default_setting("transfers")))
        self.rps = float(self.overrides.get("ARCHIVER_KALTURA_RPS", default_setting("kaltura_rps")))
        part = self.overrides.get("ARCHIVER_PART_SIZE", default_setting("part_size"))
        self.rclone_parts = f"{byte_size(part) // (1 << 20)}M"  # rclone's M is MiB
        self.tools = [t for t in anchors.TOOLS if anchors.tool_path(t) is not None]
        self.ceiling = anchors.tool_path(anchors.CEILING) is not None and anchors.CEILING in self.only
        for tool in anchors.TOOLS:
            if tool not in self.tools:
                self.notes.append(f"{ANCHOR_LABELS[tool]} not installed: its anchor rows are skipped")

    # -- environment ---------------------------------------------------------------------------------

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
        env.update(self.s3.client_env())
        env["PYTHONPATH"] = str(ROOT)
        return env

    def user_env(self, sim: SimProcess, bucket: str) -> dict[str, str]:
        return {
            **self.base_env(),
            **sim.client_env(),
            "AWS_BUCKET": bucket,
            **self.overrides,
        }

    def fresh_bucket(self, name: str) -> str:
        self.s3.reset()  # the store holds every object (moto: in memory): start each run empty
        self.s3.create_bucket(name)
        return name

    def bucket_bytes(self, bucket: str) -> tuple[int, int]:
        """(objects, bytes) in `bucket`."""
        client = boto3.client("s3", **self.s3.client_kwargs())
        objects = total = 0
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                objects += 1
                total += int(item["Size"])
        return objects, total

    # -- one workload --------------------------------------------------------------------------------

    def run_workload(self, workload: Workload) -> None:
        self.s3 = self.stores[workload.store]
        n, seed = find_catalog(workload)
        options = SimOptions(
            entries=n,
            seed=seed,
            size_mb=workload.size_mb,
            api_latency_ms=workload.api_latency_ms,
            download_first_byte_ms=workload.first_byte_ms,
            download_mbps=workload.download_mbps,
        )
        with SimProcess(options, start_timeout_s=300) as sim:
            selection = selected(catalog_snapshot(n, seed, workload.size_mb))
            _, all_ids = first_archivable(selection, None)
            tags = {e["id"]: list(e["tags"]) for e in sim.control.get_entries()}
            self.catalogs[workload.name] = {
                "title": workload.title,
                "catalog_entries": n,
                "seed": seed,
                "selected": len(selection),
                "archivable": len(all_ids),
                "size_mb": workload.size_mb,
            }
            self.run_rows(workload, sim, selection, tags)

    def run_rows(
        self,
        workload: Workload,
        sim: SimProcess,
        selection: Sequence[Mapping[str, Any]],
        tags: Mapping[str, list[str]],
    ) -> None:
        """Every run of one workload: `rounds` interleaved rounds of the concurrent runs (ours, the anchors
        at our transfers) and of the sequential algorithm (its first `sequential_rounds`), each round
        starting with the next of them, then our variants and the anchors one at a time."""
        tools = [t for t in self.tools if t in self.only]
        ceiling = self.ceiling and workload.curl_ceiling
        anchor_ids = set(first_archivable(selection, workload.anchor_entries)[1])
        wanted = tools or ceiling
        urls = flavor_urls(sim, [e for e in selection if e["id"] in anchor_ids]) if wanted else []
        parallel = min(self.transfers, len(urls)) if len(urls) > 1 else 1
        baseline_m, _ = first_archivable(selection, workload.baseline_entries)
        for round_no in range(1, workload.rounds + 1):
            runs: list[Callable[[], Row]] = []
            if "ours" in self.only:
                runs.append(lambda: restoring(sim, tags, lambda: self.run_ours(workload, sim)))
            for tool in tools:
                if round_no == 1 or tool == "rclone":  # aws-cli is never the best anchor: once is enough
                    runs.append(functools.partial(self.run_anchor, workload, sim, tool, urls, parallel))
            if "rclone" in tools and workload.rclone_multipart:
                multipart = functools.partial(self.run_anchor, workload, sim, "rclone", urls, parallel)
                runs.append(functools.partial(multipart, self.rclone_parts))
            if ceiling:
                runs.append(
                    functools.partial(self.run_anchor, workload, sim, anchors.CEILING, urls, parallel)
                )
            if "sequential" in self.only and round_no <= workload.sequential_rounds:
                runs.append(
                    lambda: restoring(sim, tags, lambda: self.run_sequential(workload, sim, baseline_m))
                )
            # each round starts with the next tool: the first run after the servers start pays for their
            # warm-up (moto's first gigabytes of memory), so no tool always goes first
            shift = (round_no - 1) % len(runs) if runs else 0
            for run in runs[shift:] + runs[:shift]:
                self.add(run(), round_no)
        if "ours" in self.only:
            for variant in workload.variants if self.variants else ():
                self.add(
                    restoring(sim, tags, functools.partial(self.run_ours, workload, sim, variant=variant))
                )
        if parallel > 1:
            one_by_one = urls[: workload.anchor_sequential_entries]
            for tool in tools:
                self.add(self.run_anchor(workload, sim, tool, one_by_one, 1))

    def measure_plain(self, argv: Sequence[str]) -> Measured:
        """`argv` measured as our runs are, in the same environment but for a simulator and a bucket."""
        return measure(argv, env=self.base_env(), timeout_s=RUN_TIMEOUT_S)

    def measured(
        self, argv: Sequence[str], env: Mapping[str, str], sim: SimProcess, *, sample_tree: bool = False
    ) -> tuple[Measured, Backdrop]:
        """`measure` the command, and the CPU seconds moto and the simulator spent meanwhile."""
        before = (process_cpu_s(self.s3.pid), process_cpu_s(sim.pid))
        m = measure(argv, env=env, timeout_s=RUN_TIMEOUT_S, sample_tree=sample_tree)
        after = (process_cpu_s(self.s3.pid), process_cpu_s(sim.pid))
        return m, Backdrop(moto=after[0] - before[0], sim=after[1] - before[1], load_1m=os.getloadavg()[0])

    def add(self, row: Row, round_no: int = 1) -> None:
        row = replace(row, round=round_no) if round_no != 1 else row
        self.rows.append(row)
        print(format_row(row), flush=True)
        if row.notes:
            print(f"{'':>5}note: {row.notes}", flush=True)

    def run_ours(self, workload: Workload, sim: SimProcess, variant: str = "") -> Row:
        """Our CLI on the workload; `variant` ("NAME=VALUE ...") overrides settings for a diagnostic row."""
        bucket = self.fresh_bucket(f"bench-{workload.name.lower()}-ours")
        extra = dict(item.split("=", 1) for item in variant.split())
        argv = [
            *cli_path(),
            "s3copy",
            "--execute",
            "--status",
            "2",
            "--tag",
            "!archived_to_s3",
            "--format",
            "jsonl",
        ]
        sim.control.reset_counters()
        m, servers = self.measured(argv, {**self.user_env(sim, bucket), **extra}, sim)
        counters = sim.control.counters()
        transfer_s = self.transfer_span(counters, bucket)
        outcomes: Counter[str] = Counter()
        report_bytes = 0
        for line in m.stdout.splitlines():
            if line.startswith("{"):
                row = json.loads(line)
                outcomes[row["outcome"]] += 1
                report_bytes += int(row["bytes"]) if row["outcome"] == "archived" else 0
        objects, stored = self.bucket_bytes(bucket)
        notes = _run_notes(m, "kaltura-archiver")
        if objects != outcomes["archived"] or stored != report_bytes:
            notes.append(
                f"bucket holds {objects} objects / {stored} B, report says {outcomes['archived']} / "
                f"{report_bytes} B"
            )
        if set(outcomes) - {"archived", "skipped"}:
            notes.append("outcomes " + ", ".join(f"{k}={v}" for k, v in sorted(outcomes.items())))
        return Row(
            **measured_fields(m, servers, notes),
            workload=workload.name,
            tool=OURS,
            concurrency=self.transfers,
            archived=outcomes["archived"],
            skipped=outcomes["skipped"],
            failed=outcomes["failed"] + outcomes["conflict"],
            bytes=stored,
            kaltura_requests=int(counters["requests"]),
            peak_rps=int(counters["peak_rps"]),
            rps_setting=float(extra.get("ARCHIVER_KALTURA_RPS", self.rps)),
            calls=counters["calls"],
            variant=variant,
            transfer_s=transfer_s,
        )

    def run_sequential(self, workload: Workload, sim: SimProcess, max_entries: int) -> Row:
        bucket = self.fresh_bucket(f"bench-{workload.name.lower()}-seq")
        with tempfile.TemporaryDirectory(prefix="bench-seq-") as tmp:
            argv = [
                sys.executable,
                "-m",
                "testbed.bench.sequential",
                "--max-entries",
                str(max_entries),
                "--tmp",
                tmp,
            ]
            sim.control.reset_counters()
            m, servers = self.measured(argv, self.user_env(sim, bucket), sim)
        counters = sim.control.counters()
        result = _last_json(m.stdout)
        _, stored = self.bucket_bytes(bucket)
        notes = _run_notes(m, "sequential")
        if result.get("errors"):
            notes.append("first error: " + str(result["errors"][0]))
        return Row(
            **measured_fields(m, servers, notes),
            workload=workload.name,
            tool=SEQUENTIAL,
            concurrency=1,
            archived=int(result.get("archived", 0)),
            skipped=int(result.get("skipped", 0)),
            failed=int(result.get("failed", 0)),
            bytes=stored,
            kaltura_requests=int(counters["requests"]),
            peak_rps=int(counters["peak_rps"]),
            calls=counters["calls"],
        )

    def run_anchor(
        self,
        workload: Workload,
        sim: SimProcess,
        tool: str,
        urls: Sequence[tuple[str, str]],
        jobs: int,
        rclone_parts: str | None = None,
    ) -> Row:
        bucket = self.fresh_bucket(f"bench-{workload.name.lower()}-{tool}")
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as tasks:
            tasks.write("".join(json.dumps({"url": u, "key": k}) + "\n" for k, u in urls))
        try:
            argv = [
                sys.executable,
                "-m",
                "testbed.bench.anchors",
                "--tool",
                tool,
                "--jobs",
                str(jobs),
                "--tasks",
                tasks.name,
                "--endpoint",
                self.s3.endpoint_url,
                "--bucket",
                bucket,
                *([] if rclone_parts is None else ["--rclone-parts", rclone_parts]),
            ]
            sim.control.reset_counters()
            m, servers = self.measured(argv, self.base_env(), sim, sample_tree=True)
        finally:
            os.unlink(tasks.name)
        transfer_s = self.transfer_span(sim.control.counters(), bucket)
        result = _last_json(m.stdout)
        objects, stored = self.bucket_bytes(bucket)
        notes = _run_notes(m, tool)
        if result.get("errors"):
            notes.append("first error: " + str(result["errors"][0]))
        if tool == anchors.CEILING:  # nothing uploaded: count what was downloaded
            objects, stored = int(result.get("ok", 0)), int(result.get("bytes", 0))
            notes.insert(0, CEILING_NOTE)
        return Row(
            **measured_fields(m, servers, notes),
            workload=workload.name,
            tool=ANCHOR_LABELS[tool],
            concurrency=jobs,
            archived=objects,
            skipped=0,
            failed=int(result.get("failed", len(urls) - objects)),
            bytes=stored,
            tree_rss_mb=None if m.tree_rss_mib is None else m.tree_rss_mib * MIB_MB,
            variant="" if rclone_parts is None else f"multipart, {rclone_parts}iB parts",
            transfer_s=transfer_s,
        )

    def transfer_span(self, counters: Mapping[str, Any], bucket: str) -> float | None:
        """Seconds from the source's first download to the store's last object written: the transfer
        without start-up, listing and the end's checks and tags. Only the sink knows when it stored an object
        (None on moto, and for a run that stored nothing)."""
        if not isinstance(self.s3, SinkServer):
            return None
        start, end = counters.get("first_download_at"), self.s3.last_written(bucket)
        if start is None or end is None or end <= start:
            return None
        return float(end) - float(start)


def measured_fields(m: Measured, servers: Backdrop, notes: Sequence[str]) -> dict[str, Any]:
    """The `Row` fields every run has: what it cost, what the servers spent meanwhile, its notes."""
    return {
        "wall_s": m.wall_s,
        "cpu_s": m.cpu_s,
        "peak_rss_mb": m.max_rss_mib * MIB_MB,
        "moto_cpu_s": servers.moto,
        "sim_cpu_s": servers.sim,
        "load_1m": servers.load_1m,
        "note": "; ".join(notes),
    }


def restoring(sim: SimProcess, tags: Mapping[str, list[str]], run: Callable[[], Row]) -> Row:
    """`run()`, then every entry's tags put back as they were (a run of ours or the old algorithm tags)."""
    row = run()
    restore_tags(sim, tags)
    return row


def _last_json(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            doc: dict[str, Any] = json.loads(line)
            return doc
    return {}


def _run_notes(m: Measured, name: str) -> list[str]:
    if m.timed_out:
        return [f"{name} killed after {RUN_TIMEOUT_S:.0f} s"]
    if m.exit_code != 0:
        tail = m.stderr_tail.strip().splitlines()[-1:] or [""]
        return [f"{name} exited {m.exit_code}: {tail[0][:300]}"]
    return []


def git_state() -> dict[str, Any]:
    """The commit measured, and the tracked files that differed from it (the tree is shared while we run)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout if done.returncode == 0 else ""

    status = git("status", "--porcelain", "--untracked-files=no").splitlines()
    return {"commit": git("rev-parse", "HEAD").strip(), "modified": [line[3:] for line in status if line]}


def _meta(bench: Bench, started: float, quick: bool, git: dict[str, Any]) -> dict[str, Any]:
    return {
        "git": git,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "quick": quick,
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()},
        "settings": {
            "ARCHIVER_TRANSFERS": bench.transfers,
            "ARCHIVER_KALTURA_RPS": bench.rps,
            **bench.overrides,
        },
        "anchors": {ANCHOR_LABELS[t]: anchors.tool_version(t) for t in bench.tools},
        "workloads": bench.catalogs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m testbed.bench.s3copy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="bench-results/s3copy.json", help="JSON results file")
    parser.add_argument("--workload", default="W1,W2,W3,W2S,W4,W3S", help="workloads to run, comma-separated")
    parser.add_argument(
        "--quick", action="store_true", help="smaller workloads: a smoke run of about a minute"
    )
    parser.add_argument(
        "--tools",
        default=",".join(TOOL_CHOICES),
        help=f"what to run, comma-separated (default all: {','.join(TOOL_CHOICES)})",
    )
    parser.add_argument(
        "--no-variants", action="store_true", help="skip the diagnostic rows of our CLI with other settings"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an ARCHIVER_* setting for our runs (default: none, the defaults)",
    )
    args = parser.parse_args(argv)
    table = QUICK if args.quick else WORKLOADS
    names = [w.strip().upper() for w in args.workload.split(",") if w.strip()]
    unknown = [w for w in names if w not in table]
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)}: choose from {', '.join(table)}")
    overrides = dict(item.split("=", 1) for item in args.set)
    only = [t.strip() for t in args.tools.split(",") if t.strip()]
    if set(only) - set(TOOL_CHOICES):
        parser.error(
            f"unknown tools {', '.join(sorted(set(only) - set(TOOL_CHOICES)))}: choose from {TOOL_CHOICES}"
        )
    started = time.time()
    git = git_state()
    if git["modified"]:
        print(f"note: measuring a working tree with changes to {', '.join(git['modified'])}", flush=True)
    with contextlib.ExitStack() as servers:
        stores: dict[str, Store] = {}
        if any(table[name].store == "moto" for name in names):
            # no signing checks: the anchors and the sequential algorithm sign their bodies over HTTP (we
            # send UNSIGNED-PAYLOAD), so moto would hash their gigabytes and not ours
            stores["moto"] = servers.enter_context(S3Server(check_signing=False))
        if any(table[name].store == "sink" for name in names):
            stores["sink"] = servers.enter_context(SinkServer())  # checks everything: it is fast enough
        bench = Bench(stores, overrides=overrides, only=only, variants=not args.no_variants)
        for note in bench.notes:
            print(f"note: {note}", flush=True)
        floors = measure_floors(cli_path(), bench.measure_plain) if "ours" in only else None
        print(header(), flush=True)
        for name in names:
            bench.run_workload(table[name])
    print()
    print(format_report(bench.rows, floors))  # the summary per workload, requests by call, CPU, the targets
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = document(bench.rows, _meta(bench, started, args.quick, git), bench.notes, floors)
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
