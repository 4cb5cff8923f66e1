"""Generic machinery of kaltura-archiver: pipeline, pacer, retries, deadlines, progress, shutdown, logs.

Nothing here knows Kaltura or S3; `adapters/` and `jobs/` build on it.
"""

from __future__ import annotations

from engine.deadlines import deadline, poll
from engine.errors import (
    ArchiverError,
    ConfigError,
    DeadlineError,
    FatalError,
    ItemFailedError,
    RetryableError,
    SkippedError,
)
from engine.logs import add_secret, bind_run, configure_logging, get_logger, new_run_id
from engine.pacer import Pacer, PacerStats
from engine.pipeline import Failed, Finish, PipelineResult, Stage, run_pipeline
from engine.progress import Progress, ProgressSnapshot
from engine.retry import RetryPolicy, retry
from engine.settings import Setting, resolve
from engine.shutdown import Shutdown, handle_signals

__all__ = [
    "ArchiverError",
    "ConfigError",
    "DeadlineError",
    "Failed",
    "FatalError",
    "Finish",
    "ItemFailedError",
    "Pacer",
    "PacerStats",
    "PipelineResult",
    "Progress",
    "ProgressSnapshot",
    "RetryPolicy",
    "RetryableError",
    "Setting",
    "Shutdown",
    "SkippedError",
    "Stage",
    "add_secret",
    "bind_run",
    "configure_logging",
    "deadline",
    "get_logger",
    "handle_signals",
    "new_run_id",
    "poll",
    "resolve",
    "retry",
    "run_pipeline",
]
