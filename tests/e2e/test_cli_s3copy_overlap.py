"""Two `kaltura-archiver s3copy --execute` runs over the same entries at once (a scheduled task started while
the last one still runs), then a third run: the second run aborts the first one's open uploads as stale, and
the first sends those entries again; both runs end with every entry archived, nothing is tagged without a
proven object, nothing is overwritten, and the third run changes nothing and leaves no upload open."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from testbed.s3 import S3Server
from tests.e2e.test_cli_s3copy import CLI, tsv, user_env
from tests.integration.test_s3copy_archive import archivable
from tests.integration.test_s3copy_harness import (
    assert_proven_copy,
    objects,
    open_uploads,
    served_sizes,
    sim_entries,
)

ENTRIES = 12
SIZE_MB = 12  # 3 parts of 5 MiB
DONE = {"archived", "tagged", "unchanged"}  # the outcomes of an entry archived by this run or before


async def start(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *CLI, "s3copy", "--execute", "--all", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def finish(process: asyncio.subprocess.Process) -> tuple[int, dict[str, dict[str, str]], list[Any]]:
    """Exit code, report rows by entry, log events."""
    async with asyncio.timeout(150):
        out, err = await process.communicate()
    assert process.returncode is not None
    assert "Traceback" not in err.decode(), err.decode()[-3000:]
    rows, _ = tsv(out.decode())
    events = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    return process.returncode, {r["entry_id"]: r for r in rows}, events


def entries_events(events: list[Any], name: str) -> set[str]:
    return {e["entry_id"] for e in events if e["event"] == name}


async def test_two_overlapping_runs_both_archive_everything_and_a_third_run_changes_nothing(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str
) -> None:
    sim = kaltura_sim_factory(entries=ENTRIES, seed=41, size_mb=SIZE_MB)
    sim.control.set_faults({"download": {"mbps": 48}})  # about 2 s per original: uploads stay open a while
    expected = archivable(sim)
    assert len(expected) >= 6
    env = user_env(sim, s3_server, s3_bucket, ARCHIVER_TRANSFERS="3")

    first = await start(env)
    try:
        async with asyncio.timeout(60):
            while len(open_uploads(s3_server, s3_bucket)) < 2:  # the first run is mid-upload on 2 entries
                assert first.returncode is None, "the first run ended before the second started"
                await asyncio.sleep(0.05)
        second = await start(env)
    except BaseException:
        first.kill()
        raise
    both = await asyncio.gather(finish(first), finish(second))
    (code_a, rows_a, events_a), (code_b, rows_b, events_b) = both

    # the runs did overlap: the second found the first one's uploads open at its start and aborted them
    aborted = entries_events(events_b, "entry.stale_upload_aborted")
    assert aborted
    # the first run met its uploads aborted (S3's NoSuchUpload) and sent those entries again
    resent = entries_events(events_a, "transfer.sending_again")
    assert resent
    assert resent <= aborted
    # so every entry ended archived (or found archived) in both runs, with no failure
    for code, rows in ((code_a, rows_a), (code_b, rows_b)):
        assert {rows[e]["outcome"] for e in expected} <= DONE, rows
        assert code == 0

    # every entry tagged, each over a proven copy of its original
    entries = sim_entries(sim)
    sizes = served_sizes(sim)
    after_two = objects(s3_server, s3_bucket)
    assert set(after_two) == expected
    for entry_id in expected:
        assert "archived_to_s3" in entries[entry_id]["tags"]
        assert_proven_copy(s3_server, s3_bucket, entries[entry_id], sim.partner_id, sizes)
    assert open_uploads(s3_server, s3_bucket) == []  # each upload was completed or aborted

    third = await start(env)
    code_c, rows_c, _ = await finish(third)
    assert code_c == 0
    assert {rows_c[e]["outcome"] for e in expected} == {"unchanged"}
    assert objects(s3_server, s3_bucket) == after_two  # nothing written again
    assert open_uploads(s3_server, s3_bucket) == []
