"""`demo`: the life cycle on the local testbed, the one job that starts it (docs/architecture.md, Testbed)."""

from __future__ import annotations

import argparse
import importlib.util

from engine.errors import ConfigError, FatalError
from jobs.common.context import RunContext
from jobs.common.options import add_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "--entries", type=int, default=300, help="catalog size (default 300)")
    add_option(parser, "--seed", type=int, default=7, help="catalog seed (default 7)")
    add_option(parser, "--max-size-mb", type=float, default=4.0,
               help="cap on the originals' sizes in MB (default 4: moto keeps objects in memory)")


# the container image ships the tool without its testbed (and without the test extras)
NO_TESTBED = (
    "the demo runs on the local testbed, which this installation (the container image) does not ship: "
    "run bin/demo in a checkout of kaltura-archiver (git clone, then bin/demo)"
)


async def run(args: argparse.Namespace, ctx: RunContext) -> int:
    if importlib.util.find_spec("testbed") is None:
        raise ConfigError(NO_TESTBED)
    if importlib.util.find_spec("moto") is None:
        raise ConfigError(
            "the demo needs the test extras: run bin/demo, or pip install 'kaltura-archiver[test]'"
        )
    # imported here: a production install (no test extras) must still start every other subcommand
    from testbed.demo import demo
    from testbed.ldap import SlapdNotInstalled
    from testbed.process import StartError

    try:
        # JSON only when asked for: on a pipe the demo still speaks to a person
        fmt = "json" if args.log_format == "json" else "console"
        return await demo(args.entries, args.seed, args.max_size_mb, ctx.stdout, fmt)
    except SlapdNotInstalled as exc:
        raise ConfigError(str(exc)) from None
    except StartError as exc:
        raise FatalError(f"the testbed did not start: {exc}") from None
