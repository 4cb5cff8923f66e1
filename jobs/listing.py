"""`list`: one TSV row per matching entry (`--mode video`) or per flavor of one (`--mode flavor`).

Columns are the old tool's, so existing spreadsheets and scripts keep working, plus `name`,
`original_flavor_id`, `original_size_bytes` and `categories` (video) and `size_bytes`, `version`,
`flavor_params_id` (flavor). Pages are listed one ahead of the flavor look-ups, so the two overlap.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Sequence
from contextlib import aclosing

import anyio

from adapters.kaltura import EntryPage, FilterSpec, FlavorAsset, ListingStats, MediaEntry
from engine.errors import primary
from engine.progress import Progress
from jobs.common.context import RunContext, connected, require_kaltura
from jobs.common.events import EventLog, RunSummary
from jobs.common.options import add_filter_options, add_option, filter_spec
from jobs.common.report import FORMATS, ReportWriter, Row
from jobs.common.rows import VIDEO_COLUMNS, date, flavor_status, video_row
from jobs.common.shards import Shard, narrowed, shard_of
from jobs.lifecycle import original_of

FLAVOR_COLUMNS = (
    "entry_id", "flavor_id", "original", "size_KB", "created", "deleted", "created_date", "deleted_date",
    "status", "size_bytes", "version", "flavor_params_id",
)  # fmt: skip

JOB = "list"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(
        parser,
        "--mode",
        "-m",
        choices=("video", "flavor"),
        default="video",
        help="one row per entry (video) or per flavor (flavor)",
    )
    add_option(parser, "--format", choices=FORMATS, default="tsv", help="report format (default tsv)")
    add_filter_options(parser, max_entries=-1)


def flavor_rows(entry: MediaEntry, flavors: Sequence[FlavorAsset]) -> list[Row]:
    """The `--mode flavor` rows of one entry."""
    return [
        {
            "entry_id": entry.id,
            "flavor_id": f.id,
            "original": f.is_original,
            "size_KB": f.size_kb,
            "created": f.created_at,
            "deleted": f.deleted_at,
            "created_date": date(f.created_at),
            "deleted_date": date(f.deleted_at),
            "status": flavor_status(f.status),
            "size_bytes": f.size_bytes or None,
            "version": f.version,
            "flavor_params_id": f.flavor_params_id,
        }
        for f in flavors
    ]


async def run(args: argparse.Namespace, ctx: RunContext) -> int:
    """List the selection; exit 1 if some requested ids do not exist."""
    spec = filter_spec(args)
    shard = shard_of(ctx.settings, spec)
    require_kaltura(ctx.settings)  # before the report's header: a missing setting leaves stdout empty
    stats = ListingStats()
    started = time.monotonic()
    log = EventLog(run_id=ctx.run_id, job=JOB, dry_run=True)
    columns = VIDEO_COLUMNS if args.mode == "video" else FLAVOR_COLUMNS
    writer = ReportWriter(ctx.stdout, columns, args.format)

    def finished(**extra: object) -> None:
        """The run.finished every job ends with (counts, rates and the EMF block); listing changes nothing."""
        log.run_finished(
            RunSummary({"listed": stats.entries}, bytes=0, elapsed_s=time.monotonic() - started),
            rows=writer.rows,
            unknown_ids=stats.unknown_ids,
            requests=stats.requests,
            crowded_seconds=stats.crowded_seconds,
            filter=spec.describe(),
            shard=None if shard is None else shard.label,
            **extra,
        )

    try:
        await write_listing(args, ctx, spec, shard, writer, stats)
    except Exception as exc:  # a fatal error: the rows so far stay a well-formed report; the summary says so
        with contextlib.suppress(BrokenPipeError):
            writer.close()
        finished(error=str(primary(exc)))
        raise
    writer.close()
    finished()
    return 1 if stats.unknown_ids else 0


async def write_listing(
    args: argparse.Namespace,
    ctx: RunContext,
    spec: FilterSpec,
    shard: Shard | None,
    writer: ReportWriter,
    stats: ListingStats,
) -> None:
    """List the selection (this shard's window of it) into `writer`, a page of entries ahead of their
    flavors' look-up."""
    async with connected(ctx.settings) as (client, _):
        spec = await narrowed(client, spec, shard, run_start=ctx.run_start)
        send, receive = anyio.create_memory_object_stream[EntryPage](1)

        async def produce() -> None:
            pages = client.list_pages(spec, run_start=ctx.run_start, stats=stats)
            async with send, aclosing(pages):
                async for page in pages:
                    await send.send(page)
                    if ctx.stopping:
                        break

        async with Progress(show_bytes=False, stream=ctx.stderr) as progress, anyio.create_task_group() as tg:
            tg.start_soon(produce)
            async with receive:
                async for page in receive:
                    flavors = await client.flavors_of([e.id for e in page])
                    for entry in page:
                        write_rows(writer, args.mode, entry, flavors.get(entry.id, []))
                    progress.add(done=len(page))


def write_rows(writer: ReportWriter, mode: str, entry: MediaEntry, flavors: Sequence[FlavorAsset]) -> None:
    if mode == "video":
        writer.row(video_row(entry, flavors, original_of(flavors)))
    else:
        for row in flavor_rows(entry, flavors):
            writer.row(row)
