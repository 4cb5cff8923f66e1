"""`repair`: fix the selected entries whose health check fails, where the fix is safe (docs/lifecycle.md,
Repairing an entry).

Each entry gets health's verdict and, from `jobs.repair.plan`'s table, the one safe fix for it or
`needs_person` with the reason; an entry health calls HEALTHY is left alone (`unchanged`). Dry run by
default: every decision is made, logged and reported, nothing is written. `--execute`, the old tool's
`--repair`, or `DOIT=true` make it real. `--prove-legacy` lets it prove an old tool's object (no record)
from the original and tag the entry (an object without an S3 checksum we compute is downloaded and compared;
one in Glacier gets a restore request, `ARCHIVER_RESTORE_TIER` and `ARCHIVER_RESTORE_DAYS`, and is
`waiting`). The report has the columns of s3copy's, one row per entry in listing
order; `#SUMMARY` lines. Exit 1 if any entry failed, conflicts or needs a person.
"""

from __future__ import annotations

import argparse

from adapters.kaltura import KalturaClient
from adapters.s3 import S3Store
from jobs.common.archive import JobConfig, S3Copy, stale_uploads, store_config, tool_version
from jobs.common.content_job import ContentJob, run_content_job
from jobs.common.context import RunContext, require_kaltura
from jobs.common.events import EventLog
from jobs.common.gate import Gate
from jobs.common.glacier import GlacierConfig
from jobs.common.options import (
    DEFAULT_MAX_SIZE_KB,
    add_filter_options,
    add_option,
    filter_spec,
    require_selection,
)
from jobs.common.placeholder import read_video
from jobs.common.report import FORMATS
from jobs.common.settings import Settings
from jobs.common.shards import shard_of
from jobs.common.waiter import Waiter
from jobs.lifecycle import Placeholder
from jobs.repair.plan import PROVE_LEGACY_OPTION, Rules
from jobs.repair.report import COLUMNS, OUTCOMES
from jobs.repair.stages import Repair

JOB = "repair"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "--execute", action="store_true", help="really repair (default: dry run)")
    add_option(parser, "--repair", action="store_true", dest="legacy_repair",
               help="the old tool's spelling of --execute")  # fmt: skip
    add_option(parser, PROVE_LEGACY_OPTION, action="store_true", dest="prove_legacy",
               help="prove an old tool's object from the original, record it, tag the entry")  # fmt: skip
    add_option(parser, "--format", choices=FORMATS, default="tsv", help="report format (default tsv)")
    add_filter_options(parser, max_entries=-1, mutating=True)


def is_real(args: argparse.Namespace, settings: Settings) -> bool:
    """Whether this run writes: `--execute`, `--repair` or `DOIT=true`."""
    return bool(args.execute or args.legacy_repair or settings.doit)


async def run(args: argparse.Namespace, ctx: RunContext) -> int:
    """Repair the selection (or plan it); 1 if any entry failed, conflicts or needs a person."""
    settings = ctx.settings
    spec = filter_spec(args)
    shard = shard_of(settings, spec)
    dry_run = not is_real(args, settings)
    require_kaltura(settings)
    config = store_config(settings)
    placeholder = Placeholder.of(read_video(settings.placeholder_video))
    require_selection(args, real=not dry_run)
    assert settings.partner_id is not None
    rules = Rules(settings.partner_id, placeholder, prove_legacy=args.prove_legacy)
    copy_config = JobConfig(settings.partner_id, DEFAULT_MAX_SIZE_KB, tool_version())
    glacier = GlacierConfig(settings.restore_tier, settings.restore_days)

    async def make_stages(
        client: KalturaClient, store: S3Store, gate: Gate, _waiter: Waiter, log: EventLog
    ) -> Repair:
        # the uploads a killed run left open, swept as s3copy does: aborted as their entry is archived again
        stale = await stale_uploads(store)
        copier = S3Copy(
            catalog=client, store=store, gate=gate, log=log, config=copy_config, stale_uploads=stale
        )
        return Repair(
            catalog=client, store=store, gate=gate, log=log, rules=rules, copier=copier, glacier=glacier
        )

    job = ContentJob(
        job=JOB,
        columns=COLUMNS,
        outcomes=OUTCOMES,
        act_stage="repair",
        act_workers=settings.transfers,
        finish_workers=1,
        make_stages=make_stages,
        starting={"prove_legacy": rules.prove_legacy, "transfers": settings.transfers},
    )
    return await run_content_job(
        job, ctx, spec=spec, shard=shard, store_config=config, dry_run=dry_run, fmt=args.format
    )
