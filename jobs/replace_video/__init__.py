"""`replace_video`: swap the placeholder in for archived originals (archived → place_holder), freeing their
storage in Kaltura, only ever behind a proven copy in S3 (docs/lifecycle.md, Safety rules: nothing lost).

Dry run by default: every decision is made, logged and reported, nothing is written. `--execute`, the old
tool's `--replace`, or `DOIT=true` make it real. The report (stdout) has one row per entry, in listing order:
`entry_id`, `action`, `outcome`, `bytes` (what the entry's flavors take in Kaltura: about what the
replacement frees), `seconds`, `reason`; a TSV report ends with `#SUMMARY` lines of counts, ours and the old
tool's. Exit 1 if any entry failed or conflicts.

The placeholder (`PLACEHOLDER_VIDEO`) goes up once per replaced entry: Kaltura closes an upload token once an
entry has taken its file. `PLACEHOLDER_IMAGE` becomes the replaced entry's default thumbnail.
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
from jobs.common.options import (
    add_filter_options,
    add_max_size_option,
    add_option,
    filter_spec,
    require_selection,
)
from jobs.common.order import InOrder
from jobs.common.placeholder import file_name, read_file
from jobs.common.report import FORMATS, Outcome, Reporter, ReportWriter, Row
from jobs.common.settings import Settings
from jobs.common.shards import narrowed, shard_of
from jobs.common.waiter import Waiter
from jobs.lifecycle import Placeholder
from jobs.replace_video.plan import Rules
from jobs.replace_video.report import COLUMNS, FAILED, OUTCOMES
from jobs.replace_video.stages import PlaceholderFiles, Replace

JOB = "replace_video"
DRAIN_MARGIN_S = 3.0  # of the drain time, kept for writing the summary

_log = get_logger("jobs.replace_video")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "--execute", action="store_true", help="really replace and tag (default: dry run)")
    add_option(parser, "--replace", action="store_true", dest="legacy_replace",
               help="the old tool's spelling of --execute")  # fmt: skip
    add_option(parser, "--trust-legacy-size-match", action="store_true", dest="trust_legacy",
               help="also replace entries whose S3 object the old tool wrote (no checksum record) when its "
                    "size is within 3%% of the source's")  # fmt: skip
    add_max_size_option(parser, "report originals larger than SIZE as skipped (s3copy never archives them)")
    add_option(parser, "--format", choices=FORMATS, default="tsv", help="report format (default tsv)")
    add_filter_options(parser, max_entries=-1, mutating=True)


def is_real(args: argparse.Namespace, settings: Settings) -> bool:
    """Whether this run writes: `--execute`, `--replace` or `DOIT=true`."""
    return bool(args.execute or args.legacy_replace or settings.doit)


def store_config(settings: Settings) -> StoreConfig:
    settings.require("aws_bucket")
    assert settings.aws_bucket is not None
    return StoreConfig(
        bucket=settings.aws_bucket, prefix=settings.s3_prefix, storage_class=settings.storage_class
    )


def placeholder_files(settings: Settings) -> PlaceholderFiles:
    """The placeholder video and thumbnail, read whole (a few hundred KB); exit 2 naming the setting when
    one cannot be read."""
    video = read_file(settings.placeholder_video, "PLACEHOLDER_VIDEO", "it replaces archived originals")
    image = read_file(
        settings.placeholder_image, "PLACEHOLDER_IMAGE", "it becomes a replaced entry's thumbnail"
    )
    return PlaceholderFiles(
        video, file_name(settings.placeholder_video), image, file_name(settings.placeholder_image)
    )


def close_report(writer: ReportWriter, reporter: Reporter[Outcome], stream: TextIO, fmt: str) -> None:
    """Write the rows still held for their turn, end the report and write its `#SUMMARY` lines; nothing if
    its reader left."""
    with contextlib.suppress(BrokenPipeError):
        reporter.flush()
        writer.close()
        reporter.write_summary(stream, fmt)


async def run(args: argparse.Namespace, ctx: RunContext) -> int:
    """Replace the selection's archived originals by the placeholder (or plan it); 1 if any entry failed or
    is a conflict."""
    settings = ctx.settings
    spec = filter_spec(args)
    shard = shard_of(settings, spec)
    dry_run = not is_real(args, settings)
    require_kaltura(settings)
    config = store_config(settings)
    files = placeholder_files(settings)
    require_selection(args, real=not dry_run)
    assert settings.partner_id is not None
    rules = Rules(settings.partner_id, Placeholder.of(files.video), args.max_size, args.trust_legacy)
    log = EventLog(run_id=ctx.run_id, job=JOB, dry_run=dry_run)
    writer = ReportWriter(ctx.stdout, COLUMNS, args.format)
    # rows in listing order, whatever order the entries finish in
    order: InOrder[Row] = InOrder(settings.report_window, writer.row)
    reporter: Reporter[Outcome] = Reporter(log, writer, OUTCOMES, order=order)
    started = time.monotonic()
    _log.info(
        "replace_video.starting",
        dry_run=dry_run,
        bucket=config.bucket,
        filter=spec.describe(),
        shard=None if shard is None else shard.label,
        replacers=settings.replacers,
        placeholder_bytes=len(files.video),
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
            stages = Replace(
                catalog=client,
                store=store,
                gate=Gate(dry_run=dry_run, store=store, kaltura=client, content=client),
                waiter=waiter,
                log=log,
                rules=rules,
                files=files,
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
                    # after a stop signal no replacement begins; those begun are waited for and finished
                    Stage("replace", settings.replacers, stages.replace, on_stop=stages.not_started),
                    Stage("wait", settings.waiting, stages.wait),
                    Stage("finish", settings.checkers, stages.finish),
                ],
                sink,
                buffer=max(settings.checkers, settings.replacers),
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
