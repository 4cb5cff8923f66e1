"""The `kaltura-archiver` command line: global options, one subcommand per job, and its exit codes.

Every way a run can end maps to its exit code through one table, `engine.errors.EXIT_CODES`: 0 all good ·
1 some entries failed · 2 usage or configuration error (one line naming the fix, no traceback) · 3 fatal run
error (credentials, bucket) · 130 SIGINT · 141 the report's reader went away · 143 SIGTERM after draining.
A subcommand's module is imported only when that subcommand runs, so `--help` and a bad option answer fast.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import io
import os
import sys
import traceback
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from engine.errors import ConfigError, ExitCode, RetryableError, exit_code_for, primary
from engine.logs import bind_run, configure_logging, get_logger, new_run_id
from engine.redact import add_secret, redact_text
from engine.settings import help_line, secret_values
from engine.shutdown import Shutdown, catch_early_signals, handle_signals
from jobs.common.flags import add_option
from jobs.common.settings import SETTINGS, Settings, load_settings

if TYPE_CHECKING:
    from jobs.common.context import RunContext

PROG = "kaltura-archiver"

Job = Callable[[argparse.Namespace, "RunContext"], Awaitable[int]]

# subcommand -> (module with add_arguments and run, imported when the subcommand runs; one-line description)
BUILT: dict[str, tuple[str, str]] = {
    "config": ("jobs.config", "check Kaltura credentials, the bucket and the placeholder files"),
    "list": ("jobs.listing", "TSV of matching entries (--mode video or flavor)"),
    "count": ("jobs.count", "#COUNT<TAB>n<TAB><filter> of matching entries"),
    "download": ("jobs.download", "save one entry's original to a local file"),
    "demo": ("jobs.demo", "run the whole life cycle against the local testbed"),
    "s3copy": ("jobs.s3copy", "archive originals to S3, proven, and tag them (dry run unless --execute)"),
    "health": ("jobs.health", "TSV verdict per entry against the archive invariants (read-only)"),
    "replace_video": (
        "jobs.replace_video",
        "swap the placeholder in for archived originals, behind a proven copy (dry run unless --execute)",
    ),
    "restore_from_s3": (
        "jobs.restore_from_s3",
        "bring replaced entries' originals back from S3, proven byte for byte (dry run unless --execute)",
    ),
    "stats": ("jobs.stats", "counts by year created/played, bytes and costs in Kaltura and S3 (read-only)"),
    "ldap_status": ("jobs.ldap_status", "add the owner's LDAP status, name and org unit to a TSV report"),
    "owners": ("jobs.owners", "per owner: entries selected, bytes, and LDAP status (TSV or JSON)"),
    "shards": ("jobs.shards", "split a selection into N balanced createdAt windows for N parallel tasks"),
    "repair": (
        "jobs.repair",
        "fix entries whose health check fails, where the fix is safe (dry run unless --execute)",
    ),
}
LOG_LEVELS = ("CRITICAL", "ERROR", "WARN", "WARNING", "INFO", "DEBUG", "NOTSET")
# the secrets the AWS standard chain may read from the environment (a task role's never pass through here)
_AWS_SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")

_log = get_logger("jobs.cli")


class UsageError(ConfigError):
    """argparse found the command line wrong (exit 2, like any bad input)."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that reports a usage error as one line (raised, so `run` decides the exit)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def _add_common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """--loglevel and --log-format, valid before and after the subcommand."""
    default = "INFO" if top else argparse.SUPPRESS
    add_option(
        parser,
        "--loglevel",
        "-l",
        type=str.upper,
        choices=LOG_LEVELS,
        default=default,
        help="log level (default INFO)",
    )
    fmt_default = None if top else argparse.SUPPRESS
    add_option(
        parser,
        "--log-format",
        choices=("json", "console"),
        default=fmt_default,
        help="log lines as JSON or for people (default: console on a terminal, else json)",
    )


def _add_settings(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (command line over environment over default)")
    for setting in SETTINGS:
        if not setting.own_flag:  # set by an option of the command's own (--execute, --shard) or not at all
            continue
        add_option(
            group,
            setting.cli_flag,
            dest=f"setting_{setting.name}",
            default=None,
            metavar="VALUE",
            help=help_line(setting),
        )


def build_parser(only: Collection[str] | None = None) -> Parser:
    """The whole command line; with `only`, just those subcommands get their options (and their modules are
    the only ones imported): the others are listed, so `--help` still names them all."""
    parser = Parser(prog=PROG, description="Archive old, unplayed Kaltura video to S3 and report on it.")
    _add_common(parser, top=True)
    subparsers = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", parser_class=Parser)
    subparsers.required = True
    for name, (module_name, summary) in BUILT.items():
        usage = f"{PROG} {name} [options]"
        sub = subparsers.add_parser(name, help=summary, description=summary, usage=usage)
        if only is not None and name not in only:
            continue
        module = importlib.import_module(module_name)
        _add_common(sub, top=False)
        module.add_arguments(sub)
        _add_settings(sub)
        sub.set_defaults(job=module.run)
    return parser


def _command_of(argv: Sequence[str]) -> tuple[str, ...]:
    """The subcommand named on the command line (the first word that is one), if any."""
    return tuple(word for word in argv if word in BUILT)[:1]


def _cli_settings(args: argparse.Namespace) -> dict[str, Any]:
    prefix = "setting_"
    values = {name[len(prefix) :]: value for name, value in vars(args).items() if name.startswith(prefix)}
    if getattr(args, "shard", None) is not None:
        values["shard"] = args.shard
    return values


def _register_secrets(cli: Mapping[str, Any], env: Mapping[str, str]) -> None:
    """Hand the redactor the run's secrets as given (secret settings, AWS keys in the environment) before
    anything can fail: log events, report rows and the one-line error all pass through it
    (docs/lifecycle.md, safety rule 8)."""
    given = [cli.get(s.name) for s in SETTINGS if s.secret]
    given += [env.get(s.env) for s in SETTINGS if s.secret and s.env]
    given += [env.get(name) for name in _AWS_SECRET_ENV]
    for value in given:
        if isinstance(value, str):
            add_secret(value.strip())


def unrecognized(extra: Sequence[str]) -> str:
    """The usage error for words the parser did not know. Only option names are shown: a value typed after a
    misspelt option may be a secret (`--secrett S`), so values are counted, never echoed."""
    names = [word.split("=", 1)[0] for word in extra if word.startswith("-") and len(word) > 1]
    values = len(extra) - len(names)
    shown = " ".join(names) if names else "no option"
    hidden = f" and {values} value(s), not shown" if values else ""
    return f"unrecognized arguments: {shown}{hidden}"


def _level(name: str) -> str:
    return {"NOTSET": "debug", "WARN": "warning"}.get(name, name).lower()


async def _run_job(job: Job, args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from jobs.common.context import RunContext, now_s  # the Kaltura adapter: only once a job really runs

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
        return _cut_short(shutdown, error=str(primary(exc)))
    if code is None:  # the scope swallowed the cancellation of the job (second signal or drain deadline)
        return _cut_short(shutdown)
    return shutdown.exit_code(default=code)


def _cut_short(shutdown: Shutdown, error: str | None = None) -> int:
    """Log that the job was cancelled before it finished (so its summary is missing); the exit code."""
    name = shutdown.signal.name if shutdown.signal is not None else None
    _log.warning("run.cut_short", signal=name, drain_s=shutdown.drain_s, error=error,
                 hint="cancelled before writing its summary: run it again to finish")  # fmt: skip
    return shutdown.exit_code(default=ExitCode.FAILED)


def run(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command line; the exit code. Nothing here calls sys.exit (main does)."""
    env = os.environ if env is None else env
    argv = sys.argv[1:] if argv is None else list(argv)
    err = stderr or sys.stderr or io.StringIO()  # with stderr closed, the exit code alone tells
    out = stdout or sys.stdout
    if out is None:  # started with stdout closed (`>&-`): Python gives no stream at all
        return ended_by(ConfigError("stdout is closed: give the report somewhere to go, e.g. > report.tsv"),
                        err, logging_on=False)  # fmt: skip
    logging_on = False
    try:
        parser = build_parser(only=_command_of(argv))
        args, extra = parser.parse_known_args(argv)
        cli_values = _cli_settings(args)
        _register_secrets(cli_values, env)
        if extra:
            parser.error(unrecognized(extra))
        settings = load_settings(cli_values, env)
        secrets = secret_values(SETTINGS, vars(settings))
        configure_logging(level=_level(args.loglevel), fmt=args.log_format, stream=err, secrets=secrets)
        logging_on = True
        return asyncio.run(_run_job(args.job, args, settings, out, err))
    except (Exception, KeyboardInterrupt, BaseExceptionGroup) as exc:  # one table decides every exit
        return ended_by(exc, err, logging_on=logging_on)


