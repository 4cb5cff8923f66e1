"""`s3copy`: archive the originals of the selected entries to S3, proven, and tag them `archived_to_s3`.

Dry run by default: every decision is made, logged and reported, nothing is written. `--execute`, the old
tool's `--s3copy`, or `DOIT=true` make it real. The report (stdout) has one row per entry, in listing order:
`entry_id`, `action`, `outcome`, `bytes`, `seconds`, `reason`; a TSV report ends with `#SUMMARY` lines of
counts. Exit 1 if any entry failed or is a conflict.

Before the first entry, the multipart uploads S3 still holds under our prefix are listed: those of an
entry this run reaches are aborted (a killed run leaves them); those of other entries (other shards' work in
flight, say) are left alone. Pool sizes, part size and memory come from the `ARCHIVER_*` settings.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from typing import TextIO

import anyio

from adapters.s3 import S3Store
from engine.errors import primary
from engine.logs import get_logger
from engine.pipeline import Activity, Cut, Failed, Stage, run_pipeline
from engine.progress import Progress
from jobs.common.archive import JobConfig, S3Copy, stale_uploads, store_config, tool_version
from jobs.common.archive_report import COLUMNS, FAILED, Outcome, Reporter
from jobs.common.candidates import candidate_id, candidates
from jobs.common.context import RunContext, connected, prove_bucket, require_kaltura
from jobs.common.events import EventLog
from jobs.common.gate import Gate
from jobs.common.options import (
    add_filter_options,
    add_max_size_option,
    add_option,
    filter_spec,
    require_selection,
)
from jobs.common.order import InOrder
from jobs.common.report import FORMATS, ReportWriter, Row
from jobs.common.settings import Settings
from jobs.common.shards import narrowed, shard_of

JOB = "s3copy"
DRAIN_MARGIN_S = 3.0  # of the drain time, kept for writing the summary after in-flight work is cut off

_log = get_logger("jobs.s3copy")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "--execute", action="store_true", help="really copy and tag (default: dry run)")
    add_option(parser, "--s3copy", action="store_true", dest="legacy_s3copy",
               help="the old tool's spelling of --execute")  # fmt: skip
    add_max_size_option(parser, "skip originals larger than SIZE")
    add_option(parser, "--format", choices=FORMATS, default="tsv", help="report format (default tsv)")
    add_filter_options(parser, max_entries=-1, mutating=True)


def is_real(args: argparse.Namespace, settings: Settings) -> bool:
    """Whether this run writes: `--execute`, `--s3copy` or `DOIT=true`."""
    return bool(args.execute or args.legacy_s3copy or settings.doit)


def close_report(writer: ReportWriter, reporter: Reporter, stream: TextIO, fmt: str) -> None:
    """Write the rows still held for their turn, end the report (a JSON array is closed) and write its
    `#SUMMARY` lines; nothing if its reader left."""
    with contextlib.suppress(BrokenPipeError):
        reporter.flush()
        writer.close()
        reporter.write_summary(stream, fmt)


async def run(args: argparse.Namespace, ctx: RunContext) -> int:
    """Archive the selection (or plan it, in a dry run); 1 if any entry failed or is a conflict."""
    settings = ctx.settings
    spec = filter_spec(args)
    shard = shard_of(settings, spec)
    dry_run = not is_real(args, settings)
    require_kaltura(settings)
    config = store_config(settings)
    require_selection(args, real=not dry_run)  # last: a dry run without one warns, once the rest is right
    log = EventLog(run_id=ctx.run_id, job=JOB, dry_run=dry_run)
    writer = ReportWriter(ctx.stdout, COLUMNS, args.format)
    started = time.monotonic()
    _log.info(
        "s3copy.starting",
        dry_run=dry_run,
        bucket=config.bucket,
        filter=spec.describe(),
        shard=None if shard is None else shard.label,
        transfers=settings.transfers,
        checkers=settings.checkers,
        parts_in_flight=config.parts_in_flight,
        part_size=settings.part_size,
    )
    # rows in listing order, whatever order the entries finish in
    order: InOrder[Row] = InOrder(settings.report_window, writer.row)
    reporter = Reporter(log, writer, order=order)
    activity = Activity()  # the pipeline's busy tasks: a batch goes at once when all of them wait on it
    try:
        async with (
            connected(settings) as (client, _),
            S3Store(config, time_left=ctx.shutdown.time_left if ctx.shutdown is not None else None) as store,
            client.batching(company=activity),
            Progress(stream=ctx.stderr) as progress,
        ):
            await prove_bucket(store, config.bucket)
            spec = await narrowed(client, spec, shard, run_start=ctx.run_start)
            stale = await stale_uploads(store)
            assert settings.partner_id is not None
            stages = S3Copy(
                catalog=client,
                store=store,
                gate=Gate(dry_run=dry_run, store=store, kaltura=client),
                log=log,
                config=JobConfig(settings.partner_id, args.max_size, tool_version()),
                stale_uploads=stale,
                progress=progress,
            )
            reporter.progress = progress

            def unknown(entry_id: str) -> None:  # an id asked for by --id/--idfile that Kaltura does not know
                why = "no such entry in Kaltura"
                reporter.add(Outcome(entry_id, "check", FAILED, None, None, why, error=why))

            async def sink(value: Outcome | Failed | Cut) -> None:
                if isinstance(value, Failed):
                    value = stages.failed(value)
                elif isinstance(value, Cut):  # the drain deadline came first: the entry still gets its row
                    value = stages.cut_off(value)
                reporter.add(value)

            result = await run_pipeline(
                order.number(candidates(client, spec, ctx.run_start, unknown), candidate_id),
                [
                    # after a stop signal, neither a check nor a transfer begins: the entries they are
                    # given go to the report as `stopped`, while what is in flight finishes
                    Stage("check", settings.checkers, stages.check, on_stop=stages.not_started),
                    Stage("transfer", settings.transfers, stages.transfer, on_stop=stages.not_started),
                    # finalizers hold no buffer, they only wait for two batched Kaltura calls (re-read, tag
                    # write): twice the checkers, so a full multirequest's worth can be waiting
                    Stage("finalize", 2 * max(settings.checkers, settings.transfers), stages.finalize),
                ],
                sink,
                buffer=max(settings.checkers, settings.transfers),
                stop=ctx.shutdown.stop_intake if ctx.shutdown is not None else None,
                drain_s=max(0.0, settings.drain_s - DRAIN_MARGIN_S),
                report_cut=True,
                activity=activity,
            )
            kaltura_requests = client.calls
    except anyio.get_cancelled_exc_class():
        # cut short (a second signal, or work outliving the drain deadline): the report is still closed with
        # the rows it has, so it stays well-formed; the exit code (130 or 143) says it is not the whole run
        close_report(writer, reporter, ctx.stdout, args.format)
        raise
    except Exception as exc:
        # a fatal error (the bucket, credentials, Kaltura never answering): the report and the run's summary
        # still say what was done before it; the CLI gives the error its line and exit code
        close_report(writer, reporter, ctx.stdout, args.format)
        log.run_finished(reporter.summary(time.monotonic() - started), error=str(primary(exc)))
        raise
    close_report(writer, reporter, ctx.stdout, args.format)
    log.run_finished(
        reporter.summary(time.monotonic() - started),
        planned_bytes=reporter.planned_bytes,
        kaltura_requests=kaltura_requests,
        s3_requests=store.calls,
        stopped=result.stopped,
        not_started=result.not_started,
        cancelled=result.lost,
    )
    return 1 if reporter.bad or result.lost else 0
