"""The benchmark's baseline, the old tool's algorithm, copies and tags tiny entries one at a time."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import boto3  # type: ignore[import-untyped]  # no stubs installed
import pytest

from testbed.bench.sequential import SequentialConfig, run_sequential
from testbed.bench.workloads import Workload, archivable, catalog_snapshot, find_catalog, selected
from testbed.kaltura_sim import SimProcess
from testbed.kaltura_sim.content import generated_body
from testbed.s3 import S3Server

TINY = Workload("tiny", "3 x 20 kB", entries=3, size_mb=0.02)


@pytest.fixture
def tiny(kaltura_sim_factory: Callable[..., SimProcess]) -> tuple[SimProcess, list[Mapping[str, Any]]]:
    """A simulator whose selection is exactly three archivable 20 kB entries, and those entries."""
    n, seed = find_catalog(TINY)
    entries = [e for e in selected(catalog_snapshot(n, seed, TINY.size_mb)) if archivable(e)]
    return kaltura_sim_factory(entries=n, seed=seed, size_mb=TINY.size_mb), entries


def config(sim: SimProcess, bucket: str, max_entries: int = -1) -> SequentialConfig:
    return SequentialConfig(
        sim.service_url, sim.partner_id, sim.admin_secret, sim.user_id, bucket, max_entries
    )


def test_copies_each_original_byte_for_byte_and_tags_it(
    tiny: tuple[SimProcess, list[Mapping[str, Any]]], s3_server: S3Server, s3_bucket: str
) -> None:
    sim, entries = tiny
    s3 = boto3.client("s3", **s3_server.client_kwargs())
    result = run_sequential(config(sim, s3_bucket), s3)
    assert (result.archived, result.skipped, result.failed) == (3, 0, 0)
    assert result.archived_ids == [e["id"] for e in entries]
    served = {e["id"]: e for e in sim.control.get_entries()}
    for entry in entries:
        source = next(f for f in served[entry["id"]]["flavors"] if f["isOriginal"])
        body = s3.get_object(Bucket=s3_bucket, Key=entry["id"])["Body"].read()
        truth = generated_body(entry["id"], source["id"], str(source["version"]), source["sizeInBytes"])
        assert len(body) == source["sizeInBytes"] == 20_000
        assert hashlib.sha256(body).hexdigest() == truth.sha256()
    tagged = {e["id"]: e["tags"] for e in sim.control.get_entries()}  # after the run
    assert all("archived_to_s3" in tagged[e["id"]] for e in entries)
    calls = sim.control.counters()["calls"]
    assert calls["flavorasset.getbyentryid"] == 6  # looked up twice per entry, as the old tool did


def test_a_second_run_passes_over_the_tagged_entries(
    tiny: tuple[SimProcess, list[Mapping[str, Any]]], s3_server: S3Server, s3_bucket: str
) -> None:
    sim, _ = tiny
    s3 = boto3.client("s3", **s3_server.client_kwargs())
    run_sequential(config(sim, s3_bucket), s3)
    again = run_sequential(config(sim, s3_bucket), s3)
    assert (again.archived, again.already, again.failed) == (0, 0, 0)


def test_an_object_already_in_s3_is_counted_and_not_copied_again(
    tiny: tuple[SimProcess, list[Mapping[str, Any]]], s3_server: S3Server, s3_bucket: str
) -> None:
    sim, entries = tiny
    s3 = boto3.client("s3", **s3_server.client_kwargs())
    s3.put_object(Bucket=s3_bucket, Key=entries[0]["id"], Body=b"old copy")
    result = run_sequential(config(sim, s3_bucket, max_entries=2), s3)
    assert (result.archived, result.already) == (1, 1)
    assert s3.get_object(Bucket=s3_bucket, Key=entries[0]["id"])["Body"].read() == b"old copy"
