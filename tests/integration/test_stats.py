"""stats against the simulator and moto: exact figures over a catalog and a bucket of more than 1,000 objects,
from one listing pass and one paginated ListObjectsV2, with no per-entry request to S3."""

from __future__ import annotations

import argparse
import io
import json
import math
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog

from engine.logs import configure_logging
from jobs import stats
from jobs.common.context import RunContext, now_s
from jobs.common.settings import load_settings
from jobs.stats.report import flat
from testbed.catalog import MEDIA_VIDEO, generate
from testbed.placeholders import MP4_HEADER
from testbed.s3 import S3Server
from testbed.s3_faults import S3FaultProxy
from tests.integration.s3copy_harness import original, point_aws_at, s3_client, sim_entries, sim_env
from tests.integration.simapi import upload_content

KALTURA_READS = {"session.start", "media.list", "media.count", "flavorasset.list", "basentry.list"}
ORPHANS = 1046  # with the 3 seeded objects, 1,049: two ListObjectsV2 pages


async def run_stats(env: dict[str, str], *argv: str) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """One in-process run of `stats --format json`: exit code, its figures by (section, key, metric), and
    its run.finished event."""
    parser = argparse.ArgumentParser()
    stats.add_arguments(parser)
    args = parser.parse_args([*argv, "--format", "json"])
    out, err = io.StringIO(), io.StringIO()
    configure_logging(level="info", fmt="json", stream=err)
    ctx = RunContext(settings=load_settings({}, env), run_id="t", run_start=now_s(), stdout=out, stderr=err)
    structlog.contextvars.bind_contextvars(run_id=ctx.run_id, job="stats")
    code = await stats.run(args, ctx)
    events = [json.loads(line) for line in err.getvalue().splitlines() if line.startswith("{")]
    (finished,) = [e for e in events if e.get("event") == "run.finished"]
    return code, flat(json.loads(out.getvalue())), finished


def kaltura_bytes(entry: dict[str, Any]) -> int:
    """Every flavor's bytes, as the simulator holds them (KB x 1024 when sizeInBytes is 0; DELETED: none)."""
    return sum(f["sizeInBytes"] or f["size"] * 1024 for f in entry["flavors"] if f["status"] != 3)


def selected(sim: Any) -> list[dict[str, Any]]:
    """The entries of the default selection: videos in the default statuses (media types from the catalog)."""
    options = sim.options
    catalog = generate(
        options.entries, options.seed, size_mb=options.size_mb, max_size_mb=options.max_size_mb
    )
    videos = {e.id for e in catalog.entries if e.media_type == MEDIA_VIDEO}
    statuses = {"-1", "-2", "0", "1", "2", "7", "4"}
    return [e for e in sim_entries(sim).values() if e["id"] in videos and e["status"] in statuses]


def plain(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """READY entries with a READY original of exact size and neither archive tag."""
    return [
        e
        for e in entries
        if e["status"] == "2"
        and not {"archived_to_s3", "flavors_deleted"} & set(e["tags"])
        and any(f["isOriginal"] and f["status"] == 2 and f["sizeInBytes"] > 0 for f in e["flavors"])
    ]


def put(server: S3Server, bucket: str, objects: list[tuple[str, int, str]]) -> None:
    """Objects of known sizes and classes, written straight to moto, eight at a time."""
    client = s3_client(server)

    def one(item: tuple[str, int, str]) -> None:
        key, size, storage_class = item
        client.put_object(Bucket=bucket, Key=key, Body=b"\0" * size, StorageClass=storage_class)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, objects))


