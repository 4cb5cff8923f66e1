"""bin/demo's life cycle runs on the embedded testbed as a new user would see it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_runs_the_life_cycle_on_the_testbed() -> None:
    """The demo starts all three servers, shows the catalog and every built step succeeds."""
    done = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "demo", "--entries", "120", "--seed", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    assert "catalog: 120 entries" in out
    assert "ldap:    ldap://127.0.0.1:" in out
    assert "kaltura_credentials\tok" in out
    count_lines = [line for line in out.splitlines() if line.strip().startswith("#COUNT\t")]
    assert len(count_lines) == 1
    assert int(count_lines[0].split("\t")[1]) > 0
    archived = [line for line in out.splitlines() if line.strip().startswith("#SUMMARY\tarchived\t")]
    assert len(archived) == 1
    assert int(archived[0].split("\t")[2]) > 0
    again = out.split("archive again: nothing left to do", 1)[1].split("$ kaltura-archiver", 1)[0]
    assert "#SUMMARY\tunchanged\t" in again
    assert "\tarchived\t" not in again
    owners = out.split("who owns what would be archived", 1)[1].split("$ kaltura-archiver", 1)[0]
    assert "owner\tentries\toriginal_bytes\ttotal_bytes\tstatus\tname\torg_unit" in owners
    assert "#SUMMARY\tinactive\t" in owners
    assert "demo finished\n" in out
    assert "with failures" not in out
