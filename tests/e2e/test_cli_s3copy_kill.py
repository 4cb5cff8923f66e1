"""kill -9 of `kaltura-archiver s3copy --execute` in the middle of 50 large uploads, then a second run: it
converges, leaves no multipart upload open, and overwrites nothing."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any

from testbed.s3 import S3Server
from testbed.s3_faults import S3FaultProxy
from tests.e2e.test_cli_s3copy import CLI, tsv, user_env
from tests.integration.test_s3copy_archive import archivable
from tests.integration.test_s3copy_harness import (
    assert_proven_copy,
    objects,
    open_uploads,
    served_sizes,
    sim_entries,
)

ENTRIES = 50
SIZE_MB = 24  # 5 parts of 5 MiB each, 1.2 GB in all
COMPLETIONS = ("CompleteMultipartUpload", "PutObject")


def completed(proxy: S3FaultProxy) -> int:
    requests = proxy.counters()["requests"]
    return sum(requests.get(op, 0) for op in COMPLETIONS)


async def settled_objects(server: S3Server, bucket: str) -> dict[str, dict[str, Any]]:
    """The bucket's objects once S3 has finished what the killed process had sent (a completion in flight
    may still land after the kill): the same listing twice, half a second apart."""
    previous = objects(server, bucket)
    for _ in range(20):
        await asyncio.sleep(0.5)
        current = objects(server, bucket)
        if current == previous:
            return current
        previous = current
    return previous


async def test_kill_9_mid_run_then_a_second_run_converges_without_overwriting(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str
) -> None:
    sim = kaltura_sim_factory(entries=ENTRIES, seed=31, size_mb=SIZE_MB)
    expected = archivable(sim)
    async with S3FaultProxy(s3_server.endpoint_url) as proxy:
        env = user_env(sim, s3_server, s3_bucket, AWS_ENDPOINT_URL=proxy.endpoint_url, ARCHIVER_TRANSFERS="6")
        first = await asyncio.create_subprocess_exec(
            *CLI, "s3copy", "--execute", "--all", env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            async with asyncio.timeout(120):
                # kill once some objects are complete and parts of others are on their way (an upload is open:
                # transfers waiting for Kaltura between entries can leave none for a moment)
                while (
                    completed(proxy) < 8
                    or proxy.counters()["requests"].get("UploadPart", 0) < 60
                    or not open_uploads(s3_server, s3_bucket)
                ):
                    assert first.returncode is None, "the run ended before it could be killed"
                    await asyncio.sleep(0.05)
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        assert first.returncode == -signal.SIGKILL

        survivors = await settled_objects(s3_server, s3_bucket)
        assert 0 < len(survivors) < len(expected)
        left_open = set(open_uploads(s3_server, s3_bucket))
        before = completed(proxy)

        second = await asyncio.create_subprocess_exec(
            *CLI, "s3copy", "--execute", "--all", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        async with asyncio.timeout(150):
            out, err = await second.communicate()
        assert second.returncode == 0, err.decode()[-3000:]

    rows, _ = tsv(out.decode())
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
    events = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    aborted = {e["entry_id"] for e in events if e["event"] == "entry.stale_upload_aborted"}
    assert left_open  # the kill did leave uploads behind...
    assert aborted == left_open  # ...and the second run aborted each of them before its entry's copy
