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


def job_imports(path: Path) -> Iterator[tuple[int, str]]:
    """The `jobs` modules `path` imports, as `jobs.x` or `jobs.x.y` (`from jobs import x` included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] if node.module != "jobs" else [f"jobs.{a.name}" for a in node.names]
        else:
            continue
        yield from ((node.lineno, name) for name in names if name.split(".")[0] == "jobs")


def home(module: str) -> str:
    """Where a jobs module belongs: `common`, `lifecycle`, `cli`, or the command it is part of."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "jobs"


def allowed_in_jobs(importer: str, imported: str) -> bool:
    """Inside jobs (docs/architecture.md, Layers): common and lifecycle are below every command; a command
    imports them and its own modules, never another command; the CLI names commands, never imports them."""
    here, there = home(importer), home(imported)
    below = {"common": {"common"}, "lifecycle": {"lifecycle"}, "cli": {"common"}}
    return there in below.get(here, {"common", "lifecycle", here})


def jobs_violations() -> list[str]:
    found = []
    for path in sorted((ROOT / "jobs").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        importer = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        for lineno, imported in job_imports(path):
            if not allowed_in_jobs(importer, imported):
                found.append(f"{rel}.py:{lineno} imports {imported}")
    return found


def test_jobs_commands_share_only_common_and_lifecycle() -> None:
    """jobs/common and jobs/lifecycle import no command; a command imports no other; the CLI imports none."""
    assert jobs_violations() == []


def test_jobs_checker_sees_a_command_importing_another() -> None:
    """The jobs checker flags a command reaching into another, and lets a command use its own package."""
    assert not allowed_in_jobs("jobs.download", "jobs.listing")
    assert not allowed_in_jobs("jobs.common.gate", "jobs.s3copy.plan")
    assert not allowed_in_jobs("jobs.lifecycle", "jobs.common.events")
    assert allowed_in_jobs("jobs.s3copy.stages", "jobs.s3copy.plan")
    assert allowed_in_jobs("jobs.s3copy", "jobs.lifecycle")
