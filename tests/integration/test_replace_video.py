"""replace_video against the simulator and moto: the placeholder goes in only behind a proven copy, a dry run
writes nothing, a re-run changes nothing, and the faults of the real service (a user's replacement between
our check and our act, a failed conversion, a lost updateContent answer, ACTION_BLOCKED, an expired KS) never
cost an original."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from engine.pipeline import Finish
from jobs.common.candidates import Candidate
from jobs.replace_video.stages import Work
from testbed.s3 import S3Server
from tests.fixtures.waits import until
from tests.integration.replace_harness import (
    Clock,
    archive_all,
    mutating_calls,
    placeholder_of,
    replace_env,
    run_replace,
    sources,
    stages_for,
)
from tests.integration.s3copy_harness import objects, point_aws_at
from tests.integration.simapi import update_content


@pytest.fixture
def aws(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    point_aws_at(monkeypatch, s3_server.endpoint_url)


async def test_dry_run_plans_every_entry_and_writes_nothing_then_execute_replaces_and_a_rerun_is_a_no_op(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path, aws: None
) -> None:
    sim = kaltura_sim_factory(entries=40, seed=11, max_size_mb=0.3)
    env = replace_env(sim, s3_bucket, tmp_path)
    archived = await archive_all(env)
    before_sources = sources(sim)
    before_objects = objects(s3_server, s3_bucket)
    sim.control.reset_counters()

    plan = await run_replace(env, "--all")
    assert plan.code == 0, plan.stderr[-3000:]
    assert plan.by_outcome("planned") == sorted(archived)
    assert mutating_calls(sim) == {}
    assert sources(sim) == before_sources

    run = await run_replace(env, "--execute", "--all")
    assert run.code == 0, run.stderr[-3000:]
    assert run.by_outcome("replaced") == sorted(archived)
    placeholder = placeholder_of(env)
    after = sources(sim)
    for entry_id in archived:
        old, new = before_sources[entry_id], after[entry_id]
        assert new["id"] == old["id"]  # the same flavor, new content
        assert int(new["version"]) == int(old["version"]) + 1
        assert new["sizeInBytes"] == placeholder.size
    entries = {e["id"]: e for e in sim.control.get_entries()}
    assert all("flavors_deleted" in entries[e]["tags"] for e in archived)
    assert objects(s3_server, s3_bucket) == before_objects  # S3 untouched
    calls = sim.control.counters()["calls"]
    assert calls["media.updatecontent"] == len(archived)
    assert calls["thumbasset.setasdefault"] == len(archived)
    assert len(run.entry_events("entry.replaced")) == len(archived)
    assert run.finished["counts"]["replaced"] == len(archived)

    sim.control.reset_counters()
    again = await run_replace(env, "--execute", "--all")
    assert again.code == 0
    assert again.by_outcome("unchanged") == sorted(archived)
    assert mutating_calls(sim) == {}


async def test_a_failed_conversion_is_cancelled_leaves_the_original_and_a_rerun_replaces(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path, aws: None
) -> None:
    sim = kaltura_sim_factory(entries=20, seed=12, max_size_mb=0.3)
    env = replace_env(sim, s3_bucket, tmp_path)
    archived = await archive_all(env)
    before = sources(sim)
    sim.control.set_faults({"conversion": {"fail": True}})
    failing = await run_replace(env, "--execute", "--all")
    assert failing.code == 1
    assert failing.by_outcome("failed") == sorted(archived)
    assert all("cancelled" in row["reason"] for row in failing.rows if row["outcome"] == "failed")
    entries = {e["id"]: e for e in sim.control.get_entries()}
    for entry_id in archived:
        assert sources(sim)[entry_id] == before[entry_id]  # the original is untouched
        assert "flavors_deleted" not in entries[entry_id]["tags"]
    assert sim.control.counters()["calls"]["media.cancelreplace"] == len(archived)

    sim.control.set_faults({"conversion": {"fail": False}})
    run = await run_replace(env, "--execute", "--all")
    assert run.code == 0, run.stderr[-3000:]
    assert run.by_outcome("replaced") == sorted(archived)


async def test_a_lost_update_content_answer_starts_no_second_replacement(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path, aws: None
) -> None:
    sim = kaltura_sim_factory(entries=20, seed=13, max_size_mb=0.3)
    env = replace_env(sim, s3_bucket, tmp_path)
    archived = await archive_all(env)
    before = sources(sim)
    sim.control.reset_counters()
    sim.control.set_faults({"actions": {"media.updatecontent": {"drop_after": {"next": 3}}}})
    run = await run_replace(env, "--execute", "--all")
    assert run.code == 0, run.stderr[-3000:]
    assert run.by_outcome("replaced") == sorted(archived)
    assert sim.control.counters()["calls"]["media.updatecontent"] == len(archived)
    after = sources(sim)
    assert all(int(after[e]["version"]) == int(before[e]["version"]) + 1 for e in archived)
    # up to three answers lost (fewer when the replacements shared fewer multirequests), each of a
    # multirequest carrying one updateContent or more: every entry in them recognised
    dropped = sim.control.counters()["faults"]["multirequest.drop_after"]
    assert 1 <= dropped <= 3
    recognised = [row for row in run.rows if "answer was lost" in row["reason"]]
    assert len(recognised) >= dropped


async def test_action_blocked_bursts_slow_the_run_but_every_entry_is_replaced_once(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path, aws: None
) -> None:
    sim = kaltura_sim_factory(entries=24, seed=14, max_size_mb=0.3)
    env = replace_env(sim, s3_bucket, tmp_path)
    archived = await archive_all(env)
    before = sources(sim)
    sim.control.reset_counters()
    # a burst of blocked calls on each write (as a partner's rate limit answers), fewer than a call's attempts
    burst = {"action_blocked": {"next": 5}}
    writes = ("media.updatecontent", "uploadtoken.add", "uploadtoken.upload", "thumbasset.addfromimage")
    sim.control.set_faults({"actions": dict.fromkeys(writes, burst)})
    run = await run_replace(env, "--execute", "--all")
    assert run.code == 0, run.stderr[-3000:]
    assert run.by_outcome("replaced") == sorted(archived)
    counters = sim.control.counters()
    assert counters["errors"]["ACTION_BLOCKED"] == 5 * len(writes)
    after = sources(sim)
    assert all(int(after[e]["version"]) == int(before[e]["version"]) + 1 for e in archived)


async def _work_for(run: Any, sim: Any, entry_id: str) -> Work:
    fresh = await run.client.reread(entry_id)
    work = await run.stages.check(Candidate(fresh.entry, fresh.flavors))
    assert isinstance(work, Work), work
    return work


async def test_a_users_replacement_after_our_check_is_left_alone(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path, aws: None
) -> None:
    """Between the check and the replacer's fresh look: the re-read sees it and refuses."""
    sim = kaltura_sim_factory(entries=12, seed=15, max_size_mb=0.3)
    env = replace_env(sim, s3_bucket, tmp_path)
    archived = await archive_all(env)
    sim.control.set_faults({"conversion": {"delay_s": 3600}})
    async with stages_for(sim, s3_bucket, env) as run:
        work = await _work_for(run, sim, archived[0])
        await update_content(sim, archived[0])  # the user's replacement, converting for an hour
        result = await run.stages.act(work)
    assert isinstance(result, Finish)
    assert result.value.outcome == "refused"
    assert "in progress" in result.value.reason
    assert sim.control.counters()["calls"]["media.updatecontent"] == 1  # the user's only


