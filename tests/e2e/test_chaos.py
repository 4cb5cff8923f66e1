"""Chaos as a user would meet it: Kaltura answering 503 and ACTION_BLOCKED, downloads cut, conversions
failing, S3 answering SlowDown and cutting answers, each at 5 %, while s3copy, replace_video and
restore_from_s3 runs are killed with SIGKILL at seeded random instants; then rounds of repair and the three
commands converge, losing no original, leaving no multipart upload open and overwriting no object."""

from __future__ import annotations

import random
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testbed.placeholders import write_placeholders
from testbed.s3 import S3Server
from testbed.s3_faults import S3FaultProxy
from tests.e2e.chaos_runs import (
    Job,
    KillPoints,
    Overwrites,
    RunResult,
    cli,
    id_file,
    lost_originals,
    no_sim_faults,
    originals,
    run_killed_at,
    run_whole,
    served_sources,
    set_s3_faults,
    sim_faults,
    state_of,
)
from tests.e2e.s3copy_runs import tsv, user_env
from tests.integration.s3copy_harness import archivable, open_uploads

SEED = 2040
ENTRIES = 28
RATE = 0.05
KILLS_EACH = 7  # kills per command: 21 in all
MAX_ATTEMPTS = 60  # runs in the kill phase; a run that ends before its kill point counts no kill
MAX_ROUNDS = 5
# repair first: it cancels a replacement FAILED by a conversion whose run was killed before it cancelled (the
# other commands refuse such an entry), and replace_video or restore_from_s3 then go on in the same round
ROUND = ("repair", "s3copy", "replace_video", "restore_from_s3")
KILLED = ("s3copy", "replace_video", "restore_from_s3")  # the commands whose runs are killed
# the first range of kill points, in requests that are work (Kaltura's mutating calls and downloads, S3's
# writes and GETs): a few entries' worth, so a run with work is killed early in it, often
FIRST_RANGE = 20
# a user's own tuning: the testbed answers fast
TUNING = {"ARCHIVER_KALTURA_RPS": "200", "ARCHIVER_READY_POLL": "0.1", "ARCHIVER_TRANSFERS": "4"}


def unhealthy(health: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str]]:
    """entry id -> (rule, detail) of each UNHEALTHY row of a health run."""
    assert health.stdout, health.stderr[-2000:]
    rows, _ = tsv(health.stdout)
    return {r["entry_id"]: (r["rule"], r["detail"]) for r in rows if r["verdict"].startswith("UNHEALTHY")}


@dataclass(frozen=True)
class Selection:
    """The entries each command selects (by --idfile), the same while runs are killed and in the rounds.

    Every archivable entry is archived; half of them are replaced: `kept` stay replaced, `restored` are
    replaced before the chaos begins (no fault, no kill) and restored during it. A restored entry is not
    selected by replace_video again (it would be replaced anew, and restored anew, at every round).
    `prepare` archives the half to replace before the chaos.
    """

    kept: list[str]
    restored: list[str]
    jobs: dict[str, Job]

    @classmethod
    def of(cls, sim: Any, directory: Path) -> Selection:
        replaced = sorted(archivable(sim))[0::2]
        restored, kept = replaced[0::2], replaced[1::2]
        jobs = {
            "s3copy": Job("s3copy", ("--all",)),
            "replace_video": Job("replace_video", ("--idfile", id_file(directory, "replace", kept))),
            "restore_from_s3": Job("restore_from_s3", ("--idfile", id_file(directory, "restore", restored))),
        }
        return cls(kept, restored, jobs)

    def job(self, command: str) -> Job:
        """`command` on its selection; a command without one (a later addition to ROUND) on every entry."""
        return self.jobs.get(command, Job(command, ("--all",)))

    async def prepare(self, env: dict[str, str], directory: Path) -> None:
        """On a quiet testbed: archive the entries to replace (so replace_video has work from the first kill
        on) and replace those to restore (so restore_from_s3 has)."""
        replaced = sorted(self.kept + self.restored)
        steps = ((replaced, "s3copy", "archived"), (self.restored, "replace_video", "replaced"))
        for ids, command, outcome in steps:
            run = await run_whole(Job(command, ("--idfile", id_file(directory, command, ids))), env)
            assert run.code == 0, run.stderr[-2000:]
            assert {r["outcome"] for r in run.rows} == {outcome}, run.rows


