"""Command-line options shared by the subcommands: both spellings of every option, and the filter options.

Every option named with an underscore (`--created_before`) also answers to dashes (`--created-before`) and
the other way round, so the old tool's runbooks and newer habits both work.

Bad input is refused here, before a job connects to anything: `filter_spec` checks every value (the whole id
file included) and refuses selections that select nothing by construction; `require_selection` refuses a
real run of a mutating command that names no selection (`--all` says "everything" on purpose).
"""

from __future__ import annotations

import argparse

from adapters.kaltura.filters import (
    DEFAULT_STATUSES,
    ENTRY_ID,
    ENTRY_ID_EXAMPLE,
    KNOWN_STATUSES,
    MAX_PAGE_SIZE,
    FilterSpec,
    check_selection,
)
from adapters.kaltura.listing import check_id_file
from engine.errors import ConfigError
from engine.logs import get_logger
from engine.settings import byte_size
from jobs.common.flags import (
    add_option as add_option,  # re-exported: the one import subcommands need for options
)

# the options that narrow a selection (dest names); any one of them, or --all, makes a selection explicit
SELECTING = (
    "tag", "category", "plays", "status", "created_within", "created_before", "played_within", "unplayed_for",
    "id", "idfile",
)  # fmt: skip

DEFAULT_MAX_SIZE_KB = 10_000_000  # the old tool's --max-size default (KB, about 10GB)

_log = get_logger("jobs.common.options")


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative: give 0 or more")
    return value


def add_filter_options(
    parser: argparse.ArgumentParser,
    *,
    max_entries: int = -1,
    ids: bool = True,
    mutating: bool = False,
    unplayed_help: str | None = None,
    shard: bool = True,
) -> None:
    """The selection options (docs/architecture.md, Selection), as the old tool spelled them; `mutating` adds
    `--all`; `unplayed_help` says what `--unplayed_for` means to a command that does not filter by it;
    `shard` adds `--shard` (a command that takes it narrows its selection with `jobs.common.shards`)."""
    group = parser.add_argument_group("selection")
    if mutating:
        add_option(
            group,
            "--all",
            action="store_true",
            dest="select_all",
            help="select every entry of the partner (a real run needs this or a filter)",
        )
    add_option(
        group,
        "--tag",
        "-t",
        action="append",
        default=[],
        metavar="TAG",
        help="entries with this tag (repeatable: all of them); !TAG: entries without it",
    )
    add_option(group, "--category", "-c", metavar="ID", help="entries in this category or its sub-categories")
    add_option(
        group, "--plays", type=_non_negative_int, metavar="N", help="entries played fewer than N times"
    )
    add_option(
        group,
        "--status",
        nargs="*",
        metavar="S",
        default=None,
        help="entry statuses (default: " + " ".join(str(s) for s in DEFAULT_STATUSES) + "; 2 = READY)",
    )
    add_option(
        group,
        "--created_within",
        type=_non_negative_int,
        metavar="YEARS",
        help="created within the last YEARS years",
    )
    add_option(
        group,
        "--created_before",
        type=_non_negative_int,
        metavar="YEARS",
        help="created more than YEARS years ago",
    )
    add_option(
        group,
        "--played_within",
        "-p",
        type=_non_negative_int,
        metavar="YEARS",
        help="played within the last YEARS years",
    )
    add_option(
        group,
        "--unplayed_for",
        "-u",
        type=_non_negative_int,
        metavar="YEARS",
        help=unplayed_help
        or "not played for YEARS years (never played included) and created at least YEARS years ago",
    )
    if ids:
        add_option(
            group, "--id", "-i", action="append", default=[], metavar="ID", help="this entry (repeatable)"
        )
        add_option(group, "--idfile", "-I", metavar="FILE", help="entries listed in FILE, one id per line")
    add_option(
        group,
        "--max_entries",
        "-M",
        type=int,
        default=max_entries,
        metavar="N",
        help=f"work on at most N entries (-1 = all; default {max_entries})",
    )
    add_option(
        group,
        "--page_size",
        "-s",
        type=int,
        default=MAX_PAGE_SIZE,
        metavar="N",
        help=f"entries per request (1-{MAX_PAGE_SIZE}; with --first_page, where to start)",
    )
    add_option(
        group,
        "--first_page",
        "-f",
        type=int,
        default=1,
        metavar="N",
        help="start at page N of --page_size entries (old runbooks): skips (N-1) x page_size entries",
    )
    if shard:
        add_option(
            group,
            "--shard",
            metavar="K/N",
            help="only the K-th of N balanced createdAt windows (see `shards`; ARCHIVER_SHARD)",
        )


def _statuses(values: list[str] | None) -> tuple[int, ...]:
    if values is None:
        return DEFAULT_STATUSES
    statuses: list[int] = []
    for value in values:
        for part in value.split(","):
            text = part.strip()
            if not text:
                continue
            try:
                status = int(text)
            except ValueError:
                status = None
            if status is None or status not in KNOWN_STATUSES:
                known = " ".join(str(s) for s in sorted(KNOWN_STATUSES))
                raise ConfigError(f"--status {text!r} is not an entry status: use some of {known}")
            statuses.append(status)
    if not statuses:
        raise ConfigError("--status needs at least one status, e.g. --status 2 (READY)")
    return tuple(dict.fromkeys(statuses))


