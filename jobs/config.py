"""`config`: check everything a run needs and print one line per check (never a secret).

Each check prints `name<TAB>ok …` or `name<TAB>FAIL <reason>`; every check runs even after one fails, so one
call shows all there is to fix. The exit code is the table's for the most pressing failure: 2 for a setting to
fix (a service that does not answer, AWS_BUCKET unset, a placeholder file missing), 3 for a refusal
(credentials, permissions, no such bucket); its one line goes to stderr as for any run.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import anyio

from adapters.s3 import S3Store, StoreConfig
from engine.errors import ConfigError
from jobs.common.context import PROBE_CALL_S, PROBE_POLICY, RunContext, connected, prove_bucket
from jobs.common.settings import Settings

# what a placeholder file must start with to be what its setting says (an MP4's `ftyp` box at offset 4)
_SIGNATURES = {
    "placeholder_video": (4, b"ftyp", "an MP4 video"),
    "placeholder_image": (0, b"\xff\xd8\xff", "a JPEG image"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options of its own: everything comes from the settings."""


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Checks:
    """The report's rows, and the errors of the checks that failed (raised together at the end)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str]] = []
        self.errors: list[Exception] = []

    def show(self, name: str, value: str) -> None:
        self.rows.append((name, value))

    async def check(self, name: str, probe: Callable[[], Awaitable[str]]) -> None:
        """Run one check: its row says `ok …` or `FAIL <reason>`; a failure is kept for the exit code."""
        try:
            self.rows.append((name, f"ok {await probe()}".rstrip()))
        except Exception as exc:  # every check runs; the CLI's table decides what the failures mean
            self.rows.append((name, f"FAIL {exc}"))
            self.errors.append(exc)


async def run(args: argparse.Namespace, ctx: RunContext) -> int:
    s = ctx.settings
    checks = Checks()
    checks.show("kaltura_service_url", s.service_url)
    checks.show("kaltura_partner_id", str(s.partner_id or ""))
    checks.show("kaltura_user_id", s.user_id or "")

    async def kaltura() -> str:
        async with connected(s) as (client, entries):
            expires = client.ks_expires_at
        checks.show("kaltura_ks_expires", iso(expires))
        checks.show("kaltura_entries", str(entries))
        return ""

    await checks.check("kaltura_credentials", kaltura)
    checks.show("kaltura_rps", f"{s.kaltura_rps:g}")
    checks.show("kaltura_in_flight", str(s.kaltura_in_flight))
    await checks.check("aws_bucket", lambda: check_bucket(s))
    for name in _SIGNATURES:
        await checks.check(name, functools.partial(check_file, name, getattr(s, name)))
    checks.show("dry_run", "false" if s.doit else "true")
    for name, value in checks.rows:
        ctx.stdout.write(f"{name}\t{value}\n")
    if checks.errors:
        raise ExceptionGroup("config: some checks failed", checks.errors)
    return 0


async def check_bucket(settings: Settings) -> str:
    """The bucket, once `ArchiveStore.check_access` proved it; ConfigError without AWS_BUCKET.

    Refusals (no such bucket, access denied, no credentials) are S3FatalError (exit 3); an endpoint that
    never answers within the probe's retries is a ConfigError (exit 2)."""
    settings.require("aws_bucket")
    assert settings.aws_bucket is not None
    config = StoreConfig(
        bucket=settings.aws_bucket,
        prefix=settings.s3_prefix,
        storage_class=settings.storage_class,
        policy=PROBE_POLICY,
        call_timeout_s=PROBE_CALL_S,
    )
    async with S3Store(config) as store:
        await prove_bucket(store, settings.aws_bucket)
    return settings.aws_bucket


async def check_file(name: str, path: str) -> str:
    """`path` (a placeholder file) exists, can be read and starts as its kind of file does."""
    env = name.upper()
    offset, magic, kind = _SIGNATURES[name]
    try:
        async with await anyio.open_file(path, "rb") as f:
            head = await f.read(offset + len(magic))
            size = (await anyio.Path(path).stat()).st_size
    except OSError as exc:
        raise ConfigError(f"{env}={path!r} cannot be read ({exc.strerror}): set it to {kind} file") from None
    if head[offset:] != magic:
        raise ConfigError(f"{env}={path!r} is not {kind}: set it to {kind} file")
    return f"{path} ({size} bytes)"
