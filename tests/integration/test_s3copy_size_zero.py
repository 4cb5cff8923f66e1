"""s3copy on old assets whose original reports `sizeInBytes` 0: the exact size comes from the download."""

from __future__ import annotations

from typing import Any

import pytest

from testbed.kaltura_sim import SimProcess
from testbed.s3 import S3Server
from tests.integration.s3copy_harness import (
    archivable,
    assert_proven_copy,
    objects,
    original,
    point_aws_at,
    run_s3copy,
    s3_client,
    served_sizes,
    sim_entries,
    sim_env,
)
from tests.integration.simapi import update_content


def size_zero_entries(sim: SimProcess) -> list[str]:
    """The catalog's `size_in_bytes_zero` edge cases that s3copy must archive."""
    listed = sim.control.catalog()["edge_cases"]["size_in_bytes_zero"]
    wanted = archivable(sim)
    return [entry_id for entry_id in listed if entry_id in wanted]


async def test_originals_without_an_exact_size_are_archived_at_their_served_size_and_stay_proven(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = kaltura_sim_factory(entries=120, seed=5, size_mb=6)
    chosen = size_zero_entries(sim)
    assert len(chosen) >= 2, "the catalog must hold archivable size_in_bytes_zero entries"
    entries = sim_entries(sim)
    assert all(original(entries[e])["sizeInBytes"] == 0 for e in chosen)
    point_aws_at(monkeypatch, s3_server.endpoint_url)
    env = sim_env(sim, s3_bucket)
    ids = [arg for entry_id in chosen for arg in ("--id", entry_id)]

    plan = await run_s3copy(env, *ids)
    assert set(plan.by_outcome("planned")) == set(chosen)
    assert objects(s3_server, s3_bucket) == {}

    first = await run_s3copy(env, "--execute", *ids)
    assert first.code == 0, first.stderr[-2000:]
    assert set(first.by_outcome("archived")) == set(chosen)
    sizes = served_sizes(sim)
    entries = sim_entries(sim)
    stored = objects(s3_server, s3_bucket)
    for entry_id in chosen:
        source = original(entries[entry_id])
        assert stored[entry_id]["size"] == sizes[source["id"]]
        assert "archived_to_s3" in entries[entry_id]["tags"]
        assert_proven_copy(s3_server, s3_bucket, entries[entry_id], sim.partner_id, sizes)
        meta = s3_client(s3_server).head_object(Bucket=s3_bucket, Key=entry_id)["Metadata"]
        assert meta["ka-bytes"] == str(sizes[source["id"]])

    second = await run_s3copy(env, "--execute", *ids)
    assert second.code == 0
    assert set(second.by_outcome("unchanged")) == set(chosen)
    assert objects(s3_server, s3_bucket) == stored

    changed = chosen[0]
    await update_content(sim, changed)
    third = await run_s3copy(env, "--execute", "--id", changed)
    assert third.outcomes() == {changed: "conflict"}
    assert objects(s3_server, s3_bucket)[changed] == stored[changed]
