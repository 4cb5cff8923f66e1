"""`kaltura-archiver s3copy --execute` with a small ARCHIVER_MEMORY_BUDGET and large parts, measured as a
process (peak RSS, the kernel's VmHWM) against the testbed: it stays within the budget plus the process's
own baseline, measured as the dry run of the same selection (the same start-up, listing and checks, with no
transfer and so no part buffer)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from testbed.bench.measure import measure
from testbed.s3 import S3Server
from tests.e2e.s3copy_runs import CLI, tsv, user_env

MIB = 1 << 20
BUDGET_MIB = 64
# four transfers of one 16 MiB part each fill the budget; each original is three parts
KNOBS = {
    "ARCHIVER_MEMORY_BUDGET": f"{BUDGET_MIB}MiB",
    "ARCHIVER_PART_SIZE": "16MiB",
    "ARCHIVER_TRANSFERS": "4",
}
ENTRIES = 12
SIZE_MB = 40
# what the transfers hold beside their part buffers (download chunks, socket buffers, the allocator's
# slack): measured at 16-24 MiB above baseline + budget over several runs. The margin leaves room for that,
# not for a second part per transfer (+64 MiB); the bug this guards against came to 500 MiB over.
MARGIN_MIB = 40


@pytest.mark.slow
def test_peak_rss_of_a_real_run_stays_within_the_memory_budget_plus_the_dry_run_baseline(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str
) -> None:
    sim = kaltura_sim_factory(entries=ENTRIES, seed=61, size_mb=SIZE_MB)
    env = user_env(sim, s3_server, s3_bucket, **KNOBS)
    cwd = os.getcwd()

    baseline = measure([*CLI, "s3copy"], env=env, cwd=cwd, timeout_s=150)
    assert baseline.exit_code == 0, baseline.stderr_tail
    real = measure([*CLI, "s3copy", "--execute", "--all"], env=env, cwd=cwd, timeout_s=150)
    assert real.exit_code == 0, real.stderr_tail
    _, summary = tsv(real.stdout)
    assert summary.get("archived", 0) >= 4  # enough originals for every transfer to hold its part

    figures = f"baseline {baseline.max_rss_mib:.0f} MiB, run {real.max_rss_mib:.0f} MiB"
    assert real.max_rss_mib <= baseline.max_rss_mib + BUDGET_MIB + MARGIN_MIB, figures
