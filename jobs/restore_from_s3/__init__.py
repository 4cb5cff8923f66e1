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
With `--via url` Kaltura fetches the object itself from a presigned GET URL (valid
`ARCHIVER_RESTORE_URL_TTL`, signed with the run's AWS credentials) and the READY source is proven by its
exact size instead of a download; the URL is never logged. The report has the columns of s3copy's, one row
per entry in listing order; `#SUMMARY` lines, ours and the old tool's. Exit 1 if any entry failed or
conflicts; 0 when the others only wait for Glacier.
"""

from __future__ import annotations

import argparse

from adapters.kaltura import KalturaClient
from adapters.s3 import S3Store, StoreConfig
from jobs.common.content_job import ContentJob, run_content_job
from jobs.common.context import RunContext, require_kaltura
from jobs.common.events import EventLog
from jobs.common.gate import Gate
from jobs.common.options import add_filter_options, add_option, filter_spec, require_selection
from jobs.common.placeholder import read_video
from jobs.common.report import FORMATS
from jobs.common.settings import Settings, check_memory_budget
from jobs.common.shards import shard_of
from jobs.common.waiter import Waiter
from jobs.lifecycle import Placeholder
from jobs.restore_from_s3.plan import Rules
from jobs.restore_from_s3.report import COLUMNS, OUTCOMES
from jobs.restore_from_s3.stages import VIA_UPLOAD, VIAS, Restore, RestoreConfig

JOB = "restore_from_s3"
MAX_CHUNKS_IN_FLIGHT = 4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "--execute", action="store_true", help="really restore and untag (default: dry run)")
    add_option(parser, "--restore", action="store_true", dest="legacy_restore",
               help="the old tool's spelling of --execute")  # fmt: skip
    add_option(parser, "--via", choices=VIAS, default=VIA_UPLOAD,
               help="how an original goes back: upload (streamed through this run, default) or url (Kaltura "
                    "fetches a presigned S3 URL: the bucket must be reachable from Kaltura, and the URL dies "
                    "with temporary credentials)")  # fmt: skip
    add_option(parser, "--format", choices=FORMATS, default="tsv", help="report format (default tsv)")
    add_filter_options(parser, max_entries=-1, mutating=True)


def is_real(args: argparse.Namespace, settings: Settings) -> bool:
    """Whether this run writes: `--execute`, `--restore` or `DOIT=true`."""
    return bool(args.execute or args.legacy_restore or settings.doit)


def restore_config(settings: Settings, via: str = VIA_UPLOAD) -> RestoreConfig:
    """Glacier's tier and days; chunks of `ARCHIVER_PART_SIZE`, as many in flight per entry as the memory
    budget holds for each of `ARCHIVER_TRANSFERS` entries (at most 4); ConfigError when the budget cannot
    hold one chunk per entry. `via` and the presigned URL's life (`ARCHIVER_RESTORE_URL_TTL`)."""
    check_memory_budget(settings)
    per_entry = settings.memory_budget // settings.transfers // settings.part_size
    in_flight = max(1, min(MAX_CHUNKS_IN_FLIGHT, per_entry))
    return RestoreConfig(
        settings.restore_tier,
        settings.restore_days,
        settings.part_size,
        in_flight,
        via=via,
        url_ttl_s=int(settings.restore_url_ttl_s),
    )


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
    restore = restore_config(settings, args.via)
    rules = Rules(settings.partner_id, placeholder)

    async def make_stages(
        client: KalturaClient, store: S3Store, gate: Gate, waiter: Waiter, log: EventLog
    ) -> Restore:
        return Restore(
            catalog=client, store=store, gate=gate, waiter=waiter, log=log, rules=rules, config=restore
        )

    job = ContentJob(
        job=JOB,
        columns=COLUMNS,
        outcomes=OUTCOMES,
        act_stage="bring back",
        act_workers=settings.transfers,
        finish_workers=settings.transfers,
        make_stages=make_stages,
        starting={
            "via": restore.via,
            "tier": restore.tier,
            "days": restore.days,
            "transfers": settings.transfers,
            "chunks_in_flight": restore.chunks_in_flight,
        },
    )
    return await run_content_job(
        job, ctx, spec=spec, shard=shard, store_config=config, dry_run=dry_run, fmt=args.format
    )
