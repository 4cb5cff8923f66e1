"""The demo: start the local testbed, show the seeded catalog, then run the CLI through the life cycle.

`python -m testbed.demo [--entries N] [--seed S]` (what `bin/demo` runs). The Kaltura simulator runs in this
process; moto's S3 server and slapd run as subprocesses; every step calls `kaltura-archiver` as a user would,
with the environment a Fargate task would have. Steps whose subcommand is not built yet say so and are passed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import anyio

from testbed.kaltura_sim import KalturaSim, SimOptions
from testbed.ldap import LdapServer, LdapUser
from testbed.placeholders import write_placeholders
from testbed.s3 import S3Server

BUCKET = "kaltura-archive-demo"
NOT_BUILT_EXIT = 2
SHOWN_LINES = 8


@dataclass(frozen=True)
class Step:
    """One CLI invocation of the life cycle."""

    title: str
    argv: tuple[str, ...]
    must_work: bool = True  # False: a subcommand that later issues build


LIFE_CYCLE = (
    Step("check the credentials", ("config",)),
    Step("count entries not played for 3 years", ("count", "--unplayed_for", "3")),
    Step("list the first of them", ("list", "--unplayed_for", "3", "--max_entries", "8")),
    Step("plan the archive (dry run)", ("s3copy", "--unplayed_for", "3", "--max_entries", "20"), False),
    Step("archive to S3", ("s3copy", "--unplayed_for", "3", "--max_entries", "20", "--execute"), False),
    Step("archive again: nothing left to do", ("s3copy", "--unplayed_for", "3", "--max_entries", "20",
                                               "--execute"), False),
    Step("check every entry's health", ("health", "--unplayed_for", "3", "--max_entries", "20"), False),
    Step("swap in the placeholder", ("replace_video", "--unplayed_for", "3", "--max_entries", "20",
                                     "--execute"), False),
    Step("who owns what would be archived, and who has left", ("owners", "--unplayed_for", "3")),
    Step("savings statistics", ("stats",), False),
)
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


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    raise AssertionError("unreachable")


def print_catalog(summary: Mapping[str, Any], edge_cases: Mapping[str, Sequence[str]], out: TextIO) -> None:
    """What the simulator holds, in a few lines."""
    print(f"catalog: {summary['entries']} entries, {human_bytes(summary['source_bytes'])} of originals "
          f"({human_bytes(summary['total_bytes'])} with derived flavors), "
          f"{summary['never_played']} never played", file=out)
    statuses = ", ".join(f"{status}: {n}" for status, n in summary["by_status"].items())
    print(f"  by status: {statuses}", file=out)
    years = ", ".join(f"{year}: {n}" for year, n in summary["by_year"].items())
    print(f"  by year created: {years}", file=out)
    for name, ids in edge_cases.items():
        print(f"  edge case {name}: {', '.join(ids[:3])}{' …' if len(ids) > 3 else ''}", file=out)


def cli_env(sim: KalturaSim, s3: S3Server, ldap: LdapServer, files: Path) -> dict[str, str]:
    """The environment of a task pointed at the testbed (legacy variable names included), with stand-in
    placeholder files written into `files`."""
    env = dict(os.environ)
    env.update(s3.client_env())
    env.update(sim.client_env())
    env.update(ldap.client_env())
    env.update(write_placeholders(files))
    env["AWS_BUCKET"] = BUCKET
    return env


async def run_step(step: Step, env: Mapping[str, str], out: TextIO) -> bool:
    """Run one CLI step, show its report; False when a step that must work did not."""
    print(f"\n$ kaltura-archiver {' '.join(step.argv)}    # {step.title}", file=out)
    argv = [sys.executable, "-m", "jobs.cli", "--log-format", "console", "--loglevel", "warning", *step.argv]
    result = await anyio.run_process(argv, env=dict(env), check=False)
    stdout = result.stdout.decode("utf-8", "replace").splitlines()
    stderr = result.stderr.decode("utf-8", "replace").strip().splitlines()
    if result.returncode == NOT_BUILT_EXIT and not step.must_work and any("not built" in s for s in stderr):
        print("  (not built yet: a later release brings it)", file=out)
        return True
    rows = [line for line in stdout if not line.startswith("#SUMMARY")]
    for line in rows[:SHOWN_LINES]:
        print(f"  {line}", file=out)
    if len(rows) > SHOWN_LINES:
        print(f"  … {len(rows) - SHOWN_LINES} more lines", file=out)
    for line in stdout:
        if line.startswith("#SUMMARY"):
            print(f"  {line}", file=out)
    if result.returncode not in (0, 1):
        for line in stderr[-5:]:
            print(f"  ! {line}", file=out)
        print(f"  exit code {result.returncode}", file=out)
        return False
    return True


async def demo(entries: int, seed: int, max_size_mb: float, out: TextIO) -> int:
    print("starting the testbed: Kaltura simulator, S3 (moto), LDAP (slapd)…", file=out)
    # originals capped at a few MB: moto keeps objects in memory, and the demo should take seconds
    sim_options = SimOptions(entries=entries, seed=seed, max_size_mb=max_size_mb)
    async with KalturaSim(sim_options) as sim, S3Server() as s3, LdapServer(users=directory_people()) as ldap:
        print(f"kaltura: {sim.service_url} (partner {sim.partner_id})", file=out)
        print(f"s3:      {s3.endpoint_url} (bucket {BUCKET})", file=out)
        print(f"ldap:    {ldap.url} ({len(ldap.users)} users under {ldap.base_dn})", file=out)
        await s3.acreate_bucket(BUCKET)
        catalog = await sim.control.acatalog()
        print_catalog(catalog["summary"], catalog["edge_cases"], out)
        ok = True
        with tempfile.TemporaryDirectory(prefix="kaltura-archiver-demo-") as files:
            env = cli_env(sim, s3, ldap, Path(files))
            for step in LIFE_CYCLE:
                ok = await run_step(step, env, out) and ok
    print("\ndemo finished" + ("" if ok else " with failures (see above)"), file=out)
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.demo", description=__doc__)
    parser.add_argument("--entries", type=int, default=300, help="catalog size (default 300)")
    parser.add_argument("--seed", type=int, default=7, help="catalog seed (default 7)")
    parser.add_argument("--max-size-mb", type=float, default=4.0, help="cap on original sizes (default 4)")
    args = parser.parse_args(argv)
    return anyio.run(demo, args.entries, args.seed, args.max_size_mb, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
