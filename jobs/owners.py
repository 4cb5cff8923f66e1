"""`owners`: per owner of the selected entries, how many there are, their bytes, and the owner's directory
status, so a team can tell owners before a `replace_video` run and see which owners have left.

The owner is the entry's creator (`--by creator`, the id `ldap_status` reads) or its Kaltura owner
(`--by user`), as a uid (an `@domain` cut off, case ignored). Bytes come from the listing: `original_bytes`
is the source flavor's size (what `s3copy` archives), `total_bytes` every flavor's. Rows come largest total
first; the directory columns are `ldap_status`'s (`status`, `name`, `org_unit`). A TSV report ends with
`#SUMMARY<TAB>status<TAB>owners` lines. Memory grows with the number of owners, not of entries.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from adapters.kaltura import FilterSpec, FlavorAsset
from adapters.ldap import Directory, uid_key
from engine.errors import primary
from engine.progress import Progress
from jobs.common.candidates import Candidate, candidates
from jobs.common.context import RunContext, connected, require_kaltura
from jobs.common.directory import STATUSES, UNKNOWN, directory, owner_uid, require_ldap, status_of
from jobs.common.events import EventLog, RunSummary
from jobs.common.options import add_filter_options, add_option, filter_spec
from jobs.common.report import FORMATS, ReportWriter, Row
from jobs.common.shards import Shard, narrowed, shard_of
from jobs.lifecycle import original_of

JOB = "owners"
COLUMNS: Final = ("owner", "entries", "original_bytes", "total_bytes", "status", "name", "org_unit")
OWNERS_PER_LOOK_UP: Final = 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(
        parser,
        "--by",
        choices=("creator", "user"),
        default="creator",
        help="the owner: the entry's creator (creatorId, default) or its Kaltura owner (userId)",
    )
    add_option(parser, "--format", choices=FORMATS, default="tsv", help="report format (default tsv)")
    add_filter_options(parser, max_entries=-1)


def _bytes(flavor: FlavorAsset) -> int:
    return flavor.size_bytes or flavor.size_kb * 1024


@dataclass
class Tally:
    """One owner's share of the selection."""

    owner: str  # the uid as first seen
    entries: int = 0
    original_bytes: int = 0
    total_bytes: int = 0

    def add(self, candidate: Candidate) -> None:
        original = original_of(candidate.flavors)
        self.entries += 1
        self.original_bytes += _bytes(original) if original is not None else 0
        self.total_bytes += sum(_bytes(f) for f in candidate.flavors)


class Tallies:
    """Every owner's tally, by uid key (the selection's owners: the one thing held in memory)."""

    def __init__(self, by: str) -> None:
        self.by = by
        self.owners: dict[str, Tally] = {}

    def add(self, candidate: Candidate) -> None:
        entry = candidate.entry
        uid = owner_uid(entry.creator_id if self.by == "creator" else entry.user_id)
        key = uid_key(uid)
        tally = self.owners.get(key)
        if tally is None:
            tally = self.owners[key] = Tally(uid)
        tally.add(candidate)

    def largest_first(self) -> list[Tally]:
        return sorted(self.owners.values(), key=lambda t: (-t.total_bytes, t.owner))


async def write_rows(tallies: Iterable[Tally], people: Directory, writer: ReportWriter) -> Counter[str]:
    """The report's rows, owners looked up in batches; the owners counted by status."""
    counts: Counter[str] = Counter()
    batch: list[Tally] = []

    async def flush() -> None:
        found = await people.look_up([t.owner for t in batch if t.owner])
        for tally in batch:
            person = found.get(tally.owner) if tally.owner else None
            status = status_of(person)
            counts[status] += 1
            writer.row(owner_row(tally, status, person.name if person else None,
                                 person.org_unit if person else None))  # fmt: skip
        batch.clear()

    for tally in tallies:
        batch.append(tally)
        if len(batch) == OWNERS_PER_LOOK_UP:
            await flush()
    if batch:
        await flush()
    return counts


def owner_row(tally: Tally, status: str, name: str | None, org_unit: str | None) -> Row:
    return {
        "owner": tally.owner or None,
        "entries": tally.entries,
        "original_bytes": tally.original_bytes,
        "total_bytes": tally.total_bytes,
        "status": status if tally.owner else UNKNOWN,
        "name": name,
        "org_unit": org_unit,
    }


async def run(args: argparse.Namespace, ctx: RunContext) -> int:
    """Report the selection's owners; exit 1 if some requested ids do not exist."""
    spec = filter_spec(args)
    shard = shard_of(ctx.settings, spec)
    require_kaltura(ctx.settings)
    require_ldap(ctx.settings)  # both before the report's header: a missing setting leaves stdout empty
    started = time.monotonic()
    log = EventLog(run_id=ctx.run_id, job=JOB, dry_run=True)
    tallies = Tallies(args.by)
    unknown_ids: list[str] = []
    async with directory(ctx.settings) as people:  # first: a refused bind should not wait for a listing
        writer: ReportWriter | None = None
        counts: Counter[str] = Counter()

        def finished(**extra: object) -> None:
            entries = sum(t.entries for t in tallies.owners.values())
            by_status = {s: counts[s] for s in STATUSES}
            summary = RunSummary(by_status, bytes=0, elapsed_s=time.monotonic() - started)
            log.run_finished(summary, owners=len(tallies.owners), listed=entries,
                             unknown_ids=len(unknown_ids), searches=people.stats.searches,
                             filter=spec.describe(), **extra)  # fmt: skip

        try:
            await tally(ctx, spec, shard, tallies, unknown_ids.append)
            writer = ReportWriter(ctx.stdout, COLUMNS, args.format)
            counts = await write_rows(tallies.largest_first(), people, writer)
        except Exception as exc:  # the rows so far stay a well-formed report; the summary says why
            if writer is not None:
                with contextlib.suppress(BrokenPipeError):
                    writer.close()
            finished(error=str(primary(exc)))
            raise
        writer.close()
        write_summary(ctx, counts, args.format)
        finished()
    return 1 if unknown_ids else 0


async def tally(
    ctx: RunContext,
    spec: FilterSpec,
    shard: Shard | None,
    tallies: Tallies,
    on_unknown: Callable[[str], None],
) -> None:
    """List the selection into `tallies`."""
    progress = Progress(show_bytes=False, stream=ctx.stderr)
    async with connected(ctx.settings) as (client, _), progress:
        spec = await narrowed(client, spec, shard, run_start=ctx.run_start)
        async for candidate in candidates(client, spec, ctx.run_start, on_unknown):
            tallies.add(candidate)
            progress.add(done=1)
            if ctx.stopping:
                break


def write_summary(ctx: RunContext, counts: Counter[str], fmt: str) -> None:
    """`#SUMMARY<TAB>status<TAB>owners` after a TSV report (JSON reports stay pure JSON)."""
    if fmt != "tsv":
        return
    for status in STATUSES:
        if counts[status]:
            ctx.stdout.write(f"#SUMMARY\t{status}\t{counts[status]}\n")
    ctx.stdout.write(f"#SUMMARY\ttotal\t{sum(counts.values())}\n")
    ctx.stdout.flush()
