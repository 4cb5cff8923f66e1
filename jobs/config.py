"""`config`: prove the Kaltura credentials and show what the run would use (never the secret or the KS)."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime

from jobs.context import RunContext, connected


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options of its own: everything comes from the settings."""


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def run(args: argparse.Namespace, ctx: RunContext) -> int:
    s = ctx.settings
    async with connected(s) as (client, entries):
        expires = client.ks_expires_at
    rows = [
        ("kaltura_service_url", s.service_url),
        ("kaltura_partner_id", str(s.partner_id)),
        ("kaltura_user_id", s.user_id or ""),
        ("kaltura_credentials", "ok"),
        ("kaltura_ks_expires", iso(expires)),
        ("kaltura_entries", str(entries)),
        ("kaltura_rps", f"{s.kaltura_rps:g}"),
        ("kaltura_in_flight", str(s.kaltura_in_flight)),
        ("aws_bucket", s.aws_bucket or "(not set)"),
        ("placeholder_video", _file_state(s.placeholder_video)),
        ("placeholder_image", _file_state(s.placeholder_image)),
        ("dry_run", "false" if s.doit else "true"),
    ]
    for name, value in rows:
        ctx.stdout.write(f"{name}\t{value}\n")
    return 0


def _file_state(path: str) -> str:
    return f"{path} ({'found' if os.path.isfile(path) else 'missing'})"
