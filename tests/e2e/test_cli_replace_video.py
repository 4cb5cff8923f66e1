"""`kaltura-archiver replace_video` run as a user runs it: 300 entries archived, replaced and judged healthy,
each replaced entry serving the placeholder from its same source flavor (version + 1) while its S3 object
still holds the original byte for byte; and kill -9 at seeded random instants, after which re-runs
converge with no original lost."""

from __future__ import annotations

import asyncio
import hashlib
import random
import signal
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
from tests.e2e.s3copy_runs import CLI, RUN_DEADLINE_S, events, finish, tsv, unless_ended, user_env
from tests.fixtures.waits import until
from tests.integration.s3copy_harness import objects, s3_client, sim_entries
from tests.integration.simapi import client_config

# a user's own tuning: the testbed answers fast, so more requests per second than a real partner's default
FAST = {"ARCHIVER_KALTURA_RPS": "100", "ARCHIVER_READY_POLL": "0.2"}


def cli(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *argv], env=env, capture_output=True, text=True, timeout=RUN_DEADLINE_S, check=False
    )


def id_file(directory: Path, ids: list[str]) -> str:
    path = directory / "ids.txt"
    path.write_text("".join(f"{entry_id}\n" for entry_id in ids))
    return str(path)


def outcomes(run: subprocess.CompletedProcess[str]) -> dict[str, str]:
    rows, _ = tsv(run.stdout)
    return {row["entry_id"]: row["outcome"] for row in rows}


async def served_sha256(sim: Any, flavor_ids: list[str]) -> dict[str, str]:
    """flavor id -> SHA-256 of what Kaltura serves for it now."""
    found = {}
    policy = RetryPolicy(attempts=3, base_s=0.05, max_s=0.2)
    async with (
        KalturaClient(client_config(sim), pacer=Pacer(200), policy=policy) as client,
        aiohttp.ClientSession() as http,
    ):
        for flavor_id in flavor_ids:
            async with http.get(await client.flavor_url(flavor_id)) as resp:
                found[flavor_id] = hashlib.sha256(await resp.read()).hexdigest()
    return found


def object_sha256(s3: S3Server, bucket: str, key: str) -> str:
    body = s3_client(s3).get_object(Bucket=bucket, Key=key)["Body"].read()
    return hashlib.sha256(body).hexdigest()


