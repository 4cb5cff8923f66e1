"""The whole life cycle as a user runs it on 300 entries: s3copy, replace_video, the bucket's lifecycle moving
objects to GLACIER and DEEP_ARCHIVE (the testbed), restore_from_s3 run 1 (the STANDARD ones back, the others
`waiting` with a restore requested), the testbed completing the restores, run 2, and health: every restored
entry HEALTHY, its original served by Kaltura byte for byte as the catalog's."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import aiohttp

from adapters.kaltura import KalturaClient
from engine.pacer import Pacer
from engine.retry import RetryPolicy
from testbed.kaltura_sim.content import generated_body
from testbed.placeholders import write_placeholders
from testbed.s3 import S3Server
from tests.e2e.s3copy_runs import CLI, RUN_DEADLINE_S, tsv, user_env
from tests.integration.s3copy_harness import served_sizes, sim_entries
from tests.integration.simapi import client_config

FAST = {"ARCHIVER_KALTURA_RPS": "100", "ARCHIVER_READY_POLL": "0.2"}


def cli(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *argv], env=env, capture_output=True, text=True, timeout=RUN_DEADLINE_S, check=False
    )


def by_outcome(run: subprocess.CompletedProcess[str], outcome: str) -> list[str]:
    rows, _ = tsv(run.stdout)
    return sorted(row["entry_id"] for row in rows if row["outcome"] == outcome)


async def test_300_entries_through_replace_glacier_and_two_restore_runs_come_back_byte_for_byte(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=300, seed=61, size_mb=0.05, max_size_mb=0.2)
    env = user_env(sim, s3_server, s3_bucket, **write_placeholders(tmp_path), **FAST)
    originals = {
        e: next(f for f in entry["flavors"] if f["isOriginal"])
        for e, entry in sim_entries(sim).items()
        if any(f["isOriginal"] for f in entry["flavors"])
    }
    assert cli(env, "s3copy", "--execute", "--all").returncode == 0
    replace = cli(env, "replace_video", "--execute", "--all")
    assert replace.returncode == 0, replace.stderr[-2000:]
    replaced = by_outcome(replace, "replaced")
    assert len(replaced) > 200
    glacier, deep = replaced[0::3], replaced[1::3]
    for key in glacier:
        s3_server.transition(s3_bucket, key, "GLACIER")
    for key in deep:
        s3_server.transition(s3_bucket, key, "DEEP_ARCHIVE")

    first = cli(env, "restore_from_s3", "--execute", "--tag", "flavors_deleted")
    assert first.returncode == 0, first.stderr[-2000:]  # waiting for Glacier is not a failure
    assert by_outcome(first, "waiting") == sorted(glacier + deep)
    assert by_outcome(first, "restored") == sorted(replaced[2::3])
    _, summary = tsv(first.stdout)
    assert summary["WAIT_GLACIER"] == len(glacier) + len(deep)

    for key in glacier + deep:
        await s3_server.acomplete_restore(s3_bucket, key)
    second = cli(env, "restore_from_s3", "--execute", "--tag", "flavors_deleted")
    assert second.returncode == 0, second.stderr[-2000:]
    assert by_outcome(second, "restored") == sorted(glacier + deep)

    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{e}\n" for e in replaced))
    health = cli(env, "health", "--idfile", str(ids))
    assert health.returncode == 0, health.stdout[-2000:]
    rows, _ = tsv(health.stdout)
    assert {row["verdict"] for row in rows} == {"HEALTHY"}

    sizes = served_sizes(sim)  # the truth for originals whose sizeInBytes Kaltura reports as 0
    policy = RetryPolicy(attempts=3, base_s=0.05, max_s=0.2)
    async with (
        KalturaClient(client_config(sim), pacer=Pacer(200), policy=policy) as client,
        aiohttp.ClientSession() as http,
    ):
        for entry_id in replaced:
            old = originals[entry_id]
            truth = generated_body(entry_id, old["id"], str(old["version"]), sizes[old["id"]]).sha256()
            async with http.get(await client.flavor_url(old["id"])) as resp:
                assert hashlib.sha256(await resp.read()).hexdigest() == truth, entry_id
