"""Helpers for the chaos end-to-end test: the faults at a rate, runs of the CLI killed with SIGKILL once the
testbed has seen a drawn number of requests, the convergence rounds, and the counts the test ends with (lost
originals, open multipart uploads, overwritten objects).

The servers are those of the other end-to-end tests: the Kaltura simulator (its fault knobs and counters) and
moto behind `S3FaultProxy`; the runs are `python -m jobs.cli` subprocesses with a user's environment.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from adapters.kaltura import KalturaClient
from adapters.s3 import ArchiveRecord, from_head, verify
from adapters.s3.wire import parse_head, parse_tags
from engine.pacer import Pacer
from engine.retry import RetryPolicy
from testbed.kaltura_sim import SimProcess
from testbed.kaltura_sim.content import generated_body
from testbed.s3 import S3Server
from testbed.s3_faults import S3FaultProxy
from tests.e2e.s3copy_runs import CLI, RUN_DEADLINE_S, finish, tsv
from tests.fixtures.waits import until
from tests.integration.replace_harness import MUTATING
from tests.integration.s3copy_harness import objects, s3_client, served_sizes, sim_entries
from tests.integration.simapi import client_config

# the S3 calls the jobs make: each may be answered SlowDown or have its answer's body cut
S3_OPERATIONS = (
    "PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload",
    "HeadObject", "GetObject", "GetObjectTagging", "PutObjectTagging", "ListMultipartUploads", "ListParts",
)  # fmt: skip
# a row that says the run changed nothing for its entry
STEADY = frozenset({"unchanged", "skipped", "refused", "needs_person"})  # needs_person: repair's


def sim_faults(rate: float, seed: int) -> dict[str, Any]:
    """The simulator's faults at `rate`: HTTP 503 and ACTION_BLOCKED on every API call, downloads cut short
    or answered 503, and that share of conversions failing."""
    every = {"probability": rate}
    return {
        "reset": True,
        "seed": seed,
        "actions": {"*": {"http_503": every, "action_blocked": every}},
        "download": {"truncate": every, "http_503": every},
        "conversion": {"fail_rate": rate},
    }


def no_sim_faults() -> dict[str, Any]:
    return {"reset": True, "conversion": {"fail_rate": 0.0}}


def set_s3_faults(proxy: S3FaultProxy, rate: float, seed: int) -> None:
    """S3 at `rate`: SlowDown, and answers cut after 64 KiB (a GET of an object cut mid-body)."""
    proxy.set_plan(slowdown_rate=rate, cut_rate=rate, cut_after=65536, operations=S3_OPERATIONS, seed=seed)


def id_file(directory: Path, name: str, ids: Sequence[str]) -> str:
    path = directory / f"{name}.ids"
    path.write_text("".join(f"{entry_id}\n" for entry_id in ids))
    return str(path)


@dataclass(frozen=True)
class Job:
    """One command of a round: its name and its selection (a dry run unless `execute`)."""

    command: str
    selection: tuple[str, ...]
    execute: bool = True

    def argv(self) -> list[str]:
        return [*CLI, self.command, *(["--execute"] if self.execute else []), *self.selection]


# the S3 calls that are a run's work (writing an object or its record, reading one back to restore it)
S3_WORK = (
    "PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload",
    "PutObjectTagging", "GetObject",
)  # fmt: skip


def traffic(sim_counters: Mapping[str, Any], proxy: S3FaultProxy) -> int:
    """Requests the testbed has seen since the counters were reset: Kaltura API calls and downloads, and S3
    calls."""
    return int(sim_counters["requests"]) + int(sim_counters["downloads"]) + sum(proxy.requests.values())


def work(sim_counters: Mapping[str, Any], proxy: S3FaultProxy) -> int:
    """The requests of those that are work, not looking: Kaltura's mutating calls and downloads, S3's writes
    and reads of objects."""
    calls = sim_counters["calls"]
    kaltura = sum(int(calls.get(name, 0)) for name in MUTATING) + int(sim_counters["downloads"])
    return kaltura + sum(proxy.requests.get(op, 0) for op in S3_WORK)


Measure = Callable[[Mapping[str, Any], S3FaultProxy], int]


async def reset_traffic(sim: SimProcess, proxy: S3FaultProxy) -> None:
    await sim.control.areset_counters()
    proxy.requests.clear()


@dataclass(frozen=True)
class Ending:
    """How a run of the kill phase ended: killed or not, and the requests the testbed had seen from it."""

    killed: bool
    requests: int
    work: int


async def run_killed_at(
    job: Job, env: dict[str, str], sim: SimProcess, proxy: S3FaultProxy, point: int, measure: Measure
) -> Ending:
    """Run `job` and SIGKILL it once the testbed has seen `point` requests from it, as `measure` counts them
    (a run that ends first is not killed). Either way, every S3 call the run made has ended on return."""
    await reset_traffic(sim, proxy)
    process = await asyncio.create_subprocess_exec(
        *job.argv(), env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )

    async def reached() -> bool:
        return measure(await sim.control.acounters(), proxy) >= point

    waiting = asyncio.ensure_future(until(reached, f"{job.command} made {point} requests", timeout_s=120))
    ended = asyncio.ensure_future(process.wait())
    try:
        await asyncio.wait({waiting, ended}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
        ended.cancel()
    if process.returncode is None:
        process.send_signal(signal.SIGKILL)
    await process.wait()
    await proxy.until(lambda p: p.in_flight == 0, "the run's S3 calls ended")
    seen = await sim.control.acounters()
    return Ending(process.returncode == -signal.SIGKILL, traffic(seen, proxy), work(seen, proxy))


class KillPoints:
    """Where each command's runs are killed: a count drawn at random up to the command's range, of the
    requests that are work (`work`) while the command has work, of every request (`traffic`) once its last
    run found none (a run that looks and changes nothing is killed while it looks).

    The range is at first a guess, then what the command's last run that ended by itself made (its work grows
    as other commands progress, and shrinks as it does its own).
    """

    def __init__(self, rng: random.Random, commands: Sequence[str], first_range: int) -> None:
        self.rng = rng
        self.first_range = first_range
        self.ranges = dict.fromkeys(commands, first_range)
        self.idle: set[str] = set()

    def draw(self, command: str) -> tuple[int, Measure]:
        return self.rng.randint(1, self.ranges[command]), traffic if command in self.idle else work

    def record(self, command: str, ending: Ending) -> None:
        was_idle = command in self.idle
        if not ending.killed and ending.work == 0:
            self.idle.add(command)
        elif ending.work > 0:
            self.idle.discard(command)
        idle = command in self.idle
        if idle != was_idle:
            self.ranges[command] = max(2, ending.requests) if idle else self.first_range
        elif not ending.killed:
            self.ranges[command] = max(2, ending.requests if idle else ending.work)


@dataclass
class RunResult:
    """What one whole run reported."""

    job: Job
    code: int
    rows: list[dict[str, str]]
    stderr: str = field(repr=False)

    def changed(self) -> dict[str, str]:
        """entry id -> outcome and reason, for every row that is not steady."""
        return {
            r["entry_id"]: f"{r['outcome']}: {r.get('reason', '')}"
            for r in self.rows
            if r["outcome"] not in STEADY
        }


async def run_whole(job: Job, env: dict[str, str]) -> RunResult:
    process = await asyncio.create_subprocess_exec(
        *job.argv(), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    code, out, err = await finish(process)
    rows, _ = tsv(out) if out else ([], {})
    return RunResult(job, code, rows, err)


def cli(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *argv], env=env, capture_output=True, text=True, timeout=RUN_DEADLINE_S, check=False
    )


# -- what the test counts at its end -----------------------------------------------------------------------


@dataclass(frozen=True)
class Original:
    """An entry's source flavor as the catalog had it, and the SHA-256 of its bytes."""

    entry_id: str
    flavor_id: str
    version: str
    size: int
    sha256: str


