"""`restore_from_s3`: bring archived originals back into Kaltura for replaced entries (place_holder →
archived), byte for byte, Glacier restore first where needed (docs/lifecycle.md, Restoring an entry).

Dry run by default: every decision is made, logged and reported, nothing is written. `--execute`, the old
tool's `--restore`, or `DOIT=true` make it real. An object in GLACIER or DEEP_ARCHIVE without a readable copy
gets one restore request (`ARCHIVER_RESTORE_TIER`, `ARCHIVER_RESTORE_DAYS`; Expedited falls back to Standard,
never Expedited for Deep Archive) and a `waiting` row: the run does not wait for Glacier, the next one brings
the original back. Its bytes stream from S3 into an upload token in chunks; the token is completed and
`media.updateContent` sent only if they equal the object's record (size and SHA-256). Once Kaltura's new
source is READY, the bytes it serves are downloaded and proven again, the object records the flavor's new
version (`ka-restored-version`), and `flavors_deleted` is removed (`archived_to_s3` and the object stay).
The report has the columns of s3copy's, one row per entry in listing order; `#SUMMARY` lines, ours and the
old tool's. Exit 1 if any entry failed or conflicts; 0 when the others only wait for Glacier.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from typing import TextIO

import anyio

from adapters.s3 import S3Store, StoreConfig
from engine.errors import primary
from engine.logs import get_logger
from engine.pipeline import Cut, Failed, Stage, run_pipeline
from engine.progress import Progress
from jobs.common.candidates import candidate_id, candidates
from jobs.common.context import RunContext, connected, prove_bucket, require_kaltura
from jobs.common.events import EventLog
from jobs.common.gate import Gate
from jobs.common.options import add_filter_options, add_option, filter_spec, require_selection
from jobs.common.order import InOrder
from jobs.common.placeholder import read_video
from jobs.common.report import FORMATS, Outcome, Reporter, ReportWriter, Row
from jobs.common.settings import Settings, check_memory_budget
from jobs.common.shards import narrowed, shard_of
from jobs.common.waiter import Waiter
from jobs.lifecycle import Placeholder
from jobs.restore_from_s3.plan import Rules
from jobs.restore_from_s3.report import COLUMNS, FAILED, OUTCOMES
from jobs.restore_from_s3.stages import Restore, RestoreConfig

JOB = "restore_from_s3"
DRAIN_MARGIN_S = 3.0  # of the drain time, kept for writing the summary
MAX_CHUNKS_IN_FLIGHT = 4

_log = get_logger("jobs.restore_from_s3")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "--execute", action="store_true", help="really restore and untag (default: dry run)")
    add_option(parser, "--restore", action="store_true", dest="legacy_restore",
               help="the old tool's spelling of --execute")  # fmt: skip
    add_option(parser, "--format", choices=FORMATS, default="tsv", help="report format (default tsv)")
    add_filter_options(parser, max_entries=-1, mutating=True)


def is_real(args: argparse.Namespace, settings: Settings) -> bool:
    """Whether this run writes: `--execute`, `--restore` or `DOIT=true`."""
    return bool(args.execute or args.legacy_restore or settings.doit)


def restore_config(settings: Settings) -> RestoreConfig:
    """Glacier's tier and days; chunks of `ARCHIVER_PART_SIZE`, as many in flight per entry as the memory
    budget holds for each of `ARCHIVER_TRANSFERS` entries (at most 4); ConfigError when the budget cannot
    hold one chunk per entry."""
    check_memory_budget(settings)
    per_entry = settings.memory_budget // settings.transfers // settings.part_size
    in_flight = max(1, min(MAX_CHUNKS_IN_FLIGHT, per_entry))
    return RestoreConfig(settings.restore_tier, settings.restore_days, settings.part_size, in_flight)


def close_report(writer: ReportWriter, reporter: Reporter[Outcome], stream: TextIO, fmt: str) -> None:
    """Write the rows still held for their turn, end the report and write its `#SUMMARY` lines; nothing if
    its reader left."""
    with contextlib.suppress(BrokenPipeError):
        reporter.flush()
        writer.close()
        reporter.write_summary(stream, fmt)


async def run(args: argparse.Namespace, ctx: RunContext) -> int:
    """Restore the selection's replaced entries (or plan it); 1 if any entry failed or is a conflict."""
    settings = ctx.settings
    spec = filter_spec(args)
    shard = shard_of(settings, spec)
    dry_run = not is_real(args, settings)
    require_kaltura(settings)
    settings.require("aws_bucket")
    assert settings.aws_bucket is not None
    config = StoreConfig(
        bucket=settings.aws_bucket, prefix=settings.s3_prefix, storage_class=settings.storage_class
    )
    placeholder = Placeholder.of(read_video(settings.placeholder_video))
    require_selection(args, real=not dry_run)
    assert settings.partner_id is not None
    log = EventLog(run_id=ctx.run_id, job=JOB, dry_run=dry_run)
    writer = ReportWriter(ctx.stdout, COLUMNS, args.format)
    # rows in listing order, whatever order the entries finish in
    order: InOrder[Row] = InOrder(settings.report_window, writer.row)
    reporter: Reporter[Outcome] = Reporter(log, writer, OUTCOMES, order=order)
    started = time.monotonic()
    restore = restore_config(settings)
    _log.info(
        "restore_from_s3.starting",
        dry_run=dry_run,
        bucket=config.bucket,
        filter=spec.describe(),
        shard=None if shard is None else shard.label,
        tier=restore.tier,
        days=restore.days,
        transfers=settings.transfers,
        chunks_in_flight=restore.chunks_in_flight,
    )
    try:
        async with (
            connected(settings) as (client, _),
            S3Store(config, time_left=ctx.shutdown.time_left if ctx.shutdown is not None else None) as store,
            client.batching(),
            Progress(show_bytes=False, stream=ctx.stderr) as progress,
            anyio.create_task_group() as waiting,
        ):
            await prove_bucket(store, config.bucket)
            spec = await narrowed(client, spec, shard, run_start=ctx.run_start)
            waiter = Waiter(client, timeout_s=settings.ready_timeout_s, poll_s=settings.ready_poll_s)
            waiting.start_soon(waiter.run)
            stages = Restore(
                catalog=client,
                store=store,
                gate=Gate(dry_run=dry_run, store=store, kaltura=client, content=client),
                waiter=waiter,
                log=log,
                rules=Rules(settings.partner_id, placeholder),
                config=restore,
            )
            reporter.progress = progress

            def unknown(entry_id: str) -> None:  # an id asked for by --id/--idfile that Kaltura does not know
                why = "no such entry in Kaltura"
                reporter.add(Outcome(entry_id, "check", FAILED, None, None, why, error=why))

            async def sink(value: Outcome | Failed | Cut) -> None:
                if isinstance(value, Failed):
                    value = stages.failed(value)
                elif isinstance(value, Cut):
                    value = stages.cut_off(value)
                reporter.add(value)

            result = await run_pipeline(
                order.number(candidates(client, spec, ctx.run_start, unknown), candidate_id),
                [
                    Stage("check", settings.checkers, stages.check, on_stop=stages.not_started),
                    # after a stop signal no transfer begins; those begun are waited for and finished
                    Stage("bring back", settings.transfers, stages.bring_back, on_stop=stages.not_started),
                    Stage("wait", settings.waiting, stages.wait),
                    Stage("finish", settings.transfers, stages.finish),
                ],
                sink,
                buffer=max(settings.checkers, settings.transfers),
                stop=ctx.shutdown.stop_intake if ctx.shutdown is not None else None,
                drain_s=max(0.0, settings.drain_s - DRAIN_MARGIN_S),
                report_cut=True,
            )
            waiting.cancel_scope.cancel()
            kaltura_requests, polls = client.calls, waiter.polls
    except anyio.get_cancelled_exc_class():
        close_report(writer, reporter, ctx.stdout, args.format)
        raise
    except Exception as exc:
        close_report(writer, reporter, ctx.stdout, args.format)
        log.run_finished(reporter.summary(time.monotonic() - started), error=str(primary(exc)))
        raise
    close_report(writer, reporter, ctx.stdout, args.format)
    log.run_finished(
        reporter.summary(time.monotonic() - started),
        kaltura_requests=kaltura_requests,
        s3_requests=store.calls,
        waiter_polls=polls,
        stopped=result.stopped,
        not_started=result.not_started,
        cancelled=result.lost,
    )
    return 1 if reporter.bad or result.lost else 0
