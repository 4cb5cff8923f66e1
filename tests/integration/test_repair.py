"""repair against the simulator and moto: each row of its table on an entry built into that unhealthy state;
a dry run decides every fix and writes nothing; --execute fixes each, after which health calls it HEALTHY;
a second run changes nothing; and the never-rules hold (no replacement in progress cancelled, no object that
differs overwritten or deleted)."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import structlog
from botocore.config import Config

from engine.logs import configure_logging
from jobs import health, repair, s3copy
from jobs.common.context import RunContext, now_s
from jobs.common.settings import load_settings
from testbed.kaltura_sim.content import generated_body
from testbed.placeholders import MP4_HEADER
from testbed.s3 import S3Server
from tests.integration.replace_harness import mutating_calls, replace_env, run_replace
from tests.integration.s3copy_harness import (
    JobRun,
    archivable,
    objects,
    open_uploads,
    original,
    point_aws_at,
    run_job,
    run_s3copy,
    s3_client,
    sim_entries,
)
from tests.integration.simapi import update_content, upload_content

FIXABLE = ("untagged", "tag_only", "placeholder_untagged", "restored_tagged", "failed_replacement",
           "legacy", "old_restored")  # fmt: skip
NEVER = ("replacement_in_progress", "source_changed")
WAITS_OR_PERSON = {"replacement_in_progress": "waiting", "source_changed": "needs_person"}


@pytest.fixture
def aws(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    point_aws_at(monkeypatch, s3_server.endpoint_url)


async def run_repair(env: dict[str, str], *argv: str) -> JobRun:
    return await run_job(repair, env, *argv)


async def verdicts(env: dict[str, str], ids: list[str]) -> dict[str, str]:
    """health's verdict of each of `ids`."""
    parser = argparse.ArgumentParser()
    health.add_arguments(parser)
    args = parser.parse_args([*(a for i in ids for a in ("--id", i)), "--format", "jsonl"])
    out, err = io.StringIO(), io.StringIO()
    configure_logging(level="info", fmt="json", stream=err)
    ctx = RunContext(settings=load_settings({}, env), run_id="h", run_start=now_s(), stdout=out, stderr=err)
    structlog.contextvars.bind_contextvars(run_id=ctx.run_id, job="health")
    await health.run(args, ctx)
    rows = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    return {row["entry_id"]: row["verdict"] for row in rows}


def s3_state(server: S3Server, bucket: str) -> dict[str, Any]:
    """Every object with its tags: what a write to S3 would change."""
    client = s3_client(server)
    found = objects(server, bucket)
    return {
        k: {**v, "tags": client.get_object_tagging(Bucket=bucket, Key=k)["TagSet"]} for k, v in found.items()
    }


async def set_tags(sim: Any, entry_id: str, add: tuple[str, ...] = (), drop: tuple[str, ...] = ()) -> None:
    tags = [t for t in sim_entries(sim)[entry_id]["tags"] if t not in drop]
    await sim.control.apatch_entry(entry_id, tags=[*tags, *add])


def legacy_copy(server: S3Server, bucket: str, entry: dict[str, Any]) -> None:
    """What the old tool left: the original's exact bytes under the entry's key, no metadata, no tags."""
    source = original(entry)
    body = generated_body(entry["id"], source["id"], str(source["version"]), source["sizeInBytes"]).read()
    client = s3_client(server)
    client.delete_object(Bucket=bucket, Key=entry["id"])
    client.put_object(Bucket=bucket, Key=entry["id"], Body=body, ChecksumAlgorithm="SHA256")