async def test_a_users_replacement_between_our_look_and_our_act_is_a_conflict_not_a_second_replacement(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path, aws: None
) -> None:
    """Our updateContent is held at the simulator after our fresh look; the user's lands first."""
    sim = kaltura_sim_factory(entries=12, seed=16, max_size_mb=0.3)
    env = replace_env(sim, s3_bucket, tmp_path)
    archived = await archive_all(env)
    victim = archived[0]
    before = sources(sim)[victim]
    sim.control.set_faults(
        {"conversion": {"delay_s": 3600}, "actions": {"media.updatecontent": {"hold": {"next": 1}}}}
    )
    async with stages_for(sim, s3_bucket, env) as run:
        work = await _work_for(run, sim, victim)
        ours = asyncio.ensure_future(run.stages.act(work))
        # our call is at the simulator, held
        await until(lambda: ours.done() or sim.control.set_faults({})["held"] == 1, "our call held")
        assert not ours.done(), ours.result()
        await update_content(sim, victim)  # the user's replacement goes through first
        sim.control.set_faults({"release": True})
        result = await ours
    assert isinstance(result, Finish)
    assert result.value.outcome == "conflict"
    assert "not ours" in result.value.reason
    entry = next(e for e in sim.control.get_entries() if e["id"] == victim)
    assert "flavors_deleted" not in entry["tags"]
    sim.control.advance_clock(3601)  # the user's replacement completes: theirs, not the placeholder
    after = sources(sim)[victim]
    assert after["sizeInBytes"] != placeholder_of(env).size
    assert int(after["version"]) == int(before["version"]) + 1


