"""`ldap_status`: a TSV report (any of this tool's, or the old tool's) with each row's owner from LDAP.

Every row gets three columns more: `status` (`active`, `inactive`, `unknown`), `name` (displayName, else cn)
and `org_unit` (ou); a name the report already has gets `ldap_` before it (`list` has `status` and `name`).
The creator column is `creator_id` (ours) or `creatorId` (the old tool's) unless `--creatorId` names another;
an `@domain` is cut off the creator id. Lines starting with `#` (summaries, comments) and blank lines pass
through unchanged, in place. CRLF line ends are read as LF; rows are written as LF.

Rows are read as they come and written in batches: once 100 uids not looked up yet have gathered (one LDAP
search; uids seen before come from the cache) or 1,000 rows wait, whichever is first, and at the end. So a
report of 1,000 rows costs at most 10 searches, and a run stopped by a lost server keeps every row written.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Final

import anyio

from adapters.ldap import Directory
from engine.errors import ConfigError, primary
from engine.redact import redact_value
from jobs.common.context import RunContext
from jobs.common.directory import STATUSES, UNKNOWN, directory, owner_uid, require_ldap, status_of
from jobs.common.events import EventLog, RunSummary
from jobs.common.options import add_option
from jobs.common.report import tsv_field

JOB = "ldap_status"
ADDED: Final = ("status", "name", "org_unit")
CREATOR_COLUMNS: Final = ("creator_id", "creatorId")  # ours, then the old tool's
ENTRY_COLUMNS: Final = ("entry_id", "entryId")
UIDS_PER_BATCH: Final = 100  # new uids per batch: one search each (adapters.ldap.MAX_UIDS_PER_SEARCH)
ROWS_PER_BATCH: Final = 1_000  # rows held at most while their owners are looked up
READ_BYTES: Final = 64 * 1024
MAX_LINE_BYTES: Final = 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "--tsv", "-t", default="-", metavar="FILE",
               help="the TSV report to read; its first line (after # lines) names the columns "
                    "(default: stdin)")  # fmt: skip
    add_option(parser, "--creatorId", "-c", dest="creator_column", default=None, metavar="COLUMN",
               help="the column of creator ids (default: creator_id, else creatorId)")
    add_option(parser, "--entryId", "-e", dest="entry_column", default=None, metavar="COLUMN",
               help="the column of entry ids, for the old tool's runbooks: a column named here must exist "
                    "(default: entry_id, else entryId, if there is one)")  # fmt: skip


# -------------------------------------------------------------------------------------- the header (pure)


@dataclass(frozen=True)
class Header:
    """The report's columns: where the creator id is, and the names of the columns this job adds."""

    columns: tuple[str, ...]
    creator: int
    added: tuple[str, ...]

    def line(self) -> str:
        return "\t".join((*self.columns, *self.added))


def read_header(line: str, creator_column: str | None, entry_column: str | None) -> Header:
    """The header of a report; ConfigError if the creator column (or a named entry column) is missing."""
    columns = tuple(line.removeprefix("\ufeff").split("\t"))  # a spreadsheet's byte order mark
    shown = ", ".join(columns[:12]) + (", …" if len(columns) > 12 else "")
    if creator_column is not None and creator_column not in columns:
        raise ConfigError(f"--creatorId {creator_column!r}: the report has no such column (it has: {shown})")
    creator = creator_column or next((c for c in CREATOR_COLUMNS if c in columns), None)
    if creator is None:
        raise ConfigError(
            f"the report has no creator_id or creatorId column (it has: {shown}): name the column of creator "
            "ids with --creatorId"
        )
    if entry_column is not None and entry_column not in columns:
        raise ConfigError(f"--entryId {entry_column!r}: the report has no such column (it has: {shown})")
    added = tuple(f"ldap_{name}" if name in columns else name for name in ADDED)
    return Header(columns, columns.index(creator), added)


def passes_through(line: str) -> bool:
    """Comment and summary lines (`#…`) and blank lines are copied as they are."""
    return line.startswith("#") or not line.strip()


# ------------------------------------------------------------------------------------------- reading lines


async def lines_of(stream: BinaryIO) -> AsyncIterator[str]:
    """The lines of `stream` (without their LF or CRLF), read in a worker thread as they arrive."""
    # read1 returns what has arrived (a pipe's rows as they come); read would wait for a whole chunk
    read = getattr(stream, "read1", stream.read)
    buffer = b""
    number = 0
    while True:
        chunk: bytes = await anyio.to_thread.run_sync(read, READ_BYTES)
        if not chunk:
            break
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for raw in complete:
            number += 1
            yield _decoded(raw, number)
        if len(buffer) > MAX_LINE_BYTES:
            raise ConfigError(f"line {number + 1} of the report is over 1 MiB long: give a TSV report")
    if buffer:
        yield _decoded(buffer, number + 1)


