"""s3copy's dry run: every entry is decided, nothing is written to S3 or Kaltura."""

from __future__ import annotations

from typing import Any

import pytest

from testbed.s3 import S3Server
from tests.integration.s3copy_harness import objects, open_uploads, point_aws_at, run_s3copy, sim_env


async def test_a_dry_run_decides_everything_and_writes_nothing(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = kaltura_sim_factory(entries=60, seed=11, size_mb=1)
    point_aws_at(monkeypatch, s3_server.endpoint_url)
    sim.control.reset_counters()
    run = await run_s3copy(sim_env(sim, s3_bucket), "--unplayed_for", "3")
    assert run.code == 0
    outcomes = run.outcomes()
    assert set(outcomes.values()) <= {"planned", "skipped"}
    assert run.by_outcome("planned")
    assert all(e["dry_run"] is True for e in run.entry_events("entry.planned"))
    assert objects(s3_server, s3_bucket) == {}
    assert open_uploads(s3_server, s3_bucket) == []
    calls = sim.control.counters()["calls"]
    assert not {"media.update", "flavorasset.geturl"} & set(calls)
    assert run.finished["dry_run"] is True
    assert run.finished["counts"]["planned"] == len(run.by_outcome("planned"))
