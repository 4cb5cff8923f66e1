"""The command line: usage and settings errors exit 2 in one line (secrets masked); signals exit 130/143."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import math
import signal
import subprocess
import sys
import uuid
from collections.abc import MutableMapping
from typing import Any

import anyio
import pytest
import structlog

from engine.errors import ArchiverError, ConfigError, FatalError, RetryableError
from engine.logs import configure_logging
from engine.redact import REDACTED
from jobs import listing
from jobs.cli import BUILT, Job, _run_job, build_parser, ended_by, run
from jobs.common.context import RunContext
from jobs.common.settings import Settings, load_settings


def run_cli(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), env=env or {}, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_every_subcommand_of_the_design_is_known() -> None:
    assert set(BUILT) == {
        "config", "list", "count", "health", "s3copy", "replace_video", "restore_from_s3", "repair",
        "download", "stats", "ldap_status", "owners", "shards", "demo",
    }  # fmt: skip


def test_unknown_option_is_one_line_and_exit_2() -> None:
    code, _, err = run_cli("list", "--no-such-option")
    assert code == 2
    assert err.count("\n") == 1
    assert "--no-such-option" in err


def test_bad_number_in_an_option_is_one_line() -> None:
    code, _, err = run_cli("count", "--unplayed_for", "three")
    assert code == 2
    assert err.count("\n") == 1
    assert "three" in err


def test_bad_number_in_the_environment_is_one_line_naming_the_variable() -> None:
    code, _, err = run_cli("count", env={"ARCHIVER_KALTURA_RPS": "fast"})
    assert (code, err.splitlines()) == (2, [err.strip()])
    assert err.startswith("kaltura-archiver: ARCHIVER_KALTURA_RPS='fast' is not a number")


def test_global_options_go_before_or_after_the_subcommand() -> None:
    parser = build_parser()
    before = parser.parse_args(["-l", "debug", "--log-format", "json", "count"])
    after = parser.parse_args(["count", "--loglevel", "WARN", "--log_format", "console"])
    assert (before.loglevel, before.log_format) == ("DEBUG", "json")
    assert (after.loglevel, after.log_format) == ("WARN", "console")


def test_settings_have_options_both_spellings() -> None:
    args = build_parser().parse_args(["list", "--kaltura-rps", "3", "--kaltura_in_flight", "2"])
    assert (args.setting_kaltura_rps, args.setting_kaltura_in_flight) == ("3", "2")


# -- a run cut short by signals --------------------------------------------------------------------------


def drain_settings(drain_s: str) -> Settings:
    return load_settings({"drain_s": drain_s}, {})


def run_job(job: Job, drain_s: str = "0.05") -> tuple[int, list[MutableMapping[str, Any]]]:
    args = argparse.Namespace(command="s3copy")
    with structlog.testing.capture_logs() as events:
        code = asyncio.run(_run_job(job, args, drain_settings(drain_s), io.StringIO(), io.StringIO()))
    return code, events


def test_work_outliving_the_drain_deadline_exits_143_and_says_the_run_was_cut_short() -> None:
    async def job(_args: argparse.Namespace, ctx: RunContext) -> int:
        assert ctx.shutdown is not None
        ctx.shutdown.request(signal.SIGTERM)
        await anyio.sleep(math.inf)  # in-flight work (or the summary) still running at the deadline
        return 0

    code, events = run_job(job)
    assert code == 143
    (cut,) = [e for e in events if e["event"] == "run.cut_short"]
    assert (cut["log_level"], cut["signal"]) == ("warning", "SIGTERM")


def test_a_second_sigint_cancels_at_once_and_exits_130() -> None:
    async def job(_args: argparse.Namespace, ctx: RunContext) -> int:
        assert ctx.shutdown is not None
        ctx.shutdown.request(signal.SIGINT)
        ctx.shutdown.request(signal.SIGINT)
        await anyio.sleep(math.inf)
        return 0

    code, events = run_job(job, drain_s="3600")
    assert code == 130
    run_events = [e["event"] for e in events if e["event"].startswith("run.")]
    assert run_events == ["run.stopping", "run.aborting", "run.cut_short"]


def test_an_error_on_the_way_out_of_a_cancelled_job_still_exits_with_the_signal() -> None:
    async def job(_args: argparse.Namespace, ctx: RunContext) -> int:
        assert ctx.shutdown is not None
        ctx.shutdown.request(signal.SIGTERM)
        try:
            await anyio.sleep(math.inf)
        finally:
            raise FatalError("connection closed while cancelling")  # the case under test

    code, events = run_job(job)
    assert code == 143
    (cut,) = [e for e in events if e["event"] == "run.cut_short"]
    assert cut["error"] == "connection closed while cancelling"


def test_a_job_that_finishes_within_the_drain_keeps_its_summary_and_exits_143() -> None:
    async def job(_args: argparse.Namespace, ctx: RunContext) -> int:
        assert ctx.shutdown is not None
        ctx.shutdown.request(signal.SIGTERM)
        return 1

    code, events = run_job(job, drain_s="3600")
    assert code == 143
    assert "run.cut_short" not in [e["event"] for e in events]


def test_an_error_without_a_signal_is_not_taken_for_one() -> None:
    async def job(_args: argparse.Namespace, _ctx: RunContext) -> int:
        raise FatalError("bucket gone")

    with pytest.raises(FatalError, match="bucket gone"):
        run_job(job)


# -- secrets never reach the one-line error ---------------------------------------------------------------


def fake_secret(what: str) -> str:
    return f"{what}-{uuid.uuid4().hex}"  # unique: the redactor's registry lives as long as the process


def failing_job(exc: Exception) -> Job:
    async def job(_args: argparse.Namespace, _ctx: RunContext) -> int:
        raise exc

    return job


@pytest.mark.parametrize(
    ("variable", "error", "code"),
    [
        ("KALTURA_SECRET", ConfigError, 2),
        ("KALTURA_SECRET", FatalError, 3),
        ("AWS_SECRET_ACCESS_KEY", FatalError, 3),
        ("AWS_SESSION_TOKEN", ConfigError, 2),
        ("LDAP_PWD", FatalError, 3),
    ],
)
def test_an_error_quoting_a_secret_prints_one_line_with_the_secret_masked(
    monkeypatch: pytest.MonkeyPatch, variable: str, error: type[ArchiverError], code: int
) -> None:
    secret = fake_secret(variable.lower())
    monkeypatch.setattr(listing, "run", failing_job(error(f"rejected credentials {secret} for partner 1")))
    got, out, err = run_cli("list", env={variable: secret})
    assert (got, out) == (code, "")
    assert err == f"kaltura-archiver: rejected credentials {REDACTED} for partner 1\n"


def test_a_secret_on_the_command_line_is_masked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = fake_secret("cli")
    monkeypatch.setattr(listing, "run", failing_job(FatalError(f"bad signature with {secret}")))
    _, _, err = run_cli("list", "--secret", secret)
    assert err == f"kaltura-archiver: bad signature with {REDACTED}\n"


def test_a_settings_error_before_logging_is_configured_masks_the_secret_too() -> None:
    secret = fake_secret("early")
    env = {"KALTURA_SECRET": secret, "KALTURA_SERVICE_URL": f"ftp://{secret}@kaltura.example.edu"}
    code, _, err = run_cli("list", env=env)
    assert code == 2
    assert secret not in err
    assert err.startswith(f"kaltura-archiver: KALTURA_SERVICE_URL='ftp://{REDACTED}@kaltura.example.edu'")


# -- the end of a run: one table, one line ----------------------------------------------------------------


def test_a_misspelt_option_never_echoes_the_value_after_it() -> None:
    code, out, err = run_cli("list", "--secrett", "s3cr3t-value-typed-by-hand", "--oops=also-secret")
    assert (code, out) == (2, "")
    assert err == (
        "kaltura-archiver: unrecognized arguments: --secrett --oops and 1 value(s), not shown "
        "(see kaltura-archiver --help)\n"
    )


def test_help_loads_no_subcommand_module() -> None:
    """`kaltura-archiver --help` answers without importing the Kaltura, AWS or HTTP clients."""
    script = (
        "import sys\nfrom jobs import cli\ntry:\n    cli.run(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('aiohttp', 'KalturaClient', 'aioboto3', 'botocore') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def ended(exc: BaseException) -> tuple[int, str]:
    err = io.StringIO()
    return ended_by(exc, err, logging_on=False), err.getvalue()


def test_a_fatal_error_inside_a_task_group_is_one_line_and_exit_3() -> None:
    fatal = FatalError("s3.head_bucket: the bucket does not exist: check AWS_BUCKET")
    group = BaseExceptionGroup("unhandled errors in a TaskGroup", [asyncio.CancelledError(), fatal])
    line = "kaltura-archiver: s3.head_bucket: the bucket does not exist: check AWS_BUCKET\n"
    assert ended(group) == (3, line)


def test_retries_running_out_name_the_call_and_what_to_do() -> None:
    error = RetryableError("media.list -: HTTP 503")
    error.add_note("gave up on media.list after 6 attempt(s) in 300.0 s")
    assert ended(ExceptionGroup("tg", [error])) == (3, (
        "kaltura-archiver: media.list -: HTTP 503 (gave up on media.list after 6 attempt(s) in 300.0 s): "
        "check the service and run again (work done is kept)\n"
    ))  # fmt: skip


def test_an_os_error_names_the_path_and_the_fix() -> None:
    error = PermissionError(13, "Permission denied", "/proc/0_aaaaaaaa.mp4.part")
    assert ended(error) == (3, (
        "kaltura-archiver: Permission denied '/proc/0_aaaaaaaa.mp4.part': "
        "check the path, its permissions and free space\n"
    ))  # fmt: skip


def test_an_unexpected_error_is_one_line_pointing_at_the_debug_trace() -> None:
    code, err = ended(ExceptionGroup("tg", [ZeroDivisionError("division by zero")]))
    assert code == 3
    assert err == (
        "kaltura-archiver: unexpected ZeroDivisionError: division by zero "
        "(run again with --loglevel DEBUG for the trace, and report it)\n"
    )


def test_a_closed_report_pipe_is_141_with_no_line() -> None:
    assert ended(ExceptionGroup("tg", [BrokenPipeError(32, "Broken pipe")])) == (141, "")


def test_an_interrupt_is_130_with_no_line() -> None:
    assert ended(KeyboardInterrupt()) == (130, "")


def test_the_trace_is_logged_at_debug_only_and_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    secret = f"admin-secret-{uuid.uuid4().hex}"
    err = io.StringIO()
    configure_logging(level="debug", fmt="json", stream=err, secrets=[secret])
    code = ended_by(ExceptionGroup("tg", [FatalError(f"refused with {secret}")]), err, logging_on=True)
    assert code == 3
    lines = err.getvalue().splitlines()
    assert lines[-1] == f"kaltura-archiver: refused with {REDACTED}"
    traces = [json.loads(line) for line in lines if '"run.error_trace"' in line]
    assert len(traces) == 1
    assert traces[0]["level"] == "debug"
    assert "engine.errors.FatalError: refused with" in traces[0]["trace"]
    assert secret not in err.getvalue()
