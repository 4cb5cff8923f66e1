"""Listing benchmark: entries/s and peak RSS of listing 1k, 10k and 100k entries, at 0 and 50 ms API latency.

Usage: .venv/bin/python -m testbed.bench.listing [--out bench-results/listing.json]
       [--sizes 1000,10000,100000] [--latencies 0,50]

For each catalog size a simulator process is started (`--api-latency-ms` per latency); each measurement runs
in a fresh child process so its peak RSS is its own:
- `iterator`: `KalturaClient.list_pages` over the default selection (media.list pages only);
- `list`: the `kaltura-archiver list` job in-process (pages plus one flavor multirequest per page, TSV to
  /dev/null), i.e. what a user waits for.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TextIO, cast


def _child(args: argparse.Namespace) -> None:
    """Measure one listing in this process and print one JSON line."""
    from adapters.kaltura import ClientConfig, FilterSpec, KalturaClient
    from engine.logs import configure_logging
    from engine.pacer import Pacer
    from engine.retry import RetryPolicy

    configure_logging(level="warning", stream=sys.stderr)
    info = json.loads(args.child)
    started = time.perf_counter()
    if args.mode == "iterator":

        async def walk() -> int:
            config = ClientConfig(
                partner_id=info["partner_id"],
                admin_secret=info["admin_secret"],
                user_id=info["user_id"],
                service_url=info["service_url"],
            )
            async with KalturaClient(config, pacer=Pacer(10_000, max_in_flight=4), policy=RetryPolicy()) as c:
                total = 0
                async for page in c.list_pages(FilterSpec(), run_start=int(time.time())):
                    total += len(page)
                return total

        entries = asyncio.run(walk())
    else:
        from jobs.cli import run

        env = {
            **os.environ,
            "KALTURA_SERVICE_URL": info["service_url"],
            "KALTURA_PARTNERID": str(info["partner_id"]),
            "KALTURA_SECRET": info["admin_secret"],
            "KALTURA_USERID": info["user_id"],
            "ARCHIVER_KALTURA_RPS": "1000",
        }
        errors = io.StringIO()
        with open(os.devnull, "w", encoding="utf-8") as sink:
            counter = _LineCounter(sink)
            # run() only writes and flushes its stdout, which the counter does
            out = cast(TextIO, counter)
            code = run(["--loglevel", "WARNING", "list"], env=env, stdout=out, stderr=errors)
        if code != 0:
            raise SystemExit(f"list exited {code}: {errors.getvalue()[-500:]}")
        entries = counter.lines - 1  # the header
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"entries": entries, "seconds": seconds, "peak_rss_mib": peak_kb / 1024}))


class _LineCounter(io.TextIOBase):
    """A text sink that counts lines (the rows) and forwards them."""

    def __init__(self, sink: io.TextIOBase | Any) -> None:
        self.sink = sink
        self.lines = 0

    def write(self, text: str) -> int:
        self.lines += text.count("\n")
        return int(self.sink.write(text))

    def flush(self) -> None:
        self.sink.flush()


def _measure(info: dict[str, Any], mode: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "testbed.bench.listing", "--child", json.dumps(info), "--mode", mode],
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m testbed.bench.listing",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="bench-results/listing.json", help="JSON results file")
    parser.add_argument("--sizes", default="1000,10000,100000", help="catalog sizes, comma-separated")
    parser.add_argument("--latencies", default="0,50", help="API latencies in ms, comma-separated")
    parser.add_argument("--modes", default="iterator,list", help="what to measure: iterator, list")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="iterator", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return 0

    from testbed.kaltura_sim import SimOptions, SimProcess

    results: list[dict[str, Any]] = []
    columns = ("entries", "latency", "mode", "listed", "seconds", "entries/s", "RSS MiB")
    print(" ".join(f"{c:>{w}}" for c, w in zip(columns, (8, 8, 9, 8, 8, 10, 8), strict=True)))
    for size in (int(s) for s in args.sizes.split(",")):
        for latency in (float(x) for x in args.latencies.split(",")):
            options = SimOptions(entries=size, seed=1, api_latency_ms=latency)
            with SimProcess(options, start_timeout_s=600) as sim:
                info = {
                    "service_url": sim.service_url,
                    "partner_id": sim.partner_id,
                    "admin_secret": sim.admin_secret,
                    "user_id": sim.user_id,
                }
                for mode in args.modes.split(","):
                    m = _measure(info, mode)
                    row = {
                        "catalog": size,
                        "api_latency_ms": latency,
                        "mode": mode,
                        "entries": m["entries"],
                        "seconds": round(m["seconds"], 3),
                        "entries_per_s": round(m["entries"] / m["seconds"], 1),
                        "peak_rss_mib": round(m["peak_rss_mib"], 1),
                    }
                    results.append(row)
                    print(
                        f"{size:>8} {latency:>6.0f}ms {mode:>9} {row['entries']:>8} {row['seconds']:>8.2f} "
                        f"{row['entries_per_s']:>10.0f} {row['peak_rss_mib']:>8.1f}",
                        flush=True,
                    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {"benchmark": "listing", "results": results}
    out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
