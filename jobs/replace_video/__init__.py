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

from adapters.kaltura import KalturaClient
from adapters.s3 import S3Store, StoreConfig
from jobs.common.content_job import ContentJob, run_content_job
from jobs.common.context import RunContext, require_kaltura
from jobs.common.events import EventLog
from jobs.common.gate import Gate
from jobs.common.options import (
    add_filter_options,
    add_max_size_option,
    add_option,
    filter_spec,
    require_selection,
)
from jobs.common.placeholder import file_name, read_file
from jobs.common.report import FORMATS
from jobs.common.settings import Settings
from jobs.common.shards import shard_of
from jobs.common.waiter import Waiter
from jobs.lifecycle import Placeholder
from jobs.replace_video.plan import Rules
from jobs.replace_video.report import COLUMNS, OUTCOMES
from jobs.replace_video.stages import PlaceholderFiles, Replace

JOB = "replace_video"


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

    async def make_stages(
        client: KalturaClient, store: S3Store, gate: Gate, waiter: Waiter, log: EventLog
    ) -> Replace:
        return Replace(
            catalog=client, store=store, gate=gate, waiter=waiter, log=log, rules=rules, files=files
        )

    job = ContentJob(
        job=JOB,
        columns=COLUMNS,
        outcomes=OUTCOMES,
        act_stage="replace",
        act_workers=settings.replacers,
        finish_workers=settings.checkers,
        make_stages=make_stages,
        starting={"replacers": settings.replacers, "placeholder_bytes": len(files.video)},
    )
    return await run_content_job(
        job, ctx, spec=spec, shard=shard, store_config=config, dry_run=dry_run, fmt=args.format
    )
