"""Structured logging: one ordered list of small structlog processors, configured once, with redaction.

Events are dicts with a name (`entry.archived`, `progress`, …). They go to stderr as JSON lines when it is
not a terminal (CloudWatch: every key, null ones and the `_aws` EMF block included) and as readable console
lines on one (keys without a value and the EMF block left out: they are for machines). Every event passes
the redactor last before rendering, so secrets (registered values, secret-looking keys, Kaltura KS and AWS
secret-key patterns) never reach a log line, exception text included. Third-party `logging` records take the
same road.
"""

from __future__ import annotations

import logging
import sys
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TextIO, cast

import structlog
from structlog.typing import EventDict, FilteringBoundLogger, Processor, WrappedLogger

from engine.errors import ConfigError
from engine.redact import REDACTED, add_secret, redact_event, redact_text

__all__ = [
    "REDACTED",
    "add_secret",
    "bind_run",
    "configure_logging",
    "get_logger",
    "new_run_id",
    "redact_text",
    "set_status_line",
    "write_status",
]

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40, "critical": 50}
_FORMATS = ("json", "console")
_HANDLER_MARK = "_kaltura_archiver_handler"

# A status line (the progress bar) stays at the bottom of its terminal: log lines are written above it.
_write_lock = threading.Lock()
_status: dict[int, Callable[[], str]] = {}
_CLEAR_LINE = "\r\x1b[K"


def set_status_line(stream: TextIO, render: Callable[[], str] | None) -> None:
    """Keep `render()` as the last line of `stream` (None removes it): log lines get written above it."""
    with _write_lock:
        if render is None:
            _status.pop(id(stream), None)
        else:
            _status[id(stream)] = render


def write_status(stream: TextIO, text: str, *, final: bool = False) -> None:
    """Redraw the status line of `stream` with `text` (ending it with a newline when `final`)."""
    with _write_lock:
        _write(stream, _CLEAR_LINE + text + ("\n" if final else ""))


def _write_line(stream: TextIO, line: str) -> None:
    with _write_lock:
        render = _status.get(id(stream))
        _write(stream, _CLEAR_LINE + line + "\n" + render() if render else line + "\n")


def _write(stream: TextIO, text: str) -> None:
    try:
        stream.write(text)
        stream.flush()
    except (BrokenPipeError, ValueError):  # reader gone or stream closed at exit: logging must not crash us
        pass


class _LineLogger:
    """The structlog logger: writes each rendered event as one line, under the status line if any."""

    def __init__(self, stream: TextIO, name: str | None = None) -> None:
        self._stream = stream
        self.name = name

    def msg(self, message: str) -> None:
        _write_line(self._stream, message)

    log = debug = info = warn = warning = err = error = critical = exception = failure = fatal = msg


class _LineLoggerFactory:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __call__(self, *args: Any) -> _LineLogger:
        return _LineLogger(self._stream, str(args[0]) if args else None)


class _LineHandler(logging.Handler):
    """Routes third-party `logging` records through the same processors and writer."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _write_line(self._stream, self.format(record))
        except Exception:
            self.handleError(record)


_LEADING_KEYS = ("timestamp", "level", "event", "logger", "run_id", "job")


def _redact(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    clean = redact_event(event_dict)
    # the fixed keys first, so a JSON line reads like a log line
    return {**{k: clean[k] for k in _LEADING_KEYS if k in clean}, **clean}


def _add_logger_name(logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    name = getattr(logger, "name", None)
    if name:
        event_dict.setdefault("logger", name)
    return event_dict


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


# keys a console line leaves out: the CloudWatch Embedded Metric Format directive (CloudWatch reads it)
_MACHINE_KEYS = frozenset({"_aws"})


def _for_people(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """A console line's keys: those with a value, without the EMF directive (`attempt=None error=None` and
    a page of metric declarations say nothing to someone at a terminal)."""
    return {k: v for k, v in event_dict.items() if v is not None and k not in _MACHINE_KEYS}


def _renderers(fmt: str, stream: TextIO) -> list[Processor]:
    """The last processors of the chain: those that turn an event dict into its line."""
    if fmt == "json":
        return [structlog.processors.JSONRenderer(sort_keys=False, default=repr)]
    return [_for_people, structlog.dev.ConsoleRenderer(colors=_isatty(stream))]


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def configure_logging(
    *,
    level: str = "info",
    fmt: str | None = None,
    stream: TextIO | None = None,
    secrets: Iterable[str] = (),
) -> None:
    """Configure structlog (and the stdlib root logger) for this process; calling again reconfigures.

    `fmt` None picks JSON unless `stream` (default stderr) is a terminal. `secrets` are added to the
    redactor's registry (which only grows).
    """
    min_level = _LEVELS.get(level.strip().lower())
    if min_level is None:
        raise ConfigError(f"--loglevel={level!r} is not a log level: set it to debug, info, warning or error")
    if fmt is not None and fmt not in _FORMATS:
        raise ConfigError(f"--log-format={fmt!r} is not a log format: set it to json or console")
    out = stream if stream is not None else sys.stderr
    for secret in secrets:
        add_secret(secret)
    renderers = _renderers(fmt or ("console" if _isatty(out) else "json"), out)
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,  # before redaction: exception text may quote a secret
            _redact,
            *renderers,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(min_level),
        context_class=dict,
        logger_factory=_LineLoggerFactory(out),
        # not cached: module-level loggers made before this call must follow it (and structlog.testing)
        cache_logger_on_first_use=False,
    )
    _configure_stdlib(out, renderers)


def _configure_stdlib(stream: TextIO, renderers: list[Processor]) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
    handler = _LineHandler(stream)
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*_shared_processors(), structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _redact,
                *renderers,
            ],
        )
    )
    root.addHandler(handler)
    # libraries (botocore, aiohttp) speak only for warnings and worse: their debug output is noise here
    root.setLevel(logging.WARNING)


def get_logger(name: str) -> FilteringBoundLogger:
    """A logger whose events carry `logger=name`; it follows later `configure_logging` calls."""
    # the name goes to the logger factory (a `logger=` initial value would clash with structlog's signature)
    return cast(FilteringBoundLogger, structlog.get_logger(name))


def bind_run(run_id: str, job: str) -> None:
    """Bind `run_id` and `job` to every event of this context (and of tasks started from it)."""
    structlog.contextvars.bind_contextvars(run_id=run_id, job=job)


def new_run_id() -> str:
    """A run id that sorts by start time: 20260101T120000Z-1a2b3c4d."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
