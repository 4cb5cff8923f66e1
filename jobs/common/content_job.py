"""The run of a job that changes entries' content in Kaltura (replace_video, restore_from_s3): the clients,
the one waiter, the pipeline of its stages, the report and the summary, whatever the job puts in.

```
lister ──► check (ARCHIVER_CHECKERS) ──► act (the job's pool) ──► wait (ARCHIVER_WAITING awaiting the one
waiter) ──► finish (the job's pool) ──► sink (report rows in listing order, events, counts)
```

After a stop signal no check and no act begins (those entries are reported `stopped`); what was begun is
waited for and finished until the drain deadline, which cuts the rest off (`stopped` rows too).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

import anyio

from adapters.kaltura import KalturaClient
from adapters.kaltura.filters import FilterSpec
from adapters.s3 import S3Store, StoreConfig
from engine.errors import primary
from engine.logs import get_logger
from engine.pipeline import Cut, Failed, Finish, Stage, run_pipeline
from engine.progress import Progress
from jobs.common.candidates import Candidate, candidate_id, candidates
from jobs.common.context import RunContext, connected, prove_bucket
from jobs.common.events import EventLog
from jobs.common.gate import Gate
from jobs.common.order import InOrder
from jobs.common.report import Outcome, Outcomes, Reporter, ReportWriter, Row
from jobs.common.shards import Shard, narrowed
from jobs.common.stages import Work
from jobs.common.waiter import Waiter

DRAIN_MARGIN_S = 3.0  # of the drain time, kept for writing the summary


class ContentStages(Protocol):
    """What a content job's stages offer the runner."""

    async def check(self, candidate: Candidate) -> Work | Finish[Outcome]: ...
    async def act(self, work: Work) -> Work | Finish[Outcome]: ...
    async def wait(self, work: Work) -> Work | Finish[Outcome]: ...
    async def finish(self, work: Work) -> Outcome: ...
    def not_started(self, item: Candidate | Work) -> Outcome: ...
    def cut_off(self, cut: Cut) -> Outcome: ...
    def failed(self, failure: Failed) -> Outcome: ...


# builds the job's stages once the clients are open: (Kaltura, S3, the gate, the waiter, the event log)
MakeStages = Callable[[KalturaClient, S3Store, Gate, Waiter, EventLog], Awaitable[ContentStages]]


@dataclass(frozen=True)
class ContentJob:
    """One content job's run: its name, report, settings of its pools, and how to make its stages."""

    job: str
    columns: tuple[str, ...]
    outcomes: Outcomes
    act_stage: str  # the act stage's name, in logs and `stopped` rows
    act_workers: int
    finish_workers: int
    make_stages: MakeStages
    starting: Mapping[str, Any]  # what the job logs as it starts, besides the common keys


def close_report(writer: ReportWriter, reporter: Reporter[Outcome], stream: TextIO, fmt: str) -> None:
    """Write the rows still held for their turn, end the report and write its `#SUMMARY` lines; nothing if
    its reader left."""
    with contextlib.suppress(BrokenPipeError):
        reporter.flush()
        writer.close()
        reporter.write_summary(stream, fmt)


async def run_content_job(
    job: ContentJob,
    ctx: RunContext,
    *,
    spec: FilterSpec,
    shard: Shard | None,
    store_config: StoreConfig,
    dry_run: bool,
    fmt: str,
) -> int:
    """Run `job` over the selection; 1 if any entry failed or is a conflict (or was lost to a cancel)."""
    settings = ctx.settings
    log = EventLog(run_id=ctx.run_id, job=job.job, dry_run=dry_run)
    writer = ReportWriter(ctx.stdout, job.columns, fmt)
    # rows in listing order, whatever order the entries finish in
    order: InOrder[Row] = InOrder(settings.report_window, writer.row)
    reporter: Reporter[Outcome] = Reporter(log, writer, job.outcomes, order=order)
    started = time.monotonic()
    get_logger(f"jobs.{job.job}").info(
        f"{job.job}.starting",
        dry_run=dry_run,
        bucket=store_config.bucket,
        filter=spec.describe(),
        shard=None if shard is None else shard.label,
        **job.starting,
    )
    time_left = ctx.shutdown.time_left if ctx.shutdown is not None else None
    try:
        async with (
            connected(settings) as (client, _),
            S3Store(store_config, time_left=time_left) as store,
            # a few replacers, each making several calls in a row: batches form while the rate holds
            # them (no waiting for company, which would slow every step of every entry)
            client.batching(wait_s=0.0),
            Progress(show_bytes=False, stream=ctx.stderr) as progress,
            anyio.create_task_group() as waiting,
        ):
            await prove_bucket(store, store_config.bucket)
            spec = await narrowed(client, spec, shard, run_start=ctx.run_start)
            waiter = Waiter(client, timeout_s=settings.ready_timeout_s, poll_s=settings.ready_poll_s)
            waiting.start_soon(waiter.run)
            gate = Gate(dry_run=dry_run, store=store, kaltura=client, content=client)
            stages = await job.make_stages(client, store, gate, waiter, log)
            reporter.progress = progress

            def unknown(entry_id: str) -> None:  # an id asked for by --id/--idfile that Kaltura does not know
                why = "no such entry in Kaltura"
                reporter.add(Outcome(entry_id, "check", job.outcomes.failed, None, None, why, error=why))

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
                    Stage(job.act_stage, job.act_workers, stages.act, on_stop=stages.not_started),
                    Stage("wait", settings.waiting, stages.wait),
                    Stage("finish", job.finish_workers, stages.finish),
                ],
                sink,
                buffer=max(settings.checkers, job.act_workers),
                stop=ctx.shutdown.stop_intake if ctx.shutdown is not None else None,
                drain_s=max(0.0, settings.drain_s - DRAIN_MARGIN_S),
                report_cut=True,
            )
            waiting.cancel_scope.cancel()
            kaltura_requests, polls = client.calls, waiter.polls
    except anyio.get_cancelled_exc_class():
        close_report(writer, reporter, ctx.stdout, fmt)
        raise
    except Exception as exc:
        close_report(writer, reporter, ctx.stdout, fmt)
        log.run_finished(reporter.summary(time.monotonic() - started), error=str(primary(exc)))
        raise
    close_report(writer, reporter, ctx.stdout, fmt)
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
