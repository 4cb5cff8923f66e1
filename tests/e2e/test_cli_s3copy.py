"""`kaltura-archiver s3copy`, run as a user runs it (environment variables, a subprocess), against a simulator
process and moto: the dry-run plan first, then `--execute`; every archived object is provably the original."""

from __future__ import annotations

import json
from typing import Any

import pytest

from testbed.s3 import S3Server
from tests.e2e.s3copy_runs import s3copy, tsv, user_env
from tests.integration.s3copy_harness import (
    assert_proven_copy,
    objects,
    open_uploads,
    served_sizes,
    sim_entries,
)


def test_s3copy_unplayed_for_3_plans_then_execute_archives_the_originals(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str
) -> None:
    sim = kaltura_sim_factory(entries=60, seed=21, size_mb=6)
    env = user_env(sim, s3_server, s3_bucket)

    plan = s3copy(env, "--unplayed_for", "3")
    assert plan.returncode == 0, plan.stderr[-2000:]
    rows, summary = tsv(plan.stdout)
    assert list(rows[0]) == ["entry_id", "action", "outcome", "bytes", "seconds", "reason"]
    planned = {r["entry_id"] for r in rows if r["outcome"] == "planned"}
    assert planned
    assert summary["planned"] == len(planned)
    assert summary["total"] == len(rows)
    assert all(r["reason"] for r in rows)
    assert objects(s3_server, s3_bucket) == {}
    finished = [json.loads(line) for line in plan.stderr.splitlines() if '"run.finished"' in line]
    assert finished[0]["dry_run"] is True
    assert finished[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "KalturaArchiver"

    done = s3copy(env, "--unplayed_for", "3", "--execute")
    assert done.returncode == 0, done.stderr[-2000:]
    rows, summary = tsv(done.stdout)
    archived = {r["entry_id"] for r in rows if r["outcome"] == "archived"}
    assert archived == planned  # the dry run's plan was the plan
    entries = sim_entries(sim)
    for entry_id in archived:
        assert "archived_to_s3" in entries[entry_id]["tags"]
        assert_proven_copy(s3_server, s3_bucket, entries[entry_id], sim.partner_id, served_sizes(sim))
    assert set(objects(s3_server, s3_bucket)) == archived
    assert open_uploads(s3_server, s3_bucket) == []
    assert sim.admin_secret not in done.stderr + done.stdout


@pytest.mark.parametrize(("doit", "argv"), [("true", ()), ("false", ("--s3copy",))])
def test_doit_true_or_the_legacy_flag_makes_it_real_like_the_old_tool(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, doit: str, argv: tuple[str, ...]
) -> None:
    sim = kaltura_sim_factory(entries=6, seed=22, size_mb=1)
    done = s3copy(user_env(sim, s3_server, s3_bucket, DOIT=doit), *argv, "--all")
    assert done.returncode == 0, done.stderr[-2000:]
    _, summary = tsv(done.stdout)
    assert summary.get("archived", 0) == len(objects(s3_server, s3_bucket)) > 0


def test_a_missing_bucket_setting_is_one_line_naming_the_fix(
    kaltura_sim_factory: Any, s3_server: S3Server
) -> None:
    sim = kaltura_sim_factory(entries=4, seed=23)
    env = user_env(sim, s3_server, "unused")
    del env["AWS_BUCKET"]
    result = s3copy(env)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "AWS_BUCKET" in result.stderr
