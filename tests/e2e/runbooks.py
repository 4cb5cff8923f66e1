"""Helpers for the tests of the container's runbooks (container/*.rc) and entry script: the installed
kaltura-archiver command, a recorder that logs each step's command line and exit code, the exit code a
runbook owes for its steps' codes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.e2e.s3copy_runs import RUN_DEADLINE_S

ROOT = Path(__file__).resolve().parents[2]
CONTAINER = ROOT / "container"
ENTRYPOINT = CONTAINER / "entrypoint"
PLACEHOLDERS = {
    "PLACEHOLDER_VIDEO": str(ROOT / "placeholders" / "placeholder_video.mp4"),
    "PLACEHOLDER_IMAGE": str(ROOT / "placeholders" / "placeholder_image.jpeg"),
}
# the console script of this environment: what the image puts on the PATH
CLI_BIN = Path(sys.executable).parent / "kaltura-archiver"

_RECORDER = """#!/bin/bash
# runs the real command, then logs its exit code and arguments (one line, tab-separated)
"$REAL_KALTURA_ARCHIVER" "$@"
code=$?
printf '%s\\t%s\\n' "$code" "$*" >> "$RECORD"
exit "$code"
"""


def recording(directory: Path) -> dict[str, str]:
    """Environment that makes the runbooks run the real CLI through a recorder writing into `directory`."""
    recorder = directory / "recorder"
    recorder.write_text(_RECORDER, encoding="utf-8")
    recorder.chmod(0o755)
    return {
        "KALTURA_ARCHIVER": str(recorder),
        "REAL_KALTURA_ARCHIVER": str(CLI_BIN),
        "RECORD": str(directory / "record.tsv"),
    }


def recorded(env: dict[str, str]) -> list[tuple[int, str]]:
    """(exit code, arguments) of each step the runbook ran, in order."""
    path = Path(env["RECORD"])
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(int(code), argv) for code, argv in (line.split("\t", 1) for line in lines)]


def owed_exit(codes: Sequence[int]) -> int:
    """A runbook's exit code for its steps' codes: the first that is neither 0 nor 1 (it ended the runbook),
    else 1 if a step reported failed or unhealthy entries, else 0."""
    for code in codes:
        if code not in (0, 1):
            return code
    return max(codes, default=0)


def runbook(name: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`bash -e container/<name>` run to its end."""
    return subprocess.run(
        ["bash", "-e", str(CONTAINER / name)], env=env, cwd=cwd, capture_output=True, text=True,
        timeout=2 * RUN_DEADLINE_S, check=False,
    )  # fmt: skip
