"""s3copy under injected faults: every entry ends archived or failed with a reason, nothing is tagged without
a proven object, a truncated download never becomes an object, and a clean run afterwards converges."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3  # type: ignore[import-untyped]  # no stubs installed
import pytest

from testbed.s3 import S3Server
from testbed.s3_faults import S3FaultProxy
from tests.integration.s3copy_harness import (
    archivable,
    assert_proven_copy,
    objects,
    open_uploads,
    point_aws_at,
    run_s3copy,
    served_sizes,
    sim_entries,
    sim_env,
)

KALTURA_FAULTS = {
    "reset": True,
    "seed": 3,
    # ACTION_BLOCKED bursts: more than 30 calls of one action in a second (our batches stay under it)
    "rate_limits": {"media.get": 30, "flavorasset.geturl": 30},
    "actions": {
        "*": {"internal_error": {"probability": 0.05}},
        "multirequest": {"drop_after": {"next": 2, "probability": 0.05}, "http_503": {"probability": 0.05}},
        "flavorasset.list": {"drop": {"next": 1}},
    },
    "download": {
        "truncate": {"next": 2, "probability": 0.25},
        "truncate_fraction": 0.6,
        "drop": {"probability": 0.05},
    },
}


async def test_faults_everywhere_end_in_proven_archives_or_reasons_then_converge(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = kaltura_sim_factory(entries=40, seed=9, size_mb=6)
    sim.control.set_faults(KALTURA_FAULTS)
    async with S3FaultProxy(s3_server.endpoint_url, seed=5) as proxy:
        proxy.set_plan(slowdown_rate=0.1, reset_rate=0.1, operations=["UploadPart", "PutObject"])
        point_aws_at(monkeypatch, proxy.endpoint_url)
        env = sim_env(sim, s3_bucket, ARCHIVER_KALTURA_RPS="200", ARCHIVER_KALTURA_RETRY_BUDGET="60")
        faulty = await run_s3copy(env, "--execute", "--all")

        fired = sim.control.counters()["faults"]
        assert any(k.endswith("truncate") for k in fired), fired
        assert any("internal_error" in k or "drop" in k for k in fired), fired
        assert proxy.counters()["faults"], "the S3 proxy injected nothing"

        expected = archivable(sim)
        outcomes = faulty.outcomes()
        assert set(outcomes) >= expected
        for row in faulty.rows:
            assert row["outcome"] in ("archived", "failed", "skipped")
            if row["outcome"] != "archived":
                assert row["reason"]
        entries = sim_entries(sim)
        tagged = {e for e, entry in entries.items() if "archived_to_s3" in entry["tags"]}
        # archived means tagged; a tag whose answer was lost may also sit on an entry reported failed
        assert set(faulty.by_outcome("archived")) <= tagged
        stored = objects(s3_server, s3_bucket)
        for entry_id in stored:  # every object, tagged or not, holds exactly its original's bytes
            assert_proven_copy(s3_server, s3_bucket, entries[entry_id], sim.partner_id, served_sizes(sim))
        assert tagged <= set(stored)
        assert open_uploads(s3_server, s3_bucket) == []

        proxy.set_plan(slowdown_rate=0.0, reset_rate=0.0)
        sim.control.set_faults({"reset": True})
        clean = await run_s3copy(env, "--execute", "--all")
        assert clean.code == 0, [r for r in clean.rows if r["outcome"] == "failed"]
        done = (
            set(clean.by_outcome("archived"))
            | set(clean.by_outcome("unchanged"))
            | set(clean.by_outcome("tagged"))
        )
        assert done == expected
        entries = sim_entries(sim)
        for entry_id in expected:
            assert "archived_to_s3" in entries[entry_id]["tags"]
            assert_proven_copy(s3_server, s3_bucket, entries[entry_id], sim.partner_id, served_sizes(sim))
        assert open_uploads(s3_server, s3_bucket) == []


async def test_a_record_write_that_keeps_failing_fails_the_entry_once_then_the_next_run_reproves_it(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the object is complete but its record (SHA-256 tags) cannot be written: the entry fails with that reason
    # instead of being downloaded and uploaded again, no second upload is left open, and it is not tagged
    sim = kaltura_sim_factory(entries=6, seed=6, size_mb=7)
    expected = archivable(sim)
    async with S3FaultProxy(s3_server.endpoint_url, seed=1) as proxy:
        point_aws_at(monkeypatch, proxy.endpoint_url)
        proxy.set_plan(slowdown_rate=1.0, operations=["PutObjectTagging"])
        env = sim_env(sim, s3_bucket)
        failing = await run_s3copy(env, "--execute", "--all")
        multipart = {r["entry_id"] for r in failing.rows if "proof record" in r["reason"]}
        assert multipart, failing.rows  # entries over the part size went up in parts, and their record failed
        for entry_id in multipart:
            assert failing.outcomes()[entry_id] == "failed"
        assert failing.code == 1
        assert proxy.requests["CreateMultipartUpload"] == len(multipart)  # each sent once, not again
        assert open_uploads(s3_server, s3_bucket) == []
        entries = sim_entries(sim)
        assert not any("archived_to_s3" in entries[e]["tags"] for e in multipart)

        proxy.set_plan(slowdown_rate=0.0)
        again = await run_s3copy(env, "--execute", "--all")
    assert again.code == 0, again.rows
    assert {r["entry_id"] for r in again.rows if r["outcome"] == "archived"} >= multipart
    entries = sim_entries(sim)
    for entry_id in expected:
        assert "archived_to_s3" in entries[entry_id]["tags"]
        assert_proven_copy(s3_server, s3_bucket, entries[entry_id], sim.partner_id, served_sizes(sim))
    assert open_uploads(s3_server, s3_bucket) == []


@pytest.mark.parametrize(
    ("operation", "size_mb"),
    [("CompleteMultipartUpload", 12), ("PutObject", 1)],
    ids=["multipart_completion", "single_put"],
)
async def test_a_conditional_write_met_by_a_concurrent_one_is_sent_again_and_archives(
    kaltura_sim_factory: Any,
    s3_server: S3Server,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    operation: str,
    size_mb: int,
) -> None:
    # S3's 409 ConditionalRequestConflict to an If-None-Match write: "retry the upload" (a new one)
    sim = kaltura_sim_factory(entries=6, seed=6, size_mb=size_mb)
    victim = sorted(archivable(sim))[0]
    async with S3FaultProxy(s3_server.endpoint_url) as proxy:
        point_aws_at(monkeypatch, proxy.endpoint_url)
        proxy.set_plan(conflict_next=1, operations=[operation])
        run = await run_s3copy(sim_env(sim, s3_bucket), "--execute", "--id", victim)
        counters = proxy.counters()
    assert run.code == 0, run.rows
    assert run.outcomes() == {victim: "archived"}
    (again,) = run.entry_events("transfer.sending_again")
    assert again["code"] == "ConditionalRequestConflict"
    assert counters["faults"] == {"conflict": 1}
    assert counters["requests"][operation] == 2
    assert open_uploads(s3_server, s3_bucket) == []
    entry = sim_entries(sim)[victim]
    assert "archived_to_s3" in entry["tags"]
    assert_proven_copy(s3_server, s3_bucket, entry, sim.partner_id, served_sizes(sim))


async def test_heads_without_a_tag_count_read_the_record_from_the_tags(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # S3 leaves x-amz-tagging-count out when the caller may not read tags (and when there are none): a
    # multipart copy's record lives in its tags, so it must be read, not taken for missing
    sim = kaltura_sim_factory(entries=8, seed=6, size_mb=7)
    expected = archivable(sim)
    env = sim_env(sim, s3_bucket)
    async with S3FaultProxy(s3_server.endpoint_url) as proxy:
        point_aws_at(monkeypatch, proxy.endpoint_url)
        proxy.set_plan(hide_headers=["x-amz-tagging-count"], operations=[])
        first = await run_s3copy(env, "--execute", "--all")
        assert first.code == 0, first.rows
        assert set(first.by_outcome("archived")) == expected
        multipart = proxy.requests["CreateMultipartUpload"]
        assert multipart > 0
        assert proxy.requests["GetObjectTagging"] == multipart  # each multipart copy's proof read its tags
        via_proxy = boto3.client("s3", **{**s3_server.client_kwargs(), "endpoint_url": proxy.endpoint_url})
        # in a thread: the proxy answers on this event loop
        head = await asyncio.to_thread(via_proxy.head_object, Bucket=s3_bucket, Key=sorted(expected)[0])
        assert "TagCount" not in head

        proxy.requests.clear()
        second = await run_s3copy(env, "--execute", "--all")
    assert second.code == 0, second.rows
    assert set(second.by_outcome("unchanged")) == expected
    assert not {"PutObject", "CreateMultipartUpload", "PutObjectTagging"} & set(proxy.requests)
    assert proxy.requests["GetObjectTagging"] == multipart  # a copy with its record in metadata needs none
