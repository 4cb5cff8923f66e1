"""kill -9 of `kaltura-archiver s3copy --execute` in the middle of 50 large uploads, then a second run: it
converges, leaves no multipart upload open, and overwrites nothing."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from testbed.s3 import S3Server
from testbed.s3_faults import S3FaultProxy
from tests.e2e.s3copy_runs import CLI, events, finish, start, tsv, unless_ended, user_env
from tests.integration.s3copy_harness import (
    archivable,
    assert_proven_copy,
    objects,
    open_uploads,
    served_sizes,
    sim_entries,
)

ENTRIES = 50
# 3 parts of 5 MiB each (the last one shorter): the hold, not the size, puts the kill mid-run, and moto keeps
# every object in memory (24 MB originals made it the suite's largest process, near 2 GiB)
SIZE_MB = 12
TRANSFERS = 6
COMPLETED_FIRST = 8  # objects the first run completes before its completions are held
COMPLETIONS = ("CompleteMultipartUpload", "PutObject")


def completed(proxy: S3FaultProxy) -> int:
    """The completions the proxy has received (held ones included)."""
    requests = proxy.counters()["requests"]
    return sum(requests.get(op, 0) for op in COMPLETIONS)


async def test_kill_9_mid_run_then_a_second_run_converges_without_overwriting(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str
) -> None:
    sim = kaltura_sim_factory(entries=ENTRIES, seed=31, size_mb=SIZE_MB)
    expected = archivable(sim)
    # the held completions of every transfer, after those let through, leave entries for the second run
    assert len(expected) > COMPLETED_FIRST + 2 * TRANSFERS
    async with S3FaultProxy(s3_server.endpoint_url) as proxy:
        env = user_env(
            sim, s3_server, s3_bucket, AWS_ENDPOINT_URL=proxy.endpoint_url, ARCHIVER_TRANSFERS=str(TRANSFERS)
        )
        first = await asyncio.create_subprocess_exec(
            *CLI, "s3copy", "--execute", "--all", env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            # some objects complete; then each completion is held, so every transfer ends up waiting on
            # one with all its parts sent: the run is frozen with that many uploads open when it is killed
            some_done = proxy.until(
                lambda p: sum(p.answered[op] for op in COMPLETIONS) >= COMPLETED_FIRST, "objects completed"
            )
            await unless_ended(first, some_done, "it completed some objects")
            proxy.set_plan(hold=True, operations=COMPLETIONS)
            frozen = proxy.until(lambda p: len(p.held) == TRANSFERS, "a completion held for each transfer")
            await unless_ended(first, frozen, "each transfer was waiting on its completion")
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        assert first.returncode == -signal.SIGKILL
        # the held completions die with the run (S3 never sees them); every other call it made has ended
        held_keys = {call.key.split("/", 1)[1] for call in proxy.held}
        proxy.release(forward=False)
        await proxy.until(lambda p: p.in_flight == 0, "the killed run's calls ended")
        proxy.set_plan(hold=False)

        survivors = objects(s3_server, s3_bucket)
        assert 0 < len(survivors) < len(expected)
        left_open = set(open_uploads(s3_server, s3_bucket))
        assert left_open == held_keys  # the uploads the kill left open: those waiting on their completion
        before = completed(proxy)

        code, out, err = await finish(await start(env))
        assert code == 0, err[-3000:]

    rows, _ = tsv(out)
    outcomes = {r["entry_id"]: r["outcome"] for r in rows}
    assert {e for e, o in outcomes.items() if o in ("archived", "tagged", "unchanged")} == expected
    after = objects(s3_server, s3_bucket)
    assert set(after) == expected
    for key, obj in survivors.items():  # nothing the first run completed was written again
        assert after[key] == obj
    assert completed(proxy) - before == len(expected) - len(survivors)
    assert open_uploads(s3_server, s3_bucket) == []
    entries = sim_entries(sim)
    for entry_id in expected:
        assert "archived_to_s3" in entries[entry_id]["tags"]
        assert_proven_copy(s3_server, s3_bucket, entries[entry_id], sim.partner_id, served_sizes(sim))
    aborted = {e["entry_id"] for e in events(err) if e["event"] == "entry.stale_upload_aborted"}
    assert left_open  # the kill did leave uploads behind...
    assert aborted == left_open  # ...and the second run aborted each of them before its entry's copy
