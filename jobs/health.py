"""`health`: a verdict per selected entry against the archive's invariants (docs/lifecycle.md, Health checks).

Read-only: it lists the selection (one flavor look-up per page, as `list --mode flavor`), HEADs each entry's
object (its tags read only when the metadata lacks the record) and writes nothing anywhere. The report has the
old tool's columns (`list --mode video`) plus `verdict` (`HEALTHY`, `WARNING`, `UNHEALTHY`, with ` legacy`
for an object the old tool wrote), `rule` (the first rule that failed) and `detail`; rows come in listing
order. A TSV report ends with `#SUMMARY` lines. Exit 1 if any entry is unhealthy (or could not be checked).

The placeholder is known by the size and SHA-256 of `PLACEHOLDER_VIDEO`, read at start (exit 2 if it cannot
be): a replaced entry's source must have its size (Kaltura's flavors are not downloaded to compare content).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from adapters.kaltura import FlavorAsset, MediaEntry
from adapters.s3 import ArchiveStore, S3Store, StoreConfig, from_head
from adapters.s3.wire import ObjectHead
from engine.errors import primary
from engine.pipeline import Cut, Failed, Stage, run_pipeline
from engine.progress import Progress
from jobs.common import events, report
from jobs.common.candidates import Candidate, candidate_id, candidates
from jobs.common.context import RunContext, connected, prove_bucket, require_kaltura
from jobs.common.events import EventLog
from jobs.common.options import add_filter_options, add_max_size_option, add_option, filter_spec
from jobs.common.order import InOrder
from jobs.common.placeholder import read_video
from jobs.common.report import FORMATS, ReportWriter, Row, Value
from jobs.common.rows import VIDEO_COLUMNS, video_row
from jobs.common.settings import Settings
from jobs.common.shards import narrowed, shard_of
from jobs.common.verdicts import Limits, judge
from jobs.lifecycle import (
    REPLACED_TAG,
    Facts,
    Placeholder,
    classify,
    original_of,
)

JOB = "health"
COLUMNS: Final = (*VIDEO_COLUMNS, "verdict", "rule", "detail")
# outcomes (the summary's words): a verdict in lower case, or an entry that could not be checked
OUTCOMES: Final = report.Outcomes(
    order=("healthy", "warning", "unhealthy", "failed", "stopped"),
    events={
        "healthy": events.UNCHANGED,
        "warning": events.UNCHANGED,
        "unhealthy": events.CONFLICT,
        "failed": events.FAILED,
        "stopped": events.SKIPPED,
    },
    bad=frozenset({"unhealthy", "failed"}),
)
DRAIN_MARGIN_S = 3.0  # of the drain time, kept for writing the summary


# ------------------------------------------------------------------------------------------ the command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_max_size_option(parser, "warn about unarchived sources larger than SIZE (s3copy's limit)")
    add_option(parser, "--format", choices=FORMATS, default="tsv", help="report format (default tsv)")
    add_filter_options(parser, max_entries=-1)


@dataclass(frozen=True)
class Outcome:
    """One entry's report row and what its event needs."""

    entry_id: str
    outcome: str
    from_state: str | None
    values: Row = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    bytes: int = 0
    attempt: int | None = None

    @property
    def to_state(self) -> str | None:
        return self.from_state  # health changes nothing

    def row(self) -> Row:
        return self.values

    def details(self) -> Mapping[str, Value]:
        return {k: self.values.get(k) for k in ("verdict", "rule", "detail")}


def store_config(settings: Settings) -> StoreConfig:
    settings.require("aws_bucket")
    assert settings.aws_bucket is not None
    return StoreConfig(
        bucket=settings.aws_bucket, prefix=settings.s3_prefix, storage_class=settings.storage_class
    )


def _maybe_restored(entry: MediaEntry, head: ObjectHead, flavors: Sequence[FlavorAsset]) -> bool:
    """An entry not replaced whose object's metadata names another version of the source than Kaltura's: a
    restore may have recorded the new one in the object's tags (`ka-restored-version`)."""
    if entry.has_tag(REPLACED_TAG):
        return False  # a replaced entry's object is judged against its own record
    stored = from_head(head)
    source = original_of(flavors)
    return stored is not None and source is not None and stored.flavor_version != str(source.version)


