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
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import Any

from engine.errors import ConfigError
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
# where the container image puts the placeholder files (the repository's placeholders/ directory)
PLACEHOLDER_DIR = "/usr/local/share/kaltura-archiver"
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


# LDAP: the old tool's defaults (LDAPS on 636, LDAP_USER a uid under its base DN, "active" = its filter)
OLD_LDAP_BASE_DN = "o=princeton university,c=us"
OLD_LDAP_BIND_DN = "uid={user},{base_dn}"
OLD_LDAP_ACTIVE_FILTER = "(|(puresource=authentication=enabled)(puresource=authentication=goingaway))"


def _ldap_host(text: str) -> str:
    host = text.strip()
    if not host or any(c.isspace() or c in "/@" for c in host) or "://" in text:
        raise ValueError("is not a host name: give the server's name only, e.g. ldap.example.edu "
                         "(LDAP_PORT and LDAP_TLS set the rest)")  # fmt: skip
    return host


def _ldap_user(text: str) -> str:
    user = text.strip()
    if not user:
        raise ValueError("is empty: set it to the uid the tool binds as (placed in LDAP_BIND_DN)")
    return user


def _ldap_password(text: str) -> str:
    password = text.strip()
    if not password:  # an empty password makes an anonymous bind: servers accept it, then refuse to read
        raise ValueError("is empty: set it to the bind user's password")
    return password


def _bind_template(text: str) -> str:
    from adapters.ldap import template_problem

    template = text.strip()
    problem = template_problem(template)
    if problem is not None:
        raise ValueError(problem)
    return template


def _dn(text: str) -> str:
    from adapters.ldap import dn_problem

    dn = text.strip()
    problem = dn_problem(dn)
    if problem is not None:
        raise ValueError(problem)
    return dn


def _active_filter(text: str) -> str:
    from adapters.ldap import ActiveFilter

    return ActiveFilter.parse(text).text  # FilterProblem is a ValueError whose text completes the sentence


def _ca_bundle(text: str) -> str:
    import ssl

    path = text.strip()
    try:
        ssl.create_default_context(cafile=path)
    except FileNotFoundError:
        raise ValueError("names no file: give the path of a PEM file of CA certificates") from None
    except (OSError, ssl.SSLError):
        raise ValueError("is no readable PEM file of CA certificates: check the path and the file") from None
    return path


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