def _decoded(raw: bytes, number: int) -> str:
    try:
        return raw.removesuffix(b"\r").decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"line {number} of the report is not UTF-8: give a report as this tool writes it") \
            from None  # fmt: skip


@contextlib.contextmanager
def opened(path: str) -> Iterator[BinaryIO]:
    """The report to read: stdin for `-`."""
    if path == "-":
        if sys.stdin is None:  # started with stdin closed (`<&-`): Python gives no stream at all
            raise ConfigError("stdin is closed: give the report on stdin or with --tsv FILE")
        yield sys.stdin.buffer
        return
    try:
        handle = open(path, "rb")  # noqa: SIM115  # closed below, after the job read it
    except OSError as exc:
        raise ConfigError(f"--tsv {path!r}: {exc.strerror}: give a readable TSV report") from None
    with handle:
        yield handle


# ------------------------------------------------------------------------------------------------ the job


class Annotator:
    """Holds rows until their owners are looked up (bounded: UIDS_PER_BATCH new uids, ROWS_PER_BATCH rows),
    then writes them in order with the lines that came between them."""

    def __init__(self, people: Directory, header: Header, out: RunContext) -> None:
        self.people = people
        self.header = header
        self.ctx = out
        self.pending: list[tuple[str, list[str] | None, str]] = []  # (line, fields or None, uid)
        self.new_uids: set[str] = set()
        self.counts: Counter[str] = Counter()

    @property
    def full(self) -> bool:
        return len(self.new_uids) >= UIDS_PER_BATCH or len(self.pending) >= ROWS_PER_BATCH

    async def add(self, line: str) -> None:
        if passes_through(line):
            self.pending.append((line, None, ""))
        else:
            fields = line.split("\t")
            fields += [""] * (len(self.header.columns) - len(fields))  # a short row keeps its columns
            uid = owner_uid(fields[self.header.creator])
            if uid and not self.people.cached(uid):
                self.new_uids.add(uid.casefold())
            self.pending.append((line, fields, uid))
        if self.full:
            await self.flush()

    async def flush(self) -> None:
        uids = {uid for _, fields, uid in self.pending if fields is not None and uid}
        found = await self.people.look_up(uids) if uids else {}
        write = self.ctx.stdout.write
        for line, fields, uid in self.pending:
            if fields is None:
                write(line + "\n")
                continue
            person = found.get(uid)
            status = status_of(person) if uid else UNKNOWN
            self.counts[status] += 1
            name = person.name if person else None
            org_unit = person.org_unit if person else None
            added = (tsv_field(redact_value(v)) for v in (status, name, org_unit))
            write("\t".join((*fields, *added)) + "\n")
        self.ctx.stdout.flush()
        self.pending.clear()
        self.new_uids.clear()


async def run(args: argparse.Namespace, ctx: RunContext) -> int:
    """Annotate the report; exit 0 (unknown owners are data, not failures)."""
    require_ldap(ctx.settings)
    started = time.monotonic()
    log = EventLog(run_id=ctx.run_id, job=JOB, dry_run=True)
    annotator: Annotator | None = None
    searches = 0

    def finished(**extra: object) -> None:
        counts = {s: annotator.counts[s] for s in STATUSES} if annotator else {}
        log.run_finished(RunSummary(counts, bytes=0, elapsed_s=time.monotonic() - started),
                         searches=searches, **extra)  # fmt: skip

    with opened(args.tsv) as stream:
        async with directory(ctx.settings) as people:
            try:
                annotator = await annotate(args, ctx, people, stream)
            except Exception as exc:  # the rows written so far stay; the summary says why the rest is missing
                searches = people.stats.searches
                finished(error=str(primary(exc)), uids_searched=people.stats.uids_searched)
                raise
            searches = people.stats.searches
            finished(uids_searched=people.stats.uids_searched, cache_hits=people.stats.cache_hits)
    return 0


async def annotate(
    args: argparse.Namespace, ctx: RunContext, people: Directory, stream: BinaryIO
) -> Annotator:
    """Read the report from `stream` and write it annotated; the annotator, with its counts."""
    before_header: list[str] = []  # held back: a report without a creator column leaves stdout empty
    annotator: Annotator | None = None
    async for line in lines_of(stream):
        if annotator is not None:
            await annotator.add(line)
            if ctx.stopping:
                break
        elif passes_through(line):
            before_header.append(line)
        else:
            header = read_header(line, args.creator_column, args.entry_column)
            annotator = Annotator(people, header, ctx)
            ctx.stdout.write("".join(f"{kept}\n" for kept in before_header) + header.line() + "\n")
    if annotator is None:
        raise ConfigError("the report has no header line: give a TSV report whose first line names columns")
    await annotator.flush()
    return annotator
