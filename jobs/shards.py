"""`shards N [filters]`: the selection split into N createdAt windows of balanced size, for N parallel tasks.

One row per window: `shard` (K/N, what `--shard` takes), `created_from` (inclusive) and `created_before`
(exclusive) in Unix seconds, `entries` (server-side matches as of this run's start) and both bounds as UTC
times. Window 1 is open below; window N is open above (a task takes it up to its own run start, so entries
created after this run fall in it). The TSV ends with `#TOTAL` and `#SHARD_BOUNDS`, the line to hand to
every task (`ARCHIVER_SHARD_BOUNDS=...`) so that all of them use these windows whatever changes meanwhile;
`--format env` prints only the settings an AWS Batch array job needs.

The windows are balanced on the server-side filter (`adapters.kaltura.shards`): `!TAG`, `--plays` and the
exact match of a `--tag` are checked by each task and are not counted. N defaults to ARCHIVER_SHARDS.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from adapters.kaltura.shards import ShardPlan, plan_shards, window_of
from engine.errors import ConfigError
from engine.logs import get_logger
from jobs.common.context import RunContext, connected, require_kaltura
from jobs.common.options import add_filter_options, add_option, filter_spec
from jobs.common.report import ReportWriter
from jobs.common.settings import MAX_SHARDS

COLUMNS = ("shard", "created_from", "created_before", "entries", "from_time", "before_time")
FORMATS = ("tsv", "env")

_log = get_logger("jobs.shards")


def _shard_count(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_SHARDS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of shards: give 1 to {MAX_SHARDS}")
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("n", nargs="?", type=_shard_count, metavar="N",
                        help="number of windows (default: ARCHIVER_SHARDS)")  # fmt: skip
    add_option(parser, "--format", choices=FORMATS, default="tsv",
               help="tsv: the windows and the bounds line; env: ARCHIVER_SHARDS and ARCHIVER_SHARD_BOUNDS "
                    "lines only")  # fmt: skip
    add_filter_options(parser, max_entries=-1, shard=False)


async def run(args: argparse.Namespace, ctx: RunContext) -> int:
    """Print the windows; 0."""
    spec = filter_spec(args)
    n = args.n if args.n is not None else ctx.settings.shards
    if n is None:
        raise ConfigError("shards needs the number of windows: kaltura-archiver shards N [filters]")
    if spec.by_id:
        raise ConfigError(
            "shards with --id/--idfile: ids are not split into createdAt windows; split the id file instead"
        )
    require_kaltura(ctx.settings)
    async with connected(ctx.settings) as (client, _):
        plan = await plan_shards(client, spec, n, run_start=ctx.run_start)
    if spec.client_side:
        _log.info(
            "shards.server_side_balance",
            hint="--tag, !TAG and --plays are checked by each task: the windows are balanced on the "
            "server-side filter, so a task may select fewer entries than its window counts",
        )
    _log.info("shards.planned", shards=n, total=plan.total, bounds=_bounds_text(plan),
              count_requests=plan.requests, run_start=ctx.run_start)  # fmt: skip
    if args.format == "env":
        ctx.stdout.write(f"ARCHIVER_SHARDS={n}\nARCHIVER_SHARD_BOUNDS={_bounds_text(plan)}\n")
        return 0
    writer = ReportWriter(ctx.stdout, COLUMNS, "tsv")
    bounds = plan.bounds()
    for k in range(1, n + 1):
        after, until = window_of(k, n, bounds)
        before = None if until is None else until + 1
        writer.row({
            "shard": f"{k}/{n}", "created_from": after, "created_before": before, "entries": plan.counted(k),
            "from_time": _time(after), "before_time": _time(before),
        })  # fmt: skip
    writer.close()
    ctx.stdout.write(f"#TOTAL\t{plan.total}\t{spec.describe()}\n")
    ctx.stdout.write(f"#SHARD_BOUNDS\tARCHIVER_SHARD_BOUNDS={_bounds_text(plan)}\n")
    return 0


def _bounds_text(plan: ShardPlan) -> str:
    return ",".join(str(cut) for cut in plan.bounds())


def _time(ts: int | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
