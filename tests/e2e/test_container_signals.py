"""A runbook as PID 1 of its own PID namespace, as in a container without an init: the task's SIGTERM during
an `s3copy --execute` reaches the step, which drains; the runbook exits 143 within Fargate's 30 s, skips its
later steps and leaves no multipart upload open.

"During" is made, not hoped for: the run talks to S3 through a proxy that holds its part uploads."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from testbed.s3 import S3Server
from testbed.s3_faults import FaultPlan, S3FaultProxy
from tests.e2e.runbooks import CLI_BIN, ENTRYPOINT, PLACEHOLDERS
from tests.e2e.s3copy_runs import finish, unless_ended, user_env
from tests.integration.s3copy_harness import open_uploads

FARGATE_KILL_S = 30.0  # SIGKILL follows SIGTERM after the task's stopTimeout (30 s by default)


def unshare_refusal() -> str | None:
    """Why `unshare --pid --fork` cannot run here, or None when it can."""
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    probe = subprocess.run(
        ["unshare", "--pid", "--fork", "true"], capture_output=True, text=True, timeout=30, check=False
    )
    if probe.returncode != 0:
        return f"unshare --pid is not permitted here (needs CAP_SYS_ADMIN): {probe.stderr.strip()}"
    return None


def child_of(pid: int) -> int:
    """The one process whose parent is `pid` (unshare's child: PID 1 of the new namespace)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    (child,) = found
    return child


@pytest.mark.skipif(unshare_refusal() is not None, reason=str(unshare_refusal()))
async def test_sigterm_to_the_runbook_as_pid_1_drains_the_upload_and_exits_143_within_30_s(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=10, seed=51, size_mb=16)  # four 5 MiB parts each
    async with S3FaultProxy(s3_server.endpoint_url, plan=FaultPlan(hold=True)) as proxy:
        env = user_env(
            sim, s3_server, s3_bucket, **PLACEHOLDERS, DOIT="true", KALTURA_ARCHIVER=str(CLI_BIN),
            ARCHIVER_TRANSFERS="2", ARCHIVER_DRAIN="4", AWS_ENDPOINT_URL=proxy.endpoint_url,
        )  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            "unshare", "--pid", "--fork", "--kill-child", ENTRYPOINT, "archive.rc", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await unless_ended(process, proxy.until(lambda p: bool(p.held), "a part held"), "a part was held")
            assert open_uploads(s3_server, s3_bucket)  # an upload is open when the signal comes
            pid_1 = child_of(process.pid)
            started = time.monotonic()
            os.kill(pid_1, signal.SIGTERM)
        except BaseException:
            process.kill()
            await finish(process)
            raise
        code, out, err = await finish(process)
        took = time.monotonic() - started

    assert code == 128 + signal.SIGTERM, err[-3000:]
    assert took < FARGATE_KILL_S
    assert "stopped by SIGTERM; later steps skipped" in err
    assert "replace_video" not in err  # the later step never started
    assert "#SUMMARY\ttotal\t" in out  # s3copy drained and wrote its summary
    assert open_uploads(s3_server, s3_bucket) == []
