"""README.md shows what the testbed servers really print: the keys of the testbed table, the lines of the
"Try it on the testbed" example (ports aside)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.servers import running_cli

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
_TABLE = README.split("<!-- testbed table:", 1)[1].split("\n\n", 1)[0]
# | `python -m MODULE ARGS` | `key`, `key`, ... |
TABLE_ROWS = re.findall(r"^\| `python -m ([^`]+)` \| (.+) \|$", _TABLE, re.MULTILINE)
_EXAMPLE = README.split("## Try it on the testbed", 1)[1].split("```console\n", 1)[1].split("```", 1)[0]
# $ .venv/bin/python -m MODULE ARGS &   followed by the line it printed
EXAMPLE_RUNS = re.findall(r"^\$ \.venv/bin/python -m (.+?) &\n(\{.*\})$", _EXAMPLE, re.MULTILINE)


def _without_ports(line: dict[str, Any]) -> dict[str, Any]:
    return {k: re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", v) if isinstance(v, str) else v
            for k, v in line.items()}  # fmt: skip


def test_the_readme_has_a_testbed_table_and_an_example() -> None:
    assert len(TABLE_ROWS) == 4
    assert len(EXAMPLE_RUNS) == 2


@pytest.mark.parametrize(("command", "keys"), TABLE_ROWS, ids=[c for c, _ in TABLE_ROWS])
def test_each_testbed_command_prints_the_keys_the_readme_lists(command: str, keys: str) -> None:
    module, *args = shlex.split(command)
    with running_cli(module, *args) as (_proc, line):
        assert list(line) == re.findall(r"`(\w+)`", keys)


@pytest.mark.parametrize(("command", "printed"), EXAMPLE_RUNS, ids=[c for c, _ in EXAMPLE_RUNS])
def test_the_try_it_example_shows_what_the_servers_print(command: str, printed: str) -> None:
    module, *args = shlex.split(command)
    with running_cli(module, *args) as (_proc, line):
        assert _without_ports(line) == _without_ports(json.loads(printed))