class Checker:
    """The check stage and the sink's adapters of one health run."""

    def __init__(self, store: ArchiveStore, limits: Limits) -> None:
        self.store = store
        self.limits = limits

    async def check(self, candidate: Candidate) -> Outcome:
        started = time.monotonic()
        entry, flavors = candidate.entry, candidate.flavors
        key = self.store.key_for(entry.id)
        head = await self.store.head(key, record_only=True)
        if head is not None and head.tags is None and _maybe_restored(entry, head, flavors):
            # a restored source's version is in the object's tags, which the record-only HEAD skipped
            head = dataclasses.replace(head, tags=await self.store.tags(key))
        verdict = judge(entry, flavors, head, key, self.limits)
        state = classify(entry, Facts(flavors, head, self.limits.partner_id)).state
        values = {
            **video_row(entry, flavors, original_of(flavors)),
            "verdict": verdict.verdict,
            "rule": verdict.rule,
            "detail": verdict.detail,
        }
        outcome = verdict.verdict.split()[0].lower()
        return Outcome(entry.id, outcome, str(state), values, time.monotonic() - started)

    def not_started(self, candidate: Candidate) -> Outcome:
        return self._row(candidate, "stopped", "a stop signal came before its check: run again")

    def settle(self, value: Outcome | Failed | Cut) -> Outcome:
        """A check's result, or the row of an entry whose check failed or was cut off."""
        if isinstance(value, Failed):
            error = " ".join(
                [str(value.error) or type(value.error).__name__, *getattr(value.error, "__notes__", [])]
            )
            return self._row(value.item, "failed", f"could not be checked: {error}", error)
        if isinstance(value, Cut):
            return self._row(value.item, "stopped", "cut off by the drain deadline: run again")
        return value

    @staticmethod
    def _row(candidate: Candidate, outcome: str, detail: str, error: str | None = None) -> Outcome:
        entry, flavors = candidate.entry, candidate.flavors
        values = {
            **video_row(entry, flavors, original_of(flavors)),
            "verdict": None,
            "rule": None,
            "detail": detail,
        }
        return Outcome(entry.id, outcome, None, values, error=error)


async def run(args: argparse.Namespace, ctx: RunContext) -> int:
    """Judge the selection; 1 if any entry is unhealthy or could not be checked."""
    settings = ctx.settings
    spec = filter_spec(args)
    shard = shard_of(settings, spec)
    require_kaltura(settings)
    config = store_config(settings)
    placeholder = Placeholder.of(read_video(settings.placeholder_video))
    assert settings.partner_id is not None
    limits = Limits(settings.partner_id, placeholder, args.max_size)
    log = EventLog(run_id=ctx.run_id, job=JOB, dry_run=True)
    writer = ReportWriter(ctx.stdout, COLUMNS, args.format)
    # rows in listing order, whatever order the checks finish in
    order: InOrder[Row] = InOrder(settings.report_window, writer.row)
    reporter: report.Reporter[Outcome] = report.Reporter(log, writer, OUTCOMES, order=order)
    started = time.monotonic()
    try:
        async with (
            connected(settings) as (client, _),
            S3Store(config, time_left=ctx.shutdown.time_left if ctx.shutdown is not None else None) as store,
            Progress(show_bytes=False, stream=ctx.stderr) as progress,
        ):
            await prove_bucket(store, config.bucket)
            spec = await narrowed(client, spec, shard, run_start=ctx.run_start)
            reporter.progress = progress
            checker = Checker(store, limits)

            def unknown(entry_id: str) -> None:  # an id asked for by --id/--idfile that Kaltura does not know
                why = "no such entry in Kaltura"
                reporter.add(
                    Outcome(entry_id, "failed", None, {"entry_id": entry_id, "detail": why}, error=why)
                )

            async def sink(value: Outcome | Failed | Cut) -> None:
                reporter.add(checker.settle(value))

            result = await run_pipeline(
                order.number(candidates(client, spec, ctx.run_start, unknown), candidate_id),
                [Stage("check", settings.checkers, checker.check, on_stop=checker.not_started)],
                sink,
                buffer=settings.checkers,
                stop=ctx.shutdown.stop_intake if ctx.shutdown is not None else None,
                drain_s=max(0.0, settings.drain_s - DRAIN_MARGIN_S),
                report_cut=True,
            )
            kaltura_requests, s3_requests = client.calls, store.calls
    except BaseException as exc:
        _close(writer, reporter, ctx, args.format)
        if isinstance(exc, Exception):
            log.run_finished(reporter.summary(time.monotonic() - started), error=str(primary(exc)))
        raise
    _close(writer, reporter, ctx, args.format)
    log.run_finished(
        reporter.summary(time.monotonic() - started),
        kaltura_requests=kaltura_requests,
        s3_requests=s3_requests,
        stopped=result.stopped,
    )
    return 1 if reporter.bad or result.lost else 0


def _close(writer: ReportWriter, reporter: report.Reporter[Outcome], ctx: RunContext, fmt: str) -> None:
    with contextlib.suppress(BrokenPipeError):
        reporter.flush()  # the rows still held for their turn
        writer.close()
        reporter.write_summary(ctx.stdout, fmt)
