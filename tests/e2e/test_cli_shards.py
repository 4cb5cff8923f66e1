"""`kaltura-archiver shards N` and `--shard K/N`, run as a user runs them (subprocesses) against a simulator
process and moto: the windows partition the selection, and N tasks run in parallel do the single run's work,
each entry once."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from tests.e2e.s3copy_runs import CLI, RUN_DEADLINE_S, events, s3copy, tsv, user_env
from tests.integration.s3copy_harness import objects, sim_entries

if TYPE_CHECKING:
    from testbed.kaltura_sim import SimProcess
    from testbed.s3 import S3Server

SimFactory = Callable[..., "SimProcess"]


def cli(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *argv], env=env, capture_output=True, text=True, timeout=RUN_DEADLINE_S, check=False
    )


def kaltura_env(sim: SimProcess, **extra: str) -> dict[str, str]:
    """What a user exports for `list` and `count`: no AWS, no shard settings but `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALTURA_", "ARCHIVER_", "AWS_"))}
    env.update(sim.client_env(), ARCHIVER_KALTURA_RPS="200", **extra)
    return env


def counted(stdout: str) -> int:
    marker, count, _ = stdout.rstrip("\n").split("\t")
    assert marker == "#COUNT"
    return int(count)


def listed_ids(stdout: str) -> list[str]:
    header, *rows = stdout.splitlines()
    column = header.split("\t").index("entry_id")
    return [row.split("\t")[column] for row in rows]


def test_shards_prints_balanced_windows_that_count_and_list_take_back(kaltura_sim: SimProcess) -> None:
    env = kaltura_env(kaltura_sim)
    selection = ("--status", "2", "--tag", "!archived_to_s3")
    done = cli(env, "shards", "4", *selection)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].split("\t") == [
        "shard",
        "created_from",
        "created_before",
        "entries",
        "from_time",
        "before_time",
    ]
    rows = [dict(zip(lines[0].split("\t"), line.split("\t"), strict=True)) for line in lines[1:5]]
    assert [r["shard"] for r in rows] == ["1/4", "2/4", "3/4", "4/4"]
    assert (rows[0]["created_from"], rows[3]["created_before"]) == ("", "")  # the outer windows are open
    assert all(rows[k]["created_before"] == rows[k + 1]["created_from"] for k in range(3))
    total_line, bounds_line = lines[5:]
    _, total, description = total_line.split("\t")
    assert "tag=!archived_to_s3" in description
    assert sum(int(r["entries"]) for r in rows) == int(total)  # balanced on the server-side filter
    marker, bounds = bounds_line.split("\t")
    assert marker == "#SHARD_BOUNDS"
    assert bounds == "ARCHIVER_SHARD_BOUNDS=" + ",".join(r["created_before"] for r in rows[:3])
    (planned,) = [e for e in events(done.stderr) if e["event"] == "shards.planned"]
    assert 0 < planned["count_requests"] <= 40

    whole = cli(env, "list", *selection)
    assert whole.returncode == 0, whole.stderr[-2000:]
    everything = listed_ids(whole.stdout)
    with_bounds = {**env, "ARCHIVER_SHARD_BOUNDS": bounds.split("=", 1)[1]}
    parts: list[str] = []
    for k in range(1, 5):
        part = cli(with_bounds, "list", *selection, "--shard", f"{k}/4")
        assert part.returncode == 0, part.stderr[-2000:]
        parts += listed_ids(part.stdout)
        (window,) = [e for e in events(part.stderr) if e["event"] == "shard.window"]
        assert (window["source"], window["count_requests"]) == ("ARCHIVER_SHARD_BOUNDS", 0)
        assert window["created_before"] == (int(rows[k - 1]["created_before"]) if k < 4 else None)
    assert sorted(parts) == sorted(everything)  # each entry in exactly one window
    assert len(parts) == len(set(parts))

    # without bounds each task counts its own window, and finds the same one
    own = [cli(env, "count", "--status", "2", "--shard", f"{k}/4") for k in (1, 4)]
    assert [p.returncode for p in own] == [0, 0]
    assert counted(own[0].stdout) == int(rows[0]["entries"])
    assert counted(own[1].stdout) == int(rows[3]["entries"])


def test_format_env_prints_what_an_array_job_needs(kaltura_sim: SimProcess) -> None:
    done = cli(kaltura_env(kaltura_sim), "shards", "3", "--unplayed_for", "3", "--format", "env")
    assert done.returncode == 0, done.stderr[-2000:]
    shards, bounds = done.stdout.splitlines()
    assert shards == "ARCHIVER_SHARDS=3"
    name, cuts = bounds.split("=")
    assert name == "ARCHIVER_SHARD_BOUNDS"
    values = [int(c) for c in cuts.split(",")]
    assert len(values) == 2
    assert values == sorted(values)


@pytest.mark.parametrize(
    ("command", "argv", "env", "said"),
    [
        ("count", ("--shard", "0/4"), {}, "--shard='0/4' is not a shard: set it to K/N"),
        ("count", ("--shard", "5/4"), {}, "--shard='5/4' is not a shard"),
        ("list", (), {"ARCHIVER_SHARD": "a/b"}, "ARCHIVER_SHARD='a/b' is not a shard"),
        ("list", ("--shard", "2/4", "--id", "0_abcdefgh"), {}, "shard 2/4 with --id/--idfile"),
        (
            "count",
            (),
            {"AWS_BATCH_JOB_ARRAY_INDEX": "2"},
            "AWS_BATCH_JOB_ARRAY_INDEX=2 without ARCHIVER_SHARDS",
        ),
        ("count", (), {"ARCHIVER_SHARDS": "4"}, "ARCHIVER_SHARDS=4 without AWS_BATCH_JOB_ARRAY_INDEX"),
        ("shards", ("4", "--id", "0_abcdefgh"), {}, "shards with --id/--idfile"),
        ("shards", ("0",), {}, "argument N: '0' is not a number of shards"),
    ],
)
def test_bad_shard_input_is_one_line_and_exit_2_before_any_request(
    kaltura_sim: SimProcess, command: str, argv: tuple[str, ...], env: dict[str, str], said: str
) -> None:
    before = kaltura_sim.control.counters()["requests"]
    done = cli(kaltura_env(kaltura_sim, **env), command, *argv)
    assert (done.returncode, done.stdout) == (2, "")
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"kaltura-archiver: {said}")
    assert kaltura_sim.control.counters()["requests"] == before


def test_four_array_tasks_in_parallel_archive_the_single_runs_set_each_entry_once(
    kaltura_sim_factory: SimFactory, s3_server: S3Server, s3_bucket: str
) -> None:
    # The tasks start one after the other and overlap; each counts its own window while the others tag what
    # they archived: balanced on the server-side filter, the windows do not move under `!archived_to_s3`.
    sim = kaltura_sim_factory(entries=120, seed=41, size_mb=0.05)
    env = user_env(sim, s3_server, s3_bucket, ARCHIVER_KALTURA_RPS="100")
    selection = ("--tag", "!archived_to_s3")
    plan = s3copy(env, *selection)  # the single run, as a dry run: its report is the plan
    assert plan.returncode == 0, plan.stderr[-2000:]
    planned_rows, _ = tsv(plan.stdout)
    single = {r["entry_id"]: r["outcome"] for r in planned_rows}
    assert Counter(single.values())["planned"] > 40

    tasks = [
        subprocess.Popen(
            [*CLI, "s3copy", "--execute", *selection],
            env={**env, "ARCHIVER_SHARDS": "4", "AWS_BATCH_JOB_ARRAY_INDEX": str(index)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(4)
    ]
    results = [task.communicate(timeout=RUN_DEADLINE_S) for task in tasks]
    assert [task.returncode for task in tasks] == [0, 0, 0, 0], [err[-1500:] for _, err in results]

    rows = [row for out, _ in results for row in tsv(out)[0]]
    done = Counter(row["entry_id"] for row in rows)
    assert set(done) == set(single)
    assert set(done.values()) == {1}  # each entry once
    archived = {row["entry_id"] for row in rows if row["outcome"] == "archived"}
    assert archived == {i for i, outcome in single.items() if outcome == "planned"}
    assert set(objects(s3_server, s3_bucket)) == archived
    entries = sim_entries(sim)
    assert all("archived_to_s3" in entries[i]["tags"] for i in archived)
    windows = [next(e for e in events(err) if e["event"] == "shard.window") for _, err in results]
    assert [w["shard"] for w in windows] == ["1/4", "2/4", "3/4", "4/4"]
    assert all(w["source"] == "counted" for w in windows)
    assert all(windows[k]["created_before"] == windows[k + 1]["created_from"] for k in range(3))
    assert json.dumps(rows).count(sim.admin_secret) == 0
