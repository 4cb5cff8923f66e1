"""restore_from_s3 --via url against the simulator (which really fetches the URL) and moto behind the fault
proxy (which checks a presigned URL's expiry): a dry run writes nothing; Kaltura fetches each original by its
presigned URL and it comes back byte for byte, with no byte through the run; an expired URL fails the entry
and keeps flavors_deleted, and nothing is lost; the URL never shows in the report or the logs."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from adapters.s3 import S3Store, StoreConfig
from engine.redact import REDACTED, redact_text
from jobs import health, s3copy
from testbed.kaltura_sim.content import generated_body
from testbed.s3 import S3Server
from testbed.s3_faults import FaultPlan, S3FaultProxy
from tests.integration.replace_harness import (
    archive_all,
    mutating_calls,
    replace_all,
    replace_env,
    run_restore,
    sources,
)
from tests.integration.s3copy_harness import JobRun, objects, point_aws_at, run_job, sim_entries
from tests.integration.simapi import client_for

TTL_S = 3600
SECRET_MARKS = ("X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "Signature=")


async def served(sim: Any, flavor_id: str) -> str:
    """SHA-256 of what Kaltura serves for `flavor_id` now."""
    digest = hashlib.sha256()
    async with client_for(sim) as client:
        async for chunk in client.download(await client.flavor_url(flavor_id)):
            digest.update(chunk)
    return digest.hexdigest()


def assert_no_url(run: JobRun) -> None:
    for output in (run.stdout, run.stderr):
        for mark in SECRET_MARKS:
            assert mark not in output


def fetches(proxy: S3FaultProxy) -> int:
    return proxy.counters()["requests"].get("GetObject", 0)


async def test_via_url_plans_then_kaltura_fetches_each_original_byte_for_byte_without_us_streaming(
    kaltura_sim_factory: Any,
    s3_server: S3Server,
    s3_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = kaltura_sim_factory(entries=20, seed=71, max_size_mb=0.3)
    archived_sources = sources(sim)
    async with S3FaultProxy(s3_server.endpoint_url) as proxy:
        point_aws_at(monkeypatch, proxy.endpoint_url)
        env = replace_env(sim, s3_bucket, tmp_path, ARCHIVER_RESTORE_URL_TTL=str(TTL_S))
        await archive_all(env)
        replaced = await replace_all(env)
        stored = objects(s3_server, s3_bucket)
        sim.control.reset_counters()
        proxy.set_plan(FaultPlan(clock_ahead_s=TTL_S - 120))  # the URLs must live the TTL

        plan = await run_restore(env, "--via", "url", "--all")
        assert plan.code == 0, plan.stderr[-3000:]
        assert plan.by_outcome("planned") == replaced
        assert mutating_calls(sim) == {}
        assert fetches(proxy) == 0

        run = await run_restore(env, "--via", "url", "--execute", "--all")
        assert run.code == 0, run.stderr[-3000:]
        assert run.by_outcome("restored") == replaced
        assert fetches(proxy) == len(replaced)  # Kaltura's, one per entry: none by the run
        assert "uploadtoken.upload" not in mutating_calls(sim)
        assert_no_url(plan)
        assert_no_url(run)

        now, entries = sources(sim), sim_entries(sim)
        for entry_id in replaced:
            original = archived_sources[entry_id]
            assert now[entry_id]["id"] == original["id"]
            assert now[entry_id]["sizeInBytes"] == original["sizeInBytes"]
            body = generated_body(entry_id, original["id"], str(original["version"]), original["sizeInBytes"])
            assert await served(sim, original["id"]) == body.sha256()
            assert "flavors_deleted" not in entries[entry_id]["tags"]
        assert {k: v["etag"] for k, v in objects(s3_server, s3_bucket).items()} == {
            k: v["etag"] for k, v in stored.items()
        }
        copy = await run_job(s3copy, env, "--execute", "--all")
        assert set(replaced) <= set(copy.by_outcome("unchanged"))
        verdicts = await run_job(health, env, *(a for e in replaced for a in ("--id", e)))
        assert {row["verdict"] for row in verdicts.rows} == {"HEALTHY"}


async def test_an_expired_url_fails_the_entry_keeps_flavors_deleted_and_loses_nothing(
    kaltura_sim_factory: Any,
    s3_server: S3Server,
    s3_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = kaltura_sim_factory(entries=12, seed=72, max_size_mb=0.3)
    archived_sources = sources(sim)
    async with S3FaultProxy(s3_server.endpoint_url) as proxy:
        point_aws_at(monkeypatch, proxy.endpoint_url)
        env = replace_env(sim, s3_bucket, tmp_path, ARCHIVER_RESTORE_URL_TTL=str(TTL_S))
        await archive_all(env)
        victim = (await replace_all(env))[0]
        placeholder_source = sources(sim)[victim]
        stored = objects(s3_server, s3_bucket)
        proxy.set_plan(FaultPlan(clock_ahead_s=TTL_S + 60))  # Kaltura fetches after the URL expired

        run = await run_restore(env, "--via", "url", "--execute", "--id", victim)
        assert run.code == 1
        assert run.outcomes() == {victim: "failed"}
        assert "Kaltura failed to convert" in run.rows[0]["reason"]
        assert proxy.counters()["faults"].get("expired") == 1
        assert_no_url(run)
        entry = sim_entries(sim)[victim]
        assert {"flavors_deleted", "archived_to_s3"} <= set(entry["tags"])
        source = sources(sim)[victim]
        assert source["id"] == placeholder_source["id"]
        assert source["sizeInBytes"] == placeholder_source["sizeInBytes"]  # still the placeholder
        assert objects(s3_server, s3_bucket)[victim]["etag"] == stored[victim]["etag"]

        # nothing lost: the same entry comes back by upload
        again = await run_restore(env, "--execute", "--id", victim)
        assert again.outcomes() == {victim: "restored"}, again.rows
        original = archived_sources[victim]
        body = generated_body(victim, original["id"], str(original["version"]), original["sizeInBytes"])
        assert await served(sim, original["id"]) == body.sha256()


async def test_a_presigned_url_is_redacted_from_any_text_once_made(
    s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_aws_at(monkeypatch, s3_server.endpoint_url)
    async with S3Store(StoreConfig(bucket=s3_bucket)) as store:
        url = await store.presigned_get("some-entry", expires_s=TTL_S)
    assert f"X-Amz-Expires={TTL_S}" in url
    assert redact_text(url) == REDACTED
    assert redact_text(f"fetching {url} failed: 403") == f"fetching {REDACTED} failed: 403"
    path, query = url.replace("some-entry", "another-entry").split("?")  # never registered: the pattern
    assert redact_text(f"GET {path}?{query} (copied)") == f"GET {path}?{REDACTED} (copied)"
