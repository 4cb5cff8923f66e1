"""The demo: start the local testbed, show the seeded catalog, then run the CLI through the life cycle.

`python -m testbed.demo [--entries N] [--seed S] [--log-format json]` (what `bin/demo` runs). The Kaltura
simulator runs in this process; moto's S3 server and slapd run as subprocesses; every step calls
`kaltura-archiver` as a user would, with the environment a Fargate task would have, shown before the first
step so each command can be repeated by hand. The closing table (testbed.demo_tally) is read from the testbed
itself. With `--log-format json` every line the demo prints is a JSON document and the steps log JSON too.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import anyio

from testbed.demo_tally import Closing, closing, human_bytes, list_bucket, table_lines
from testbed.kaltura_sim import KalturaSim, SimOptions
from testbed.ldap import LdapServer, LdapUser
from testbed.placeholders import write_placeholders
from testbed.s3 import S3Server

BUCKET = "kaltura-archive-demo"
STORAGE_CLASS = "GLACIER"  # archived straight to Glacier: a restore takes two runs, as it will in production
SHOWN_LINES = 8
PROG = "kaltura-archiver"
FORMATS = ("console", "json")


@dataclass(frozen=True)
class Step:
    """One CLI invocation of the life cycle."""

    title: str
    argv: tuple[str, ...]
    stdin_from: tuple[str, ...] | None = None  # the argv of an earlier step whose report is piped in


@dataclass(frozen=True)
class Act:
    """Not a command: what the world does between two steps, through a testbed control surface."""

    title: str
    kind: str  # PLAY: a viewer plays a replaced entry; GLACIER: S3 finishes the restores asked for; UNTAG:
    # someone removes archived_to_s3 from an archived entry by hand


PLAY, GLACIER, UNTAG = "play", "glacier", "untag"


SELECT = ("--unplayed_for", "3", "--max_entries", "20")
SWAP = ("--unplayed_for", "3", "--max_entries", "12")  # fewer than archived: some stay archived, shown apart
LISTED = ("list", "--unplayed_for", "3", "--max_entries", "8")
RESTORE = ("restore_from_s3", "--tag", "flavors_deleted", "--played_within", "1", "--execute")
LIFE_CYCLE: tuple[Step | Act, ...] = (
    Step("check the credentials", ("config",)),
    Step("what the catalog holds and costs before", ("stats",)),
    Step("count entries not played for 3 years", ("count", "--unplayed_for", "3")),
    Step("list the first of them", LISTED),
    Step("split them into 4 balanced windows for 4 parallel tasks", ("shards", "4", "--unplayed_for", "3")),
    Step("count what the first of 4 tasks would see", ("count", "--unplayed_for", "3", "--shard", "1/4")),
    Step("plan the archive (dry run)", ("s3copy", *SELECT)),
    Step("archive to S3", ("s3copy", *SELECT, "--execute")),
    Step("archive again: nothing left to do", ("s3copy", *SELECT, "--execute")),
    Step("check every entry's health", ("health", *SELECT)),
    Step("plan the swap (dry run)", ("replace_video", *SWAP)),
    Step("swap in the placeholder", ("replace_video", *SWAP, "--execute")),
    Act("a viewer plays a replaced video", PLAY),
    Step("bring it back, run 1: ask Glacier for a readable copy", RESTORE),
    Act("hours later, Glacier has made the copy readable", GLACIER),
    Step("bring it back, run 2: the original goes back into Kaltura", RESTORE),
    Act("someone removes archived_to_s3 from an archived entry by hand", UNTAG),
    Step("plan the repairs of what health finds wrong (dry run)", ("repair", *SELECT)),
    Step("repair it, where the fix is safe", ("repair", *SELECT, "--execute")),
    Step("add the owners' directory status to a report", ("ldap_status",), stdin_from=LISTED),
    Step("who owns what would be archived, and who has left", ("owners", "--unplayed_for", "3")),
    Step("savings statistics after", ("stats",)),
)  # fmt: skip
CATALOG_OWNERS = 200  # the catalog generator's user0001 … user0200


def directory_people() -> list[LdapUser]:
    """The catalog's owners as the demo's directory knows them: every fourth inactive, every tenth gone."""
    return [
        LdapUser(uid=f"user{k:04d}", cn=f"Owner {k}", sn=f"{k}", display_name=f"Owner {k}",
                 ou=("History", "Physics", "Law", "Medicine")[k % 4],
                 status="inactive" if k % 4 == 0 else "active")
        for k in range(1, CATALOG_OWNERS + 1)
        if k % 10
    ]  # fmt: skip


def shown_env(sim: KalturaSim, s3: S3Server, ldap: LdapServer, files: Path) -> dict[str, str]:
    """What a person sets to run the steps by hand against this testbed (the testbed's own secrets: no
    harm in showing them), with stand-in placeholder files written into `files`."""
    return {
        **sim.client_env(),
        **s3.client_env(),
        "AWS_BUCKET": BUCKET,
        "ARCHIVER_STORAGE_CLASS": STORAGE_CLASS,
        **write_placeholders(files),
        **ldap.client_env(),
    }


def command_line(step: Step) -> str:
    """The step as a person types it."""
    line = shlex.join([PROG, *step.argv])
    return line if step.stdin_from is None else f"{shlex.join([PROG, *step.stdin_from])} | {line}"


@dataclass(frozen=True)
class Ran:
    """What one step did."""

    step: Step
    code: int
    stdout: list[str]
    stderr: list[str]

    @property
    def ok(self) -> bool:
        return self.code in (0, 1)


class Console:
    """The demo's output for people."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def say(self, text: str) -> None:
        print(text, file=self.out)

    def servers(self, sim: KalturaSim, s3: S3Server, ldap: LdapServer) -> None:
        self.say(f"kaltura: {sim.service_url} (partner {sim.partner_id})")
        self.say(f"s3:      {s3.endpoint_url} (bucket {BUCKET})")
        self.say(f"ldap:    {ldap.url} ({len(ldap.users)} users under {ldap.base_dn})")

    def catalog(self, summary: Mapping[str, Any], edge_cases: Mapping[str, Sequence[str]]) -> None:
        """What the simulator holds, in a few lines."""
        sources, total = human_bytes(summary["source_bytes"]), human_bytes(summary["total_bytes"])
        self.say(f"catalog: {summary['entries']} entries, {sources} of originals "
                 f"({total} with derived flavors), {summary['never_played']} never played")  # fmt: skip
        self.say("  by status: " + ", ".join(f"{status}: {n}" for status, n in summary["by_status"].items()))
        self.say("  by year created: " + ", ".join(f"{year}: {n}" for year, n in summary["by_year"].items()))
        for name, ids in edge_cases.items():
            self.say(f"  edge case {name}: {', '.join(ids[:3])}{' …' if len(ids) > 3 else ''}")

    def environment(self, env: Mapping[str, str]) -> None:
        self.say("\nto run a step by hand while the demo runs, set (the testbed's own keys and secrets):")
        for name, value in env.items():
            self.say(f"export {name}={shlex.quote(value)}")

    def acted(self, act: Act, what: str) -> None:
        self.say(f"\n# {act.title}: {what}")

    def step(self, ran: Ran) -> None:
        """The command, then its report: the first rows, the #SUMMARY lines, the error if it failed."""
        self.say(f"\n$ {command_line(ran.step)}    # {ran.step.title}")
        rows = [line for line in ran.stdout if not line.startswith("#SUMMARY")]
        for line in rows[:SHOWN_LINES]:
            self.say(f"  {line}")
        if len(rows) > SHOWN_LINES:
            self.say(f"  … {len(rows) - SHOWN_LINES} more lines")
        for line in ran.stdout:
            if line.startswith("#SUMMARY"):
                self.say(f"  {line}")
        if not ran.ok:
            for line in ran.stderr[-5:]:
                self.say(f"  ! {line}")
            self.say(f"  exit code {ran.code}")

    def closing(self, figures: Closing) -> None:
        self.say("\nclosing table (read from the testbed: the simulator's entries and the bucket's objects)")
        for line in table_lines(figures):
            self.say(f"  {line}" if line else "")

    def finished(self, ok: bool) -> None:
        self.say("\ndemo finished" + ("" if ok else " with failures (see above)"))


