"""How a run ends when its surroundings are broken, run as a user runs it: the documented exit code, one line
on stderr (no traceback), and the run's summary still written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from testbed.kaltura_sim import SimProcess
from testbed.s3 import S3Server

CLI = [sys.executable, "-m", "jobs.cli"]


def env_for(sim: SimProcess, s3: S3Server | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALTURA_", "ARCHIVER_", "AWS_", "DOIT"))}
    env.update(sim.client_env(), ARCHIVER_KALTURA_RPS="200")
    if s3 is not None:
        env.update(s3.client_env())
    env.update(extra)
    return env


def cli(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *argv], env=env, capture_output=True, text=True, timeout=120, check=False)


def plain_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.startswith("{")]


def finished(stderr: str) -> dict[str, Any]:
    (event,) = [json.loads(line) for line in stderr.splitlines() if '"run.finished"' in line]
    return event


def test_s3copy_with_a_missing_bucket_exits_3_in_one_line_with_its_summary(
    kaltura_sim: SimProcess, s3_server: S3Server, s3_bucket: str
) -> None:
    env = env_for(kaltura_sim, s3_server, AWS_BUCKET=f"{s3_bucket}-nope")
    done = cli(env, "s3copy", "--unplayed_for", "3")
    assert done.returncode == 3
    line = "kaltura-archiver: s3.head_bucket: the bucket does not exist: check AWS_BUCKET"
    assert plain_lines(done.stderr) == [line]
    assert done.stdout.splitlines()[-1] == "#SUMMARY\ttotal\t0"
    assert finished(done.stderr)["error"] == line.removeprefix("kaltura-archiver: ")


def test_kaltura_failing_past_its_retries_exits_3_naming_the_call(kaltura_sim_factory: Any) -> None:
    sim = kaltura_sim_factory(entries=20)
    sim.control.set_faults({"actions": {"media.list": {"http_503": {"probability": 1.0}}}})
    done = cli(env_for(sim, ARCHIVER_KALTURA_RETRIES="2"), "list", "--unplayed_for", "3")
    assert done.returncode == 3
    (line,) = plain_lines(done.stderr)
    assert line.startswith("kaltura-archiver: media.list")
    assert "gave up on media.list" in line
    assert line.endswith("check the service and run again (work done is kept)")
    assert finished(done.stderr)["error"]
    assert done.stdout.startswith("last_played_date\t")  # the report's header: a well-formed, empty report


def test_list_into_a_closed_pipe_exits_141_without_a_traceback(kaltura_sim_factory: Any) -> None:
    """`kaltura-archiver list | head -1`: more rows than a pipe holds, so the writer meets the closed end."""
    sim = kaltura_sim_factory(entries=1500)
    proc = subprocess.Popen(
        [*CLI, "list"], env=env_for(sim), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("last_played_date\t")
    proc.stdout.close()
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 141
    assert plain_lines(stderr) == []
    assert "Traceback" not in stderr
    assert '"run.output_closed"' in stderr


@pytest.mark.parametrize("command", ["list", "count", "s3copy"])
def test_an_unknown_id_fails_the_run_in_every_command(
    command: str, kaltura_sim: SimProcess, s3_server: S3Server, s3_bucket: str
) -> None:
    """One rule for ids that Kaltura does not know: not listed, not counted, exit 1."""
    known = kaltura_sim.control.get_entries()[0]["id"]
    env = env_for(kaltura_sim, s3_server, AWS_BUCKET=s3_bucket)
    done = cli(env, command, "--id", known, "--id", "0_zzzzzzzz")
    assert done.returncode == 1, done.stderr[-2000:]
    unknown = [json.loads(line) for line in done.stderr.splitlines() if '"entry.unknown"' in line]
    assert [e["entry_id"] for e in unknown] == ["0_zzzzzzzz"]
    if command == "count":
        assert done.stdout.startswith("#COUNT\t1\t")
    elif command == "s3copy":
        rows = {line.split("\t")[0]: line.split("\t") for line in done.stdout.splitlines()[1:]}
        assert rows["0_zzzzzzzz"][2:3] == ["failed"]
        assert rows["0_zzzzzzzz"][-1] == "no such entry in Kaltura"
        assert rows[known][2] != "failed"