def sha256_of(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def sources(sim: Any) -> dict[str, dict[str, Any]]:
    return {
        entry_id: next(f for f in e["flavors"] if f["isOriginal"])
        for entry_id, e in sim_entries(sim).items()
        if any(f["isOriginal"] for f in e["flavors"])
    }


async def test_300_entries_archived_replaced_and_healthy_with_every_original_in_s3(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=300, seed=41, size_mb=0.05, max_size_mb=0.2)
    files = write_placeholders(tmp_path)
    env = user_env(sim, s3_server, s3_bucket, **files, **FAST)
    archived_run = cli(env, "s3copy", "--execute", "--all")
    assert archived_run.returncode == 0, archived_run.stderr[-2000:]
    archived = sorted(e for e, o in outcomes(archived_run).items() if o == "archived")
    assert len(archived) > 200
    before = sources(sim)
    stored = objects(s3_server, s3_bucket)

    run = cli(env, "replace_video", "--execute", "--all")
    assert run.returncode == 0, run.stderr[-2000:]
    found = outcomes(run)
    assert sorted(e for e, o in found.items() if o == "replaced") == archived
    assert {o for e, o in found.items() if e not in archived} <= {"refused", "skipped"}
    _, summary = tsv(run.stdout)
    assert summary["REPLACE_DONE"] == len(archived)
    finished = [e for e in events(run.stderr) if e.get("event") == "run.finished"]
    assert finished[0]["kaltura_requests"] <= 7 * len(archived)

    health = cli(env, "health", "--idfile", id_file(tmp_path, archived))
    assert health.returncode == 0, health.stdout[-2000:]
    rows, _ = tsv(health.stdout)
    assert {row["verdict"] for row in rows} == {"HEALTHY"}
    assert sorted(row["entry_id"] for row in rows) == archived

    after = sources(sim)
    placeholder = sha256_of(files["PLACEHOLDER_VIDEO"])
    served = await served_sha256(sim, [after[e]["id"] for e in archived])
    for entry_id in archived:
        old, new = before[entry_id], after[entry_id]
        assert new["id"] == old["id"]
        assert int(new["version"]) == int(old["version"]) + 1
        assert served[new["id"]] == placeholder
    assert objects(s3_server, s3_bucket) == stored  # unchanged
    for entry_id in archived[::10]:  # every tenth object read back whole: the original's bytes
        old = before[entry_id]
        truth = generated_body(entry_id, old["id"], str(old["version"]), old["sizeInBytes"]).sha256()
        assert object_sha256(s3_server, s3_bucket, entry_id) == truth


KILL_POINTS = ("uploadtoken.upload", "media.updatecontent", "thumbasset.setasdefault")


async def test_kill_9_at_random_instants_then_re_runs_converge_and_no_original_is_lost(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=80, seed=42, size_mb=0.05, max_size_mb=0.2)
    env = user_env(sim, s3_server, s3_bucket, **write_placeholders(tmp_path), **FAST)
    archived_run = cli(env, "s3copy", "--execute", "--all")
    assert archived_run.returncode == 0, archived_run.stderr[-2000:]
    archived = sorted(e for e, o in outcomes(archived_run).items() if o == "archived")
    stored = objects(s3_server, s3_bucket)
    before = sources(sim)
    sim.control.set_faults({"conversion": {"delay_s": 1}})
    rng = random.Random(42)
    for point in KILL_POINTS:  # each run killed once that call has been made k times, k drawn at random
        k = rng.randint(1, len(archived) // 3)
        sim.control.reset_counters()
        process = await asyncio.create_subprocess_exec(
            *CLI, "replace_video", "--execute", "--all", env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip

        async def reached(point: str = point, k: int = k) -> bool:
            return bool((await sim.control.acounters())["calls"].get(point, 0) >= k)

        what = f"{point} was called {k} times"
        try:
            await unless_ended(process, until(reached, what), what)
        finally:
            process.send_signal(signal.SIGKILL)
            await process.wait()

    replaced: set[str] = set()
    for _ in range(5):  # re-run until a run changes nothing
        await sim.control.aadvance_clock(2)  # conversions left by a killed run complete
        run = cli(env, "replace_video", "--execute", "--all")
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        found = outcomes(run)
        replaced |= {e for e, o in found.items() if o == "replaced"}
        if all(found[e] == "unchanged" for e in archived):
            break
    else:
        raise AssertionError(f"no convergence in 5 runs: {run.stdout[-2000:]}")
    assert replaced  # the re-runs had work left by the killed runs
    after = sources(sim)
    for entry_id in archived:  # each replaced exactly once; its original still in S3, unchanged
        assert int(after[entry_id]["version"]) == int(before[entry_id]["version"]) + 1
    assert objects(s3_server, s3_bucket) == stored
    health = cli(env, "health", "--idfile", id_file(tmp_path, archived))
    assert health.returncode == 0, health.stdout[-2000:]
    rows, _ = tsv(health.stdout)
    assert {row["verdict"] for row in rows} == {"HEALTHY"}


async def test_sigterm_while_entries_wait_for_conversion_drains_exits_143_and_a_rerun_finishes(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    """Replacements begun and converting (the simulator's clock stands still for them) when SIGTERM comes:
    nothing new begins, the waiting entries are reported `stopped`, exit 143 after the drain; once Kaltura
    has converted, a second run tags them."""
    sim = kaltura_sim_factory(entries=30, seed=43, size_mb=0.05, max_size_mb=0.2)
    env = user_env(sim, s3_server, s3_bucket, **write_placeholders(tmp_path), **FAST, ARCHIVER_DRAIN="4")
    archived_run = cli(env, "s3copy", "--execute", "--all")
    assert archived_run.returncode == 0, archived_run.stderr[-2000:]
    archived = sorted(e for e, o in outcomes(archived_run).items() if o == "archived")
    sim.control.set_faults({"conversion": {"delay_s": 3600}})
    sim.control.reset_counters()
    process = await asyncio.create_subprocess_exec(
        *CLI, "replace_video", "--execute", "--all", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip

    async def converting() -> bool:
        return bool((await sim.control.acounters())["calls"].get("media.updatecontent", 0) >= 3)

    await unless_ended(process, until(converting, "three replacements begun"), "three replacements began")
    process.send_signal(signal.SIGTERM)
    code, out, err = await finish(process)
    assert code == 143, err[-2000:]
    assert "Traceback" not in err
    rows, summary = tsv(out)
    assert {row["outcome"] for row in rows} <= {"refused", "skipped", "stopped"}
    begun = sim.control.counters()["calls"]["media.updatecontent"]
    assert summary["stopped"] >= begun  # every entry began or not gets its row
    assert "replaced" not in summary

    await sim.control.aadvance_clock(3601)  # Kaltura converts what was begun
    sim.control.set_faults({"conversion": {"delay_s": 0}})
    run = cli(env, "replace_video", "--execute", "--all")
    assert run.returncode == 0, run.stderr[-2000:]
    found = outcomes(run)
    assert sorted(e for e, o in found.items() if o == "replaced") == archived
    finishing = [r for r in tsv(run.stdout)[0] if r["action"] == "finish"]
    assert len(finishing) == begun  # those begun before the signal are finished, not replaced again
