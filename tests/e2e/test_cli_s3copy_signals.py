"""`kaltura-archiver s3copy --execute` stopped by signals in the middle of slow transfers: SIGTERM drains and
writes its summary (exit 143), two SIGINTs cancel at once (exit 130); neither prints a traceback, leaves a
multipart upload open or a tag without its object, and a second run converges."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from typing import Any

from testbed.kaltura_sim import SimProcess
from testbed.s3 import S3Server
from tests.e2e.test_cli_s3copy import CLI, s3copy, tsv, user_env
from tests.integration.test_s3copy_archive import archivable
from tests.integration.test_s3copy_harness import (
    assert_proven_copy,
    objects,
    open_uploads,
    served_sizes,
    sim_entries,
)

ENTRIES = 10
SIZE_MB = 16  # four 5 MiB parts...
DOWNLOAD_MBPS = 40  # ...at 5 MB/s a stream: a transfer takes about 3 s, longer than the drain below
# the pipeline gets DRAIN - s3copy.DRAIN_MARGIN_S = 1 s to finish what it holds, the summary the rest
KNOBS = {"ARCHIVER_TRANSFERS": "2", "ARCHIVER_DRAIN": "4"}
ARCHIVED_TAG = "archived_to_s3"


def slow_sim(factory: Any, seed: int) -> SimProcess:
    sim: SimProcess = factory(entries=ENTRIES, seed=seed, size_mb=SIZE_MB, download_mbps=DOWNLOAD_MBPS)
    return sim


def tagged(sim: SimProcess) -> set[str]:
    return {entry_id for entry_id, e in sim_entries(sim).items() if ARCHIVED_TAG in e["tags"]}


def start_mid_transfer(env: dict[str, str], server: S3Server, bucket: str) -> subprocess.Popen[str]:
    """`s3copy --execute` started and running until S3 holds one of its multipart uploads open (an original
    on its way); the pytest timeout bounds the wait."""
    proc = subprocess.Popen(
        [*CLI, "s3copy", "--execute", "--all"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while not open_uploads(server, bucket):
            assert proc.poll() is None, "the run ended before a transfer was under way"
            time.sleep(0.05)
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    return proc


def finish(proc: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def events(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def assert_every_new_tag_has_its_proven_object(
    sim: SimProcess, server: S3Server, bucket: str, before: set[str]
) -> set[str]:
    """No entry gained `archived_to_s3` without a proven copy in the bucket; the entries that gained it."""
    gained = tagged(sim) - before
    assert gained <= set(objects(server, bucket))
    entries = sim_entries(sim)
    for entry_id in gained:
        assert_proven_copy(server, bucket, entries[entry_id], sim.partner_id, served_sizes(sim))
    return gained


def test_sigterm_mid_transfer_drains_writes_the_summary_and_exits_143(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str
) -> None:
    sim = slow_sim(kaltura_sim_factory, seed=51)
    before = tagged(sim)
    proc = start_mid_transfer(user_env(sim, s3_server, s3_bucket, **KNOBS), s3_server, s3_bucket)
    proc.send_signal(signal.SIGTERM)
    out, err = finish(proc)

    assert proc.returncode == 143, err[-3000:]
    assert "Traceback" not in err
    rows, summary = tsv(out)
    assert summary["total"] == len(rows)  # the #SUMMARY lines are there
    names = [e["event"] for e in events(err)]
    assert "run.stopping" in names
    assert names.count("run.finished") == 1
    assert "run.cut_short" not in names
    (finished,) = [e for e in events(err) if e["event"] == "run.finished"]
    assert finished["cancelled"] > 0  # transfers were cut off in flight...
    assert open_uploads(s3_server, s3_bucket) == []  # ...and their uploads aborted
    assert_every_new_tag_has_its_proven_object(sim, s3_server, s3_bucket, before)


def test_two_sigints_cancel_at_once_exit_130_and_a_second_run_converges(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str
) -> None:
    sim = slow_sim(kaltura_sim_factory, seed=52)
    expected = archivable(sim)
    before = tagged(sim)
    env = user_env(sim, s3_server, s3_bucket, **KNOBS)
    proc = start_mid_transfer(env, s3_server, s3_bucket)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = finish(proc)

    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err
    names = [e["event"] for e in events(err)]
    assert {"run.stopping", "run.aborting", "run.cut_short"} <= set(names)
    rows, summary = tsv(out)  # the report is closed even so: its rows, then its summary
    assert summary["total"] == len(rows)
    assert_every_new_tag_has_its_proven_object(sim, s3_server, s3_bucket, before)

    sim.control.set_faults({"download": {"mbps": 0}})  # the second run at full speed
    again = s3copy(env, "--execute", "--all")
    assert again.returncode == 0, again.stderr[-3000:]
    rows, _ = tsv(again.stdout)
    done = {r["entry_id"] for r in rows if r["outcome"] in ("archived", "tagged", "unchanged")}
    assert done == expected
    assert_every_new_tag_has_its_proven_object(sim, s3_server, s3_bucket, before)
    assert expected <= tagged(sim)
    assert set(objects(s3_server, s3_bucket)) == expected
    assert open_uploads(s3_server, s3_bucket) == []


def test_after_sigterm_no_new_transfer_starts_and_the_entries_not_begun_are_reported_stopped(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str
) -> None:
    """Both transfers held at their downloads' first byte, SIGTERM, then the downloads let go: the two finish,
    no third download starts in the drain, and every entry taken in has its row (`stopped`: run again)."""
    sim = kaltura_sim_factory(entries=ENTRIES, seed=53, size_mb=2)
    expected = archivable(sim)
    sim.control.set_faults({"download": {"hold": True}})
    env = user_env(sim, s3_server, s3_bucket, ARCHIVER_TRANSFERS="2", ARCHIVER_DRAIN="120")
    proc = subprocess.Popen(
        [*CLI, "s3copy", "--execute", "--all"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while sim.control.counters()["downloads_in_flight"] < 2:  # the pytest timeout bounds the wait
            assert proc.poll() is None, "the run ended before both transfers were downloading"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.stderr is not None
        seen = []
        while not any('"run.stopping"' in line for line in seen):  # the signal is taken: let go
            line = proc.stderr.readline()
            assert line, f"the run ended before it said it was stopping: {seen[-5:]}"
            seen.append(line)
        sim.control.set_faults({"download": {"hold": False}})
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    out, err = finish(proc)

    assert proc.returncode == 143, err[-3000:]
    assert sim.control.counters()["downloads"] == 2  # no transfer began after the signal
    rows, summary = tsv(out)
    assert summary["total"] == len(rows)
    outcomes = {r["entry_id"]: r for r in rows}
    archived = {e for e, r in outcomes.items() if r["outcome"] == "archived"}
    stopped = {e for e, r in outcomes.items() if r["outcome"] == "stopped"}
    assert len(archived) == 2
    assert stopped
    assert archived | stopped == expected  # every archivable entry has its row
    assert all("the next run does it" in outcomes[e]["reason"] for e in stopped)
    (finished,) = [e for e in events("".join(seen) + err) if e["event"] == "run.finished"]
    assert finished["not_started"] == len(stopped)
    assert finished["cancelled"] == 0
    assert open_uploads(s3_server, s3_bucket) == []
