"""Shared pytest set-up: each testbed server contributes its fixtures from its own module."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

pytest_plugins = [
    "tests.fixtures.kaltura",
    "tests.fixtures.servers",
]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Each test may configure logging its own way: put structlog, the root logger and contextvars back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:] = handlers
    root.setLevel(level)