class JsonLines(Console):
    """The demo's output as one JSON document per line; each step's report and log lines whole."""

    def emit(self, event: str, **fields: Any) -> None:
        print(json.dumps({"event": event, **fields}), file=self.out)

    def say(self, text: str) -> None:
        self.emit("demo.note", text=text)

    def servers(self, sim: KalturaSim, s3: S3Server, ldap: LdapServer) -> None:
        self.emit("demo.testbed", kaltura=sim.service_url, partner_id=sim.partner_id, s3=s3.endpoint_url,
                  bucket=BUCKET, ldap=ldap.url, ldap_users=len(ldap.users))  # fmt: skip

    def catalog(self, summary: Mapping[str, Any], edge_cases: Mapping[str, Sequence[str]]) -> None:
        self.emit("demo.catalog", summary=summary, edge_cases=edge_cases)

    def environment(self, env: Mapping[str, str]) -> None:
        self.emit("demo.environment", env=dict(env))

    def acted(self, act: Act, what: str) -> None:
        self.emit("demo.testbed_act", title=act.title, kind=act.kind, text=what)

    def step(self, ran: Ran) -> None:
        outcome = "ok" if ran.ok else "failed"
        logs = [_log_line(line) for line in ran.stderr]
        self.emit("demo.step", title=ran.step.title, command=command_line(ran.step), outcome=outcome,
                  exit_code=ran.code, report=ran.stdout, logs=logs)  # fmt: skip

    def closing(self, figures: Closing) -> None:
        self.emit("demo.closing", **figures.as_json())

    def finished(self, ok: bool) -> None:
        self.emit("demo.finished", ok=ok)


