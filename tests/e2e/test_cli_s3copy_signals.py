"""`kaltura-archiver s3copy --execute` stopped by signals in the middle of its transfers: SIGTERM drains and
writes its summary (exit 143), two SIGINTs cancel at once (exit 130); neither prints a traceback, leaves a
multipart upload open or a tag without its object, and a second run converges.

"In the middle" is made, not hoped for: the run talks to S3 through a proxy that holds its part uploads, so
its transfers cannot finish before the signal, whatever the machine's speed."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from testbed.kaltura_sim import SimProcess
from testbed.s3 import S3Server
from testbed.s3_faults import FaultPlan, S3FaultProxy
from tests.e2e.s3copy_runs import events, finish, start, tsv, unless_ended, user_env
from tests.integration.s3copy_harness import (
    archivable,
    assert_proven_copy,
    objects,
    open_uploads,
    served_sizes,
    sim_entries,
)

ENTRIES = 10
SIZE_MB = 16  # four 5 MiB parts
# the pipeline gets DRAIN - s3copy.DRAIN_MARGIN_S = 1 s to finish what it holds (it cannot: its parts are
# held), the summary the rest
KNOBS = {"ARCHIVER_TRANSFERS": "2", "ARCHIVER_DRAIN": "4"}
# a drain far longer than the test takes: the second SIGINT comes while the first one's drain still waits
LONG_DRAIN = {**KNOBS, "ARCHIVER_DRAIN": "600"}
ARCHIVED_TAG = "archived_to_s3"


def tagged(sim: SimProcess) -> set[str]:
    return {entry_id for entry_id, e in sim_entries(sim).items() if ARCHIVED_TAG in e["tags"]}


@asynccontextmanager
async def parts_held(server: S3Server) -> AsyncIterator[S3FaultProxy]:
    """A proxy to `server` holding every part upload; what it still holds at the end never reaches S3."""
    async with S3FaultProxy(server.endpoint_url, plan=FaultPlan(hold=True)) as proxy:
        yield proxy


async def start_mid_transfer(env: dict[str, str], proxy: S3FaultProxy) -> asyncio.subprocess.Process:
    """`s3copy --execute` through `proxy`, started and running until the proxy holds one of its parts (an
    original on its way, its multipart upload open)."""
    process = await start({**env, "AWS_ENDPOINT_URL": proxy.endpoint_url})
    try:
        await unless_ended(
            process, proxy.until(lambda p: bool(p.held), "a part held"), "a part was on its way"
        )
    except BaseException:
        process.kill()
        await finish(process)
        raise
    return process


async def read_until(process: asyncio.subprocess.Process, event: str) -> list[str]:
    """The run's stderr lines up to and including its log event `event` (the rest stays to be read)."""
    assert process.stderr is not None
    lines: list[str] = []
    async with asyncio.timeout(60):
        async for raw in process.stderr:
            lines.append(raw.decode())
            if raw.startswith(b"{") and json.loads(raw)["event"] == event:
                return lines
    raise AssertionError(f"the run ended without logging {event}: {''.join(lines)[-3000:]}")


def assert_every_new_tag_has_its_proven_object(
    sim: SimProcess, server: S3Server, bucket: str, before: set[str]
) -> set[str]:
    """No entry gained `archived_to_s3` without a proven copy in the bucket; the entries that gained it."""
    gained = tagged(sim) - before
    assert gained <= set(objects(server, bucket))
    entries = sim_entries(sim)
    for entry_id in gained:
        assert_proven_copy(server, bucket, entries[entry_id], sim.partner_id, served_sizes(sim))
    return gained


async def test_sigterm_mid_transfer_drains_writes_the_summary_and_exits_143(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str
) -> None:
    sim = kaltura_sim_factory(entries=ENTRIES, seed=51, size_mb=SIZE_MB)
    before = tagged(sim)
    async with parts_held(s3_server) as proxy:
        process = await start_mid_transfer(user_env(sim, s3_server, s3_bucket, **KNOBS), proxy)
        process.send_signal(signal.SIGTERM)
        code, out, err = await finish(process)

    assert code == 143, err[-3000:]
    assert "Traceback" not in err
    rows, summary = tsv(out)
    assert summary["total"] == len(rows)  # the #SUMMARY lines are there
    names = [e["event"] for e in events(err)]
    assert "run.stopping" in names
    assert names.count("run.finished") == 1
    assert "run.cut_short" not in names
    (finished,) = [e for e in events(err) if e["event"] == "run.finished"]
    assert finished["cancelled"] > 0  # transfers were cut off in flight...
    cut = [r for r in rows if r["outcome"] == "stopped" and "by the drain deadline" in r["reason"]]
    assert len(cut) == finished["cancelled"]  # ...each with its row (the next run does it)
    assert open_uploads(s3_server, s3_bucket) == []  # ...and their uploads aborted
    assert_every_new_tag_has_its_proven_object(sim, s3_server, s3_bucket, before)


