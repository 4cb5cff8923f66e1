"""The container's runbooks run as a task runs them (`bash -e`, the old tool's N_YEARS and DOIT) against the
testbed: step order and flags, a dry run unless DOIT is exactly `true`, a step's exit 1 lets the later steps
run and is the runbook's exit code, any other failure ends the runbook at once; the entry script runs a
runbook or a kaltura-archiver command line."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from testbed.s3 import S3Server
from tests.e2e.runbooks import ENTRYPOINT, PLACEHOLDERS, owed_exit, recorded, recording, runbook
from tests.e2e.s3copy_runs import RUN_DEADLINE_S, user_env
from tests.integration.s3copy_harness import objects

DAY_S = 86_400


def task_env(sim: Any, s3: S3Server, bucket: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return user_env(sim, s3, bucket, **PLACEHOLDERS, **recording(tmp_path), **extra)


@pytest.mark.parametrize("doit", [None, "TRUE", "yes"])
def test_archive_rc_is_a_dry_run_unless_doit_is_exactly_true(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path, doit: str | None
) -> None:
    """Whatever the tool itself would take for true, the runbook announces a dry run and the tool runs one."""
    sim = kaltura_sim_factory(entries=20, seed=5, max_size_mb=0.2)
    env = task_env(sim, s3_server, s3_bucket, tmp_path, **({} if doit is None else {"DOIT": doit}))
    done = runbook("archive.rc", env, tmp_path)

    steps = recorded(env)
    assert [argv for _, argv in steps] == ["s3copy --unplayed_for 3", "replace_video --unplayed_for 3"]
    assert done.returncode == owed_exit([code for code, _ in steps]), done.stderr[-2000:]
    assert "DOIT=false" in done.stdout
    assert "\tplanned\t" in done.stdout
    assert not objects(s3_server, s3_bucket)


def test_archive_rc_with_doit_true_archives_then_replaces_for_n_years(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=20, seed=5, max_size_mb=0.2)
    env = task_env(sim, s3_server, s3_bucket, tmp_path, DOIT="true", N_YEARS="2")
    done = runbook("archive.rc", env, tmp_path)

    steps = recorded(env)
    assert [argv for _, argv in steps] == [
        "s3copy --unplayed_for 2 --execute",
        "replace_video --unplayed_for 2 --execute",
    ]
    assert steps[0][0] == 0, done.stderr[-2000:]
    assert done.returncode == owed_exit([code for code, _ in steps])
    assert objects(s3_server, s3_bucket)  # archived for real


def test_health_rc_runs_its_later_step_after_one_exits_1_and_then_exits_1(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=20, seed=6, max_size_mb=0.2)
    # an entry played last week that says it was replaced, with no archive: the first step finds it unhealthy
    victim = sorted(e["id"] for e in sim.control.get_entries())[0]
    last_week = sim.control.now() - 7 * DAY_S
    sim.control.patch_entry(victim, tags="flavors_deleted", plays=3, lastPlayedAt=last_week)
    env = task_env(sim, s3_server, s3_bucket, tmp_path)
    done = runbook("health.rc", env, tmp_path)

    steps = recorded(env)
    assert [argv for _, argv in steps] == [
        "health --tag flavors_deleted --played_within 3",
        "health --unplayed_for 3",
    ]
    assert steps[0][0] == 1, done.stderr[-2000:]
    assert done.returncode == 1
    assert victim in done.stdout.split("# HEALTH of the entries not played", 1)[0]
    assert done.stdout.count("\tverdict\trule\tdetail\n") == 2  # both reports, each with its header


def test_a_step_exiting_2_ends_the_runbook_at_once_with_2(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=5, seed=5, max_size_mb=0.1)
    env = task_env(sim, s3_server, s3_bucket, tmp_path, DOIT="true")
    del env["AWS_BUCKET"]  # a setting to fix: s3copy exits 2
    done = runbook("archive.rc", env, tmp_path)

    assert recorded(env) == [(2, "s3copy --unplayed_for 3 --execute")]  # replace_video never ran
    assert done.returncode == 2
    assert "'s3copy' exited 2; later steps skipped" in done.stderr


def test_restore_rc_restores_the_replaced_entries_played_within_n_years(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=5, seed=5, max_size_mb=0.1)
    env = task_env(sim, s3_server, s3_bucket, tmp_path, DOIT="true", N_YEARS="5")
    done = runbook("restore.rc", env, tmp_path)

    steps = recorded(env)
    assert [argv for _, argv in steps] == [
        "restore_from_s3 --tag flavors_deleted --played_within 5 --execute"
    ]
    assert done.returncode == owed_exit([code for code, _ in steps])


def test_the_entry_script_runs_a_subcommand_or_a_runbook(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=5, seed=5, max_size_mb=0.1)
    env = task_env(sim, s3_server, s3_bucket, tmp_path)

    def entry(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [ENTRYPOINT, *argv], env=env, cwd=tmp_path, capture_output=True, text=True,
            timeout=RUN_DEADLINE_S, check=False,
        )  # fmt: skip

    counted = entry("count", "--unplayed_for", "3")
    assert counted.returncode == 0, counted.stderr[-2000:]
    assert counted.stdout.startswith("#COUNT\t")
    assert recorded(env) == [(0, "count --unplayed_for 3")]

    refused = entry("health.rc", "--all")  # a runbook takes its settings from the environment only
    assert refused.returncode == 2
    assert "health.rc takes no arguments: set N_YEARS and DOIT" in refused.stderr
    assert len(recorded(env)) == 1

    health = entry("health.rc")
    assert [argv for _, argv in recorded(env)[1:]] == [
        "health --tag flavors_deleted --played_within 3",
        "health --unplayed_for 3",
    ]
    assert health.returncode == owed_exit([code for code, _ in recorded(env)[1:]])