async def seed(sim: Any, server: S3Server, bucket: str, env: dict[str, str]) -> dict[str, str]:
    """Each row's unhealthy state on its own entry (name -> entry id), plus a healthy one."""
    videos = archivable(sim)
    special = {i for ids in (await sim.control.acatalog())["edge_cases"].values() for i in ids}
    plain = sorted(
        (e for e in sim_entries(sim).values() if e["id"] in videos and e["id"] not in special
         and not {"archived_to_s3", "flavors_deleted", "restored_from_s3"} & set(e["tags"])
         and original(e)["sizeInBytes"] > 0),
        key=lambda e: original(e)["sizeInBytes"],
    )  # fmt: skip
    names = [*FIXABLE, *NEVER, "healthy"]
    ids = {name: e["id"] for name, e in zip(names, plain[: len(names)], strict=True)}
    archived = [n for n in names if n != "tag_only"]
    run = await run_s3copy(env, "--execute", *(a for n in archived for a in ("--id", ids[n])))
    assert run.code == 0, run.stderr[-3000:]
    entries = sim_entries(sim)
    await set_tags(sim, ids["untagged"], drop=("archived_to_s3",))
    await set_tags(sim, ids["tag_only"], add=("archived_to_s3",))
    await upload_content(sim, ids["placeholder_untagged"], MP4_HEADER)
    await set_tags(sim, ids["restored_tagged"], add=("flavors_deleted",))
    for name in ("legacy", "old_restored"):
        legacy_copy(server, bucket, entries[ids[name]])
        await set_tags(sim, ids[name], drop=("archived_to_s3",))
    await set_tags(sim, ids["old_restored"], add=("restored_from_s3",))
    await update_content(sim, ids["source_changed"])
    await sim.control.aset_faults({"conversion": {"delay_s": 0, "fail": True}})
    await update_content(sim, ids["failed_replacement"])
    await sim.control.aset_faults({"conversion": {"delay_s": 3600, "fail": False}})
    await update_content(sim, ids["replacement_in_progress"])
    return ids


async def test_each_row_is_planned_by_a_dry_run_fixed_by_execute_and_left_alone_after(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path, aws: None
) -> None:
    sim = kaltura_sim_factory(entries=80, seed=5, max_size_mb=0.3)
    env = replace_env(sim, s3_bucket, tmp_path)
    ids = await seed(sim, s3_server, s3_bucket, env)
    select = [a for i in ids.values() for a in ("--id", i)]
    before = await verdicts(env, list(ids.values()))
    assert all(not before[ids[n]].startswith("HEALTHY") for n in (*FIXABLE, *NEVER)), before
    # a killed run's upload left open under the key of the entry to archive again
    s3_client(s3_server).create_multipart_upload(Bucket=s3_bucket, Key=ids["tag_only"])
    entries_before, s3_before = sim_entries(sim), s3_state(s3_server, s3_bucket)
    sim.control.reset_counters()

    plan = await run_repair(env, "--prove-legacy", *select)
    assert plan.code == 1, plan.stderr[-3000:]  # the changed source needs a person
    outcomes = plan.outcomes()
    assert {n: outcomes[ids[n]] for n in FIXABLE} == dict.fromkeys(FIXABLE, "planned")
    assert {n: outcomes[ids[n]] for n in NEVER} == WAITS_OR_PERSON
    assert outcomes[ids["healthy"]] == "unchanged"
    assert mutating_calls(sim) == {}
    assert sim_entries(sim) == entries_before
    assert s3_state(s3_server, s3_bucket) == s3_before
    assert open_uploads(s3_server, s3_bucket) == [ids["tag_only"]]

    run = await run_repair(env, "--execute", "--prove-legacy", *select)
    assert run.code == 1, run.stderr[-3000:]
    outcomes = run.outcomes()
    assert {n: outcomes[ids[n]] for n in FIXABLE} == dict.fromkeys(FIXABLE, "repaired"), [
        r["reason"] for r in run.rows
    ]
    assert {n: outcomes[ids[n]] for n in NEVER} == WAITS_OR_PERSON
    assert open_uploads(s3_server, s3_bucket) == []  # the killed run's upload aborted, as s3copy does
    after = await verdicts(env, list(ids.values()))
    assert {n: after[ids[n]] for n in FIXABLE} == dict.fromkeys(FIXABLE, "HEALTHY"), after
    calls = sim.control.counters()["calls"]
    assert calls["media.cancelreplace"] == 1  # the FAILED one only, never the one in progress
    s3_after = s3_state(s3_server, s3_bucket)
    for name in ("legacy", "old_restored", *NEVER):  # never rewritten: the same bytes, the same object
        assert s3_after[ids[name]]["etag"] == s3_before[ids[name]]["etag"]
        assert s3_after[ids[name]]["modified"] == s3_before[ids[name]]["modified"]
    assert s3_after[ids["source_changed"]] == s3_before[ids["source_changed"]]
    assert "restored_from_s3" in sim_entries(sim)[ids["old_restored"]]["tags"]  # nothing else dropped

    sim.control.reset_counters()
    again = await run_repair(env, "--execute", "--prove-legacy", *select)
    assert {n: again.outcomes()[ids[n]] for n in FIXABLE} == dict.fromkeys(FIXABLE, "unchanged")
    assert mutating_calls(sim) == {}
    assert s3_state(s3_server, s3_bucket) == s3_after


