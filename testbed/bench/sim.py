"""Benchmark the Kaltura simulator: download MB/s, media.list pages/s, start-up time and memory.

`python -m testbed.bench.sim [--out FILE]` prints a table and writes the figures as JSON. It measures
(a) one unthrottled loopback aiohttp client downloading a 1 GiB flavor (goal >= 500 MB/s),
(b) media.list pages of 500 per second, cursor-paged by createdAt in JSON format,
(c) start-up time and resident memory of a simulator with 100,000 entries (goal < 1 GB).
A benchmark, not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from testbed.kaltura_sim import SimOptions, SimProcess

GIB = 1 << 30
PAGE = 500


async def api(
    session: aiohttp.ClientSession, sim: SimProcess, ks: str, service: str, action: str, **params: Any
) -> Any:
    """One JSON-format call; raises on an API error."""
    url = f"{sim.service_url}/api_v3/service/{service}/action/{action}"
    async with session.post(url, json={"ks": ks, "format": "1", **params}) as resp:
        result = await resp.json()
    if isinstance(result, dict) and result.get("objectType") == "KalturaAPIException":
        raise RuntimeError(f"{service}.{action}: {result['code']}")
    return result


async def session_start(session: aiohttp.ClientSession, sim: SimProcess) -> str:
    params = {
        "secret": sim.admin_secret,
        "userId": sim.user_id,
        "type": "2",
        "partnerId": str(sim.partner_id),
    }
    ks: str = await api(session, sim, "", "session", "start", **params)
    return ks


async def bench_download(rounds: int) -> dict[str, Any]:
    """Best and mean MB/s of `rounds` full downloads of a 1 GiB source flavor."""
    async with (
        SimProcess(SimOptions(entries=60, seed=1, size_mb=GIB / 1e6)) as sim,
        aiohttp.ClientSession() as s,
    ):
        ks = await session_start(s, sim)
        listing = await api(
            s, sim, ks, "media", "list", pager={"objectType": "KalturaFilterPager", "pageSize": "50"}
        )
        entry_ids = ",".join(e["id"] for e in listing["objects"])
        flavors = await api(
            s,
            sim,
            ks,
            "flavorasset",
            "list",
            filter={"objectType": "KalturaFlavorAssetFilter", "entryIdIn": entry_ids},
            pager={"objectType": "KalturaFilterPager", "pageSize": "500"},
        )
        source = next(
            f
            for f in flavors["objects"]
            if f.get("isOriginal") and f["status"] == 2 and f["sizeInBytes"] == GIB
        )
        url = await api(s, sim, ks, "flavorasset", "getUrl", id=source["id"])
        rates = []
        for _ in range(rounds):
            started, received = time.perf_counter(), 0
            async with s.get(url) as resp:
                resp.raise_for_status()
                async for chunk in resp.content.iter_chunked(1 << 20):
                    received += len(chunk)
            if received != GIB:
                raise RuntimeError(f"downloaded {received} bytes, expected {GIB}")
            rates.append(received / (time.perf_counter() - started) / 1e6)
    return {"bytes": GIB, "rounds": rounds, "best_mb_s": max(rates), "mean_mb_s": sum(rates) / len(rates)}


async def bench_listing(entries: int) -> dict[str, Any]:
    """Cursor-page every READY entry 500 at a time; pages per second and entries seen."""
    async with SimProcess(SimOptions(entries=entries, seed=2)) as sim, aiohttp.ClientSession() as s:
        ks = await session_start(s, sim)
        seen: set[str] = set()
        cursor, page_index, pages = 0, 1, 0
        started = time.perf_counter()
        while True:
            page = await api(
                s,
                sim,
                ks,
                "media",
                "list",
                filter={
                    "objectType": "KalturaMediaEntryFilter",
                    "orderBy": "+createdAt",
                    "createdAtGreaterThanOrEqual": str(cursor),
                },
                pager={
                    "objectType": "KalturaFilterPager",
                    "pageSize": str(PAGE),
                    "pageIndex": str(page_index),
                },
            )
            pages += 1
            rows = page.get("objects", [])
            seen.update(e["id"] for e in rows)
            if len(rows) < PAGE:
                break
            last = rows[-1]["createdAt"]
            if last == cursor:  # a full page inside one second: step through that second by page index
                page_index += 1
            else:
                cursor, page_index = last, 1
        elapsed = time.perf_counter() - started
    return {
        "catalog": entries,
        "ready_seen": len(seen),
        "pages": pages,
        "seconds": elapsed,
        "pages_per_s": pages / elapsed,
        "entries_per_s": len(seen) / elapsed,
    }


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_startup(entries: int) -> dict[str, Any]:
    started = time.perf_counter()
    with SimProcess(SimOptions(entries=entries, seed=3), start_timeout_s=600) as sim:
        ready = time.perf_counter() - started
        rss = _rss_mb(sim.pid)
    return {"entries": entries, "startup_s": ready, "rss_mb": rss}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.bench.sim", description=__doc__)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    parser.add_argument("--rounds", type=int, default=3, help="downloads of the 1 GiB flavor")
    parser.add_argument("--list-entries", type=int, default=20_000)
    parser.add_argument("--startup-entries", type=int, default=100_000)
    args = parser.parse_args(argv)
    results = {
        "download": asyncio.run(bench_download(args.rounds)),
        "listing": asyncio.run(bench_listing(args.list_entries)),
        "startup": bench_startup(args.startup_entries),
    }
    d, li, st = results["download"], results["listing"], results["startup"]
    rows = [
        (
            "1 GiB download, one client",
            f"{d['best_mb_s']:.0f} MB/s best, {d['mean_mb_s']:.0f} mean",
            ">= 500 MB/s",
        ),
        (f"media.list x{PAGE}, cursor paging", f"{li['pages_per_s']:.1f} pages/s ({li['pages']} pages)", ""),
        (
            f"start-up, {st['entries']:,} entries",
            f"{st['startup_s']:.1f} s, RSS {st['rss_mb']:.0f} MB",
            "< 1 GB",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, goal in rows:
        sys.stdout.write(f"{name:<{width}}  {value:<34} {goal}\n")
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