async def test_every_figure_is_exact_over_a_bucket_of_more_than_1000_objects(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = kaltura_sim_factory(entries=300, seed=5, max_size_mb=0.1)
    await sim.control.aset_faults({"conversion": {"delay_s": 0}})
    initial, archived, replaced, untagged, tag_only = (e["id"] for e in plain(selected(sim))[:5])
    entries = sim_entries(sim)
    size = {i: original(entries[i])["sizeInBytes"] for i in (archived, replaced, untagged)}
    seeded = [(archived, size[archived], "GLACIER"), (replaced, size[replaced], "DEEP_ARCHIVE"),
              (untagged, size[untagged], "STANDARD")]  # fmt: skip
    orphans = [(f"orphan/{n:05d}", n + 1, "STANDARD") for n in range(ORPHANS)]
    put(s3_server, s3_bucket, seeded + orphans)
    for entry_id, tags in ((archived, ["archived_to_s3"]), (tag_only, ["archived_to_s3"])):
        await sim.control.apatch_entry(entry_id, tags=[*entries[entry_id]["tags"], *tags])
    await upload_content(sim, replaced, MP4_HEADER)
    await sim.control.apatch_entry(
        replaced, tags=[*entries[replaced]["tags"], "archived_to_s3", "flavors_deleted"]
    )
    ids = (initial, archived, replaced, untagged, tag_only)

    async with S3FaultProxy(s3_server.endpoint_url) as proxy:
        point_aws_at(monkeypatch, proxy.endpoint_url)
        env = sim_env(sim, s3_bucket)
        sim.control.reset_counters()
        before = proxy.counters()["requests"]
        code, whole, finished = await run_stats(env)
        requests = {op: n - before.get(op, 0) for op, n in proxy.counters()["requests"].items()}
        calls = sim.control.counters()["calls"]
        code_ids, seeded_figures, _ = await run_stats(
            env, "--unplayed_for", "0", *(a for i in ids for a in ("--id", i))
        )

    # the whole selection, against the simulator's own numbers
    assert code == 0
    now = sim_entries(sim)
    listed = [now[e["id"]] for e in selected(sim)]
    years = Counter(datetime.fromtimestamp(e["createdAt"], UTC).year for e in listed)
    assert {
        k: whole["created", k, "entries"] for (s, k, m) in whole if s == "created" and m == "entries"
    } == {str(y): n for y, n in years.items()}
    for year in years:
        assert whole["created", str(year), "kaltura_bytes"] == sum(
            kaltura_bytes(e) for e in listed if datetime.fromtimestamp(e["createdAt"], UTC).year == year
        )
    never = [e for e in listed if not e.get("lastPlayedAt")]
    assert whole["played", "never", "entries"] == len(never)
    assert whole["kaltura", "all_flavors", "bytes"] == sum(kaltura_bytes(e) for e in listed)
    assert whole["s3_class", "STANDARD", "objects"] == ORPHANS + 1
    assert whole["s3_class", "STANDARD", "bytes"] == ORPHANS * (ORPHANS + 1) // 2 + size[untagged]
    assert whole["s3_class", "GLACIER", "billed_bytes"] == size[archived] + 32 * 1024
    assert whole["s3_class", "DEEP_ARCHIVE", "standard_overhead_bytes"] == 8 * 1024
    assert whole["s3_class", "total", "objects"] == ORPHANS + 3
    assert whole["join", "objects_without_entry", "objects"] == ORPHANS
    assert whole["join", "objects_without_entry", "bytes"] == ORPHANS * (ORPHANS + 1) // 2
    assert whole["early_deletion", "GLACIER", "young_objects"] == 1  # just written: 90 days left
    assert whole["early_deletion", "DEEP_ARCHIVE", "young_bytes"] == size[replaced]

    # one listing pass, one paginated bucket listing, nothing per entry
    assert set(calls) <= KALTURA_READS, calls
    assert finished["kaltura_requests"] <= 1 + 2.1 * math.ceil(len(listed) / 500), finished
    assert {op: n for op, n in requests.items() if n} == {"HeadBucket": 1, "ListObjectsV2": 2}, requests

    # the seeded entries: each state exact, the freed and savable bytes
    assert code_ids == 0
    states = ("initial", "archived", "place_holder", "unhealthy")
    assert [seeded_figures["state", s, "entries"] for s in states] == [1, 1, 1, 2]
    assert seeded_figures["unhealthy", "object_without_tag", "entries"] == 1
    assert seeded_figures["unhealthy", "tag_without_object", "entries"] == 1
    assert seeded_figures["kaltura", "freed_by_replacements", "bytes"] == size[replaced] - kaltura_bytes(
        now[replaced]
    )
    assert seeded_figures["kaltura", "unplayed_for_0y", "bytes"] == kaltura_bytes(
        now[initial]
    ) + kaltura_bytes(now[archived])
    assert seeded_figures["join", "entries_without_object", "entries"] == 2  # initial, tag_only