def filter_spec(args: argparse.Namespace) -> FilterSpec:
    """The FilterSpec of parsed filter options; ConfigError (one line) for values argparse cannot judge."""
    tags: list[str] = []
    not_tags: list[str] = []
    for raw in args.tag:
        tag = raw.strip()
        negated = tag.startswith("!")
        name = tag[1:].strip() if negated else tag
        if not name:
            raise ConfigError(f"--tag {raw!r} names no tag: give --tag TAG or --tag '!TAG'")
        (not_tags if negated else tags).append(name)
    if not 1 <= args.page_size <= MAX_PAGE_SIZE:
        raise ConfigError(f"--page_size {args.page_size} is out of range: give 1 to {MAX_PAGE_SIZE}")
    if args.first_page < 1:
        raise ConfigError(f"--first_page {args.first_page} is out of range: pages start at 1")
    if args.max_entries < -1:
        raise ConfigError(f"--max_entries {args.max_entries} is out of range: give -1 (all) or 0 and more")
    ids = _ids(getattr(args, "id", []) or [])
    idfile = getattr(args, "idfile", None)
    if idfile is not None:
        try:
            check_id_file(idfile)
        except ValueError as exc:
            raise ConfigError(f"--idfile {idfile!r} {exc}") from None
    category = args.category.strip() if args.category is not None else None
    if category is not None and not category.isdigit():  # ('' would select everything, -1 nothing)
        raise ConfigError(f"--category {args.category!r} is not a category id: give its number, e.g. -c 12")
    spec = FilterSpec(
        tags=tuple(tags),
        not_tags=tuple(not_tags),
        category=category,
        plays_below=args.plays,
        statuses=_statuses(args.status),
        created_within=args.created_within,
        created_before=args.created_before,
        played_within=args.played_within,
        unplayed_for=args.unplayed_for,
        ids=ids,
        idfile=idfile,
        max_entries=args.max_entries,
        skip=(args.first_page - 1) * args.page_size,
        page_size=args.page_size,
    )
    problem = check_selection(spec)
    if problem is not None:
        raise ConfigError(problem)
    return spec


def _ids(values: list[str]) -> tuple[str, ...]:
    """The `--id` values, each a Kaltura entry id (in lower case, as Kaltura writes them)."""
    ids: list[str] = []
    for raw in values:
        text = raw.strip()
        if not ENTRY_ID.fullmatch(text):
            raise ConfigError(
                f"--id {raw!r} is not a Kaltura entry id (like {ENTRY_ID_EXAMPLE}): "
                "give the id as Kaltura shows it"
            )
        ids.append(text.lower())
    return tuple(ids)


def selection_options(args: argparse.Namespace) -> list[str]:
    """The selecting options given on the command line (an explicit `--status` counts)."""
    given = []
    for name in SELECTING:
        value = getattr(args, name, None)
        if value is not None and value != [] and value is not False:
            given.append(f"--{name}")
    return given


def require_selection(args: argparse.Namespace, *, real: bool) -> None:
    """Refuse a real run of a mutating command that names no selection (`--all` or a filter), and `--all`
    given together with filters; a dry run without one only warns (it changes nothing, and is the plan)."""
    given = selection_options(args)
    if getattr(args, "select_all", False):
        if given:
            names = " ".join(given)
            raise ConfigError(f"--all with {names}: --all selects every entry; drop it or the filters")
        return
    if given:
        return
    if real:
        raise ConfigError(
            "no selection: a real run would work on every entry of the partner; "
            "give a filter (e.g. --unplayed_for 3, --id, --idfile) or --all"
        )
    hint = "no filter given: this dry run plans every entry of the partner; a real run needs one or --all"
    _log.warning("selection.everything", hint=hint)


def add_max_size_option(parser: argparse.ArgumentParser, what: str) -> None:
    """The old tool's `--max-size` (in KB, `max_size_kb`): `what` says what the limit does in this command."""
    add_option(parser, "--max-size", type=max_size_kb, default=DEFAULT_MAX_SIZE_KB, metavar="SIZE",
               help=f"{what}: a bare number is kilobytes, as in the old tool's runbooks (default "
                    f"{DEFAULT_MAX_SIZE_KB}, about 10GB); or a size with a unit: 10GB, 9.5GiB, "
                    "500MB")  # fmt: skip


def max_size_kb(text: str) -> int:
    """--max-size in KB: a bare whole number is KB (the old tool's unit), a number with a unit a byte size."""
    body = text.strip()
    if body.isdigit():
        kb = int(body)
    elif body[-1:].isalpha():  # a bare fraction ("9.5") is refused: KB or bytes would be a guess
        try:
            kb = byte_size(body) // 1024
        except ValueError:
            raise _not_a_size(text) from None
    else:
        raise _not_a_size(text)
    if kb < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is under 1 KB: give at least 1 (kilobytes) or 1KiB")
    return kb


def _not_a_size(text: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(
        f"{text!r} is not a size: give kilobytes as a whole number (10000000) "
        "or a size with a unit (10GB, 9.5GiB)"
    )
