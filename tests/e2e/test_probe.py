"""The bad-input battery of `bin/probe`: every probe gives its documented exit code, one plain line on
stderr at most, no traceback and no secret."""

from __future__ import annotations

from pathlib import Path

from testbed.kaltura_sim import SimProcess
from testbed.probe import BUCKET, World, run_battery
from testbed.s3 import S3Server


def test_every_probe_keeps_the_readme_promise(tmp_path: Path) -> None:
    lines: list[str] = []
    with SimProcess(entries=1500, seed=11, max_size_mb=2) as sim, S3Server() as s3:
        s3.create_bucket(BUCKET)
        broken = run_battery(World(sim, s3, tmp_path), lines.append)
    assert broken == 0, "\n".join(line for line in lines if not line.startswith("ok"))
    assert len(lines) >= 35
