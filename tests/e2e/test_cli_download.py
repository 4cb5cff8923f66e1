"""`kaltura-archiver download --id ID`: the original lands whole under its final name, atomically."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from testbed.kaltura_sim.content import GeneratedBody

if TYPE_CHECKING:
    from testbed.kaltura_sim import SimProcess

SimFactory = Callable[..., "SimProcess"]
CLI = [sys.executable, "-m", "jobs.cli"]
SIZE = 2_000_000


def run(sim: SimProcess, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALTURA_", "ARCHIVER_"))}
    env.update(
        KALTURA_SERVICE_URL=sim.service_url,
        KALTURA_PARTNERID=str(sim.partner_id),
        KALTURA_SECRET=sim.admin_secret,
        KALTURA_USERID=sim.user_id,
    )
    return subprocess.run([*CLI, *argv], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_download_id_saves_the_original(kaltura_sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = kaltura_sim_factory(entries=20, seed=8, size_mb=2)
    entries = sim.control.get_entries()
    entry = next(e for e in entries if any(f["isOriginal"] and f["status"] == 2 for f in e["flavors"]))
    original = next(f for f in entry["flavors"] if f["isOriginal"])
    sim.control.set_faults({"download": {"truncate": {"next": 1}}})  # a cut mid-file is resumed
    done = run(sim, "download", "--id", entry["id"], "--tmp", str(tmp_path))
    assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 1
    assert files[0].startswith(entry["id"] + ".")
    assert not files[0].endswith(".part")
    data = (tmp_path / files[0]).read_bytes()
    want = GeneratedBody(entry["id"], original["id"], str(original["version"]), SIZE)
    assert hashlib.sha256(data).hexdigest() == want.sha256()
    assert done.stdout.startswith(f"downloaded to {tmp_path / files[0]}")


def test_download_of_an_unknown_id_exits_1(kaltura_sim: SimProcess, tmp_path: Path) -> None:
    done = run(kaltura_sim, "download", "-i", "0_nosuch00", "--tmp", str(tmp_path))
    assert done.returncode == 1
    assert "ENTRY_ID_NOT_FOUND" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_download_of_an_entry_without_original_exits_1(kaltura_sim: SimProcess, tmp_path: Path) -> None:
    no_original = kaltura_sim.control.catalog()["edge_cases"]["no_original"][0]
    done = run(kaltura_sim, "download", "--id", no_original, "--tmp", str(tmp_path))
    assert done.returncode == 1
    assert "no original flavor" in done.stderr
