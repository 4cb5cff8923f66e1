"""The `kaltura-archiver` command line: global options, one subcommand per job, exit codes (DESIGN.md §2).

0 all good · 1 some entries failed · 2 usage or configuration error (one line naming the fix, no traceback) ·
3 fatal run error (credentials, bucket) · 130 SIGINT · 143 SIGTERM after draining.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, NoReturn, TextIO

from engine.errors import ArchiverError, ConfigError, FatalError, ItemFailedError, RetryableError
from engine.logs import bind_run, configure_logging, get_logger, new_run_id
from engine.redact import add_secret, redact_text
from engine.settings import help_line, secret_values
from engine.shutdown import Shutdown, handle_signals
from jobs import config, count, demo, download, listing, s3copy
from jobs.context import RunContext, now_s
from jobs.options import add_option
from jobs.settings import SETTINGS, Settings, load_settings

PROG = "kaltura-archiver"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_FATAL, EXIT_SIGINT = 0, 1, 2, 3, 130

Job = Callable[[argparse.Namespace, RunContext], Awaitable[int]]

# subcommand -> (module with add_arguments and run, one-line description)
BUILT: dict[str, tuple[Any, str]] = {
    "config": (config, "check Kaltura credentials and show the settings in use"),
    "list": (listing, "TSV of matching entries (--mode video or flavor)"),
    "count": (count, "#COUNT<TAB>n<TAB><filter> of matching entries"),
    "download": (download, "save one entry's original to a local file"),
    "demo": (demo, "run the whole life cycle against the local testbed"),
    "s3copy": (s3copy, "archive originals to S3, proven, and tag them (dry run unless --execute)"),
}
NOT_BUILT: dict[str, str] = {
    "health": "TSV verdict per entry against the archive invariants",
    "replace_video": "swap in the placeholder video",
    "restore_from_s3": "bring originals back from S3",
    "repair": "fix entries whose health check fails",
    "stats": "counts by year created/played, bytes saved and savable",
    "ldap_status": "add LDAP status of owners to a TSV report",
    "shards": "split a selection into N balanced createdAt windows",
}
LOG_LEVELS = ("CRITICAL", "ERROR", "WARN", "WARNING", "INFO", "DEBUG", "NOTSET")
# settings the command line sets with options of its own
_NO_SETTING_FLAG = {"shard", "shards", "doit"}
# the secrets the AWS standard chain may read from the environment (a task role's never pass through here)
_AWS_SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")

_log = get_logger("jobs.cli")


class UsageError(Exception):
    """argparse found the command line wrong."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that reports a usage error as one line (raised, so `run` decides the exit)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _add_common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """--loglevel and --log-format, valid before and after the subcommand."""
    default = "INFO" if top else argparse.SUPPRESS
    add_option(parser, "--loglevel", "-l", type=str.upper, choices=LOG_LEVELS, default=default,
               help="log level (default INFO)")
    fmt_default = None if top else argparse.SUPPRESS
    add_option(parser, "--log-format", choices=("json", "console"), default=fmt_default,
               help="log lines as JSON or for people (default: console on a terminal, else json)")


def _add_settings(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (command line over environment over default)")
    for setting in SETTINGS:
        if setting.name in _NO_SETTING_FLAG:
            continue
        add_option(group, setting.cli_flag, dest=f"setting_{setting.name}", default=None, metavar="VALUE",
                   help=help_line(setting))


def build_parser() -> Parser:
    parser = Parser(prog=PROG, description="Archive old, unplayed Kaltura video to S3 and report on it.")
    _add_common(parser, top=True)
    subparsers = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", parser_class=Parser)
    subparsers.required = True
    for name, (module, summary) in BUILT.items():
        usage = f"{PROG} {name} [options]"
        sub = subparsers.add_parser(name, help=summary, description=summary, usage=usage)
        _add_common(sub, top=False)
        module.add_arguments(sub)
        _add_settings(sub)
        sub.set_defaults(job=module.run)
    for name, summary in NOT_BUILT.items():
        sub = subparsers.add_parser(name, help=f"{summary} (not built yet)", description=summary)
        sub.set_defaults(job=None)
    return parser


def _cli_settings(args: argparse.Namespace) -> dict[str, Any]:
    prefix = "setting_"
    values = {name[len(prefix) :]: value for name, value in vars(args).items() if name.startswith(prefix)}
    if getattr(args, "shard", None) is not None:
        values["shard"] = args.shard
    return values


def _register_secrets(cli: Mapping[str, Any], env: Mapping[str, str]) -> None:
    """Hand the redactor the run's secrets as given (secret settings, AWS keys in the environment) before
    anything can fail: log events, report rows and the one-line error all pass through it (DESIGN.md §4.8)."""
    given = [cli.get(s.name) for s in SETTINGS if s.secret]
    given += [env.get(s.env) for s in SETTINGS if s.secret and s.env]
    given += [env.get(name) for name in _AWS_SECRET_ENV]
    for value in given:
        if isinstance(value, str):
            add_secret(value.strip())


def _level(name: str) -> str:
    return {"NOTSET": "debug", "WARN": "warning"}.get(name, name).lower()


async def _run_job(job: Job, args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    ctx = RunContext(settings=settings, run_id=new_run_id(), run_start=now_s(), stdout=out, stderr=err)
    bind_run(ctx.run_id, args.command)
    shutdown: Shutdown | None = None
    code: int | None = None
    try:
        async with handle_signals(drain_s=settings.drain_s) as shutdown:
            ctx.shutdown = shutdown
            code = await job(args, ctx)
    except Exception as exc:
        if shutdown is None or not shutdown.cancelled:
            raise
        # the cancellation surfaced as an error on the job's way out: the signal still decides the exit
        return _cut_short(shutdown, error=str(exc))
    if code is None:  # the scope swallowed the cancellation of the job (second signal or drain deadline)
        return _cut_short(shutdown)
    return shutdown.exit_code(default=code)


def _cut_short(shutdown: Shutdown, error: str | None = None) -> int:
    """Log that the job was cancelled before it finished (so its summary is missing); the exit code."""
    name = shutdown.signal.name if shutdown.signal is not None else None
    _log.warning("run.cut_short", signal=name, drain_s=shutdown.drain_s, error=error,
                 hint="cancelled before writing its summary: run it again to finish")  # fmt: skip
    return shutdown.exit_code(default=EXIT_FAILED)


def run(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command line; the exit code. Nothing here calls sys.exit (main does)."""
    env = os.environ if env is None else env
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if args.job is None:  # whatever its options, a subcommand still to come says so and nothing else
            raise ConfigError(f"{args.command} is not built yet: see CHANGELOG.md for what is available")
        cli_values = _cli_settings(args)
        _register_secrets(cli_values, env)
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        settings = load_settings(cli_values, env)
        secrets = secret_values(SETTINGS, vars(settings))
        configure_logging(level=_level(args.loglevel), fmt=args.log_format, stream=err, secrets=secrets)
        return asyncio.run(_run_job(args.job, args, settings, out, err))
    except UsageError as exc:
        return _fail(err, str(exc), EXIT_USAGE)
    except ConfigError as exc:
        return _fail(err, f"{PROG}: {exc}", EXIT_USAGE)
    except ItemFailedError as exc:
        return _fail(err, f"{PROG}: {exc}", EXIT_FAILED)
    except (FatalError, RetryableError) as exc:
        return _fail(err, f"{PROG}: {exc}", EXIT_FATAL)
    except KeyboardInterrupt:
        return EXIT_SIGINT
    except ArchiverError as exc:
        return _fail(err, f"{PROG}: {exc}", EXIT_FATAL)


def _fail(err: TextIO, message: str, code: int) -> int:
    """Report a run-ending error as exactly one line on stderr, secrets redacted; the exit code."""
    lines = message.strip().splitlines()
    err.write(redact_text(lines[0] if lines else f"{PROG}: error") + "\n")
    err.flush()
    return code


def main() -> NoReturn:
    """The console script `kaltura-archiver`."""
    code = run()
    # Every resource is closed by now (the streams are flushed at exit as always). Left to the collector, the
    # ~115,000 objects still tracked (mostly the AWS and Kaltura models) cost 0.15-0.25 s of teardown after a
    # W2 run of `bin/bench`; frozen, they are not collected but simply freed with the process.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    main()