async def test_an_old_tools_object_that_is_not_the_original_is_a_conflict_and_stays_as_it_is(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path, aws: None
) -> None:
    sim = kaltura_sim_factory(entries=20, seed=3, max_size_mb=0.3)
    env = replace_env(sim, s3_bucket, tmp_path)
    entry = next(e for e in sim_entries(sim).values() if e["id"] in archivable(sim) and e["status"] == "2"
                 and not {"archived_to_s3", "flavors_deleted"} & set(e["tags"])
                 and original(e)["sizeInBytes"] > 0)  # fmt: skip
    size = original(entry)["sizeInBytes"]
    body = b"\1" * size  # the size of the original, not its bytes
    s3_client(s3_server).put_object(Bucket=s3_bucket, Key=entry["id"], Body=body, ChecksumAlgorithm="SHA256")
    s3_before = s3_state(s3_server, s3_bucket)

    without = await run_repair(env, "--execute", "--id", entry["id"])
    assert without.outcomes() == {entry["id"]: "needs_person"}
    assert "--prove-legacy" in without.rows[0]["reason"]

    run = await run_repair(env, "--execute", "--prove-legacy", "--id", entry["id"])
    assert run.code == 1
    assert run.outcomes() == {entry["id"]: "conflict"}
    assert s3_state(s3_server, s3_bucket) == s3_before
    assert "archived_to_s3" not in sim_entries(sim)[entry["id"]]["tags"]


def plain_entry(sim: Any) -> dict[str, Any]:
    """A READY video entry of known size, never archived nor replaced."""
    return next(e for e in sim_entries(sim).values() if e["id"] in archivable(sim) and e["status"] == "2"
                and not {"archived_to_s3", "flavors_deleted", "restored_from_s3"} & set(e["tags"])
                and original(e)["sizeInBytes"] > 0)  # fmt: skip


def old_tools_object(
    server: S3Server, bucket: str, key: str, body: bytes, storage_class: str = "STANDARD"
) -> None:
    """What the old tool (boto, years before S3's additional checksums) left: a plain PUT, no checksum (a
    client that sends one only where S3 requires it: boto3 now adds a CRC32 by default), no metadata."""
    client = boto3.client("s3", config=Config(request_checksum_calculation="when_required"),
                          **server.client_kwargs())  # fmt: skip
    client.put_object(Bucket=bucket, Key=key, Body=body, StorageClass=storage_class)
    head = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert not [k for k in head if k.startswith("Checksum")], head  # moto adds none of its own


def original_bytes(entry: dict[str, Any]) -> bytes:
    source = original(entry)
    return generated_body(entry["id"], source["id"], str(source["version"]), source["sizeInBytes"]).read()


