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
from adapters.kaltura.wire import ENTRY_STATUS_NAMES, FLAVOR_STATUS_NAMES
from adapters.s3 import ArchiveRecord, ArchiveStore, S3Store, StoreConfig, from_head, verify
from adapters.s3.proof import legacy_problems
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
from jobs.lifecycle import (
    ARCHIVED_TAG,
    ENTRY_READY,
    OLD_RESTORED_TAG,
    REPLACED_TAG,
    REPLACEMENT_FAILED,
    REPLACEMENT_NONE,
    Facts,
    Placeholder,
    check_copy,
    classify,
    original_of,
    over_size_limit,
)

JOB = "health"
COLUMNS: Final = (*VIDEO_COLUMNS, "verdict", "rule", "detail")
HEALTHY, WARNING, UNHEALTHY = "HEALTHY", "WARNING", "UNHEALTHY"
# the rules in the order they are applied (docs/lifecycle.md, Health checks): the first that fails wins
RULES: Final = (
    "source_ready", "replacement_state", "object_iff_tag", "replaced_implies_archived", "replaced_differs",
    "placeholder_source", "record_matches", "legacy_size", "size_limit",
)  # fmt: skip
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


# ------------------------------------------------------------------------------------------ the rules (pure)


@dataclass(frozen=True)
class Verdict:
    """One entry's health: `HEALTHY`, `WARNING` or `UNHEALTHY` (+ ` legacy`), the failing rule, a sentence."""

    verdict: str
    rule: str | None
    detail: str


@dataclass(frozen=True)
class Limits:
    """What the rules compare with besides the entry: the partner, the placeholder, the size limit."""

    partner_id: int
    placeholder: Placeholder
    max_size_kb: int


def judge(
    entry: MediaEntry, flavors: Sequence[FlavorAsset], head: ObjectHead | None, key: str, limits: Limits
) -> Verdict:
    """The verdict on `entry`, whose flavors are `flavors` and whose object under `key` is `head` (None if
    there is none): the first failing rule of RULES wins; an old tool's object adds ` legacy`."""
    legacy = head is not None and from_head(head) is None
    verdict = _first_failing(entry, flavors, head, key, limits) or _healthy(entry, head, legacy)
    if legacy:
        return Verdict(f"{verdict.verdict} legacy", verdict.rule, verdict.detail)
    return verdict


def _first_failing(
    entry: MediaEntry, flavors: Sequence[FlavorAsset], head: ObjectHead | None, key: str, limits: Limits
) -> Verdict | None:
    source = original_of(flavors)
    if entry.status != ENTRY_READY:
        status = ENTRY_STATUS_NAMES.get(entry.status, str(entry.status))
        return Verdict(UNHEALTHY, "source_ready", f"the entry is {status}, not READY")
    if source is None:
        return Verdict(UNHEALTHY, "source_ready", "the entry has no source flavor")
    if not source.ready:
        status = FLAVOR_STATUS_NAMES.get(source.status, str(source.status))
        return Verdict(UNHEALTHY, "source_ready", f"the source flavor {source.id} is {status}, not READY")
    if entry.replacement_status == REPLACEMENT_FAILED:
        detail = "a replacement of the entry's content FAILED: cancel it (media.cancelReplace) and look again"
        return Verdict(UNHEALTHY, "replacement_state", detail)
    if entry.replacement_status != REPLACEMENT_NONE or entry.replacing_entry_id:
        detail = "a replacement of the entry's content is in progress (replacementStatus "
        detail += f"{entry.replacement_status}): check again once it is done"
        return Verdict(WARNING, "replacement_state", detail)
    tagged, replaced = entry.has_tag(ARCHIVED_TAG), entry.has_tag(REPLACED_TAG)
    if head is not None and not (tagged or replaced) and old_restored(entry, head):
        detail = f"restored by the old tool ({OLD_RESTORED_TAG}), its object {key} still in S3 without "
        detail += f"{ARCHIVED_TAG}: repair --prove-legacy proves it and tags the entry"
        return Verdict(WARNING, "object_iff_tag", detail)
    if head is not None and not tagged:
        return Verdict(
            UNHEALTHY, "object_iff_tag", f"an S3 object {key} exists but the entry lacks {ARCHIVED_TAG}"
        )
    if head is None and tagged:
        return Verdict(UNHEALTHY, "object_iff_tag", f"tagged {ARCHIVED_TAG} but there is no S3 object {key}")
    if replaced and not tagged:
        detail = f"tagged {REPLACED_TAG} without {ARCHIVED_TAG} (and no S3 object): the original may be lost"
        return Verdict(UNHEALTHY, "replaced_implies_archived", detail)
    return _placeholder_rules(source, head, replaced, limits) or _object_rules(
        entry.id, source, head, replaced, limits
    )


