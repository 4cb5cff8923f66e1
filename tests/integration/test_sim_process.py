"""The simulator's command line, its in-process runner and its control surface."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from typing import Any

import aiohttp
import pytest

from testbed.kaltura_sim import ControlError, KalturaSim, SimProcess
from tests.fixtures.servers import is_gone, wait_gone
from tests.integration.simapi import admin_ks, call, plain_entry


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_one_ready_line_and_exits_cleanly_on_signal(signum: int) -> None:
    argv = [
        sys.executable,
        "-m",
        "testbed.kaltura_sim",
        "--port",
        "0",
        "--entries",
        "50",
        "--seed",
        "3",
        "--partner-id",
        "2001",
        "--admin-secret",
        "s3cr3t",
    ]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        proc.send_signal(signum)
        rest, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert rest == b""
    assert set(info) == {"service_url", "partner_id", "admin_secret", "user_id"}
    assert info["service_url"].startswith("http://127.0.0.1:")
    assert (info["partner_id"], info["admin_secret"], info["user_id"]) == (2001, "s3cr3t", "archiver@testbed")


def test_sim_process_stops_its_child() -> None:
    sim = SimProcess(entries=50, seed=4)
    with sim:
        assert sim.control.now() > 0
    assert sim.exit_code == 0


async def test_in_process_sim_runs_in_this_loop() -> None:
    async with KalturaSim(entries=80, seed=5) as sim, aiohttp.ClientSession() as http:
        url = f"{sim.service_url}/api_v3/service/media/action/count"
        ks = admin_ks(sim)
        async with http.post(
            url,
            json={
                "ks": ks,
                "format": "1",
                "filter": {"objectType": "KalturaMediaEntryFilter", "statusIn": "-2,-1,0,1,2,4,7"},
            },
        ) as resp:
            count = await resp.json()
        assert count == sum(1 for e in sim.state.entries_snapshot() if e["status"] != "3")


async def test_control_patch_entry_and_clock(kaltura_sim_factory: Any) -> None:
    sim = kaltura_sim_factory(entries=60)
    entry = await plain_entry(sim)
    await sim.control.apatch_entry(entry["id"], plays=42, lastPlayedAt=1_700_000_000, tags="patched, tags")
    async with aiohttp.ClientSession() as http:
        got = await call(http, sim, "media", "get", admin_ks(sim), entryId=entry["id"])
    assert (got["plays"], got["lastPlayedAt"], got["tags"]) == (42, 1_700_000_000, "patched, tags")
    before = await sim.control.anow()
    assert await sim.control.aadvance_clock(86400) >= before + 86400


def test_control_errors_are_refused(kaltura_sim_factory: Any) -> None:
    sim = kaltura_sim_factory(entries=60)
    with pytest.raises(ControlError, match="404"):
        sim.control.patch_entry("0_nosuch", plays=1)
    with pytest.raises(ControlError, match="400"):
        sim.control.request("POST", "/entries/" + sim.control.get_entries()[0]["id"], {"name": "x"})


def test_control_catalog_has_edge_cases_and_summary(kaltura_sim: SimProcess) -> None:
    catalog = kaltura_sim.control.catalog()
    assert catalog["summary"]["entries"] == len(kaltura_sim.control.get_entries())
    assert {"no_original", "same_second_burst"} <= set(catalog["edge_cases"])


def test_sim_process_dies_with_a_killed_parent() -> None:
    """A test run killed with SIGKILL leaves no simulator behind (SimProcess ties it to its parent)."""
    parent_code = (
        "import sys\n"
        "from testbed.kaltura_sim import SimProcess\n"
        "sim = SimProcess(entries=20, seed=1)\n"
        "sim.start()\n"
        "print(sim.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", parent_code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as parent:
        assert parent.stdout is not None
        sim_pid = int(parent.stdout.readline())
        assert not is_gone(sim_pid)
        parent.kill()
        parent.wait(10)
    assert wait_gone(sim_pid)
