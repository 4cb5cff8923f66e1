"""`stats`: an overview of the selection and the archive bucket, and what it costs (docs/lifecycle.md,
Statistics). Read-only.

One listing pass over the selection (a `media.list` page and one flavor look-up per 500 entries) and, at the
same time, one paginated ListObjectsV2 over the bucket: no per-entry request anywhere. The two are joined on
disk (`spill.py`), so memory does not grow with the catalog. `--unplayed_for N` is not a filter here: it is
the policy whose savable bytes are reported (default `N_YEARS`). The report is one row per figure (TSV, JSON
lines, or one JSON document); `--chart FILE.html` also writes a self-contained page of bar charts.
Exit 1 if an id asked for with `--id`/`--idfile` does not exist.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from contextlib import aclosing
from pathlib import Path

import anyio

from adapters.kaltura import EntryPage, FilterSpec, KalturaClient, ListingStats
from adapters.s3 import ArchiveStore, S3Store, StoreConfig
from engine.errors import ConfigError
from engine.progress import Progress
from jobs.common.context import RunContext, connected, prove_bucket, require_kaltura
from jobs.common.events import EventLog, RunSummary
from jobs.common.options import add_filter_options, add_option, filter_spec
from jobs.common.report import FORMATS
from jobs.common.settings import Settings
from jobs.stats import chart, report
from jobs.stats.facts import entry_facts
from jobs.stats.figures import Prices, Tally, costs
from jobs.stats.spill import BATCH, Spill

JOB = "stats"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(
        parser,
        "--format",
        choices=FORMATS,
        default="tsv",
        help="report format: tsv, jsonl (one row per figure) or json (one document); default tsv",
    )
    add_option(
        parser,
        "--chart",
        metavar="FILE.html",
        help="also write bar charts (by year created and state, by storage class) to this HTML file",
    )
    add_filter_options(
        parser,
        max_entries=-1,
        shard=False,  # the figures are of the whole selection and the whole bucket
        unplayed_help=(
            "not a filter here: the policy of the savable figures, entries not played for YEARS years (never "
            "played included) and created at least YEARS years ago (default N_YEARS)"
        ),
    )


def prices_of(settings: Settings) -> Prices:
    return Prices(
        kaltura=settings.price_kaltura,
        classes={
            "STANDARD": settings.price_standard,
            "STANDARD_IA": settings.price_standard_ia,
            "GLACIER_IR": settings.price_glacier_ir,
            "GLACIER": settings.price_glacier,
            "DEEP_ARCHIVE": settings.price_deep_archive,
        },
    )


def selection(args: argparse.Namespace, settings: Settings) -> tuple[FilterSpec, int]:
    """The selection, and the policy's years (`--unplayed_for`, which does not filter here, or N_YEARS)."""
    spec = filter_spec(args)
    years = spec.unplayed_for if spec.unplayed_for is not None else settings.n_years
    return dataclasses.replace(spec, unplayed_for=None), years


def chart_path(text: str | None) -> Path | None:
    """The --chart file, checked before anything is listed: its folder must exist and be writable."""
    if text is None:
        return None
    path = Path(text)
    folder = path.parent if str(path.parent) else Path(".")
    if not text.strip() or path.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
        raise ConfigError(f"--chart {text!r} cannot be written: give a file in an existing, writable folder")
    return path


def store_config(settings: Settings) -> StoreConfig:
    settings.require("aws_bucket")
    assert settings.aws_bucket is not None
    return StoreConfig(bucket=settings.aws_bucket, prefix=settings.s3_prefix)


async def run(args: argparse.Namespace, ctx: RunContext) -> int:
    """Take the figures and write them; 1 if some requested ids do not exist."""
    settings = ctx.settings
    spec, years = selection(args, settings)
    chart_file = chart_path(args.chart)
    require_kaltura(settings)
    config = store_config(settings)
    log = EventLog(run_id=ctx.run_id, job=JOB, dry_run=True)
    started = time.monotonic()
    tally = Tally(now=ctx.run_start)
    stats = ListingStats()
    with Spill() as spill:
        async with (
            connected(settings) as (client, _),
            S3Store(config) as store,
            Progress(show_bytes=False, stream=ctx.stderr) as progress,
        ):
            await prove_bucket(store, config.bucket)
            async with anyio.create_task_group() as tg:
                tg.start_soon(_objects, store, config.prefix, spill, tally)
                await _entries(client, spec, ctx, spill, years, stats, progress)
            kaltura_requests, s3_requests = client.calls, store.calls
        if ctx.stopping:  # figures of part of the selection would read as the whole: none are written
            log.run_finished(RunSummary({}, 0, time.monotonic() - started), stopped=True)
            return 0
        for facts, size in spill.joined():
            tally.add_entry(facts, size)
        tally.add_orphans(*spill.orphans())
    context = report.Context(spec.describe(), years, prices_of(settings), config.bucket)
    report.write(ctx.stdout, args.format, report.rows(tally, costs(tally, context.prices), context))
    if chart_file is not None:
        chart_file.write_text(chart.page(tally, context), encoding="utf-8")
    log.run_finished(
        RunSummary({"entries": tally.entries, "objects": tally.s3_objects}, 0, time.monotonic() - started),
        kaltura_requests=kaltura_requests,
        s3_requests=s3_requests,
        unknown_ids=stats.unknown_ids,
        filter=spec.describe(),
        chart=str(chart_file) if chart_file is not None else None,
    )
    return 1 if stats.unknown_ids else 0


async def _entries(
    client: KalturaClient,
    spec: FilterSpec,
    ctx: RunContext,
    spill: Spill,
    years: int,
    stats: ListingStats,
    progress: Progress,
) -> None:
    """List the selection into the spill: a page of entries ahead of its flavors' look-up."""
    send, receive = anyio.create_memory_object_stream[EntryPage](1)

    async def produce() -> None:
        pages = client.list_pages(spec, run_start=ctx.run_start, stats=stats)
        async with send, aclosing(pages):
            async for page in pages:
                await send.send(page)
                if ctx.stopping:
                    break

    async with anyio.create_task_group() as tg:
        tg.start_soon(produce)
        async with receive:
            async for page in receive:
                flavors = await client.flavors_of([e.id for e in page])
                spill.add_entries(
                    entry_facts(e, flavors.get(e.id, []), policy_years=years, now=ctx.run_start) for e in page
                )
                progress.add(done=len(page))


async def _objects(store: ArchiveStore, prefix: str, spill: Spill, tally: Tally) -> None:
    """List the bucket into the tally (by class) and the spill (key and size, for the join)."""
    batch: list[tuple[str, int]] = []
    async with aclosing(store.list_objects()) as objects:
        async for listed in objects:
            tally.add_object(listed.storage_class, listed.size, listed.last_modified)
            batch.append((listed.key[len(prefix) :], listed.size))
            if len(batch) >= BATCH:
                spill.add_objects(batch)
                batch = []
    spill.add_objects(batch)
