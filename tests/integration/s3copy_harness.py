"""Running s3copy in-process against the simulator and moto, and checking what it left behind.

The s3copy integration and end-to-end tests share these helpers.
`run_s3copy` runs the job's `run(args, ctx)` as the CLI would (JSON logs, a JSONL report), with the AWS
standard environment pointing at the S3 endpoint under test (moto, or the fault proxy in front of it).
"""

from __future__ import annotations

import argparse
import functools
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3  # type: ignore[import-untyped]  # no stubs installed
import pytest
import structlog

from adapters.s3 import ArchiveRecord, S3Checksum, from_head, verify
from adapters.s3.wire import parse_head, parse_tags
from engine.logs import configure_logging
from jobs import s3copy
from jobs.common.context import RunContext, now_s
from jobs.common.settings import load_settings
from testbed.catalog import MEDIA_VIDEO, generate
from testbed.kaltura_sim import SimProcess
from testbed.kaltura_sim.content import generated_body
from testbed.s3 import S3Server

MiB = 1 << 20
# small parts and few of them: multipart paths with little data
KNOBS = {"ARCHIVER_PART_SIZE": "5MiB", "ARCHIVER_MEMORY_BUDGET": "64MiB", "ARCHIVER_TRANSFERS": "4"}


@dataclass
class JobRun:
    """What one run of the job produced."""

    code: int
    rows: list[dict[str, Any]]
    events: list[dict[str, Any]]
    stderr: str = field(repr=False)
    stdout: str = field(default="", repr=False)

    def outcomes(self) -> dict[str, str]:
        return {row["entry_id"]: row["outcome"] for row in self.rows}

    def by_outcome(self, outcome: str) -> list[str]:
        return sorted(e for e, o in self.outcomes().items() if o == outcome)

    def entry_events(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == name]

    @property
    def finished(self) -> dict[str, Any]:
        (event,) = self.entry_events("run.finished")
        return event


def sim_env(sim: SimProcess, bucket: str, **more: str) -> dict[str, str]:
    """The settings environment a user would set for the simulator and `bucket`."""
    return {
        **sim.client_env(),
        "AWS_BUCKET": bucket,
        **KNOBS,
        **more,
    }


def point_aws_at(monkeypatch: pytest.MonkeyPatch, endpoint_url: str, ca_bundle: str | None = None) -> None:
    """The standard AWS environment (as a task would have it) for the endpoint under test."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    if ca_bundle is not None:
        monkeypatch.setenv("AWS_CA_BUNDLE", ca_bundle)
    else:
        monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)


async def run_s3copy(env: Mapping[str, str], *argv: str) -> JobRun:
    """One run of the job with `argv` (a JSONL report) and the settings environment `env`."""
    return await run_job(s3copy, env, *argv)


async def run_job(job: Any, env: Mapping[str, str], *argv: str) -> JobRun:
    """One run of the job module `job` (its `add_arguments` and `run`) with `argv` (a JSONL report) and
    the settings environment `env`, as the CLI runs it."""
    parser = argparse.ArgumentParser()
    job.add_arguments(parser)
    args = parser.parse_args([*argv, "--format", "jsonl"])
    out, err = io.StringIO(), io.StringIO()
    configure_logging(level="info", fmt="json", stream=err)
    settings = load_settings({}, env)
    ctx = RunContext(settings=settings, run_id="test-run", run_start=now_s(), stdout=out, stderr=err)
    structlog.contextvars.bind_contextvars(run_id=ctx.run_id, job=job.JOB)
    code = await job.run(args, ctx)
    rows = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    events = [json.loads(line) for line in err.getvalue().splitlines() if line.startswith("{")]
    return JobRun(code, rows, events, err.getvalue(), out.getvalue())


def s3_client(server: S3Server) -> Any:
    return boto3.client("s3", **server.client_kwargs())


def objects(server: S3Server, bucket: str) -> dict[str, dict[str, Any]]:
    """Every object of `bucket`: key -> {size, etag, last_modified}."""
    client = s3_client(server)
    found: dict[str, dict[str, Any]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            found[obj["Key"]] = {"size": obj["Size"], "etag": obj["ETag"], "modified": obj["LastModified"]}
    return found


def open_uploads(server: S3Server, bucket: str) -> list[str]:
    """Keys with a multipart upload still open."""
    return [u["Key"] for u in s3_client(server).list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def sim_entries(sim: SimProcess) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in sim.control.get_entries()}


def original(entry: Mapping[str, Any]) -> dict[str, Any]:
    (source,) = [f for f in entry["flavors"] if f["isOriginal"]]
    return dict(source)


def assert_proven_copy(
    server: S3Server,
    bucket: str,
    entry: Mapping[str, Any],
    partner_id: int,
    sizes: Mapping[str, int] | None = None,
) -> None:
    """The object of `entry` proves a copy of its current original, and holds exactly the original's bytes
    (the SHA-256 re-derived from the simulator's generated content)."""
    client = s3_client(server)
    key = entry["id"]
    head = parse_head(
        key,
        client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED"),
        parse_tags(client.get_object_tagging(Bucket=bucket, Key=key)),
    )
    source = original(entry)
    size = source["sizeInBytes"] or (sizes or {}).get(source["id"], 0)
    assert size > 0, f"flavor {source['id']} reports sizeInBytes 0: pass its served size in `sizes`"
    expected = ArchiveRecord(partner_id, key, source["id"], str(source["version"]), size)
    assert verify(head, expected) == []
    truth = generated_body(key, source["id"], str(source["version"]), size).sha256()
    record = from_head(head)
    assert record is not None
    assert record.sha256 == truth


@functools.cache
def _served(entries: int, seed: int, size_mb: float, max_size_mb: float) -> dict[str, int]:
    catalog = generate(entries, seed, size_mb=size_mb, max_size_mb=max_size_mb)
    return {f.id: f.content_size for e in catalog.entries for f in e.flavors}


def served_sizes(sim: SimProcess) -> dict[str, int]:
    """flavor id -> the bytes the simulator serves for it, from the catalog it was generated from (the
    truth for the `size_in_bytes_zero` edge case, whose sizeInBytes Kaltura reports as 0)."""
    o = sim.options
    return _served(o.entries, o.seed, o.size_mb, o.max_size_mb)


def checksum_of(head: Mapping[str, Any]) -> S3Checksum | None:
    value = head.get("ChecksumCRC32C")
    return S3Checksum("CRC32C", str(value)) if value else None


def archivable(sim: SimProcess) -> set[str]:
    """Entries s3copy must archive: READY videos (the default selection), with a READY original within the
    size limit (sizeInBytes 0 included: the exact size comes from the download). Media types come from the
    catalog the simulator was generated from."""
    options = sim.options
    catalog = generate(
        options.entries, options.seed, size_mb=options.size_mb, max_size_mb=options.max_size_mb
    )
    videos = {e.id for e in catalog.entries if e.media_type == MEDIA_VIDEO}
    found = set()
    for entry in sim_entries(sim).values():
        if entry["id"] not in videos:
            continue
        sources = [f for f in entry["flavors"] if f["isOriginal"]]
        ready = entry["status"] == "2" and "flavors_deleted" not in entry["tags"]
        fits = bool(sources) and sources[0]["status"] == 2 and sources[0]["size"] <= 10_000_000
        if ready and fits:
            found.add(entry["id"])
    return found