@dataclass
class Chaos:
    """The testbed of one chaos test and what it has counted so far."""

    sim: Any
    s3: S3Server
    bucket: str
    proxy: S3FaultProxy
    env: dict[str, str]
    selection: Selection
    overwrites: Overwrites = field(default_factory=Overwrites)
    kills: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KILLED, 0))
    mid_work: int = 0  # kills that landed after the run had begun writing

    async def kill_runs(self) -> None:
        """Run the commands in turn, each killed at a drawn point, until each has its kills."""
        points = KillPoints(random.Random(SEED), KILLED, FIRST_RANGE)
        for attempt in range(MAX_ATTEMPTS):
            if min(self.kills.values()) >= KILLS_EACH:
                return
            # every command in turn, even one with its kills: replace_video gives restore_from_s3 its work
            command = KILLED[attempt % len(KILLED)]
            job = self.selection.job(command)
            ending = await run_killed_at(job, self.env, self.sim, self.proxy, *points.draw(command))
            points.record(command, ending)
            self.kills[command] += ending.killed
            self.mid_work += ending.killed and ending.work > 0
            self.overwrites.observe(self.s3, self.bucket)
        raise AssertionError(f"only {self.kills} kills landed in {MAX_ATTEMPTS} runs")

    async def converge(self) -> list[list[RunResult]]:
        """Rounds of ROUND until one changes nothing (every row steady, Kaltura and S3 as they were)."""
        history: list[list[RunResult]] = []
        for _ in range(MAX_ROUNDS):
            before = state_of(self.sim, self.s3, self.bucket)
            results = [await run_whole(self.selection.job(command), self.env) for command in ROUND]
            self.overwrites.observe(self.s3, self.bucket)
            history.append(results)
            print(f"chaos: round {len(history)} changed", {r.job.command: len(r.changed()) for r in results})
            if not any(r.changed() for r in results) and state_of(self.sim, self.s3, self.bucket) == before:
                return history
        last = {r.job.command: r.changed() for r in history[-1]}
        raise AssertionError(f"no round without a change in {MAX_ROUNDS} rounds; the last changed {last}")


async def test_kill_9_at_random_instants_under_5_percent_faults_then_rounds_converge_losing_nothing(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=ENTRIES, seed=SEED, max_size_mb=5.5)
    catalog = originals(sim)
    selection = Selection.of(sim, tmp_path)
    kept, restored = selection.kept, selection.restored
    async with S3FaultProxy(s3_server.endpoint_url, seed=SEED) as proxy:
        env = user_env(
            sim, s3_server, s3_bucket, AWS_ENDPOINT_URL=proxy.endpoint_url, **write_placeholders(tmp_path),
            **TUNING,
        )  # fmt: skip
        # the catalog's own sick entries (e.g. ERROR_CONVERTING from the start): the end may have no other
        before_health = unhealthy(cli({**env, "AWS_ENDPOINT_URL": s3_server.endpoint_url}, "health"))
        await selection.prepare(env, tmp_path)
        await sim.control.aset_faults(sim_faults(RATE, SEED))
        set_s3_faults(proxy, RATE, SEED)
        chaos = Chaos(sim, s3_server, s3_bucket, proxy, env, selection)
        await chaos.kill_runs()
        history = await chaos.converge()

    await sim.control.aset_faults(no_sim_faults())  # the counts are taken on a quiet testbed
    served = await served_sources(sim)
    lost = lost_originals(served, s3_server, s3_bucket, sim.partner_id, catalog)
    still_open = open_uploads(s3_server, s3_bucket)
    overwritten = chaos.overwrites.changed
    print(
        f"chaos: kills={sum(chaos.kills.values())} rounds={len(history)} lost_originals={len(lost)} "
        f"open_uploads={len(still_open)} overwritten={len(overwritten)}"
    )
    print(f"chaos: kills by command {chaos.kills}; {chaos.mid_work} after the run had begun writing")
    assert (lost, still_open, overwritten) == ([], [], set())
    last = {r.job.command: r for r in history[-1]}
    assert all(r.code == 0 for c, r in last.items() if c != "repair"), [
        (c, r.stderr[-1500:]) for c, r in last.items()
    ]
    # repair's last run: exit 1 only for the catalog's own sick entries, which need a person
    needs_person = {r["entry_id"] for r in last["repair"].rows if r["outcome"] == "needs_person"}
    assert needs_person == set(before_health)
    assert last["repair"].code == (1 if needs_person else 0), last["repair"].stderr[-1500:]

    health = cli({**env, "AWS_ENDPOINT_URL": s3_server.endpoint_url}, "health")
    assert unhealthy(health) == before_health
    rows = {r["entry_id"]: r for r in tsv(health.stdout)[0]}
    assert {rows[e]["verdict"] for e in kept + restored} == {"HEALTHY"}
    # the end state the selection defines: the kept ones replaced, the others' originals served by Kaltura
    assert all("flavors_deleted" in rows[e]["tags"] and served[e] != catalog[e].sha256 for e in kept)
    assert all("flavors_deleted" not in rows[e]["tags"] and served[e] == catalog[e].sha256 for e in restored)
