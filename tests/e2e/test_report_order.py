"""The report of `s3copy` and `replace_video` keeps the listing's order when the first listed entry finishes
last: the simulator holds its download (or its placeholder upload) until every later entry has logged its
end, then lets it go."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from testbed.placeholders import write_placeholders
from testbed.s3 import S3Server
from tests.e2e.log_runs import FAST
from tests.e2e.s3copy_runs import CLI, finish, s3copy, tsv, user_env

UNKNOWN = "0_nosuchid"


def id_file(directory: Path, name: str, ids: list[str]) -> str:
    path = directory / name
    path.write_text("".join(f"{entry_id}\n" for entry_id in ids))
    return str(path)


async def start(env: dict[str, str], *argv: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *CLI, "--log-format", "json", *argv, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def read_until_ended(process: asyncio.subprocess.Process, event: str, ids: set[str]) -> list[str]:
    """The stderr lines up to the one where each of `ids` has logged `event` (an entry's end); an
    AssertionError if the run's stderr ends first."""
    assert process.stderr is not None
    lines, waiting = [], set(ids)
    while waiting:
        line = (await process.stderr.readline()).decode()
        assert line, f"the run ended before {sorted(waiting)} logged {event}"
        lines.append(line)
        if line.startswith("{"):
            found = json.loads(line)
            if found.get("event") == event:
                waiting.discard(found.get("entry_id"))
    return lines


def planned_archives(env: dict[str, str]) -> list[str]:
    """Entries a dry run would archive."""
    dry = s3copy(env, "--all")
    assert dry.returncode == 0, dry.stderr[-2000:]
    rows, _ = tsv(dry.stdout)
    return [row["entry_id"] for row in rows if row["outcome"] == "planned" and row["action"] == "archive"]


async def test_s3copy_rows_follow_the_listing_when_the_first_entry_finishes_last(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=20, seed=5, size_mb=0.05, max_size_mb=0.2)
    env = user_env(sim, s3_server, s3_bucket, **FAST)
    first, *later = planned_archives(env)[:5]
    done = s3copy(env, "--execute", "--idfile", id_file(tmp_path, "later.txt", later))
    assert done.returncode == 0, done.stderr[-2000:]
    sim.control.set_faults({"download": {"hold": True}})  # the first entry's copy waits before its first byte
    listed = [first, later[0], UNKNOWN, *later[1:]]
    process = await start(env, "s3copy", "--execute", "--idfile", id_file(tmp_path, "all.txt", listed))
    try:
        await read_until_ended(process, "entry.unchanged", set(later))  # the later ones are done
    finally:
        sim.control.set_faults({"download": {"hold": False}})
    code, out, _ = await finish(process)
    assert code == 1  # the unknown id
    rows, _ = tsv(out)
    outcomes = [(row["entry_id"], row["outcome"]) for row in rows]
    # the unknown id's row comes where the listing found it missing: before its chunk's entries
    assert outcomes == [(UNKNOWN, "failed"), (first, "archived"), *((e, "unchanged") for e in later)]


async def test_replace_video_rows_follow_the_listing_when_the_first_entry_finishes_last(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=20, seed=5, size_mb=0.05, max_size_mb=0.2)
    env = user_env(sim, s3_server, s3_bucket, **write_placeholders(tmp_path), **FAST)
    first, *later = planned_archives(env)[:5]
    done = s3copy(env, "--execute", "--id", first)
    assert done.returncode == 0, done.stderr[-2000:]
    # the first entry's placeholder upload waits; the later ones are refused at once (not archived)
    sim.control.set_faults({"actions": {"uploadtoken.add": {"hold": {"next": 1}}}})
    listed = [first, *later]
    process = await start(env, "replace_video", "--execute", "--idfile", id_file(tmp_path, "all.txt", listed))
    try:
        await read_until_ended(process, "entry.skipped", set(later))
    finally:
        sim.control.set_faults({"release": True})
    code, out, _ = await finish(process)
    assert code == 0
    rows, _ = tsv(out)
    outcomes = [(row["entry_id"], row["outcome"]) for row in rows]
    assert outcomes == [(first, "replaced"), *((e, "refused") for e in later)]
