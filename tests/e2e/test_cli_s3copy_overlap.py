"""Two `kaltura-archiver s3copy --execute` runs over the same entries at once (a scheduled task started while
the last one still runs), then a third run: the second run aborts the first one's open uploads as stale, and
the first sends those entries again; both runs end with every entry archived, nothing is tagged without a
proven object, nothing is overwritten, and the third run changes nothing and leaves no upload open.

The overlap is made, not hoped for: the first run talks to S3 through a proxy that holds its part uploads,
so its uploads are open, whatever the machine's speed, until the second run has aborted them."""

from __future__ import annotations

import asyncio
from typing import Any

from testbed.s3 import S3Server
from testbed.s3_faults import FaultPlan, S3FaultProxy
from tests.e2e.s3copy_runs import events, finish, start, tsv, unless_ended, user_env
from tests.integration.s3copy_harness import (
    archivable,
    assert_proven_copy,
    objects,
    open_uploads,
    s3_client,
    served_sizes,
    sim_entries,
)

ENTRIES = 12
SIZE_MB = 12  # 3 parts of 5 MiB
TRANSFERS = 3
DONE = {"archived", "tagged", "unchanged"}  # the outcomes of an entry archived by this run or before


async def finished(process: asyncio.subprocess.Process) -> tuple[int, dict[str, dict[str, str]], list[Any]]:
    """Exit code, report rows by entry, log events."""
    code, out, err = await finish(process)
    assert "Traceback" not in err, err[-3000:]
    rows, _ = tsv(out)
    return code, {r["entry_id"]: r for r in rows}, events(err)


def upload_ids(server: S3Server, bucket: str) -> set[str]:
    """The ids of the multipart uploads open in `bucket`."""
    uploads = s3_client(server).list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return {upload["UploadId"] for upload in uploads}


def entries_events(events: list[Any], name: str) -> set[str]:
    return {e["entry_id"] for e in events if e["event"] == name}


async def test_two_overlapping_runs_both_archive_everything_and_a_third_run_changes_nothing(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str
) -> None:
    sim = kaltura_sim_factory(entries=ENTRIES, seed=41, size_mb=SIZE_MB)
    expected = archivable(sim)
    assert len(expected) >= 2 * TRANSFERS
    held_parts = FaultPlan(hold=True, operations=frozenset({"UploadPart"}))
    async with (
        S3FaultProxy(s3_server.endpoint_url, plan=held_parts) as first_s3,
        S3FaultProxy(s3_server.endpoint_url) as second_s3,
    ):
        env = user_env(sim, s3_server, s3_bucket, ARCHIVER_TRANSFERS=str(TRANSFERS))
        first = await start({**env, "AWS_ENDPOINT_URL": first_s3.endpoint_url})
        second: asyncio.subprocess.Process | None = None
        try:
            # each of the first run's transfers has a part held: its uploads are open and stay open
            every_transfer_held = first_s3.until(
                lambda p: len({call.upload_id for call in p.held}) == TRANSFERS, "a part of each transfer"
            )
            await unless_ended(first, every_transfer_held, "its transfers were under way")
            stale = {call.upload_id for call in first_s3.held}
            assert stale == upload_ids(s3_server, s3_bucket)
            second = await start({**env, "AWS_ENDPOINT_URL": second_s3.endpoint_url})
            # the second run's sweep: each upload open at its start aborted (S3 has answered each abort)
            swept = second_s3.until(
                lambda p: p.answered["AbortMultipartUpload"] >= len(stale), "the stale uploads aborted"
            )
            await unless_ended(second, swept, "it aborted the stale uploads")
            assert not stale & upload_ids(s3_server, s3_bucket)
            first_s3.set_plan(hold=False)
            first_s3.release()  # the held parts go on, to uploads that are gone
            both = await asyncio.gather(finished(first), finished(second))
        except BaseException:
            for process in (first, second):
                if process is not None and process.returncode is None:
                    process.kill()
            raise
    (code_a, rows_a, events_a), (code_b, rows_b, events_b) = both

    # the runs did overlap: the second found the first one's uploads open at its start and aborted them
    aborted = entries_events(events_b, "entry.stale_upload_aborted")
    assert aborted
    assert len(aborted) == len(stale)
    # the first run met its uploads aborted (S3's NoSuchUpload) and sent those entries again
    resent = entries_events(events_a, "transfer.sending_again")
    assert resent
    assert resent <= aborted
    assert resent == aborted  # each of them: its parts were held until the abort
    # so every entry ended archived (or found archived) in both runs, with no failure
    for code, rows in ((code_a, rows_a), (code_b, rows_b)):
        assert {rows[e]["outcome"] for e in expected} <= DONE, {
            e: rows[e] for e in expected if rows[e]["outcome"] not in DONE
        }
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
    code_c, rows_c, _ = await finished(third)
    assert code_c == 0
    assert {rows_c[e]["outcome"] for e in expected} == {"unchanged"}
    assert objects(s3_server, s3_bucket) == after_two  # nothing written again
    assert open_uploads(s3_server, s3_bucket) == []
