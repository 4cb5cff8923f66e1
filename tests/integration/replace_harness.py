"""Running replace_video against the simulator and moto, in-process: a catalog archived first (s3copy), the
whole job (`run_replace`), or its stages one at a time (`stages_for`) so a test can act between them.

The replace_video integration tests share these helpers.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.kaltura import KalturaClient
from adapters.s3 import S3Store, StoreConfig
from engine.pacer import Pacer
from engine.retry import RetryPolicy
from jobs import replace_video, restore_from_s3
from jobs.common.events import EventLog
from jobs.common.gate import Gate
from jobs.common.waiter import Waiter
from jobs.lifecycle import Placeholder
from jobs.replace_video.plan import Rules
from jobs.replace_video.stages import PlaceholderFiles, Replace
from jobs.restore_from_s3 import plan as restore_plan
from jobs.restore_from_s3.stages import Restore, RestoreConfig
from testbed.kaltura_sim import SimProcess
from testbed.placeholders import write_placeholders
from tests.integration.s3copy_harness import JobRun, run_job, run_s3copy, sim_entries, sim_env
from tests.integration.simapi import client_config

MUTATING = ("uploadtoken.add", "uploadtoken.upload", "media.updatecontent", "media.cancelreplace",
            "thumbasset.addfromimage", "thumbasset.setasdefault", "media.update")  # fmt: skip
# the waiter polls often: tests move the simulator's clock, not wait for it
FAST = {"ARCHIVER_READY_POLL": "0.05", "ARCHIVER_KALTURA_RPS": "200"}


def replace_env(sim: SimProcess, bucket: str, tmp_path: Path, **more: str) -> dict[str, str]:
    """The settings environment of a replace_video run (placeholder files written into `tmp_path`)."""
    return sim_env(sim, bucket, **write_placeholders(tmp_path), **FAST, **more)


async def archive_all(env: Mapping[str, str]) -> list[str]:
    """s3copy --execute --all; the ids it archived."""
    run = await run_s3copy(env, "--execute", "--all")
    assert run.code == 0, run.stderr[-3000:]
    archived = run.by_outcome("archived")
    assert archived
    return archived


async def run_replace(env: Mapping[str, str], *argv: str) -> JobRun:
    return await run_job(replace_video, env, *argv)


def mutating_calls(sim: SimProcess) -> dict[str, int]:
    calls = sim.control.counters()["calls"]
    return {name: calls[name] for name in MUTATING if calls.get(name)}


def sources(sim: SimProcess) -> dict[str, dict[str, Any]]:
    """entry id -> its source flavor as the simulator has it now."""
    found = {}
    for entry_id, entry in sim_entries(sim).items():
        originals = [f for f in entry["flavors"] if f["isOriginal"]]
        if originals:
            found[entry_id] = dict(originals[0])
    return found


def placeholder_of(env: Mapping[str, str]) -> Placeholder:
    return Placeholder.of(Path(env["PLACEHOLDER_VIDEO"]).read_bytes())


def placeholder_files(env: Mapping[str, str]) -> PlaceholderFiles:
    video, image = Path(env["PLACEHOLDER_VIDEO"]), Path(env["PLACEHOLDER_IMAGE"])
    return PlaceholderFiles(video.read_bytes(), video.name, image.read_bytes(), image.name)


@dataclass
class StageRun:
    """The stages of one replace_video run and what they work with."""

    stages: Replace
    client: KalturaClient
    store: S3Store
    waiter: Waiter


class Clock:
    """Our client's clock, moved by the test (the simulator's is moved through its control surface)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def stages_for(
    sim: SimProcess,
    bucket: str,
    env: Mapping[str, str],
    *,
    dry_run: bool = False,
    clock: Callable[[], float] = time.time,
    ks_ttl_s: int = 86_400,
) -> AsyncIterator[StageRun]:
    """replace_video's stages wired as the job wires them, with the waiter polling in the background."""
    import anyio

    config = client_config(sim, ks_ttl_s=ks_ttl_s)
    policy = RetryPolicy(attempts=4, base_s=0.05, max_s=0.2, budget_s=10)
    files = placeholder_files(env)
    async with (
        KalturaClient(config, pacer=Pacer(200), policy=policy, clock=clock) as client,
        S3Store(StoreConfig(bucket=bucket)) as store,
        client.batching(),
        anyio.create_task_group() as tg,
    ):
        waiter = Waiter(client, timeout_s=60, poll_s=0.05)
        tg.start_soon(waiter.run)
        stages = Replace(
            catalog=client,
            store=store,
            gate=Gate(dry_run=dry_run, store=store, kaltura=client, content=client),
            waiter=waiter,
            log=EventLog(run_id="test", job="replace_video", dry_run=dry_run),
            rules=Rules(sim.partner_id, Placeholder.of(files.video)),
            files=files,
        )
        yield StageRun(stages, client, store, waiter)
        tg.cancel_scope.cancel()


@dataclass
class RestoreRun:
    """The stages of one restore_from_s3 run and what they work with."""

    stages: Restore
    client: KalturaClient
    store: S3Store


@asynccontextmanager
async def restore_stages_for(
    sim: SimProcess, bucket: str, env: Mapping[str, str]
) -> AsyncIterator[RestoreRun]:
    """restore_from_s3's stages wired as the job wires them (1 MiB chunks, two in flight), the waiter
    polling in the background."""
    import anyio

    policy = RetryPolicy(attempts=4, base_s=0.05, max_s=0.2, budget_s=10)
    async with (
        KalturaClient(client_config(sim), pacer=Pacer(200), policy=policy) as client,
        S3Store(StoreConfig(bucket=bucket)) as store,
        client.batching(),
        anyio.create_task_group() as tg,
    ):
        waiter = Waiter(client, timeout_s=60, poll_s=0.05)
        tg.start_soon(waiter.run)
        stages = Restore(
            catalog=client,
            store=store,
            gate=Gate(dry_run=False, store=store, kaltura=client, content=client),
            waiter=waiter,
            log=EventLog(run_id="test", job="restore_from_s3", dry_run=False),
            rules=restore_plan.Rules(sim.partner_id, placeholder_of(env)),
            config=RestoreConfig("Standard", 1, 1 << 20, 2),
        )
        yield RestoreRun(stages, client, store)
        tg.cancel_scope.cancel()


async def replace_all(env: Mapping[str, str]) -> list[str]:
    """replace_video --execute --all; the ids it replaced."""
    run = await run_replace(env, "--execute", "--all")
    assert run.code == 0, run.stderr[-3000:]
    replaced = run.by_outcome("replaced")
    assert replaced
    return replaced


async def run_restore(env: Mapping[str, str], *argv: str) -> JobRun:
    return await run_job(restore_from_s3, env, *argv)
