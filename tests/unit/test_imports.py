"""Imports run one way, jobs -> adapters -> engine (docs/architecture.md, Layers)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SDKS = {"aiohttp", "aioboto3", "aiobotocore", "boto3", "botocore", "ldap3", "KalturaClient"}

# package -> top-level modules it must never import
FORBIDDEN: dict[str, set[str]] = {
    "engine": {"adapters", "jobs", "testbed"} | SDKS,
    "adapters": {"jobs", "testbed"},
    "jobs": {"testbed"} | SDKS,
}
# jobs/demo.py is the one job that starts the local testbed (docs/architecture.md, Testbed)
ALLOWED = {("jobs/demo.py", "testbed")}


def imported_roots(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def violations(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for lineno, root in imported_roots(path):
            if root in FORBIDDEN[package] and (rel, root) not in ALLOWED:
                found.append(f"{rel}:{lineno} imports {root}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_downward(package: str) -> None:
    """engine knows nothing above it; adapters never reach jobs; jobs never touch an SDK directly."""
    assert violations(package) == []


def test_checker_sees_a_backward_import(tmp_path: Path) -> None:
    """The checker itself flags a forbidden import (so the test above can fail)."""
    bad = tmp_path / "mod.py"
    bad.write_text("import aiohttp\nfrom jobs.cli import main\nfrom . import sibling\n", encoding="utf-8")
    assert [root for _, root in imported_roots(bad)] == ["aiohttp", "jobs"]
