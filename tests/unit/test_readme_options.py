"""Every option README.md names is one the real command line takes: the settings table's, the commands shown
in its code blocks (parsed whole) and each option its prose gives a command."""

from __future__ import annotations

import argparse
import io
import re
import shlex
from pathlib import Path

import pytest

from jobs.cli import BUILT, UsageError, build_parser, run
from testbed.kaltura_sim.runner import parse_args as sim_parse_args

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SPAN = re.compile(r"`([^`\n]+)`")
# an option word: -x or --word, not inside another word (`ka-sha256`, `apt-get`)
FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
TESTBED_SECTIONS = ("Try it on the testbed", "Testbed")
# `--name` in "Command line (`--name`) over environment": the settings table's column, no option
PLACEHOLDERS = {"--name"}
# the legacy spellings of --execute of each mutating command (README: "Everything that mutates …")
LEGACY_EXECUTE = {"--s3copy": "s3copy", "--replace": "replace_video", "--restore": "restore_from_s3",
                  "--repair": "repair"}  # fmt: skip
COMMANDS = set(BUILT)


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    """Each built subcommand's parser, as `kaltura-archiver` builds it."""
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {name: sub for name, sub in actions[0].choices.items() if name in BUILT}


SUBPARSERS = _subparsers()
TOP = build_parser()


def _takes(parser: argparse.ArgumentParser, flag: str) -> argparse.Action | None:
    """The action of `flag` when `parser` has exactly that option (an abbreviation argparse would accept
    is no option of the README's)."""
    return parser._option_string_actions.get(flag)


def _prose_and_code(section: str) -> tuple[str, list[str]]:
    """A section's text outside code blocks, and the lines inside them."""
    parts = section.split("```")
    code = [line for block in parts[1::2] for line in block.splitlines()[1:]]
    return "\n".join(parts[0::2]), code


def _sections() -> dict[str, str]:
    return {part.split("\n", 1)[0].strip(): part for part in README.split("\n## ")[1:]}


def _owner_of(span: str, owner: str) -> tuple[str, str]:
    """Who takes the options of `span`, and who takes those of the spans after it in the same sentence."""
    words = span.split()
    first = words[0] if words else ""
    if first in COMMANDS:
        return first, first
    if first == "bin/bench":
        return "bench", owner
    if first == "kaltura-archiver":
        return "top", owner
    if words[:2] == ["python", "-m"] and len(words) > 2:
        return f"module:{words[2]}", owner
    return owner, owner


def _mentions() -> list[tuple[str, str, str]]:
    """(owner, option, where) for each option the README's prose names. The owner is the command a sentence
    or table row is about: the last command that began one of its spans (`s3copy` options: `--execute`; `stats
    [selection] [--chart FILE.html]`), the module of `python -m MODULE …`, bin/bench, `testbed` in the
    testbed's sections, else `any` (some command must take it)."""
    found = []
    for title, section in _sections().items():
        prose, _ = _prose_and_code(section)
        for sentence in re.split(r"\n\s*\n|\n(?=\|)|(?<=[.!?])\s+(?=[A-Z`])", prose):
            owner = "testbed" if title in TESTBED_SECTIONS else "any"
            for span in SPAN.findall(sentence):
                this, owner = _owner_of(span, owner)
                found += [(this, flag, span) for flag in FLAG.findall(span)]
    return found


MENTIONS = _mentions()
COMMAND_LINES = [
    line
    for section in _sections().values()
    for line in _prose_and_code(section)[1]
    if re.search(r"(^|[\s/])kaltura-archiver\s", line)
]


def _argv(line: str) -> list[str]:
    """The words after `kaltura-archiver` on a shell line, its comment and redirection left out."""
    words = shlex.split(line.removeprefix("$ "), comments=True)
    start = next(i for i, w in enumerate(words) if w.endswith("kaltura-archiver")) + 1
    argv = []
    for word in words[start:]:
        if word in ("|", "&&", ";") or word.startswith(">"):
            break
        argv.append(word)
    return argv