async def test_an_old_tools_object_without_an_s3_checksum_is_proven_by_download_and_then_a_proven_copy(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path, aws: None
) -> None:
    """--prove-legacy downloads the object and the original, records the object's ETag as its check, tags
    the entry; then health calls it HEALTHY, s3copy leaves it unchanged and replace_video would replace it."""
    sim = kaltura_sim_factory(entries=20, seed=3, max_size_mb=0.3)
    env = replace_env(sim, s3_bucket, tmp_path)
    entry = plain_entry(sim)
    old_tools_object(s3_server, s3_bucket, entry["id"], original_bytes(entry))
    before = objects(s3_server, s3_bucket)[entry["id"]]

    run = await run_repair(env, "--execute", "--prove-legacy", "--id", entry["id"])
    assert run.code == 0, run.stderr[-3000:]
    assert run.outcomes() == {entry["id"]: "repaired"}, run.rows
    assert "by downloading it and the original" in run.rows[0]["reason"]
    tags = s3_state(s3_server, s3_bucket)[entry["id"]]["tags"]
    recorded = {t["Key"]: t["Value"] for t in tags}
    assert recorded["ka-checksum"] == f"etag:{before['etag'].strip(chr(34))}"
    assert recorded["ka-entry"] == entry["id"]
    assert objects(s3_server, s3_bucket)[entry["id"]] == before  # the same bytes, the same object
    assert "archived_to_s3" in sim_entries(sim)[entry["id"]]["tags"]

    assert (await verdicts(env, [entry["id"]]))[entry["id"]] == "HEALTHY"
    copied = await run_job(s3copy, env, "--execute", "--id", entry["id"])
    assert copied.outcomes() == {entry["id"]: "unchanged"}, copied.rows
    replace = await run_replace(env, "--id", entry["id"])
    assert replace.outcomes() == {entry["id"]: "planned"}, replace.rows


async def test_an_old_tools_object_without_an_s3_checksum_one_byte_off_is_a_conflict_and_nothing_written(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path, aws: None
) -> None:
    sim = kaltura_sim_factory(entries=20, seed=3, max_size_mb=0.3)
    env = replace_env(sim, s3_bucket, tmp_path)
    entry = plain_entry(sim)
    body = bytearray(original_bytes(entry))
    body[len(body) // 2] ^= 0xFF
    old_tools_object(s3_server, s3_bucket, entry["id"], bytes(body))
    s3_before = s3_state(s3_server, s3_bucket)

    run = await run_repair(env, "--execute", "--prove-legacy", "--id", entry["id"])
    assert run.code == 1
    assert run.outcomes() == {entry["id"]: "conflict"}, run.rows
    assert "is not the original" in run.rows[0]["reason"]
    assert s3_state(s3_server, s3_bucket) == s3_before
    assert "archived_to_s3" not in sim_entries(sim)[entry["id"]]["tags"]


@pytest.mark.parametrize(("storage_class", "tier"), [("GLACIER", "Expedited"), ("DEEP_ARCHIVE", "Standard")])
async def test_an_old_tools_object_in_glacier_gets_a_restore_request_waits_and_the_next_run_proves_it(
    kaltura_sim_factory: Any,
    s3_server: S3Server,
    s3_bucket: str,
    tmp_path: Path,
    aws: None,
    storage_class: str,
    tier: str,
) -> None:
    """A dry run plans the request; --execute asks once (never Expedited for DEEP_ARCHIVE) and reports
    `waiting` (exit 0), so does a run while it is in progress; once restored, the next run proves it."""
    sim = kaltura_sim_factory(entries=20, seed=3, max_size_mb=0.3)
    env = replace_env(sim, s3_bucket, tmp_path, ARCHIVER_RESTORE_TIER="Expedited", ARCHIVER_RESTORE_DAYS="2")
    entry = plain_entry(sim)
    key = entry["id"]
    old_tools_object(s3_server, s3_bucket, key, original_bytes(entry), storage_class)
    select = ("--prove-legacy", "--id", key)

    plan = await run_repair(env, *select)
    assert plan.outcomes() == {key: "planned"}
    assert "would ask Glacier for a copy" in plan.rows[0]["reason"]
    assert s3_server.restore_answers() == []

    for _ in range(2):  # requested, then in progress: one request only
        run = await run_repair(env, "--execute", *select)
        assert run.code == 0, run.stderr[-3000:]
        assert run.outcomes() == {key: "waiting"}, run.rows
    answers = s3_server.restore_answers()
    assert [(a["key"], a["tier"], a["days"], a["status"]) for a in answers] == [(key, tier, 2, 202)]
    assert "archived_to_s3" not in sim_entries(sim)[key]["tags"]

    s3_server.complete_restore(s3_bucket, key)
    run = await run_repair(env, "--execute", *select)
    assert run.outcomes() == {key: "repaired"}, run.rows
    assert "archived_to_s3" in sim_entries(sim)[key]["tags"]
    assert (await verdicts(env, [key]))[key] == "HEALTHY"