def _price(text: str) -> Decimal:
    """A price in USD per GiB-month: a plain decimal number, 0 or more."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError("is not a price: set it to USD per GiB-month, e.g. 0.023") from None
    if not value.is_finite() or value < 0:
        raise ValueError("is not a price: set it to USD per GiB-month, 0 or more, e.g. 0.023")
    return value


# `stats` prices storage with these (USD per GiB-month; AWS's "GB" in S3 storage billing is 2^30 bytes). The
# S3 defaults are AWS's public list prices for us-east-1, first 50 TB, as listed in 2026 (unchanged since
# November 2021). Kaltura publishes no storage price: its default is this tool's assumption, to be replaced
# by the contract's.
_PRICE = "USD/GiB-month"
_KALTURA_PRICE_HELP = (
    "price of storage in Kaltura, for stats (Kaltura publishes none: 0.10 is an assumption; "
    "set your contract's)"
)

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
    Setting("kaltura_batch_calls", "ARCHIVER_KALTURA_BATCH_CALLS", "100", positive_int(2, 500),
            "most calls in one Kaltura multirequest of the workers' small calls (flavor URLs, re-reads, tag "
            "writes); Kaltura documents no limit, 500 is ours", unit="calls"),
    Setting("kaltura_batch_wait_s", "ARCHIVER_KALTURA_BATCH_WAIT", "1", duration_s,
            "longest such a call of s3copy waits for others to share its multirequest (sooner when it is "
            "full, or when no other call came for 0.1 s; 0: only while the rate limit holds it)", unit="s",
            check=in_range(0, 30)),
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
    Setting("placeholder_video", "PLACEHOLDER_VIDEO", f"{PLACEHOLDER_DIR}/placeholder_video.mp4", _text,
            "video that replaces archived originals (placeholders/ in a checkout)"),
    Setting("placeholder_image", "PLACEHOLDER_IMAGE", f"{PLACEHOLDER_DIR}/placeholder_image.jpeg", _text,
            "thumbnail set on replaced entries (placeholders/ in a checkout)"),
    Setting("ldap_server", "LDAP_SERVER", None, _ldap_host, "LDAP server host (ldap_status, owners)"),
    Setting("ldap_port", "LDAP_PORT", "636", positive_int(1, 65535), "LDAP server port (636: LDAPS)"),
    Setting("ldap_tls", "LDAP_TLS", "ldaps", choice("ldaps", "starttls", "plain"),
            "LDAP encryption: ldaps (TLS from the start, as the old tool), starttls, or plain (none)"),
    Setting("ldap_ca_bundle", "LDAP_CA_BUNDLE", None, _ca_bundle,
            "PEM file of the CAs that verify the LDAP server's certificate (default: the system's CAs)"),
    Setting("ldap_user", "LDAP_USER", None, _ldap_user, "LDAP bind user: a uid, placed in LDAP_BIND_DN"),
    Setting("ldap_bind_dn", "LDAP_BIND_DN", OLD_LDAP_BIND_DN, _bind_template,
            "LDAP bind DN template: {user} is LDAP_USER, {base_dn} LDAP_BASE_DN; {user} alone: LDAP_USER is "
            "the whole DN"),
    Setting("ldap_password", "LDAP_PWD", None, _ldap_password, "LDAP bind password", secret=True),
    Setting("ldap_base_dn", "LDAP_BASE_DN", OLD_LDAP_BASE_DN, _dn,
            "LDAP search base (the old tool's default)"),
    Setting("ldap_active_filter", "LDAP_ACTIVE_FILTER", OLD_LDAP_ACTIVE_FILTER, _active_filter,
            "LDAP filter an active account passes (the old tool's default), judged on each person's "
            "attributes: =, =*, substrings, &, |, !"),
    Setting("ldap_timeout_s", "ARCHIVER_LDAP_TIMEOUT", "30", duration_s,
            "deadline of one LDAP connect, bind or search", unit="s", check=in_range(1, 600)),
    # tuning knobs
    Setting("transfers", "ARCHIVER_TRANSFERS", "16", positive_int(1, 64),
            "byte transfers (download to S3) at once; their part buffers share the memory budget",
            unit="transfers"),
    Setting("checkers", "ARCHIVER_CHECKERS", "100", positive_int(1, 256),
            "cheap per-entry checks (S3 head, flavor URL) and finalizers (re-read, tag) at once",
            unit="checks"),
    Setting("part_size", "ARCHIVER_PART_SIZE", "8MiB", byte_size, _PART_HELP, unit="bytes",
            check=in_range(5 * _KB**2, 5 * _KB**3, show=format_bytes)),
    Setting("memory_budget", "ARCHIVER_MEMORY_BUDGET", None, byte_size,
            "upper bound for the part buffers of all transfers together (default: 128MiB, or "
            "ARCHIVER_TRANSFERS x ARCHIVER_PART_SIZE when that is more)", unit="bytes",
            check=in_range(16 * _KB**2, None, show=format_bytes)),
    Setting("storage_class", "ARCHIVER_STORAGE_CLASS", "STANDARD",
            choice("STANDARD", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"),
            "S3 storage class of new archive objects (the bucket lifecycle may move them on)"),
    Setting("restore_tier", "ARCHIVER_RESTORE_TIER", "Standard", choice("Expedited", "Standard", "Bulk"),
            "Glacier restore tier"),
    Setting("restore_days", "ARCHIVER_RESTORE_DAYS", "7", positive_int(1, 365),
            "days a Glacier-restored copy stays readable", unit="days"),
    Setting("restore_url_ttl_s", "ARCHIVER_RESTORE_URL_TTL", "6h", duration_s,
            "life of the presigned GET URL restore_from_s3 --via url gives Kaltura (signed with the run's "
            "AWS credentials: temporary ones end it sooner)", unit="s", check=in_range(60, 7 * 86400)),
    Setting("ready_timeout_s", "ARCHIVER_READY_TIMEOUT", "2h", duration_s,
            "how long to wait for Kaltura to make a new flavor READY", unit="s",
            check=in_range(1, 7 * 86400)),
    Setting("ready_poll_s", "ARCHIVER_READY_POLL", "30", duration_s,
            "longest pause between two polls of the entries waiting for Kaltura (one poll re-reads them all, "
            "batched)", unit="s", check=in_range(0.05, 3600)),
    Setting("replacers", "ARCHIVER_REPLACERS", "8", positive_int(1, 64),
            "placeholder uploads and content replacements at once (replace_video)", unit="entries"),
    Setting("waiting", "ARCHIVER_WAITING", "1000", positive_int(1, 100_000),
            "entries waiting for Kaltura's conversion at once; more wait for room before they are replaced",
            unit="entries"),
    Setting("report_window", "ARCHIVER_REPORT_WINDOW", "10000", positive_int(1, 10_000_000),
            "report rows held back to keep them in listing order while an earlier entry is still at work; "
            "when that many are open, listing waits", unit="rows"),
    Setting("drain_s", "ARCHIVER_DRAIN", "25", duration_s,
            "on SIGTERM/SIGINT, time for work in flight to finish (Fargate kills at 30 s)", unit="s",
            check=in_range(0, 3600)),
    # stats: prices of storage
    Setting("price_kaltura", "ARCHIVER_PRICE_KALTURA", "0.10", _price, _KALTURA_PRICE_HELP, unit=_PRICE),
    Setting("price_standard", "ARCHIVER_PRICE_STANDARD", "0.023", _price,
            "price of S3 STANDARD storage, for stats (us-east-1 list price, 2026)", unit=_PRICE),
    Setting("price_standard_ia", "ARCHIVER_PRICE_STANDARD_IA", "0.0125", _price,
            "price of S3 STANDARD_IA storage, for stats (us-east-1 list price, 2026)", unit=_PRICE),
    Setting("price_glacier_ir", "ARCHIVER_PRICE_GLACIER_IR", "0.004", _price,
            "price of S3 GLACIER_IR storage, for stats (us-east-1 list price, 2026)", unit=_PRICE),
    Setting("price_glacier", "ARCHIVER_PRICE_GLACIER", "0.0036", _price,
            "price of S3 GLACIER (Flexible Retrieval) storage, for stats (us-east-1 list price, 2026)",
            unit=_PRICE),
    Setting("price_deep_archive", "ARCHIVER_PRICE_DEEP_ARCHIVE", "0.00099", _price,
            "price of S3 DEEP_ARCHIVE storage, for stats (us-east-1 list price, 2026)", unit=_PRICE),
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
    kaltura_batch_calls: int
    kaltura_batch_wait_s: float
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
    ldap_tls: str
    ldap_ca_bundle: str | None
    ldap_user: str | None
    ldap_bind_dn: str
    ldap_password: str | None = field(repr=False)
    ldap_base_dn: str
    ldap_active_filter: str
    ldap_timeout_s: float
    transfers: int
    checkers: int
    part_size: int
    memory_budget: int
    storage_class: str
    restore_tier: str
    restore_days: int
    restore_url_ttl_s: float
    ready_timeout_s: float
    ready_poll_s: float
    replacers: int
    waiting: int
    report_window: int
    drain_s: float
    price_kaltura: Decimal
    price_standard: Decimal
    price_standard_ia: Decimal
    price_glacier_ir: Decimal
    price_glacier: Decimal
    price_deep_archive: Decimal
    shard: tuple[int, int] | None
    shards: int | None
    array_index: int | None
    shard_bounds: tuple[int, ...] | None

    def require(self, *names: str) -> None:
        """Raise ConfigError naming how to set the first of `names` that is missing."""
        require(SETTINGS, {name: getattr(self, name) for name in names}, *names)


DEFAULT_MEMORY_BUDGET = 128 * _KB**2


def check_memory_budget(settings: Settings) -> None:
    """ConfigError unless the memory budget holds one part buffer per transfer."""
    needed = settings.transfers * settings.part_size
    if settings.memory_budget < needed:
        raise ConfigError(
            f"ARCHIVER_MEMORY_BUDGET {format_bytes(settings.memory_budget)} cannot hold one part per "
            f"transfer (ARCHIVER_TRANSFERS {settings.transfers} x ARCHIVER_PART_SIZE "
            f"{format_bytes(settings.part_size)}): set ARCHIVER_MEMORY_BUDGET to at least "
            f"{_exact_size(needed)}, or lower ARCHIVER_TRANSFERS or ARCHIVER_PART_SIZE"
        )


def _exact_size(n: int) -> str:
    """`n` bytes as a setting value that is not rounded down: whole MiB when it is, else bytes."""
    mib = 1 << 20
    return f"{n // mib}MiB" if n % mib == 0 else str(n)


def load_settings(cli: Mapping[str, Any], env: Mapping[str, str]) -> Settings:
    """The run's settings from CLI values (by setting name) over `env` over defaults; ConfigError if bad."""
    values = dict(resolve(SETTINGS, cli, env))
    if values["memory_budget"] is None:
        values["memory_budget"] = default_memory_budget(values["transfers"], values["part_size"])
    return Settings(**values)


def default_memory_budget(transfers: int, part_size: int) -> int:
    """`ARCHIVER_MEMORY_BUDGET` when unset: 128 MiB, or one part per transfer when that is more.

    Why 128 MiB: the parts in flight wait for S3, so they fill any budget when S3 (or the CPU) is slower
    than the downloads, with no gain in throughput; 16 transfers of 25 MB/s streams ran as fast within
    128 MiB as within 512 MiB, at 250 MB of RSS instead of 660.
    """
    return max(DEFAULT_MEMORY_BUDGET, transfers * part_size)


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
