"""health against the simulator and moto: one catalog with every state seeded, the exact verdict of each, and
proof that it writes nothing (the simulator's call counters, the S3 proxy's request log)."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest
import structlog

from engine.logs import configure_logging
from jobs import health
from jobs.common.context import RunContext, now_s
from jobs.common.settings import load_settings
from testbed.placeholders import MP4_HEADER, write_placeholders
from testbed.s3 import S3Server
from testbed.s3_faults import S3FaultProxy
from tests.integration.s3copy_harness import (
    archivable,
    original,
    point_aws_at,
    run_s3copy,
    s3_client,
    sim_entries,
    sim_env,
)
from tests.integration.simapi import update_content, upload_content

# what health may ask of Kaltura and S3: reads only
KALTURA_READS = {"session.start", "media.list", "media.count", "flavorasset.list", "basentry.list"}
S3_READS = {"HeadBucket", "ListObjectsV2", "HeadObject", "GetObjectTagging"}


async def run_health(env: dict[str, str], *argv: str) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
    """One in-process run of `health` (a JSONL report): exit code, rows, its run.finished event."""
    parser = argparse.ArgumentParser()
    health.add_arguments(parser)
    args = parser.parse_args([*argv, "--format", "jsonl"])
    out, err = io.StringIO(), io.StringIO()
    configure_logging(level="info", fmt="json", stream=err)
    ctx = RunContext(settings=load_settings({}, env), run_id="t", run_start=now_s(), stdout=out, stderr=err)
    structlog.contextvars.bind_contextvars(run_id=ctx.run_id, job="health")
    code = await health.run(args, ctx)
    rows = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    events = [json.loads(line) for line in err.getvalue().splitlines() if line.startswith("{")]
    (finished,) = [e for e in events if e.get("event") == "run.finished"]
    return code, rows, finished


async def plain_entries(sim: Any) -> list[dict[str, Any]]:
    """READY videos with a READY original of known size and no edge case, smallest first."""
    videos = archivable(sim)
    special = {i for ids in (await sim.control.acatalog())["edge_cases"].values() for i in ids}
    found = [
        e
        for e in sim_entries(sim).values()
        if e["status"] == "2"
        and e["id"] not in special
        and e["id"] in videos
        and not {"archived_to_s3", "flavors_deleted"} & set(e["tags"])
        and any(f["isOriginal"] and f["status"] == 2 and f["sizeInBytes"] > 0 for f in e["flavors"])
    ]
    return sorted(found, key=lambda e: original(e)["sizeInBytes"])


async def add_tags(sim: Any, entry_id: str, *tags: str) -> None:
    entry = sim_entries(sim)[entry_id]
    await sim.control.apatch_entry(entry_id, tags=[*entry["tags"], *tags])


async def drop_tag(sim: Any, entry_id: str, tag: str) -> None:
    entry = sim_entries(sim)[entry_id]
    await sim.control.apatch_entry(entry_id, tags=[t for t in entry["tags"] if t != tag])


def legacy_object(server: S3Server, bucket: str, entry: dict[str, Any]) -> None:
    """What the old tool left: the original's size in bytes, no metadata, no tags."""
    size = original(entry)["sizeInBytes"]
    s3_client(server).put_object(Bucket=bucket, Key=entry["id"], Body=b"\0" * size)


