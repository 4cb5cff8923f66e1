"""Helpers for the end-to-end tests of `kaltura-archiver s3copy`: the command line run as a user runs it
(environment variables, a subprocess), its report and its log events, and waits on a testbed condition that
fail at once when the run ends first."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable
from typing import Any

from testbed.kaltura_sim import SimProcess
from testbed.s3 import S3Server

CLI = [sys.executable, "-m", "jobs.cli"]
RUN_DEADLINE_S = 150.0


def user_env(sim: SimProcess, s3: S3Server, bucket: str, **extra: str) -> dict[str, str]:
    """What a user exports: the old tool's variables, the service URL, the bucket, the AWS chain."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALTURA_", "ARCHIVER_", "AWS_", "DOIT"))}
    env.update(
        KALTURA_PARTNERID=str(sim.partner_id),
        KALTURA_SECRET=sim.admin_secret,
        KALTURA_USERID=sim.user_id,
        KALTURA_SERVICE_URL=sim.service_url,
        AWS_BUCKET=bucket,
        ARCHIVER_PART_SIZE="5MiB",
        **s3.client_env(),
    )
    env.update(extra)
    return env


def s3copy(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    """`s3copy` run to its end (for sync tests: it blocks the event loop)."""
    return subprocess.run(
        [*CLI, "s3copy", *argv], env=env, capture_output=True, text=True, timeout=RUN_DEADLINE_S, check=False
    )


async def start(env: dict[str, str], *argv: str) -> asyncio.subprocess.Process:
    """`s3copy --execute` with the selection `argv` (default `--all`) started, its stdout and stderr piped."""
    return await asyncio.create_subprocess_exec(
        *CLI, "s3copy", "--execute", *(argv or ("--all",)), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of a started run once it has ended; killed if it outlives the deadline."""
    try:
        async with asyncio.timeout(RUN_DEADLINE_S):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def unless_ended(process: asyncio.subprocess.Process, wait: Awaitable[None], what: str) -> None:
    """Await `wait` (a testbed condition); AssertionError naming `what` if `process` ends first."""
    waiting = asyncio.ensure_future(wait)
    ended = asyncio.ensure_future(process.wait())
    try:
        await asyncio.wait({waiting, ended}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiting, ended):
            task.cancel()
    if not waiting.done() or waiting.cancelled():
        raise AssertionError(f"the run ended (exit {process.returncode}) before {what}")
    waiting.result()


def tsv(stdout: str) -> tuple[list[dict[str, str]], dict[str, int]]:
    """The report rows and the #SUMMARY counts."""
    lines = stdout.splitlines()
    header = lines[0].split("\t")
    rows = [
        dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:] if not line.startswith("#")
    ]
    summary = {p[1]: int(p[2]) for p in (line.split("\t") for line in lines if line.startswith("#SUMMARY"))}
    return rows, summary


def events(stderr: str) -> list[dict[str, Any]]:
    """The JSON log events of a run."""
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
