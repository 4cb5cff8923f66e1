"""Put first, head later: small copies of untagged entries go up with no HEAD before them.

The PUT is conditional (`If-None-Match: *`). These tests put an object under an entry's key before the run
and check that the PUT never replaces it, and that the entry ends as a checker's HEAD would have decided:
our own proven copy is kept and tagged; other bytes are a conflict; a legacy object is skipped.
"""

from __future__ import annotations

from typing import Any

import pytest

from testbed.s3 import S3Server
from testbed.s3_faults import S3FaultProxy
from tests.integration.s3copy_harness import (
    JobRun,
    assert_proven_copy,
    objects,
    original,
    point_aws_at,
    run_s3copy,
    s3_client,
    served_sizes,
    sim_entries,
    sim_env,
)

SMALL = {"ARCHIVER_PART_SIZE": "16MiB"}  # the simulator's 1 MB originals go up in one PUT each


async def counted_run(
    sim: Any, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch, *argv: str
) -> tuple[JobRun, dict[str, int]]:
    """One run through a counting proxy in front of moto: the run, and its S3 requests by operation."""
    async with S3FaultProxy(s3_server.endpoint_url) as proxy:
        point_aws_at(monkeypatch, proxy.endpoint_url)
        run = await run_s3copy(sim_env(sim, s3_bucket, **SMALL), *argv)
        return run, proxy.counters()["requests"]


def untag(sim: Any, entry_id: str) -> None:
    tags = [t for t in sim_entries(sim)[entry_id]["tags"] if t != "archived_to_s3"]
    sim.control.patch_entry(entry_id, tags=",".join(tags))


async def test_small_copies_are_put_with_no_head_first(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = kaltura_sim_factory(entries=12, seed=11, size_mb=1)
    run, requests = await counted_run(sim, s3_server, s3_bucket, monkeypatch, "--execute", "--all")
    archived = run.by_outcome("archived")
    assert run.code == 0, run.stderr[-2000:]
    assert archived
    assert requests["PutObject"] == len(archived)
    # one HEAD an entry: the proof of an archived one, the check of any other (skipped: no PUT)
    assert requests["HeadObject"] == len(run.rows) > len(archived)
    entries = sim_entries(sim)
    for entry_id in archived:
        assert_proven_copy(s3_server, s3_bucket, entries[entry_id], sim.partner_id, served_sizes(sim))


async def test_a_dry_run_still_heads_every_entry_and_writes_nothing(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = kaltura_sim_factory(entries=12, seed=11, size_mb=1)
    run, requests = await counted_run(sim, s3_server, s3_bucket, monkeypatch)
    planned = run.by_outcome("planned")
    assert planned
    assert run.code == 0
    assert requests["HeadObject"] >= len(planned)
    assert requests.get("PutObject", 0) == 0
    assert objects(s3_server, s3_bucket) == {}


async def test_our_copy_of_an_untagged_entry_is_kept_proven_and_tagged_not_replaced(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed after the upload, before the Kaltura tag: the next run's PUT finds the object."""
    sim = kaltura_sim_factory(entries=12, seed=11, size_mb=1)
    point_aws_at(monkeypatch, s3_server.endpoint_url)
    env = sim_env(sim, s3_bucket, **SMALL)
    first = await run_s3copy(env, "--execute", "--all")
    victim = first.by_outcome("archived")[0]
    untag(sim, victim)
    before = objects(s3_server, s3_bucket)

    second = await run_s3copy(env, "--execute", "--all")
    assert second.code == 0, second.stderr[-2000:]
    assert second.outcomes()[victim] in ("archived", "tagged")
    assert objects(s3_server, s3_bucket) == before  # same ETag, same LastModified: not written again
    entry = sim_entries(sim)[victim]
    assert "archived_to_s3" in entry["tags"]
    assert_proven_copy(s3_server, s3_bucket, entry, sim.partner_id, served_sizes(sim))


@pytest.mark.parametrize(
    ("metadata", "outcome", "reason"),
    [
        ({"ka-entry": "someone-else"}, "conflict", "does not prove a copy"),  # another tool's object
        ({}, "skipped", "legacy object"),  # the old tool's object: no metadata, size within 3%
    ],
)
async def test_an_object_already_under_the_key_of_an_untagged_entry_is_never_replaced(
    kaltura_sim_factory: Any,
    s3_server: S3Server,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    metadata: dict[str, str],
    outcome: str,
    reason: str,
) -> None:
    sim = kaltura_sim_factory(entries=12, seed=11, size_mb=1)
    point_aws_at(monkeypatch, s3_server.endpoint_url)
    env = sim_env(sim, s3_bucket, **SMALL)
    plan = await run_s3copy(env)
    victim = plan.by_outcome("planned")[0]
    size = served_sizes(sim)[original(sim_entries(sim)[victim])["id"]]
    s3_client(s3_server).put_object(Bucket=s3_bucket, Key=victim, Body=b"o" * size, Metadata=metadata)
    before = objects(s3_server, s3_bucket)[victim]

    run = await run_s3copy(env, "--execute", "--all")
    (row,) = [r for r in run.rows if r["entry_id"] == victim]
    assert row["outcome"] == outcome, row
    assert reason in row["reason"]
    assert objects(s3_server, s3_bucket)[victim] == before
    body = s3_client(s3_server).get_object(Bucket=s3_bucket, Key=victim)["Body"].read()
    assert body == b"o" * size
    assert "archived_to_s3" not in sim_entries(sim)[victim]["tags"]
    assert set(run.by_outcome("archived")) == set(plan.by_outcome("planned")) - {victim}
