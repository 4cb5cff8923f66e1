"""`config`: prove the Kaltura credentials and the bucket; show what a run would use (never a secret).

Exit 2 when the Kaltura service or the S3 endpoint does not answer at all (a setting to fix), 3 when one
answers but refuses (credentials, permissions, no such bucket); each as one line naming the fix.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime

from adapters.s3 import S3Store, StoreConfig
from engine.errors import ConfigError, RetryableError
from jobs.context import PROBE_POLICY, RunContext, connected
from jobs.settings import Settings

PROBE_CALL_S = 15.0  # each bucket probe's deadline: an endpoint that answers does so well within it


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options of its own: everything comes from the settings."""


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def run(args: argparse.Namespace, ctx: RunContext) -> int:
    s = ctx.settings
    async with connected(s) as (client, entries):
        expires = client.ks_expires_at
    bucket = await check_bucket(s)
    rows = [
        ("kaltura_service_url", s.service_url),
        ("kaltura_partner_id", str(s.partner_id)),
        ("kaltura_user_id", s.user_id or ""),
        ("kaltura_credentials", "ok"),
        ("kaltura_ks_expires", iso(expires)),
        ("kaltura_entries", str(entries)),
        ("kaltura_rps", f"{s.kaltura_rps:g}"),
        ("kaltura_in_flight", str(s.kaltura_in_flight)),
        ("aws_bucket", bucket),
        ("placeholder_video", _file_state(s.placeholder_video)),
        ("placeholder_image", _file_state(s.placeholder_image)),
        ("dry_run", "false" if s.doit else "true"),
    ]
    for name, value in rows:
        ctx.stdout.write(f"{name}\t{value}\n")
    return 0


async def check_bucket(settings: Settings) -> str:
    """`<bucket> ok` once `ArchiveStore.check_access` proved it, `(not set)` without AWS_BUCKET.

    Refusals (no such bucket, access denied, no credentials) are S3FatalError (exit 3); an endpoint that
    never answers within the probe's retries is a ConfigError (exit 2)."""
    if not settings.aws_bucket:
        return "(not set)"
    config = StoreConfig(
        bucket=settings.aws_bucket,
        prefix=settings.s3_prefix,
        storage_class=settings.storage_class,
        policy=PROBE_POLICY,
        call_timeout_s=PROBE_CALL_S,
    )
    try:
        async with S3Store(config) as store:
            await store.check_access()
    except RetryableError:
        raise ConfigError(
            f"AWS_BUCKET={settings.aws_bucket!r}: the S3 endpoint does not answer: "
            "check AWS_ENDPOINT_URL (or AWS_REGION) and the network"
        ) from None
    return f"{settings.aws_bucket} ok"


def _file_state(path: str) -> str:
    return f"{path} ({'found' if os.path.isfile(path) else 'missing'})"
