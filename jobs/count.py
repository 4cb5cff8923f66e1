"""`count`: `#COUNT<TAB>n<TAB><filter>`, as the old tool printed it.

`media.count` answers when the whole filter is the server's; with `--tag`, `!TAG`, `--plays` or ids we count
by listing (our own checks decide). Like the old tool, `--max_entries` and `--first_page` do not limit it.
An id that Kaltura does not know is not counted and makes the exit code 1, as in `list` and `s3copy`.
"""

from __future__ import annotations

import argparse

from adapters.kaltura import ListingStats
from jobs.common.context import RunContext, connected
from jobs.common.options import add_filter_options, filter_spec
from jobs.common.shards import narrowed, shard_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_filter_options(parser, max_entries=-1)


def count_line(count: int, description: str) -> str:
    return f"#COUNT\t{count}\t{description}\n"


async def run(args: argparse.Namespace, ctx: RunContext) -> int:
    spec = filter_spec(args)
    shard = shard_of(ctx.settings, spec)
    stats = ListingStats()
    async with connected(ctx.settings) as (client, _):
        spec = await narrowed(client, spec, shard, run_start=ctx.run_start)
        count = await client.count_entries(spec, run_start=ctx.run_start, stats=stats)
    ctx.stdout.write(count_line(count, spec.describe()))
    return 1 if stats.unknown_ids else 0