def _log_line(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return line


async def run_step(step: Step, env: Mapping[str, str], fmt: str, stdin: bytes | None) -> Ran:
    """Run one CLI step (with `stdin` piped in, if any)."""
    argv = [sys.executable, "-m", "jobs.cli", "--log-format", fmt, "--loglevel", "warning", *step.argv]
    result = await anyio.run_process(argv, input=stdin or b"", env=dict(env), check=False)
    return Ran(step, result.returncode, result.stdout.decode("utf-8", "replace").splitlines(),
               result.stderr.decode("utf-8", "replace").strip().splitlines())  # fmt: skip


async def play_a_replaced_entry(sim: KalturaSim) -> str:
    """A viewer plays the first replaced entry, now by the simulator's clock; what was done."""
    entries = await sim.control.aget_entries()
    replaced = [e for e in entries if "flavors_deleted" in e["tags"]]
    if not replaced:
        return "no replaced entry to play"
    entry = replaced[0]
    now = int(await sim.control.anow())
    await sim.control.apatch_entry(entry["id"], plays=int(entry["plays"]) + 1, lastPlayedAt=now)
    return f"{entry['id']} is played now (the simulator's control surface records the play)"


async def finish_glacier_restores(s3: S3Server) -> str:
    """Complete every Glacier restore asked for so far, as S3 does hours later; what was done."""
    asked = {a["key"] for a in await s3.arestore_answers() if a["bucket"] == BUCKET and a["status"] == 202}
    for key in sorted(asked):
        await s3.acomplete_restore(BUCKET, key)
    done = ", ".join(sorted(asked)) or "no restore was asked for"
    return f"{done} readable now (the S3 testbed's restore control completes the restore)"


async def untag_an_archived_entry(sim: KalturaSim) -> str:
    """Remove `archived_to_s3` from the first archived entry, not replaced nor played since (the restored
    one was: the repair steps' selection, unplayed for 3 years, leaves it out); what was done."""
    entries = await sim.control.aget_entries()
    cutoff = int(await sim.control.anow()) - 3 * 365 * 86_400
    archived = [e for e in entries if "archived_to_s3" in e["tags"] and "flavors_deleted" not in e["tags"]
                and int(e.get("lastPlayedAt") or 0) < cutoff]  # fmt: skip
    if not archived:
        return "no archived entry to untag"
    entry = archived[0]
    await sim.control.apatch_entry(entry["id"], tags=[t for t in entry["tags"] if t != "archived_to_s3"])
    return f"{entry['id']} lost its archived_to_s3 tag (the simulator's control surface); its copy is in S3"


async def act(step: Act, sim: KalturaSim, s3: S3Server) -> str:
    if step.kind == UNTAG:
        return await untag_an_archived_entry(sim)
    return await (play_a_replaced_entry(sim) if step.kind == PLAY else finish_glacier_restores(s3))


async def life_cycle(sim: KalturaSim, s3: S3Server, env: Mapping[str, str], view: Console, fmt: str) -> bool:
    """Every step in order; False when a step that must work did not."""
    ok = True
    reports: dict[tuple[str, ...], bytes] = {}
    for step in LIFE_CYCLE:
        if isinstance(step, Act):
            view.acted(step, await act(step, sim, s3))
            continue
        stdin = reports.get(step.stdin_from) if step.stdin_from is not None else None
        ran = await run_step(step, env, fmt, stdin)
        reports[step.argv] = "".join(f"{line}\n" for line in ran.stdout).encode()
        view.step(ran)
        ok = ran.ok and ok
    return ok


async def demo(entries: int, seed: int, max_size_mb: float, out: TextIO, fmt: str = "console") -> int:
    """Run the demo; 0 when every step that must work did."""
    view = JsonLines(out) if fmt == "json" else Console(out)
    view.say("starting the testbed: Kaltura simulator, S3 (moto), LDAP (slapd)…")
    # originals capped at a few MB: moto keeps objects in memory, and the demo should take seconds
    sim_options = SimOptions(entries=entries, seed=seed, max_size_mb=max_size_mb)
    async with KalturaSim(sim_options) as sim, S3Server() as s3, LdapServer(users=directory_people()) as ldap:
        view.servers(sim, s3, ldap)
        await s3.acreate_bucket(BUCKET)
        catalog = await sim.control.acatalog()
        view.catalog(catalog["summary"], catalog["edge_cases"])
        before = await sim.control.aget_entries()
        with tempfile.TemporaryDirectory(prefix="kaltura-archiver-demo-") as files:
            env = shown_env(sim, s3, ldap, Path(files))
            view.environment(env)
            ok = await life_cycle(sim, s3, {**os.environ, **env}, view, fmt)
        objects = await anyio.to_thread.run_sync(list_bucket, s3.client_kwargs(), BUCKET)
        view.closing(closing(before, await sim.control.aget_entries(), objects))
    view.finished(ok)
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.demo", description=__doc__)
    parser.add_argument("--entries", type=int, default=300, help="catalog size (default 300)")
    parser.add_argument("--seed", type=int, default=7, help="catalog seed (default 7)")
    parser.add_argument("--max-size-mb", type=float, default=4.0, help="cap on original sizes (default 4)")
    parser.add_argument("--log-format", choices=FORMATS, default="console", help="console (default) or json")
    args = parser.parse_args(argv)
    return anyio.run(demo, args.entries, args.seed, args.max_size_mb, sys.stdout, args.log_format)


if __name__ == "__main__":
    sys.exit(main())
