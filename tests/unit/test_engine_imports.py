"""engine/ imports nothing from the layers above it nor their SDKs (docs/architecture.md, Layers)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "engine"
FORBIDDEN = {"adapters", "jobs", "testbed", "aiohttp", "aioboto3", "aiobotocore", "boto3", "botocore",
             "ldap3", "KalturaClient"}  # fmt: skip


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted(ENGINE.glob("*.py")), ids=lambda p: p.name)
def test_engine_module_imports_nothing_from_above(path: Path) -> None:
    assert imported_roots(path) & FORBIDDEN == set()


def test_engine_has_modules_to_check() -> None:
    assert len(list(ENGINE.glob("*.py"))) >= 10