def old_restored(entry: MediaEntry, head: ObjectHead) -> bool:
    """The old tool brought the entry back (`restored_from_s3`) and left its object (no record) in S3."""
    return entry.has_tag(OLD_RESTORED_TAG) and from_head(head) is None


def _size(source: FlavorAsset) -> int:
    """The source's size in bytes: exact when Kaltura knows it, else from its KB figure."""
    return source.size_bytes or source.size_kb * 1024


def _placeholder_rules(
    source: FlavorAsset, head: ObjectHead | None, replaced: bool, limits: Limits
) -> Verdict | None:
    is_placeholder = limits.placeholder.is_source(source)
    if replaced:
        assert head is not None  # replaced ⇒ tagged ⇒ an object (the rules before)
        if not legacy_problems(head, _size(source)):
            detail = (
                f"tagged {REPLACED_TAG} but the source ({_size(source)} bytes) is the size of the archived "
            )
            detail += f"object ({head.size} bytes), not replaced"
            return Verdict(UNHEALTHY, "replaced_differs", detail)
        if not is_placeholder:
            detail = f"tagged {REPLACED_TAG} but the source ({_size(source)} bytes) is not the placeholder "
            detail += f"({limits.placeholder.size} bytes)"
            return Verdict(UNHEALTHY, "placeholder_source", detail)
    elif is_placeholder:
        detail = f"the source is the placeholder ({limits.placeholder.size} bytes) "
        detail += f"but the entry lacks {REPLACED_TAG}"
        return Verdict(UNHEALTHY, "placeholder_source", detail)
    return None


def _object_rules(
    entry_id: str, source: FlavorAsset, head: ObjectHead | None, replaced: bool, limits: Limits
) -> Verdict | None:
    if head is None:
        if over_size_limit(source, limits.max_size_kb):
            detail = (
                f"the source is {source.size_kb} KB, over --max-size {limits.max_size_kb} KB: s3copy skips it"
            )
            return Verdict(WARNING, "size_limit", detail)
        return None
    stored = from_head(head)
    if stored is None:  # an old tool's object: only its size can be compared
        problems = [] if replaced else legacy_problems(head, _size(source))
        if problems:
            return Verdict(
                UNHEALTHY, "legacy_size", f"the old tool's object does not match the source: {problems[0]}"
            )
        return None
    if replaced:  # the source is the placeholder now: the object must prove what its own record says
        own = ArchiveRecord(
            limits.partner_id, entry_id, stored.flavor_id, stored.flavor_version, stored.source_bytes
        )
        problems = verify(head, own)
        what = "does not match its record"
    else:
        check = check_copy(limits.partner_id, entry_id, source, head)
        problems = list(check.problems)
        what = "is not a proven copy of the source"
        if check.source_changed:
            what += " (the source changed since it was archived)"
    if problems:
        return Verdict(UNHEALTHY, "record_matches", f"the S3 object {what}: {'; '.join(problems)}")
    return None


def _healthy(entry: MediaEntry, head: ObjectHead | None, legacy: bool) -> Verdict:
    if head is None:
        return Verdict(HEALTHY, None, "not archived")
    by = "the old tool (size within 3%)" if legacy else "a proven copy"
    if entry.has_tag(REPLACED_TAG):
        return Verdict(HEALTHY, None, f"replaced by the placeholder; archived as {by}")
    return Verdict(HEALTHY, None, f"archived as {by}")


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
