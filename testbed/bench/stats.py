"""Benchmark `kaltura-archiver stats` (not a test): wall time, requests and peak RSS by catalog size.

Usage: .venv/bin/python -m testbed.bench.stats [--out bench-results/stats.json] [--sizes 10000,100000]

For each size N a simulator with N entries (seed 1) and a moto S3 server are started; N/2 objects are put in
a fresh bucket, one under each of the first N/2 entry ids (a few bytes each, a mix of storage classes: the
figures are about counting, not bytes). Then `kaltura-archiver stats` runs as a user runs it, measured from a
small wrapper process (`testbed/bench/measure.py`): its peak RSS is its own. Requests are the simulator's own
counters (every API request, multirequests as one) and the run's `s3_requests`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]  # no stubs installed

from testbed.bench.measure import measure
from testbed.kaltura_sim import SimOptions, SimProcess
from testbed.s3 import S3Server

CLASSES = ("STANDARD", "GLACIER", "DEEP_ARCHIVE", "GLACIER_IR")
RUN_TIMEOUT_S = 1800.0


def cli() -> list[str]:
    script = Path(sys.executable).with_name("kaltura-archiver")
    return [str(script)] if script.exists() else [sys.executable, "-m", "jobs.cli"]


def seed_bucket(s3: S3Server, bucket: str, keys: Sequence[str]) -> None:
    """One small object per key, in a rotation of storage classes, put 16 at a time."""
    s3.create_bucket(bucket)
    client = boto3.client("s3", **s3.client_kwargs())

    def put(n: int) -> None:
        body = b"x" * (n % 97 + 1)
        client.put_object(Bucket=bucket, Key=keys[n], Body=body, StorageClass=CLASSES[n % len(CLASSES)])

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(len(keys))))


def finished_event(stderr: str) -> dict[str, Any]:
    for line in reversed(stderr.splitlines()):
        if '"run.finished"' in line:
            event: dict[str, Any] = json.loads(line)
            return event
    raise SystemExit(f"stats logged no run.finished: {stderr[-500:]}")


def bench(size: int) -> dict[str, Any]:
    with SimProcess(SimOptions(entries=size, seed=1), start_timeout_s=600) as sim, S3Server() as s3:
        bucket = f"bench-stats-{size}"
        ids = [e["id"] for e in sim.control.get_entries()]
        seed_bucket(s3, bucket, ids[: size // 2])
        env = {
            **os.environ,
            **sim.client_env(),
            **s3.client_env(),
            "AWS_BUCKET": bucket,
            "ARCHIVER_KALTURA_RPS": "1000",
        }
        sim.control.reset_counters()
        m = measure([*cli(), "--log-format", "json", "stats"], env=env, timeout_s=RUN_TIMEOUT_S)
        if m.exit_code != 0:
            raise SystemExit(f"stats exited {m.exit_code}: {m.stderr_tail[-800:]}")
        counters = sim.control.counters()
        event = finished_event(m.stderr_tail)
        return {
            "entries_in_catalog": size,
            "objects_in_bucket": size // 2,
            "entries_listed": event["counts"]["entries"],
            "objects_listed": event["counts"]["objects"],
            "wall_s": round(m.wall_s, 2),
            "cpu_s": round(m.cpu_s, 2),
            "peak_rss_mib": round(m.max_rss_mib, 1),
            "kaltura_requests": counters["requests"],
            "kaltura_calls_by_action": counters["calls"],
            "kaltura_requests_per_500_entries": round(
                counters["requests"] / (event["counts"]["entries"] / 500), 3
            ),
            "s3_requests": event["s3_requests"],
            "report_lines": m.stdout.count("\n"),
        }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m testbed.bench.stats",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="bench-results/stats.json", help="JSON results file")
    parser.add_argument("--sizes", default="10000,100000", help="catalog sizes, comma-separated")
    args = parser.parse_args(argv)
    columns = ("entries", "objects", "wall s", "cpu s", "RSS MiB", "K req", "K/500", "S3 req")
    print(" ".join(f"{c:>9}" for c in columns), flush=True)
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        r = bench(size)
        results.append(r)
        values = (r["entries_listed"], r["objects_listed"], r["wall_s"], r["cpu_s"], r["peak_rss_mib"],
                  r["kaltura_requests"], r["kaltura_requests_per_500_entries"], r["s3_requests"])  # fmt: skip
        print(" ".join(f"{v:>9}" for v in values), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "stats", "results": results}, indent=2) + "\n", encoding="utf-8")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
