"""`kaltura-archiver download --id ID`: the original lands whole under its final name, atomically; only our
own `.part` of the same flavor version is resumed; the file's size and SHA-256 are checked; nothing is
replaced without `--force`; a directory or disk that cannot take the file is one line."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from adapters.s3.proof import ArchiveRecord, to_metadata
from jobs.download import PartRecord
from testbed.kaltura_sim.content import GeneratedBody
from tests.integration.simapi import update_content

if TYPE_CHECKING:
    from testbed.kaltura_sim import SimProcess
    from testbed.s3 import S3Server

SimFactory = Callable[..., "SimProcess"]
CLI = [sys.executable, "-m", "jobs.cli"]
SIZE = 2_000_000


def run(sim: SimProcess, *argv: str, **env_extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALTURA_", "ARCHIVER_", "AWS_"))}
    env.update(
        KALTURA_SERVICE_URL=sim.service_url,
        KALTURA_PARTNERID=str(sim.partner_id),
        KALTURA_SECRET=sim.admin_secret,
        KALTURA_USERID=sim.user_id,
        **env_extra,
    )
    return subprocess.run([*CLI, *argv], env=env, capture_output=True, text=True, timeout=120, check=False)


def error_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    """What stderr holds besides the JSON log lines (a one-line error, or a traceback)."""
    return [line for line in done.stderr.splitlines() if not line.startswith("{")]


def pick(sim: SimProcess) -> tuple[dict[str, Any], dict[str, Any]]:
    """An entry with a READY original, and that original."""
    entries = sim.control.get_entries()
    entry = next(e for e in entries if any(f["isOriginal"] and f["status"] == 2 for f in e["flavors"]))
    return entry, next(f for f in entry["flavors"] if f["isOriginal"])


def body_sha256(entry: dict[str, Any], original: dict[str, Any]) -> str:
    return GeneratedBody(entry["id"], original["id"], str(original["version"]), SIZE).sha256()


def cut_short(sim: SimProcess, entry: dict[str, Any], path: Path) -> int:
    """A download the server cuts mid-file with no retry left: it fails, leaving our `.part`; its size."""
    sim.control.set_faults({"download": {"truncate": {"next": 1}, "truncate_fraction": 0.5}})
    done = run(sim, "download", "--id", entry["id"], "-o", str(path), ARCHIVER_KALTURA_RETRIES="1")
    sim.control.set_faults({"reset": True})
    assert done.returncode != 0, done.stdout
    return Path(f"{path}.part").stat().st_size


def test_download_id_saves_the_original(kaltura_sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = kaltura_sim_factory(entries=20, seed=8, size_mb=2)
    entry, original = pick(sim)
    sim.control.set_faults({"download": {"truncate": {"next": 1}}})  # a cut mid-file is resumed
    done = run(sim, "download", "--id", entry["id"], "--tmp", str(tmp_path))
    assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 1
    assert files[0].startswith(entry["id"] + ".")
    assert not files[0].endswith(".part")
    data = (tmp_path / files[0]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == body_sha256(entry, original)
    path = tmp_path / files[0]
    assert done.stdout == f"downloaded to {path}\t{SIZE}\t{body_sha256(entry, original)}\n"


def test_a_cut_download_leaves_our_part_and_the_next_run_resumes_it_to_the_right_sha256(
    kaltura_sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=20, seed=8, size_mb=2)
    entry, original = pick(sim)
    path = tmp_path / "out.mp4"
    kept = cut_short(sim, entry, path)
    assert 0 < kept < SIZE
    sim.control.reset_counters()
    done = run(sim, "download", "--id", entry["id"], "-o", str(path))
    assert done.returncode == 0, done.stderr
    assert sim.control.counters()["bytes_served"] == SIZE - kept  # resumed, not started over
    assert '"download.resume"' in done.stderr
    assert done.stdout.endswith(f"\t{SIZE}\t{body_sha256(entry, original)}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_a_foreign_part_is_discarded_not_resumed(kaltura_sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = kaltura_sim_factory(entries=20, seed=8, size_mb=2)
    entry, original = pick(sim)
    path = tmp_path / "out.mp4"
    Path(f"{path}.part").write_bytes(b"not the original" * 1000)
    done = run(sim, "download", "--id", entry["id"], "-o", str(path))
    assert done.returncode == 0, done.stderr
    assert '"download.part_discarded"' in done.stderr
    assert hashlib.sha256(path.read_bytes()).hexdigest() == body_sha256(entry, original)
    assert done.stdout.endswith(f"\t{body_sha256(entry, original)}\n")


def test_our_part_of_an_older_flavor_version_is_discarded(
    kaltura_sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=20, seed=8, size_mb=2)
    entry, old = pick(sim)
    path = tmp_path / "out.mp4"
    assert cut_short(sim, entry, path) > 0
    asyncio.run(update_content(sim, entry["id"]))  # same flavor id, same size, version + 1
    entry = next(e for e in sim.control.get_entries() if e["id"] == entry["id"])
    original = next(f for f in entry["flavors"] if f["isOriginal"])
    assert (original["id"], original["sizeInBytes"]) == (old["id"], old["sizeInBytes"])
    assert int(original["version"]) == int(old["version"]) + 1
    done = run(sim, "download", "--id", entry["id"], "-o", str(path))
    assert done.returncode == 0, done.stderr
    assert '"download.part_discarded"' in done.stderr
    path = tmp_path / "out.mp4"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == body_sha256(entry, original)


def test_a_part_longer_than_the_original_is_discarded(
    kaltura_sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=20, seed=8, size_mb=2)
    entry, original = pick(sim)
    path = tmp_path / "out.mp4"
    Path(f"{path}.part").write_bytes(b"\0" * (SIZE + 10))
    PartRecord(entry["id"], original["id"], int(original["version"]), SIZE).write(f"{path}.part.json")
    done = run(sim, "download", "--id", entry["id"], "-o", str(path))
    assert done.returncode == 0, done.stderr
    assert '"download.part_discarded"' in done.stderr
    assert hashlib.sha256(path.read_bytes()).hexdigest() == body_sha256(entry, original)


def test_an_existing_file_is_kept_without_force_and_replaced_with_it(
    kaltura_sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=20, seed=8, size_mb=2)
    entry, original = pick(sim)
    first = run(sim, "download", "--id", entry["id"], "--tmp", str(tmp_path))
    assert first.returncode == 0, first.stderr
    [path] = tmp_path.iterdir()
    path.write_bytes(b"mine")
    sim.control.reset_counters()
    refused = run(sim, "download", "--id", entry["id"], "--tmp", str(tmp_path))
    assert refused.returncode == 2
    assert error_lines(refused) == [f"kaltura-archiver: {str(path)!r} exists: "
                                    "pass --force to replace it, or give another --output"]  # fmt: skip
    mine = tmp_path / "mine.mp4"
    mine.write_bytes(b"mine")
    refused = run(sim, "download", "--id", entry["id"], "-o", str(mine))
    assert refused.returncode == 2
    assert "--force" in error_lines(refused)[0]
    assert path.read_bytes() == mine.read_bytes() == b"mine"
    assert sim.control.counters()["downloads"] == 0
    for replaced in (["--tmp", str(tmp_path)], ["-o", str(mine)]):
        done = run(sim, "download", "--id", entry["id"], *replaced, "--force")
        assert done.returncode == 0, done.stderr
    for replaced_file in (path, mine):
        assert hashlib.sha256(replaced_file.read_bytes()).hexdigest() == body_sha256(entry, original)


def test_a_directory_that_cannot_take_the_file_is_one_line_before_any_kaltura_call(
    kaltura_sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=20, seed=8, size_mb=2)
    entry, _ = pick(sim)
    sim.control.reset_counters()
    proc = run(sim, "download", "--id", entry["id"], "--tmp", "/proc")
    assert proc.returncode == 2
    [line] = error_lines(proc)
    assert line.startswith("kaltura-archiver: --tmp '/proc' is not writable (")
    assert line.endswith("): give a directory you can write to")
    output = run(sim, "download", "--id", entry["id"], "-o", "/proc/x.mp4")
    assert output.returncode == 2
    assert error_lines(output)[0].startswith("kaltura-archiver: --output's directory '/proc' is not writable")
    a_file = tmp_path / "file"
    a_file.write_text("")
    not_dir = run(sim, "download", "--id", entry["id"], "--tmp", str(a_file))
    assert not_dir.returncode == 2
    assert error_lines(not_dir) == [f"kaltura-archiver: --tmp {str(a_file)!r} is not a directory: "
                                    "give an existing directory"]  # fmt: skip
    assert sim.control.counters()["requests"] == 0


def test_a_full_disk_while_writing_is_one_line_exit_3(
    kaltura_sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=20, seed=8, size_mb=2)
    entry, original = pick(sim)
    path = tmp_path / "out.mp4"
    # our own, empty .part that is /dev/full: every write fails with ENOSPC
    Path(f"{path}.part").symlink_to("/dev/full")
    PartRecord(entry["id"], original["id"], int(original["version"]), SIZE).write(f"{path}.part.json")
    done = run(sim, "download", "--id", entry["id"], "-o", str(path))
    assert done.returncode == 3
    assert error_lines(done) == [f"kaltura-archiver: writing '{path}.part' failed (No space left on device): "
                                 "free space on that disk or give another --tmp or --output"]  # fmt: skip
    assert not path.exists()


def test_download_of_an_unknown_id_exits_1_with_one_line(kaltura_sim: SimProcess, tmp_path: Path) -> None:
    done = run(kaltura_sim, "download", "-i", "0_nosuch00", "--tmp", str(tmp_path))
    assert done.returncode == 1
    [line] = error_lines(done)
    assert line.startswith("kaltura-archiver: media.get 0_nosuch00: ENTRY_ID_NOT_FOUND")
    assert list(tmp_path.iterdir()) == []


def test_download_of_an_entry_without_original_exits_1(kaltura_sim: SimProcess, tmp_path: Path) -> None:
    no_original = kaltura_sim.control.catalog()["edge_cases"]["no_original"][0]
    done = run(kaltura_sim, "download", "--id", no_original, "--tmp", str(tmp_path))
    assert done.returncode == 1
    assert "no original flavor" in done.stderr


def archive(s3: S3Server, bucket: str, entry: dict[str, Any], original: dict[str, Any], sha256: str) -> None:
    """An archive object for the entry whose record names its original and `sha256`."""
    record = ArchiveRecord(1, entry["id"], original["id"], str(original["version"]), SIZE)
    s3_client = boto3.client("s3", **s3.client_kwargs())
    s3_client.put_object(Bucket=bucket, Key=entry["id"], Body=b"x", Metadata=to_metadata(record),
                         Tagging=f"ka-sha256={sha256}")  # fmt: skip


def test_the_sha256_is_checked_against_the_archive_record_of_the_same_version(
    kaltura_sim_factory: SimFactory, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=20, seed=8, size_mb=2)
    entry, original = pick(sim)
    path = tmp_path / "out.mp4"
    aws = {"AWS_BUCKET": s3_bucket, **s3_server.client_env()}
    where = ["--id", entry["id"], "-o", str(path)]

    archive(s3_server, s3_bucket, entry, original, body_sha256(entry, original))
    same = run(sim, "download", *where, **aws)
    assert same.returncode == 0, same.stderr
    assert '"download.matches_archive"' in same.stderr
    path.unlink()

    archive(s3_server, s3_bucket, entry, original, "0" * 64)
    differs = run(sim, "download", *where, **aws)
    assert differs.returncode == 1
    [line] = error_lines(differs)
    assert f"differs from {'0' * 64} recorded on s3://{s3_bucket}/{entry['id']}" in line
    assert not path.exists()
    part = Path(f"{path}.part")
    assert hashlib.sha256(part.read_bytes()).hexdigest() == body_sha256(entry, original)
    part.unlink()

    other = {**original, "version": int(original["version"]) + 1}
    archive(s3_server, s3_bucket, entry, other, "0" * 64)
    not_compared = run(sim, "download", *where, **aws)
    assert not_compared.returncode == 0, not_compared.stderr
    assert '"download.archive_not_compared"' in not_compared.stderr
