"""Whole runs of every job, as a user runs them (`--log-format json`, a subprocess each), against one small
testbed world: the simulator, moto and slapd. The log schema tests read every stderr line they wrote."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from jobs.common.events import event_schema
from testbed.kaltura_sim import SimProcess
from testbed.ldap import LdapServer
from testbed.placeholders import write_placeholders
from testbed.s3 import S3Server
from tests.e2e.s3copy_runs import CLI, RUN_DEADLINE_S, tsv, user_env

# a user's own tuning: the testbed answers fast
FAST = {"ARCHIVER_KALTURA_RPS": "200", "ARCHIVER_READY_POLL": "0.2"}


@dataclass(frozen=True)
class Run:
    """One run of one command: its words, exit code, stdout and stderr."""

    argv: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def name(self) -> str:
        return " ".join(self.argv)

    def lines(self) -> list[str]:
        """Every line the run wrote to stderr."""
        return self.stderr.splitlines()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines() if line.startswith("{")]


def run_cli(env: dict[str, str], *argv: str, stdin: str | None = None) -> Run:
    """`kaltura-archiver --log-format json <argv>` run to its end."""
    done = subprocess.run(
        [*CLI, "--log-format", "json", *argv], env=env, input=stdin, capture_output=True, text=True,
        timeout=RUN_DEADLINE_S, check=False,
    )  # fmt: skip
    return Run(tuple(argv), done.returncode, done.stdout, done.stderr)


def world_env(sim: SimProcess, s3: S3Server, bucket: str, ldap: LdapServer, tmp: Path) -> dict[str, str]:
    """Every setting a user of all the jobs exports: Kaltura, the bucket, the placeholders, LDAP."""
    return user_env(sim, s3, bucket, **write_placeholders(tmp), **FAST, **ldap.client_env())


def every_job(sim: SimProcess, env: dict[str, str], tmp: Path) -> Iterator[Run]:
    """Whole runs of each job, in the order of an archive's life: read-only looks, a dry run, the copy (with
    faults to retry, and debug events), the replacement, the restore, the checks and reports after it, a
    download. Each is yielded once it has ended."""
    yield run_cli(env, "config")
    yield run_cli(env, "count")
    listed = run_cli(env, "list")
    yield listed
    yield run_cli(env, "list", "--mode", "flavor", "--format", "jsonl")
    yield run_cli(env, "shards", "2")
    yield run_cli(env, "s3copy", "--all")
    faults = {"media.list": {"http_503": {"next": 1}}, "flavorasset.geturl": {"internal_error": {"next": 2}}}
    sim.control.set_faults({"actions": faults, "download": {"drop": {"next": 1}}})
    archived = run_cli(env, "--loglevel", "DEBUG", "s3copy", "--execute", "--all")
    sim.control.set_faults({"reset": True})
    yield archived
    rows, _ = tsv(archived.stdout)
    copied = [row["entry_id"] for row in rows if row["outcome"] == "archived"]
    yield run_cli(env, "s3copy", "--execute", "--id", copied[0], "--id", "0_nosuchid")
    yield run_cli(env, "replace_video", "--all")
    half = tmp / "half.txt"
    half.write_text("".join(f"{entry_id}\n" for entry_id in copied[: len(copied) // 2]))
    yield run_cli(env, "replace_video", "--execute", "--idfile", str(half))
    yield run_cli(env, "restore_from_s3", "--tag", "flavors_deleted")
    yield run_cli(env, "restore_from_s3", "--execute", "--tag", "flavors_deleted")
    yield run_cli(env, "health")
    yield run_cli(env, "stats", "--chart", str(tmp / "stats.html"))
    yield run_cli(env, "--loglevel", "DEBUG", "owners")
    yield run_cli(env, "ldap_status", stdin=listed.stdout)
    yield run_cli(env, "download", "--id", copied[-1], "--tmp", str(tmp))


def schema_problems(run: Run) -> list[str]:
    """What in `run`'s stderr breaks the log schema: a line that is no JSON event, an event the schema
    refuses, an EMF metric without its value."""
    validator = Draft202012Validator(event_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)
    problems = []
    for number, line in enumerate(run.lines(), 1):
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            problems.append(f"{run.name}, line {number} is no JSON event: {line[:200]}")
            continue
        for error in validator.iter_errors(event):
            where = "/".join(str(p) for p in error.absolute_path)
            problems.append(
                f"{run.name}, line {number} ({event.get('event')}) {where}: {error.message[:300]}"
            )
        problems += [f"{run.name}, line {number}: {p}" for p in emf_problems(event)]
    return problems


def emf_problems(event: dict[str, Any]) -> list[str]:
    """An EMF block's metrics and dimensions without their value at the event's top level (the schema
    cannot tie names to keys)."""
    if "_aws" not in event:
        return []
    problems = []
    for directive in event["_aws"]["CloudWatchMetrics"]:
        for metric in directive["Metrics"]:
            value = event.get(metric["Name"])
            if not isinstance(value, int | float) or isinstance(value, bool):
                problems.append(f"EMF metric {metric['Name']} has no number at top level: {value!r}")
        for dimension in (d for group in directive["Dimensions"] for d in group):
            if not isinstance(event.get(dimension), str):
                problems.append(f"EMF dimension {dimension} has no text at top level")
    return problems
