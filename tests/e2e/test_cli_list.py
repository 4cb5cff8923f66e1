"""`kaltura-archiver list` and `count`, run as a user runs them, against a simulator process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from testbed.kaltura_sim import SimProcess

SimFactory = Callable[..., "SimProcess"]
CLI = [sys.executable, "-m", "jobs.cli"]


def sim_env(sim: SimProcess, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALTURA_", "ARCHIVER_"))}
    env.update(sim.client_env())
    env["ARCHIVER_KALTURA_RPS"] = "200"
    env.update(extra)
    return env


def cli(sim: SimProcess, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *argv], env=sim_env(sim, **env), capture_output=True, text=True, timeout=120, check=False
    )


def assert_no_secrets(sim: SimProcess, *texts: str) -> None:
    for text in texts:
        assert sim.admin_secret not in text
        assert "djJ8" not in text  # base64 of "v2|": the start of every KS


def test_list_unplayed_for_3_tag_not_archived(kaltura_sim: SimProcess) -> None:
    """The old archive runbook's report: a TSV header, one row per entry, as many rows as `count` says."""
    listed = cli(kaltura_sim, "list", "--unplayed_for", "3", "--tag", "!archived_to_s3")
    counted = cli(kaltura_sim, "count", "--unplayed-for", "3", "--tag", "!archived_to_s3")
    assert (listed.returncode, counted.returncode) == (0, 0)
    header, *rows = listed.stdout.splitlines()
    assert header.split("\t")[:4] == ["last_played_date", "last_played", "plays", "entry_id"]
    assert all(len(row.split("\t")) == len(header.split("\t")) for row in rows)
    assert not any("archived_to_s3" in row.split("\t")[13].split(", ") for row in rows)
    marker, count, description = counted.stdout.rstrip("\n").split("\t")
    assert (marker, int(count)) == ("#COUNT", len(rows))
    assert "unplayed_for=3" in description
    assert len(rows) > 100
    events = [json.loads(line) for line in listed.stderr.splitlines()]
    assert events[-1]["event"] == "run.finished"
    assert events[-1]["entries"] == len(rows)
    assert events[-1]["entries_listed"] == len(rows)  # the EMF metric CloudWatch reads, as s3copy's
    (directive,) = events[-1]["_aws"]["CloudWatchMetrics"]
    assert {"Name": "entries_listed", "Unit": "Count"} in directive["Metrics"]
    assert (events[-1]["job"], events[-1]["mode"]) == ("list", "dry_run")
    assert_no_secrets(kaltura_sim, listed.stdout, listed.stderr, counted.stderr)


def test_list_flavor_mode_as_json_lines(kaltura_sim: SimProcess) -> None:
    done = cli(kaltura_sim, "list", "--mode", "flavor", "--format", "jsonl", "-M", "5")
    assert done.returncode == 0
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len({r["entry_id"] for r in rows}) == 5
    assert any(r["original"] for r in rows)


def test_list_idfile_reports_unknown_ids_and_exits_1(kaltura_sim: SimProcess, tmp_path: Path) -> None:
    known = [e["id"] for e in kaltura_sim.control.get_entries()[:3]]
    idfile = tmp_path / "ids.txt"
    idfile.write_text("\n".join([known[0], "0_unknown1", *known[1:]]) + "\n", encoding="utf-8")
    done = cli(kaltura_sim, "list", "--idfile", str(idfile), "--format", "json")
    assert done.returncode == 1
    assert [r["entry_id"] for r in json.loads(done.stdout)] == known
    unknown = [json.loads(line) for line in done.stderr.splitlines() if '"entry.unknown"' in line]
    assert [e["entry_id"] for e in unknown] == ["0_unknown1"]


def test_sigterm_stops_the_listing_and_exits_143(kaltura_sim_factory: SimFactory) -> None:
    """Three pages listed, then every later page held by the simulator: the run cannot finish before the
    signal, whatever the machine's speed, and stops within its drain."""
    sim = kaltura_sim_factory(entries=400, seed=9, api_latency_ms=150)
    env = sim_env(sim, ARCHIVER_DRAIN="2")
    argv = [*CLI, "list", "--page_size", "10"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while sim.control.counters()["calls"].get("media.list", 0) < 3:  # the pytest timeout bounds it
            assert proc.poll() is None, "the listing ended before its third page"
            time.sleep(0.05)  # the simulator runs in its own process: its counters are polled
        sim.control.set_faults({"actions": {"media.list": {"latency_ms": 120_000}}})  # hold what comes next
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143
    assert 1 < len(out.splitlines()) < 300  # some rows, not all of them
    assert '"run.stopping"' in err
