"""Shared pytest set-up: each testbed server contributes its fixtures from its own module."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.kaltura",
    "tests.fixtures.servers",
]