async def test_a_users_upload_while_the_placeholder_goes_up_is_never_replaced(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path, aws: None
) -> None:
    """Once the token holds the placeholder, immediately before updateContent, the entry and its object are
    looked at again: a user's new content (never archived) that arrived meanwhile is left alone."""
    sim = kaltura_sim_factory(entries=12, seed=18, max_size_mb=0.3)
    env = replace_env(sim, s3_bucket, tmp_path)
    archived = await archive_all(env)
    victim = archived[0]
    sim.control.set_faults({"actions": {"uploadtoken.upload": {"hold": {"next": 1}}}})
    async with stages_for(sim, s3_bucket, env) as run:
        work = await _work_for(run, sim, victim)
        ours = asyncio.ensure_future(run.stages.act(work))
        await until(lambda: ours.done() or sim.control.set_faults({})["held"] == 1, "our upload held")
        assert not ours.done(), ours.result()
        await update_content(sim, victim)  # the user's new video, converted at once
        users = sources(sim)[victim]
        sim.control.set_faults({"release": True})
        result = await ours
    assert isinstance(result, Finish), result
    assert result.value.outcome == "refused", result.value
    assert "changed" in result.value.reason
    assert sources(sim)[victim] == users  # the user's content, not the placeholder
    assert sim.control.counters()["calls"]["media.updatecontent"] == 1  # the user's only


async def test_a_ks_that_expires_mid_run_is_renewed_and_the_entry_replaced(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path, aws: None
) -> None:
    sim = kaltura_sim_factory(entries=12, seed=17, max_size_mb=0.3)
    env = replace_env(sim, s3_bucket, tmp_path)
    archived = await archive_all(env)
    clock = Clock()
    async with stages_for(sim, s3_bucket, env, clock=clock, ks_ttl_s=3600) as run:
        work = await _work_for(run, sim, archived[0])
        # the server is past the KS's end; our clock moved less, so we renew nothing of our own accord
        await sim.control.aadvance_clock(3600 + 10)
        clock.now += 3600 / 2
        began = await run.stages.act(work)
        assert isinstance(began, Work)
        waited = await run.stages.wait(began)
        assert isinstance(waited, Work)
        outcome = await run.stages.finish(waited)
        assert run.client.ks_generated == 2
    assert outcome.outcome == "replaced", outcome.reason
    assert sim.control.counters()["errors"]["INVALID_KS"] >= 1  # per sub-call of the multirequest it met
