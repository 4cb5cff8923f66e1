"""Both spellings of every long option: `--created_before` also answers to `--created-before`, and the other
way round, so the old tool's runbooks and newer habits both work. Light on imports: the CLI builds its parser
with it before it knows which subcommand (and so which heavy modules) the run needs.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_option(parser: argparse.ArgumentParser | Any, *names: str, **kwargs: Any) -> argparse.Action:
    """`parser.add_argument` with the other spelling (dashes/underscores) of each long name added."""
    spelled: list[str] = []
    for name in names:
        spelled.append(name)
        if name.startswith("--"):
            body = name[2:]
            for other in (body.replace("_", "-"), body.replace("-", "_")):
                if other != body and f"--{other}" not in spelled:
                    spelled.append(f"--{other}")
    if "dest" not in kwargs:
        first_long = next((n for n in names if n.startswith("--")), None)
        if first_long is not None:
            kwargs["dest"] = first_long[2:].replace("-", "_")
    action: argparse.Action = parser.add_argument(*spelled, **kwargs)
    return action
