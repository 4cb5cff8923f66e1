"""Whole runs of every job (`--log-format json`): each stderr line is an event the log schema
(jobs/common/events.schema.json) accepts, entry events carry exactly their fixed keys and their job's details,
and each run that ends with a summary ends with one `run.finished` whose EMF block CloudWatch can read."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from testbed.ldap import LdapServer
from testbed.s3 import S3Server
from tests.e2e.log_runs import every_job, schema_problems, world_env

# the jobs whose run ends with its `run.finished` event
SUMMARISED = {
    "list",
    "s3copy",
    "replace_video",
    "restore_from_s3",
    "health",
    "stats",
    "owners",
    "ldap_status",
}
ALL_JOBS = SUMMARISED | {"config", "count", "shards", "download"}
EXPECTED = {
    "entry.planned", "entry.uploaded", "entry.archived", "entry.unchanged", "entry.failed",
    "entry.replace_started", "entry.replaced", "entry.downloaded", "entry.unknown",
    "progress", "call.retrying", "s3copy.starting", "ldap.bound", "ldap.search",
}  # fmt: skip


def test_every_line_of_whole_runs_of_each_job_fits_the_log_schema(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, ldap_server: LdapServer, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=40, seed=4, size_mb=0.05, max_size_mb=0.2)
    env = world_env(sim, s3_server, s3_bucket, ldap_server, tmp_path)
    problems: list[str] = []
    seen: Counter[str] = Counter()
    jobs = set()
    for run in every_job(sim, env, tmp_path):
        assert run.code in (0, 1), f"{run.name} exited {run.code}: {run.stderr[-2000:]}"
        problems += schema_problems(run)
        names = [event["event"] for event in run.events()]
        seen.update(names)
        job = next(word for word in run.argv if not word.startswith("-") and word != "DEBUG")
        jobs.add(job)
        if job in SUMMARISED:
            assert names.count("run.finished") == 1, run.name
            assert names[-1] == "run.finished", run.name
    assert problems == []
    assert jobs == ALL_JOBS
    # the runs went through the events that matter: each kind of entry event these runs make, progress,
    # retries after faults, debug events
    assert set(seen) >= EXPECTED, sorted(seen)