def test_the_readme_names_options_and_shows_commands() -> None:
    assert len(MENTIONS) > 60
    assert len(COMMAND_LINES) >= 10
    assert {owner for owner, _, _ in MENTIONS} >= {"s3copy", "stats", "ldap_status", "download", "any"}


@pytest.mark.parametrize("line", COMMAND_LINES)
def test_each_command_line_of_the_readme_parses_as_written(line: str) -> None:
    argv = _argv(line)
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        pytest.fail(f"README shows `{line.strip()}`, the parser refuses it: {exc}")
    assert args.command in BUILT, f"{args.command} is shown in the README but is no command"


@pytest.mark.parametrize(("owner", "flag", "span"), MENTIONS, ids=[f"{o}:{f}" for o, f, _ in MENTIONS])
def test_each_option_the_readme_names_is_taken_by_its_command(owner: str, flag: str, span: str) -> None:
    if flag in PLACEHOLDERS or flag in ("-h", "--help"):
        return
    if owner == "testbed":
        sim_parse_args([flag, "1"])  # argparse exits 2 on an option it does not know
        return
    if owner == "bench":
        assert flag in (ROOT / "bin" / "bench").read_text(encoding="utf-8")
        return
    if owner.startswith("module:"):
        assert flag in _source(owner.removeprefix("module:")), f"README (`{span}`): {flag}"
        return
    if flag in LEGACY_EXECUTE:
        owner = LEGACY_EXECUTE[flag]  # each command has its own legacy spelling of --execute
    by_owner: dict[str, list[argparse.ArgumentParser]] = {"top": [TOP]}
    by_owner.update({name: [sub] for name, sub in SUBPARSERS.items()})
    parsers = by_owner.get(owner, [TOP, *SUBPARSERS.values()])
    actions = [a for a in (_takes(p, flag) for p in parsers) if a is not None]
    assert actions, f"README (`{span}`) names {flag} for {owner}, which has no such option"
    _check_values(flag, span, actions)


def _source(module: str) -> str:
    """The text of `python -m MODULE`'s code: its file, or every file of its package (whose parser may be in
    any of them)."""
    path = ROOT.joinpath(*module.split("."))
    files = sorted(path.glob("*.py")) if path.is_dir() else [path.with_suffix(".py")]
    return "".join(f.read_text(encoding="utf-8") for f in files)


def _check_values(flag: str, span: str, actions: list[argparse.Action]) -> None:
    """Values the README gives an option of fixed choices (`--format tsv|json|jsonl`) are among them."""
    given = re.search(rf"(?<![\w-]){re.escape(flag)}[ =]([a-z|]+)(?=$|[\s\]])", span)
    choices = [set(a.choices) for a in actions if a.choices is not None]
    if given is None or not choices:
        return
    values = set(given.group(1).split("|"))
    assert any(values <= c for c in choices), f"README (`{span}`): {values} not among {choices}"


@pytest.mark.parametrize("flag", ["--doit", "--shards"])
def test_s3copy_refuses_doit_and_shards_and_the_readme_names_neither(flag: str) -> None:
    """`DOIT=true` and `ARCHIVER_SHARDS` are environment variables (`--execute` and `--shard K/N` the
    options): `s3copy --doit` and `s3copy --shards 8` exit 2 naming the option; no README line shows them."""
    named = flag in {f for _, f, _ in MENTIONS} or any(flag in _argv(line) for line in COMMAND_LINES)
    assert not named, f"the README names {flag}, which s3copy refuses"
    err = io.StringIO()
    argv = ["s3copy", flag, "8"] if flag == "--shards" else ["s3copy", flag]
    assert run(argv, env={}, stdout=io.StringIO(), stderr=err) == 2
    assert f"unrecognized arguments: {flag}" in err.getvalue()
