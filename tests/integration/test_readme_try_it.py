"""README.md's "Try it on the testbed" works as written: its servers started as it shows, each line of its
shell block run by bash in the checkout with the values the servers printed in place of the README's, and
the outcomes its comments claim (read from the README, so text and test stay in step)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from jobs.common.settings import SETTINGS
from tests.fixtures.servers import running_cli

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## Try it on the testbed", 1)[1].split("\n## ", 1)[0]
CONSOLE = SECTION.split("```console\n", 1)[1].split("```", 1)[0]
SHELL = SECTION.split("```sh\n", 1)[1].split("```", 1)[0]
# $ .venv/bin/python -m MODULE ARGS &   followed by the line it printed
STARTS = re.findall(r"^\$ \.venv/bin/python -m (.+?) &\n(\{.*\})$", CONSOLE, re.MULTILINE)
# what a reader's shell would not have: the tool's and AWS's settings; a proxy (loopback must not use one)
_UNSET = ("AWS_", "KALTURA_", "ARCHIVER_", "PLACEHOLDER_", "LDAP_", "DOIT", "N_YEARS")
_PROXIES = ("http_proxy", "https_proxy", "all_proxy")


def _reader_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_UNSET) and k.lower() not in _PROXIES}


@contextlib.contextmanager
def _servers_as_shown() -> Iterator[dict[str, str]]:
    """Start each server as the README does; what to put in place of each value the README shows."""
    swaps: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        for command, printed in STARTS:
            module, *args = shlex.split(command)
            _proc, line = stack.enter_context(running_cli(module, *args))
            shown = json.loads(printed)
            assert list(line) == list(shown), command
            swaps.update({str(shown[key]): str(line[key]) for key in shown if shown[key] != line[key]})
        yield swaps


def _bash(line: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", line], cwd=ROOT, env=dict(env), capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip


def _summary(stdout: str) -> dict[str, int]:
    return {cells[1]: int(cells[2]) for cells in (line.split("\t") for line in stdout.splitlines())
            if cells[0] == "#SUMMARY"}  # fmt: skip


def _comment(line: str) -> str:
    return line.split("   # ", 1)[1] if "   # " in line else ""


def test_the_try_it_section_starts_two_servers_and_shows_what_to_run() -> None:
    assert [shlex.split(c)[0] for c, _ in STARTS] == ["testbed.kaltura_sim", "testbed.s3"]
    commands = [line for line in SHELL.splitlines() if "kaltura-archiver " in line]
    assert [shlex.split(line, comments=True)[1] for line in commands] == ["config", "s3copy"]


@pytest.mark.slow
def test_the_try_it_section_works_as_written() -> None:
    """The exports point the tool at the servers, the bucket is made, `config` fails only for the placeholder
    files, `s3copy --execute` archives and skips as many entries as the README says and a second run finds
    them all unchanged."""
    env = _reader_env()
    with _servers_as_shown() as swaps:
        # in one pass, longest first: a real value that happens to be a shown one is not swapped again
        shown = "|".join(re.escape(s) for s in sorted(swaps, key=len, reverse=True))
        script = re.sub(shown, lambda m: swaps[m[0]], SHELL) if swaps else SHELL
        for line in script.splitlines():
            words = shlex.split(line, comments=True)
            if not words or words[0] == "kill":  # the servers are this test's: they stop with it
                continue
            if words[0] == "export":
                env.update(word.partition("=")[::2] for word in words[1:])
                continue
            done = _bash(line, env)
            _check_claim(line, words, done, env)


def _check_claim(
    line: str, words: list[str], done: subprocess.CompletedProcess[str], env: Mapping[str, str]
) -> None:
    """What the README says of this line's outcome (its comment), checked."""
    said = _comment(line)
    where = f"`{line.strip()}` exited {done.returncode}: {done.stdout[-1500:]}{done.stderr[-1500:]}"
    if "kaltura-archiver" not in words[0]:
        assert done.returncode == 0, where
        return
    if words[1] == "config":
        assert "FAIL for the placeholder files" in said
        rows = dict(row.split("\t", 1) for row in done.stdout.splitlines())
        defaults = [s.default for s in SETTINGS if s.env in ("PLACEHOLDER_VIDEO", "PLACEHOLDER_IMAGE")]
        if not any(Path(str(path)).exists() for path in defaults):
            assert done.returncode == 2, where
            assert rows["placeholder_video"].startswith("FAIL"), where
            assert rows["placeholder_image"].startswith("FAIL"), where
        assert rows["kaltura_credentials"] == "ok", where
        assert rows["aws_bucket"].startswith("ok"), where
        return
    claim = re.fullmatch(r"(\d+) archived, (\d+) skipped; run it again: unchanged", said)
    assert claim is not None, said
    archived, skipped = int(claim[1]), int(claim[2])
    assert done.returncode == 0, where
    assert _summary(done.stdout) == {"archived": archived, "skipped": skipped, "total": archived + skipped}
    again = _bash(line, env)
    assert again.returncode == 0, again.stderr[-1500:]
    assert _summary(again.stdout) == {"unchanged": archived, "skipped": skipped, "total": archived + skipped}