def originals(sim: SimProcess) -> dict[str, Original]:
    """entry id -> its original, for every entry that has one (before any run)."""
    sizes = served_sizes(sim)
    found = {}
    for entry_id, entry in sim_entries(sim).items():
        for f in entry["flavors"]:
            if f["isOriginal"]:
                size = f["sizeInBytes"] or sizes[f["id"]]
                body = generated_body(entry_id, f["id"], str(f["version"]), size)
                found[entry_id] = Original(entry_id, f["id"], str(f["version"]), size, body.sha256())
    return found


class Overwrites:
    """Each object's ETag and last-modified time when first seen completed; the keys seen changed since."""

    def __init__(self) -> None:
        self.first: dict[str, tuple[str, Any]] = {}
        self.changed: set[str] = set()

    def observe(self, server: S3Server, bucket: str) -> None:
        for key, obj in objects(server, bucket).items():
            seen = (obj["etag"], obj["modified"])
            if self.first.setdefault(key, seen) != seen:
                self.changed.add(key)


def proves(server: S3Server, bucket: str, partner_id: int, original: Original) -> bool:
    """Whether the bucket holds an object proving a copy of `original`: its record matches the original
    (flavor, version, size, SHA-256, S3's checksum) and its bytes hash to the original's SHA-256."""
    client = s3_client(server)
    key = original.entry_id
    try:
        response = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except client.exceptions.ClientError:
        return False
    head = parse_head(key, response, parse_tags(client.get_object_tagging(Bucket=bucket, Key=key)))
    expected = ArchiveRecord(partner_id, key, original.flavor_id, original.version, original.size)
    record = from_head(head)
    if verify(head, expected) or record is None or record.sha256 != original.sha256:
        return False
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return hashlib.sha256(body).hexdigest() == original.sha256


async def served_sources(sim: SimProcess) -> dict[str, str]:
    """entry id -> SHA-256 of what Kaltura serves now as its source flavor."""
    sources = {
        entry_id: next(f["id"] for f in entry["flavors"] if f["isOriginal"])
        for entry_id, entry in (await asyncio.to_thread(sim_entries, sim)).items()
        if any(f["isOriginal"] for f in entry["flavors"])
    }
    found = {}
    policy = RetryPolicy(attempts=3, base_s=0.05, max_s=0.2)
    async with (
        KalturaClient(client_config(sim), pacer=Pacer(200), policy=policy) as client,
        aiohttp.ClientSession() as http,
    ):
        for entry_id, flavor_id in sources.items():
            async with http.get(await client.flavor_url(flavor_id)) as resp:
                found[entry_id] = hashlib.sha256(await resp.read()).hexdigest()
    return found


def lost_originals(
    served: Mapping[str, str], server: S3Server, bucket: str, partner_id: int, catalog: Mapping[str, Original]
) -> list[str]:
    """Entries whose original is neither served by Kaltura as the source (`served`: entry id -> SHA-256)
    nor in an object proving a copy."""
    return sorted(
        entry_id
        for entry_id, original in catalog.items()
        if served.get(entry_id) != original.sha256 and not proves(server, bucket, partner_id, original)
    )


def state_of(sim: SimProcess, server: S3Server, bucket: str) -> tuple[Any, Any]:
    """What a round may change: the entries as Kaltura has them, and the bucket's objects with their tags."""
    client = s3_client(server)
    tags = {
        key: parse_tags(client.get_object_tagging(Bucket=bucket, Key=key)) for key in objects(server, bucket)
    }
    return sim_entries(sim), (objects(server, bucket), tags)
