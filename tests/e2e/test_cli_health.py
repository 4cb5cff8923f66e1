"""`kaltura-archiver health` run as a user runs it: the old tool's columns plus the verdict, #SUMMARY lines,
exit 1 with an unhealthy entry; exit 2 naming PLACEHOLDER_VIDEO when the placeholder cannot be read."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from testbed.placeholders import write_placeholders
from testbed.s3 import S3Server
from tests.e2e.s3copy_runs import CLI, RUN_DEADLINE_S, s3copy, user_env


def health(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "health", *argv], env=env, capture_output=True, text=True, timeout=RUN_DEADLINE_S, check=False
    )


def test_health_reports_a_tsv_verdict_per_entry_and_exits_1_for_an_unhealthy_one(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=30, seed=4, max_size_mb=0.5)
    env = user_env(sim, s3_server, s3_bucket, **write_placeholders(tmp_path))
    archived = s3copy(env, "--execute", "--all")
    assert archived.returncode == 0, archived.stderr[-2000:]
    report = [line.split("\t") for line in archived.stdout.splitlines()[1:] if not line.startswith("#")]
    listed = sorted(fields[0] for fields in report if fields[2] == "archived")
    victim = listed[0]
    sim.control.patch_entry(victim, tags="")  # the object stays, the tag goes: object without tag

    run = health(env)
    assert run.returncode == 1, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    header = lines[0].split("\t")
    assert header[:4] == ["last_played_date", "last_played", "plays", "entry_id"]
    assert header[-3:] == ["verdict", "rule", "detail"]
    rows = [
        dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:] if not line.startswith("#")
    ]
    by_id = {row["entry_id"]: row for row in rows}
    assert (by_id[victim]["verdict"], by_id[victim]["rule"]) == ("UNHEALTHY", "object_iff_tag")
    assert all(by_id[e]["verdict"] == "HEALTHY" for e in listed[1:])
    summary = {f[1]: int(f[2]) for f in (line.split("\t") for line in lines if line.startswith("#SUMMARY"))}
    # the catalog's edge cases (an entry not READY, a source not READY) are unhealthy too
    assert summary["unhealthy"] == sum(row["verdict"].startswith("UNHEALTHY") for row in rows)
    assert summary["total"] == len(rows)


def test_health_without_the_placeholder_file_exits_2_naming_the_setting(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=5, seed=4, max_size_mb=0.1)
    env = user_env(sim, s3_server, s3_bucket, PLACEHOLDER_VIDEO=str(tmp_path / "missing.mp4"))
    run = health(env)
    assert run.returncode == 2
    assert run.stdout == ""
    (line,) = run.stderr.strip().splitlines()[-1:]
    assert "PLACEHOLDER_VIDEO" in line
    assert "missing.mp4" in line
