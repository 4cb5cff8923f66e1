"""Every setting (docs/architecture.md, Settings): declared once here, resolved once at start-up.

`load_settings(cli, env)` gives the one frozen `Settings` object (CLI over environment over default), or
raises a one-line `ConfigError`. `python -m jobs.common.settings --markdown` prints the README table.
The legacy names of the old tool (`KALTURA_PARTNERID`, `KALTURA_SECRET`, `KALTURA_USERID`, `AWS_BUCKET`,
`PLACEHOLDER_VIDEO`, `N_YEARS`, `DOIT`, `LDAP_*`) keep their meaning.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from engine.redact import add_secret
from engine.settings import (
    Setting,
    boolean,
    byte_size,
    choice,
    duration_s,
    format_bytes,
    in_range,
    markdown_table,
    non_negative_float,
    positive_int,
    require,
    resolve,
)

DEFAULT_SERVICE_URL = "https://www.kaltura.com"
MAX_SHARDS = 10_000  # an AWS Batch array's largest size


# what Kaltura's docs show after the service URL; the client adds it itself, so a copy of it is cut off
_API_PATHS = ("/api_v3/index.php", "/api_v3")


def _url(text: str) -> str:
    """The service URL without a trailing `/` or a copied `/api_v3[/index.php]`."""
    url = text.strip().rstrip("/")
    for path in _API_PATHS:
        if url.lower().endswith(path):
            url = url[: -len(path)].rstrip("/")
            break
    if not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1]) == 0:
        raise ValueError("is not an http(s) URL: set it to e.g. https://www.kaltura.com")
    userinfo, at, _ = url.split("://", 1)[1].partition("/")[0].rpartition("@")
    if at:
        # the KS is the credential: a password here would only leak into logs (hidden from this message too)
        add_secret(userinfo.partition(":")[2] or userinfo)
        raise ValueError("carries a user name or password: remove them, Kaltura authenticates with the KS")
    return url


def _text(text: str) -> str:
    return text.strip()


def _secret(text: str) -> str:
    secret = text.strip()
    if not secret:
        raise ValueError("is empty: set it to the partner's admin secret (KMC, Integration Settings)")
    return secret


def _user_id(text: str) -> str:
    user = text.strip()
    if not user:
        raise ValueError("is empty: set it to the Kaltura user id the KS is issued to (the old tool's)")
    return user


# The S3 naming rules are imported when a value is parsed, not with this module: importing adapters.s3 loads
# the AWS SDK, which `--help` and runs without AWS_BUCKET (`list`, `count`) never need.


def _bucket(text: str) -> str:
    from adapters.s3.names import bucket_problem

    bucket = text.strip()
    problem = bucket_problem(bucket)
    if problem is not None:
        raise ValueError(problem)
    return bucket


def _s3_prefix(text: str) -> str:
    prefix = text.strip()
    if not prefix:  # the default: the bucket root
        return prefix
    from adapters.s3.names import prefix_problem

    problem = prefix_problem(prefix)
    if problem is not None:
        raise ValueError(problem)
    return prefix


def _shard(text: str) -> tuple[int, int]:
    """K/N as (K, N)."""
    k, sep, n = (part.strip() for part in text.strip().partition("/"))
    if not sep or not _whole(k) or not _whole(n) or not 1 <= int(k) <= int(n) <= MAX_SHARDS:
        raise ValueError(f"is not a shard: set it to K/N with 1 <= K <= N <= {MAX_SHARDS}, e.g. 3/8")
    return int(k), int(n)


def _whole(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _array_index(text: str) -> int:
    index = text.strip()
    if not _whole(index) or int(index) >= MAX_SHARDS:
        raise ValueError(f"is not an array index: AWS Batch sets it to 0 to {MAX_SHARDS - 1}")
    return int(index)


def _shard_bounds(text: str) -> tuple[int, ...]:
    """The cuts between shard windows: ascending Unix seconds, comma-separated."""
    parts = [part.strip() for part in text.split(",")]
    fix = "set it to what `kaltura-archiver shards N` prints"
    if not all(_whole(part) for part in parts):
        raise ValueError(f"is not a list of Unix seconds: {fix}")
    cuts = tuple(int(part) for part in parts)
    if any(b < a for a, b in pairwise(cuts)):
        raise ValueError(f"is not in ascending order: {fix}")
    if len(cuts) >= MAX_SHARDS:
        raise ValueError(f"holds {len(cuts)} cuts, more than {MAX_SHARDS} shards have: {fix}")
    return cuts


_KB = 1024
_RPS_HELP = "Kaltura API requests per second for this task (split a partner's budget between parallel tasks)"
_PART_HELP = (
    "S3 multipart part size (raised as needed to stay under 10,000 parts); "
    "memory is about parts in flight x part size"
)

SETTINGS: tuple[Setting, ...] = (
    # Kaltura
    Setting("partner_id", "KALTURA_PARTNERID", None, positive_int(1), "Kaltura partner id"),
    Setting("secret", "KALTURA_SECRET", None, _secret, "Kaltura admin secret (signs the KS here)",
            secret=True),
    Setting("user_id", "KALTURA_USERID", None, _user_id, "Kaltura user id the KS is issued to"),
    Setting("service_url", "KALTURA_SERVICE_URL", DEFAULT_SERVICE_URL, _url, "Kaltura API base URL"),
    Setting("kaltura_rps", "ARCHIVER_KALTURA_RPS", "10", non_negative_float, _RPS_HELP,
            unit="requests/s", check=in_range(0.1, 1000)),
    Setting("kaltura_in_flight", "ARCHIVER_KALTURA_IN_FLIGHT", "4", positive_int(1, 64),
            "Kaltura API calls in flight at once", unit="calls"),
    Setting("kaltura_timeout_s", "ARCHIVER_KALTURA_TIMEOUT", "120", duration_s,
            "deadline of one Kaltura API call", unit="s", check=in_range(1, 3600)),
    Setting("kaltura_retries", "ARCHIVER_KALTURA_RETRIES", "6", positive_int(1, 20),
            "attempts per Kaltura call on throttling, 5xx and connection errors", unit="attempts"),
    Setting("kaltura_retry_budget_s", "ARCHIVER_KALTURA_RETRY_BUDGET", "300", duration_s,
            "time one Kaltura call may spend retrying", unit="s", check=in_range(1, 86400)),
    Setting("ks_ttl_s", "ARCHIVER_KS_TTL", "24h", duration_s,
            "lifetime of each generated KS (renewed before it expires)", unit="s",
            check=in_range(60, 30 * 86400)),
    # the old tool's job settings
    Setting("n_years", "N_YEARS", "3", positive_int(1, 100),
            "years used by the container scripts' selections (--unplayed_for $N_YEARS)", unit="years"),
    Setting("doit", "DOIT", "false", boolean, "make mutating commands real (a dry run otherwise)",
            own_flag=False, flag="--execute"),
    Setting("aws_bucket", "AWS_BUCKET", None, _bucket, "S3 bucket of the archive (object key = entry id)"),
    Setting("s3_prefix", "ARCHIVER_S3_PREFIX", "", _s3_prefix,
            "put before the entry id in object keys (empty: the bucket root, as the old tool)"),
    Setting("placeholder_video", "PLACEHOLDER_VIDEO", "placeholder_video.mp4", _text,
            "video that replaces archived originals"),
    Setting("placeholder_image", "PLACEHOLDER_IMAGE", "placeholder_image.jpeg", _text,
            "thumbnail set on replaced entries"),
    Setting("ldap_server", "LDAP_SERVER", None, _text, "LDAP server host for ldap_status"),
    Setting("ldap_port", "LDAP_PORT", "389", positive_int(1, 65535), "LDAP server port"),
    Setting("ldap_user", "LDAP_USER", None, _text, "LDAP bind DN"),
    Setting("ldap_password", "LDAP_PWD", None, _text, "LDAP bind password", secret=True),
    Setting("ldap_base_dn", "LDAP_BASE_DN", None, _text, "LDAP search base"),
    # tuning knobs
    Setting("transfers", "ARCHIVER_TRANSFERS", "16", positive_int(1, 64),
            "byte transfers (download to S3) at once; their part buffers share the memory budget",
            unit="transfers"),
    Setting("checkers", "ARCHIVER_CHECKERS", "32", positive_int(1, 128),
            "cheap per-entry checks (S3 head, flavor URL) and finalizers (re-read, tag) at once",
            unit="checks"),
    Setting("part_size", "ARCHIVER_PART_SIZE", "8MiB", byte_size, _PART_HELP, unit="bytes",
            check=in_range(5 * _KB**2, 5 * _KB**3, show=format_bytes)),
    Setting("memory_budget", "ARCHIVER_MEMORY_BUDGET", "512MiB", byte_size,
            "upper bound for the part buffers of all transfers together", unit="bytes",
            check=in_range(16 * _KB**2, None, show=format_bytes)),
    Setting("storage_class", "ARCHIVER_STORAGE_CLASS", "STANDARD",
            choice("STANDARD", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"),
            "S3 storage class of new archive objects (the bucket lifecycle may move them on)"),
    Setting("restore_tier", "ARCHIVER_RESTORE_TIER", "Standard", choice("Expedited", "Standard", "Bulk"),
            "Glacier restore tier"),
    Setting("restore_days", "ARCHIVER_RESTORE_DAYS", "7", positive_int(1, 365),
            "days a Glacier-restored copy stays readable", unit="days"),
    Setting("ready_timeout_s", "ARCHIVER_READY_TIMEOUT", "2h", duration_s,
            "how long to wait for Kaltura to make a new flavor READY", unit="s",
            check=in_range(1, 7 * 86400)),
    Setting("drain_s", "ARCHIVER_DRAIN", "25", duration_s,
            "on SIGTERM/SIGINT, time for work in flight to finish (Fargate kills at 30 s)", unit="s",
            check=in_range(0, 3600)),
    Setting("shard", "ARCHIVER_SHARD", None, _shard, "this task's createdAt window K/N (see `shards`)",
            own_flag=False, flag="--shard"),
    Setting("shards", "ARCHIVER_SHARDS", None, positive_int(1, MAX_SHARDS),
            "number of windows when the shard index comes from AWS_BATCH_JOB_ARRAY_INDEX", own_flag=False),
    Setting("array_index", "AWS_BATCH_JOB_ARRAY_INDEX", None, _array_index,
            "this task's window (0-based) out of ARCHIVER_SHARDS, set by AWS Batch in an array job",
            own_flag=False),
    Setting("shard_bounds", "ARCHIVER_SHARD_BOUNDS", None, _shard_bounds,
            "the N-1 cuts between the windows, as `shards N` prints them (default: each task counts them)",
            unit="Unix s"),
)  # fmt: skip


@dataclass(frozen=True)
class Settings:
    """The resolved settings of one run: built once, passed down, never changed."""

    partner_id: int | None
    secret: str | None = field(repr=False)
    user_id: str | None
    service_url: str
    kaltura_rps: float
    kaltura_in_flight: int
    kaltura_timeout_s: float
    kaltura_retries: int
    kaltura_retry_budget_s: float
    ks_ttl_s: float
    n_years: int
    doit: bool
    aws_bucket: str | None
    s3_prefix: str
    placeholder_video: str
    placeholder_image: str
    ldap_server: str | None
    ldap_port: int
    ldap_user: str | None
    ldap_password: str | None = field(repr=False)
    ldap_base_dn: str | None
    transfers: int
    checkers: int
    part_size: int
    memory_budget: int
    storage_class: str
    restore_tier: str
    restore_days: int
    ready_timeout_s: float
    drain_s: float
    shard: tuple[int, int] | None
    shards: int | None
    array_index: int | None
    shard_bounds: tuple[int, ...] | None

    def require(self, *names: str) -> None:
        """Raise ConfigError naming how to set the first of `names` that is missing."""
        require(SETTINGS, {name: getattr(self, name) for name in names}, *names)


def load_settings(cli: Mapping[str, Any], env: Mapping[str, str]) -> Settings:
    """The run's settings from CLI values (by setting name) over `env` over defaults; ConfigError if bad."""
    return Settings(**resolve(SETTINGS, cli, env))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.common.settings", description=__doc__)
    parser.add_argument("--markdown", action="store_true", help="print the README settings table")
    args = parser.parse_args(argv)
    if args.markdown:
        sys.stdout.write(markdown_table(SETTINGS))
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