def ended_by(exc: BaseException, err: TextIO, *, logging_on: bool) -> int:
    """The exit code of a run that `exc` ended, with its one line on stderr (none after an interrupt or
    when the report's reader went away); the trace goes to the DEBUG log only, redacted like every event."""
    error = primary(exc)  # an exception group from a task group is unwrapped here, once
    code = exit_code_for(error)
    if logging_on:
        trace = "".join(traceback.format_exception(exc))
        _log.debug("run.error_trace", error_type=type(error).__name__, trace=trace)
    if code is ExitCode.SIGINT:
        return code
    if code is ExitCode.OUTPUT_CLOSED:
        _quiet_stdout()
        if logging_on:
            _log.warning("run.output_closed", hint="the report's reader stopped reading: the run stopped too")
        return code
    _fail(err, error_line(error))
    return code


def error_line(error: BaseException) -> str:
    """What a person reads about the error that ended the run: one line that says what to do."""
    if isinstance(error, ConfigError | RetryableError) or exit_code_for(error) is not ExitCode.FATAL:
        text = str(error)
        if isinstance(error, RetryableError):
            notes = getattr(error, "__notes__", None) or ["still failing after retries"]
            text += f" ({notes[-1]}): check the service and run again (work done is kept)"
        return f"{PROG}: {text}"
    if isinstance(error, OSError) and error.strerror:
        where = f" {error.filename!r}" if error.filename is not None else ""
        return f"{PROG}: {error.strerror}{where}: check the path, its permissions and free space"
    if type(error).__module__.split(".")[0] in ("engine", "adapters", "jobs"):
        return f"{PROG}: {error}"
    return (
        f"{PROG}: unexpected {type(error).__name__}: {error} "
        "(run again with --loglevel DEBUG for the trace, and report it)"
    )


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so flushing it at exit cannot fail a second time on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (a test's StringIO): nothing left to flush
        pass


def _fail(err: TextIO, message: str) -> None:
    """Report a run-ending error as exactly one line on stderr, secrets redacted."""
    lines = message.strip().splitlines()
    err.write(redact_text(lines[0] if lines else f"{PROG}: error") + "\n")
    err.flush()


def main() -> NoReturn:
    """The console script `kaltura-archiver`."""
    catch_early_signals()  # a SIGTERM during start-up still drains and exits 143 once the job begins
    code = run()
    # Every resource is closed by now (the streams are flushed at exit as always). Left to the collector, the
    # ~115,000 objects still tracked (mostly the AWS and Kaltura models) cost 0.15-0.25 s of teardown after a
    # W2 run of `bin/bench`; frozen, they are not collected but simply freed with the process.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    main()
