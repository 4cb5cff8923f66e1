"""Bad input is refused before anything changes: `s3copy --execute` exits 2 with one line naming the problem
and the fix, and neither Kaltura nor S3 saw a single request (the simulator's call counters and the bucket
prove it)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3  # type: ignore[import-untyped]  # no stubs installed
import pytest

from tests.e2e.s3copy_runs import CLI, user_env

if TYPE_CHECKING:
    from testbed.kaltura_sim import SimProcess
    from testbed.s3 import S3Server

SimFactory = Callable[..., "SimProcess"]


def env_of(sim: SimProcess, s3: S3Server, bucket: str, **changes: str | None) -> dict[str, str]:
    """A user's environment with `changes` (None: the variable unset)."""
    env = user_env(sim, s3, bucket)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *argv], env=env, capture_output=True, text=True, timeout=120, check=False)


def stored_objects(s3: S3Server) -> list[str]:
    """Every key of every bucket the S3 server holds."""
    client = boto3.client("s3", **s3.client_kwargs())
    keys: list[str] = []
    for bucket in client.list_buckets().get("Buckets", []):
        found = client.list_objects_v2(Bucket=bucket["Name"]).get("Contents", [])
        keys += [f"{bucket['Name']}/{o['Key']}" for o in found]
    return keys


def write_idfile(path: Path, ids: list[str], tail: bytes = b"") -> str:
    path.write_bytes("".join(f"{i}\n" for i in ids).encode() + tail)
    return str(path)


# name -> (argv after `s3copy --execute`, environment changes, what the one stderr line says)
CASES: dict[str, tuple[list[str], dict[str, str | None], list[str]]] = {
    "idfile with undecodable bytes after 80 good ids": (
        ["--idfile", "{good_then_bad}"], {}, ["--idfile", "line 81 is not UTF-8 text"]),
    "idfile that is a directory": (["--idfile", "{dir}"], {}, ["is a directory"]),
    "idfile with a line that is no id": (["--idfile", "{not_an_id}"], {}, ["line 3: 'not an id'"]),
    "--id that is no id": (["--id", "0_short"], {}, ["--id '0_short' is not a Kaltura entry id"]),
    "years beyond the range": (["--unplayed_for", "99999999999"], {}, ["out of range: give 0 to 100 years"]),
    "created within 2 but before 5": (
        ["--created_within", "2", "--created_before", "5"], {}, ["selects nothing", "--created_within more"]),
    "played within 1 and unplayed for 3": (
        ["--played_within", "1", "--unplayed_for", "3"], {}, ["selects nothing"]),
    "tag and its negation": (["--tag", "x", "--tag", "!x"], {}, ["selects nothing"]),
    "bucket name S3 would refuse": (
        ["--unplayed_for", "3"], {"AWS_BUCKET": "Bad_Bucket/../x"}, ["AWS_BUCKET='Bad_Bucket/../x'"]),
    "legacy bucket name": (["--unplayed_for", "3"], {"AWS_BUCKET": "Old_Bucket"}, ["upper-case letters"]),
    "prefix with a dot-dot segment": (
        ["--unplayed_for", "3"], {"ARCHIVER_S3_PREFIX": "../x/"}, ["ARCHIVER_S3_PREFIX='../x/'", "'..'"]),
    "prefix too long for a key": (
        ["--unplayed_for", "3"], {"ARCHIVER_S3_PREFIX": "p" * 1000}, ["1024 bytes"]),
    "no KALTURA_USERID": (
        ["--unplayed_for", "3"], {"KALTURA_USERID": None}, ["KALTURA_USERID is not set"]),
    "no selection at all": ([], {}, ["no selection", "--all"]),
    "--all with a filter": (["--all", "--unplayed_for", "3"], {}, ["--all with --unplayed_for"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_with_one_line_and_changes_nothing(
    case: str, kaltura_sim_factory: SimFactory, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    argv, env_changes, said = CASES[case]
    sim = kaltura_sim_factory(entries=120, seed=31, size_mb=0.05)
    ids = [e["id"] for e in sim.control.get_entries()]
    undecodable = b"\xff\xfe0_\xc3garbage\n" + ids[80].encode()
    paths = {
        "good_then_bad": write_idfile(tmp_path / "ids.txt", ids[:80], undecodable),
        "dir": str(tmp_path),
        "not_an_id": write_idfile(tmp_path / "typo.txt", [ids[0], "# a comment", "not an id", ids[1]]),
    }
    before: dict[str, Any] = sim.control.counters()["calls"]
    done = run(env_of(sim, s3_server, s3_bucket, **env_changes), "s3copy", "--execute",
               *(a.format(**paths) for a in argv))  # fmt: skip
    assert (done.returncode, done.stdout) == (2, ""), done.stderr[-2000:]
    (line,) = done.stderr.splitlines()
    assert line.startswith("kaltura-archiver: ")
    for words in said:
        assert words in line
    assert sim.control.counters()["calls"] == before  # Kaltura was not even asked
    assert stored_objects(s3_server) == []


def test_all_makes_a_real_run_of_everything_explicit(
    kaltura_sim_factory: SimFactory, s3_server: S3Server, s3_bucket: str
) -> None:
    sim = kaltura_sim_factory(entries=6, seed=32, size_mb=0.05)
    done = run(user_env(sim, s3_server, s3_bucket), "s3copy", "--execute", "--all")
    assert done.returncode == 0, done.stderr[-2000:]
    assert stored_objects(s3_server)


def test_a_dry_run_without_selection_plans_everything_with_a_warning(
    kaltura_sim_factory: SimFactory, s3_server: S3Server, s3_bucket: str
) -> None:
    sim = kaltura_sim_factory(entries=6, seed=33, size_mb=0.05)
    done = run(user_env(sim, s3_server, s3_bucket), "s3copy")
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"selection.everything"' in done.stderr
    assert len(done.stdout.splitlines()) > 1
    assert stored_objects(s3_server) == []


@pytest.mark.parametrize("suffix", ["/api_v3", "/api_v3/", "/api_v3/index.php"])
def test_a_service_url_copied_with_api_v3_works(kaltura_sim: SimProcess, suffix: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALTURA_", "ARCHIVER_"))}
    env.update(kaltura_sim.client_env())
    env["KALTURA_SERVICE_URL"] += suffix
    done = run(env, "count", "--status", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("#COUNT\t")


def test_list_without_kaltura_userid_exits_2_naming_it(kaltura_sim: SimProcess) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALTURA_", "ARCHIVER_"))}
    env.update(kaltura_sim.client_env())
    del env["KALTURA_USERID"]
    done = run(env, "list", "-M", "1")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("kaltura-archiver: KALTURA_USERID is not set: set KALTURA_USERID")
    assert done.stderr.count("\n") == 1