async def seed(sim: Any, server: S3Server, bucket: str, env: dict[str, str]) -> tuple[dict[str, str], int]:
    """Every state on its own entry (name -> entry id), and a --max-size (KB) only `over_limit` exceeds."""
    plain = await plain_entries(sim)
    names = [
        "initial", "archived", "place_holder", "legacy_archived", "legacy_placeholder", "object_without_tag",
        "tag_without_object", "replaced_not_archived", "replaced_by_user", "replacement_in_progress",
        "replacement_failed", "placeholder_untagged",
    ]  # fmt: skip
    ids = {name: e["id"] for name, e in zip(names, plain[: len(names)], strict=True)}
    ids["over_limit"] = plain[-1]["id"]
    # the catalog's sizes are capped alike: the one over the limit gets a larger original, by an upload
    biggest = original(plain[-2])["sizeInBytes"]
    await upload_content(sim, ids["over_limit"], b"\0" * (biggest + 100_000))
    max_kb = (biggest + 50_000) // 1024
    ours = ["archived", "place_holder", "object_without_tag", "replaced_by_user", "replacement_in_progress",
            "replacement_failed", "placeholder_untagged"]  # fmt: skip
    archiving = await run_s3copy(env, "--execute", *(a for n in ours for a in ("--id", ids[n])))
    assert archiving.by_outcome("archived") == sorted(ids[n] for n in ours), archiving.rows
    entries = sim_entries(sim)
    for name in ("legacy_archived", "legacy_placeholder"):
        legacy_object(server, bucket, entries[ids[name]])
        await add_tags(sim, ids[name], "archived_to_s3")
    for name in ("place_holder", "legacy_placeholder", "placeholder_untagged"):
        await upload_content(sim, ids[name], MP4_HEADER)
    for name in ("place_holder", "legacy_placeholder"):
        await add_tags(sim, ids[name], "flavors_deleted")
    await drop_tag(sim, ids["object_without_tag"], "archived_to_s3")
    await add_tags(sim, ids["tag_without_object"], "archived_to_s3")
    await add_tags(sim, ids["replaced_not_archived"], "flavors_deleted")
    await update_content(sim, ids["replaced_by_user"])
    await sim.control.aset_faults({"conversion": {"delay_s": 0, "fail": True}})
    await update_content(sim, ids["replacement_failed"])
    await sim.control.aset_faults({"conversion": {"delay_s": 3600, "fail": False}})
    await update_content(sim, ids["replacement_in_progress"])
    return ids, max_kb


EXPECTED = {
    "initial": ("HEALTHY", None),
    "archived": ("HEALTHY", None),
    "place_holder": ("HEALTHY", None),
    "legacy_archived": ("HEALTHY legacy", None),
    "legacy_placeholder": ("HEALTHY legacy", None),
    "object_without_tag": ("UNHEALTHY", "object_iff_tag"),
    "tag_without_object": ("UNHEALTHY", "object_iff_tag"),
    "replaced_not_archived": ("UNHEALTHY", "replaced_implies_archived"),
    "replaced_by_user": ("UNHEALTHY", "record_matches"),
    "replacement_in_progress": ("WARNING", "replacement_state"),
    "replacement_failed": ("UNHEALTHY", "replacement_state"),
    "placeholder_untagged": ("UNHEALTHY", "placeholder_source"),
    "over_limit": ("WARNING", "size_limit"),
}


async def test_every_seeded_state_gets_its_exact_verdict_and_health_writes_nothing(
    kaltura_sim_factory: Any,
    s3_server: S3Server,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    sim = kaltura_sim_factory(entries=80, seed=11, max_size_mb=1)
    await sim.control.aset_faults({"conversion": {"delay_s": 0}})
    async with S3FaultProxy(s3_server.endpoint_url) as proxy:
        point_aws_at(monkeypatch, proxy.endpoint_url)
        env = sim_env(sim, s3_bucket, **write_placeholders(tmp_path))
        ids, max_kb = await seed(sim, s3_server, s3_bucket, env)
        sim.control.reset_counters()
        before = proxy.counters()["requests"]

        argv = ["--max-size", str(max_kb), *(a for i in ids.values() for a in ("--id", i))]
        code, rows, finished = await run_health(env, *argv)

        requests = {op: n - before.get(op, 0) for op, n in proxy.counters()["requests"].items()}
    assert code == 1
    verdicts = {row["entry_id"]: (row["verdict"], row["rule"]) for row in rows}
    assert verdicts == {ids[name]: verdict for name, verdict in EXPECTED.items()}, [
        (name, rows_of(rows, ids[name])["detail"]) for name in EXPECTED
    ]
    assert "changed since it was archived" in rows_of(rows, ids["replaced_by_user"])["detail"]
    assert list(rows[0])[: len(health.COLUMNS)] == list(health.COLUMNS)
    created = {e["id"]: e["createdAt"] for e in sim_entries(sim).values()}
    assert [r["entry_id"] for r in rows] == sorted(verdicts, key=lambda i: (created[i], i))  # listing order
    assert finished["counts"] == {"healthy": 5, "warning": 2, "unhealthy": 6}
    # read-only: Kaltura saw only reads, S3 only HEADs (and tag reads), one HEAD per entry
    calls = sim.control.counters()["calls"]
    assert set(calls) <= KALTURA_READS, calls
    assert finished["kaltura_requests"] <= 3  # the probe, one page, its flavors
    assert {op for op, n in requests.items() if n} <= S3_READS, requests
    assert requests["HeadObject"] == len(ids)


def rows_of(rows: list[dict[str, Any]], entry_id: str) -> dict[str, Any]:
    (row,) = [r for r in rows if r["entry_id"] == entry_id]
    return row