async def test_two_sigints_cancel_at_once_exit_130_and_a_second_run_converges(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str
) -> None:
    sim = kaltura_sim_factory(entries=ENTRIES, seed=52, size_mb=SIZE_MB)
    expected = archivable(sim)
    before = tagged(sim)
    env = user_env(sim, s3_server, s3_bucket, **LONG_DRAIN)
    async with parts_held(s3_server) as proxy:
        process = await start_mid_transfer(env, proxy)
        process.send_signal(signal.SIGINT)
        # the second SIGINT once the first is handled (two pending at once would be one signal)
        first_lines = await read_until(process, "run.stopping")
        process.send_signal(signal.SIGINT)
        code, out, rest = await finish(process)
    err = "".join(first_lines) + rest

    assert code == 130, err[-3000:]
    assert "Traceback" not in err
    names = [e["event"] for e in events(err)]
    assert {"run.stopping", "run.aborting", "run.cut_short"} <= set(names)
    rows, summary = tsv(out)  # the report is closed even so: its rows, then its summary
    assert summary["total"] == len(rows)
    assert_every_new_tag_has_its_proven_object(sim, s3_server, s3_bucket, before)

    code, out, err = await finish(await start(env))  # straight to S3, nothing held
    assert code == 0, err[-3000:]
    rows, _ = tsv(out)
    done = {r["entry_id"] for r in rows if r["outcome"] in ("archived", "tagged", "unchanged")}
    assert done == expected
    assert_every_new_tag_has_its_proven_object(sim, s3_server, s3_bucket, before)
    assert expected <= tagged(sim)
    assert set(objects(s3_server, s3_bucket)) == expected
    assert open_uploads(s3_server, s3_bucket) == []


async def test_after_sigterm_no_new_transfer_starts_and_the_entries_not_begun_are_reported_stopped(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str
) -> None:
    """Both transfers held at their downloads' first byte, SIGTERM, then the downloads let go: the two finish,
    no third download starts in the drain, and every entry taken in has its row (`stopped`: run again)."""
    sim = kaltura_sim_factory(entries=ENTRIES, seed=53, size_mb=2)
    expected = archivable(sim)
    await sim.control.aset_faults({"download": {"hold": True}})
    env = user_env(sim, s3_server, s3_bucket, ARCHIVER_TRANSFERS="2", ARCHIVER_DRAIN="120")
    process = await start(env)
    try:
        await unless_ended(process, downloads_held(sim, 2), "both transfers were downloading")
        process.send_signal(signal.SIGTERM)
        seen = await read_until(process, "run.stopping")  # the signal is taken: let the downloads go
        await sim.control.aset_faults({"download": {"hold": False}})
    except BaseException:
        process.kill()
        await finish(process)
        raise
    code, out, err = await finish(process)

    assert code == 143, err[-3000:]
    assert (await sim.control.acounters())["downloads"] == 2  # no transfer began after the signal
    rows, summary = tsv(out)
    assert summary["total"] == len(rows)
    outcomes = {r["entry_id"]: r for r in rows}
    archived = {e for e, r in outcomes.items() if r["outcome"] == "archived"}
    stopped = {e for e, r in outcomes.items() if r["outcome"] == "stopped"}
    assert len(archived) == 2
    assert stopped
    assert archived | stopped == expected  # every archivable entry has its row
    assert all("the next run does it" in outcomes[e]["reason"] for e in stopped)
    (finished,) = [e for e in events("".join(seen) + err) if e["event"] == "run.finished"]
    assert finished["not_started"] == len(stopped)
    assert finished["cancelled"] == 0
    assert open_uploads(s3_server, s3_bucket) == []


async def downloads_held(sim: SimProcess, count: int) -> None:
    """Return once the simulator holds `count` downloads before their first byte (the pytest timeout bounds
    the wait; the check is the testbed's own counter, not a guess at time)."""
    while True:
        if (await sim.control.acounters())["downloads_in_flight"] >= count:
            return
        await asyncio.sleep(0.05)  # the simulator runs in its own process: its counters are polled
