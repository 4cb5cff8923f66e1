"""Imports run one way, jobs -> adapters -> engine (docs/architecture.md, Layers); test modules never import
one another (what they share lives in helper modules)."""

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


def imported_modules(path: Path, package: str) -> Iterator[tuple[int, str]]:
    """Every module `path` (in dotted `package`) imports, relative imports resolved; `from m import n`
    yields both `m` and `m.n`, since `n` may be a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield node.lineno, module
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def is_test_module(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "tests" and parts[-1].startswith("test_")


def imports_of_test_modules(tests: Path) -> list[str]:
    """`rel:line imports module` for each test module under `tests` that imports another test module."""
    found = []
    for path in sorted(tests.rglob("test_*.py")):
        rel = path.relative_to(tests.parent)
        package = ".".join(rel.parent.parts)
        found += [
            f"{rel.as_posix()}:{lineno} imports {module}"
            for lineno, module in imported_modules(path, package)
            if is_test_module(module)
        ]
    return found


def test_no_test_module_imports_another_test_module() -> None:
    """What tests share lives in helper modules (tests/fixtures, tests/integration/simapi.py, ...)."""
    assert imports_of_test_modules(ROOT / "tests") == []


def test_checker_sees_a_test_module_imported(tmp_path: Path) -> None:
    """The checker flags a test module imported by name, from its package, or relatively; not a helper."""
    package = tmp_path / "tests" / "integration"
    package.mkdir(parents=True)
    (package / "test_mod.py").write_text(
        "from tests.integration.test_a import x\n"
        "import tests.unit.test_b\n"
        "from tests.e2e import test_c\n"
        "from .test_d import y\n"
        "from . import test_e\n"
        "from tests.integration.simapi import client_for\n"
        "from tests.e2e import s3copy_runs\n",
        encoding="utf-8",
    )
    assert imports_of_test_modules(tmp_path / "tests") == [
        "tests/integration/test_mod.py:1 imports tests.integration.test_a",
        "tests/integration/test_mod.py:2 imports tests.unit.test_b",
        "tests/integration/test_mod.py:3 imports tests.e2e.test_c",
        "tests/integration/test_mod.py:4 imports tests.integration.test_d",
        "tests/integration/test_mod.py:5 imports tests.integration.test_e",
    ]


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
    """Inside jobs (docs/architecture.md, Layers): lifecycle is below common, both below every command; a
    command imports them and its own modules, never another command; the CLI names commands, never imports
    them."""
    here, there = home(importer), home(imported)
    below = {"common": {"common", "lifecycle"}, "lifecycle": {"lifecycle"}, "cli": {"common"}}
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
    """jobs/common and jobs/lifecycle import no command, lifecycle nothing of common; a command imports no
    other; the CLI imports none."""
    assert jobs_violations() == []


def test_jobs_checker_sees_a_command_importing_another() -> None:
    """The jobs checker flags a command reaching into another, and lets a command use its own package."""
    assert not allowed_in_jobs("jobs.download", "jobs.listing")
    assert not allowed_in_jobs("jobs.common.gate", "jobs.s3copy")
    assert not allowed_in_jobs("jobs.lifecycle", "jobs.common.events")
    assert allowed_in_jobs("jobs.repair.stages", "jobs.repair.plan")
    assert allowed_in_jobs("jobs.s3copy", "jobs.lifecycle")
