"""repair as a user runs it: one mixed batch (an untagged copy, a tag without its object, a healthy entry,
one that needs a person), a dry run that writes nothing, --execute, then a second run; the exit codes."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from testbed.placeholders import write_placeholders
from testbed.s3 import S3Server
from tests.e2e.s3copy_runs import CLI, RUN_DEADLINE_S, tsv, user_env
from tests.integration.s3copy_harness import archivable, original, sim_entries


def cli(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *argv], env=env, capture_output=True, text=True, timeout=RUN_DEADLINE_S, check=False
    )


def outcomes(run: subprocess.CompletedProcess[str]) -> dict[str, str]:
    rows, _ = tsv(run.stdout)
    return {row["entry_id"]: row["outcome"] for row in rows}


async def test_a_mixed_batch_is_planned_repaired_and_left_alone_with_exit_codes_0_1_2(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=30, seed=9, max_size_mb=0.2)
    env = user_env(sim, s3_server, s3_bucket, **write_placeholders(tmp_path))
    videos = archivable(sim)
    plain = [e["id"] for e in sim_entries(sim).values() if e["id"] in videos and e["status"] == "2"
             and not {"archived_to_s3", "flavors_deleted"} & set(e["tags"])
             and original(e)["sizeInBytes"] > 0][:4]  # fmt: skip
    untagged, tag_only, healthy, person = plain
    select = [a for i in plain for a in ("--id", i)]
    archived = cli(env, "s3copy", "--execute", "--id", untagged, "--id", healthy, "--id", person)
    assert archived.returncode == 0, archived.stderr[-2000:]
    entries = sim_entries(sim)
    await sim.control.apatch_entry(
        untagged, tags=[t for t in entries[untagged]["tags"] if t != "archived_to_s3"]
    )
    await sim.control.apatch_entry(tag_only, tags=[*entries[tag_only]["tags"], "archived_to_s3"])
    await sim.control.apatch_entry(person, status="1")  # not READY: no safe fix

    assert cli(env, "repair", "--execute").returncode == 2  # a real run needs a selection
    plan = cli(env, "repair", *select)
    assert plan.returncode == 1, plan.stderr[-2000:]
    assert outcomes(plan) == {untagged: "planned", tag_only: "planned", healthy: "unchanged",
                              person: "needs_person"}  # fmt: skip
    assert "archived_to_s3" not in sim_entries(sim)[untagged]["tags"]

    run = cli(env, "repair", "--repair", *select)  # the old tool's spelling of --execute
    assert run.returncode == 1, run.stderr[-2000:]
    assert outcomes(run) == {untagged: "repaired", tag_only: "repaired", healthy: "unchanged",
                             person: "needs_person"}  # fmt: skip
    _, summary = tsv(run.stdout)
    assert (summary["repaired"], summary["total"]) == (2, 4)

    fixed = cli(env, "repair", "--execute", "--id", untagged, "--id", tag_only, "--id", healthy)
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    assert set(outcomes(fixed).values()) == {"unchanged"}
    health = cli(env, "health", "--id", untagged, "--id", tag_only)
    assert health.returncode == 0, health.stdout
