"""Entry selection: what the user asked for (FilterSpec), split into the server's filter and our own checks.

Semantics (docs/architecture.md, Selection; the old tool's options):
- `created_within N`: created at or after now - N years; `created_before N`: created at or before it.
- `played_within N`: last played at or after now - N years.
- `unplayed_for N`: last played at or before now - N years *or never played*, and created at least N years
  ago (a video uploaded last month has never been played, but is not "unplayed for N years").
- `tags`: every tag must be in the entry's real tag list; the server's word filter (`tagsMultiLikeAnd`) only
  narrows the search, because `foo` there also matches an entry tagged `foo bar`.
- `not_tags` (`!X`) and `plays_below` (`--plays N`: plays < N) are checked by us: Kaltura has no such filter.
- `statuses`: `statusIn` (default `-1 -2 0 1 2 7 4`, so non-READY entries are listed too).
- `category`: `categoryAncestorIdIn`, the category and all its descendants.
- `ids`: the given entries, fetched with `idIn` in chunks (see listing.py).
"Now - N years" is calendar years (29 February becomes 28 February), in UTC.

`check_selection` refuses what Kaltura could not be asked or what selects nothing by construction (years
out of range, contradictory conditions); `entry_id_of` is what an id line or `--id` may hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from KalturaClient.Plugins import Core

from adapters.kaltura.wire import MediaEntry

DEFAULT_STATUSES: tuple[int, ...] = (-1, -2, 0, 1, 2, 7, 4)
# every status an entry can be listed with (DELETED 3 never is): used to tell unknown ids from filtered ones
ALL_STATUSES: tuple[int, ...] = (-2, -1, 0, 1, 2, 4, 5, 6, 7)
KNOWN_STATUSES = frozenset((*ALL_STATUSES, 3))
MEDIA_TYPE_VIDEO = 1
MAX_PAGE_SIZE = 500
ID_CHUNK = 100
MAX_YEARS = 100  # the year options' range is 0..MAX_YEARS (Kaltura is younger; datetime stops at year 1)
# partner-prefix digits, underscore, 8 base-36 characters (0_k3x9ab2q); Kaltura writes them in lower case
ENTRY_ID = re.compile(r"[0-9]+_[0-9a-z]{8}", re.IGNORECASE | re.ASCII)  # ASCII: no K (Kelvin) for k
ENTRY_ID_EXAMPLE = "0_k3x9ab2q"
YEAR_OPTIONS = ("created_within", "created_before", "played_within", "unplayed_for")


@dataclass(frozen=True)
class FilterSpec:
    """The entries a run selects. Years are whole numbers; None means "no such condition"."""

    tags: tuple[str, ...] = ()
    not_tags: tuple[str, ...] = ()
    category: str | None = None
    plays_below: int | None = None
    statuses: tuple[int, ...] = DEFAULT_STATUSES
    created_within: int | None = None
    created_before: int | None = None
    played_within: int | None = None
    unplayed_for: int | None = None
    ids: tuple[str, ...] = ()
    idfile: str | None = None  # a file with one entry id per line (checked whole first, then read lazily)
    media_type: int | None = MEDIA_TYPE_VIDEO
    max_entries: int = -1
    skip: int = 0  # entries to skip first: the old tool's (first_page - 1) * page_size
    page_size: int = MAX_PAGE_SIZE
    extra_created_after: int | None = field(default=None)  # shard windows (inclusive Unix seconds)
    extra_created_until: int | None = field(default=None)

    @property
    def by_id(self) -> bool:
        return bool(self.ids) or self.idfile is not None

    @property
    def client_side(self) -> bool:
        """Whether some condition is checked by us after fetching (so counting needs listing)."""
        return bool(self.tags or self.not_tags or self.plays_below is not None)

    def describe(self) -> str:
        """A one-line, stable description for reports (`#COUNT` lines, logs)."""
        parts: list[str] = []
        for tag in self.tags:
            parts.append(f"tag={tag}")
        for tag in self.not_tags:
            parts.append(f"tag=!{tag}")
        if self.category is not None:
            parts.append(f"category={self.category}")
        if self.plays_below is not None:
            parts.append(f"plays<{self.plays_below}")
        parts.append("status=" + ",".join(str(s) for s in self.statuses))
        for name in ("created_within", "created_before", "played_within", "unplayed_for"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value}")
        if self.ids:
            parts.append("id=" + ",".join(self.ids))
        if self.idfile is not None:
            parts.append(f"idfile={self.idfile}")
        if self.media_type is not None:
            parts.append(f"media_type={self.media_type}")
        if self.extra_created_after is not None or self.extra_created_until is not None:
            parts.append(f"created_window={self.extra_created_after or ''}..{self.extra_created_until or ''}")
        if self.skip:
            parts.append(f"skip={self.skip}")
        if self.max_entries >= 0:
            parts.append(f"max_entries={self.max_entries}")
        return "Filter(" + " ".join(parts) + ")"


def years_ago(now: int, years: int) -> int:
    """Unix seconds of the same UTC calendar instant `years` years before `now` (0 <= years <= MAX_YEARS)."""
    if not 0 <= years <= MAX_YEARS:
        raise ValueError(f"{years} years is out of range: give 0 to {MAX_YEARS}")
    moment = datetime.fromtimestamp(now, UTC)
    year = moment.year - years
    try:
        shifted = moment.replace(year=year)
    except ValueError:  # 29 February in a year without one
        shifted = moment.replace(year=year, day=28)
    return int(shifted.timestamp())


def unplayed_for(entry: MediaEntry, years: int, *, now: int) -> bool:
    """`entry` meets `--unplayed_for years` as of `now`: last played at or before now - years, or never, and
    created at or before it (what the server's filter and the createdAt window select together)."""
    cut = years_ago(now, years)
    played = entry.last_played_at
    return entry.created_at <= cut and (played is None or played <= cut)


@dataclass(frozen=True)
class Window:
    """Inclusive createdAt bounds of a selection, after the snapshot cut-off."""

    lower: int | None
    upper: int | None

    @property
    def empty(self) -> bool:
        return self.lower is not None and self.upper is not None and self.lower > self.upper


def created_window(spec: FilterSpec, *, now: int, snapshot: int | None) -> Window:
    """The createdAt window: the user's bounds, `unplayed_for`'s age condition and the run-start cut-off."""
    lowers: list[int] = []
    uppers: list[int] = []
    if spec.created_within is not None:
        lowers.append(years_ago(now, spec.created_within))
    if spec.created_before is not None:
        uppers.append(years_ago(now, spec.created_before))
    if spec.unplayed_for is not None:
        uppers.append(years_ago(now, spec.unplayed_for))
    if spec.extra_created_after is not None:
        lowers.append(spec.extra_created_after)
    if spec.extra_created_until is not None:
        uppers.append(spec.extra_created_until)
    if snapshot is not None:
        uppers.append(snapshot)
    return Window(max(lowers) if lowers else None, min(uppers) if uppers else None)


def media_filter(
    spec: FilterSpec,
    *,
    now: int,
    statuses: Sequence[int] | None = None,
    ids: Sequence[str] = (),
    created_from: int | None = None,
    created_until: int | None = None,
    with_order: bool = True,
) -> Core.KalturaMediaEntryFilter:
    """The server-side part of `spec` as the official filter object.

    `created_from`/`created_until` are the listing cursor's bounds (they replace the window computed from
    `spec`, which the caller has already folded in); `statuses` overrides the spec's (id look-ups use all).
    """
    f = Core.KalturaMediaEntryFilter()
    if with_order:
        f.orderBy = "+createdAt"
    if spec.media_type is not None:
        f.mediaTypeEqual = spec.media_type
    f.statusIn = ",".join(str(s) for s in (spec.statuses if statuses is None else statuses))
    if ids:
        f.idIn = ",".join(ids)
    if spec.tags:
        f.tagsMultiLikeAnd = ",".join(spec.tags)
    if spec.category is not None:
        f.categoryAncestorIdIn = spec.category
    if spec.played_within is not None:
        f.lastPlayedAtGreaterThanOrEqual = years_ago(now, spec.played_within)
    if spec.unplayed_for is not None:
        f.lastPlayedAtLessThanOrEqualOrNull = years_ago(now, spec.unplayed_for)
    if created_from is not None:
        f.createdAtGreaterThanOrEqual = created_from
    if created_until is not None:
        f.createdAtLessThanOrEqual = created_until
    return f


def server_filter_for_ids(spec: FilterSpec) -> bool:
    """Whether an id selection also needs the server's verdict (category, play dates, tags' word search)."""
    return bool(
        spec.category is not None
        or spec.played_within is not None
        or spec.unplayed_for is not None
        or spec.tags
    )


def accepts(spec: FilterSpec, entry: MediaEntry, *, now: int) -> bool:
    """Our own checks, applied to every listed entry: real tags, negated tags, plays, and (for id
    selections, which the server did not filter by these) status, media type and the createdAt window."""
    if any(not entry.has_tag(tag) for tag in spec.tags):
        return False
    if any(entry.has_tag(tag) for tag in spec.not_tags):
        return False
    if spec.plays_below is not None and entry.plays >= spec.plays_below:
        return False
    if spec.by_id:
        if entry.status not in spec.statuses:
            return False
        if spec.media_type is not None and entry.media_type != spec.media_type:
            return False
        window = created_window(spec, now=now, snapshot=None)
        if window.lower is not None and entry.created_at < window.lower:
            return False
        if window.upper is not None and entry.created_at > window.upper:
            return False
    return True


def check_selection(spec: FilterSpec) -> str | None:
    """Why `spec` cannot be listed or selects nothing by construction, as "<problem>: <fix>"; None if fine."""
    for name in YEAR_OPTIONS:
        value = getattr(spec, name)
        if value is not None and not 0 <= value <= MAX_YEARS:
            return f"--{name} {value} is out of range: give 0 to {MAX_YEARS} years"
    if spec.plays_below is not None and spec.plays_below < 1:
        return "--plays 0 selects nothing (no entry has fewer than 0 plays): give 1 for never-played entries"
    # "within N" reaches back N years, "before/unplayed for M" starts M years back: empty unless N > M
    pairs = (
        ("created_within", "created_before", "be created within the last {n} and more than {m} years ago"),
        ("created_within", "unplayed_for", "be created within the last {n} and at least {m} years ago"),
        ("played_within", "unplayed_for", "be played within the last {n} years and not for {m} years"),
    )
    for recent, old, what in pairs:
        n, m = getattr(spec, recent), getattr(spec, old)
        if n is not None and m is not None and n <= m:
            return (
                f"--{recent} {n} with --{old} {m} selects nothing (an entry cannot "
                + what.format(n=n, m=m)
                + f"): give --{recent} more than {m}, or drop one of them"
            )
    both = sorted({t.lower() for t in spec.tags} & {t.lower() for t in spec.not_tags})
    if both:
        return f"--tag {both[0]} with --tag '!{both[0]}' selects nothing: keep one of them"
    return None


def entry_id_of(line: str) -> str | None:
    """The entry id a line holds (in lower case, as Kaltura writes ids), None for a blank or comment line;
    ValueError if it holds something else. `0_k3x9ab2q  # comment` holds `0_k3x9ab2q`."""
    text = line.split("#", 1)[0].strip()
    if not text:
        return None
    if not ENTRY_ID.fullmatch(text):
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise ValueError(f"{shown!r} is not a Kaltura entry id (like {ENTRY_ID_EXAMPLE})")
    return text.lower()


def id_chunks(lines: Iterable[str], size: int = ID_CHUNK) -> Iterator[tuple[str, ...]]:
    """Ids (one per line; blank lines and `#` comments skipped) in `idIn`-sized chunks, in order, each id
    once. Lazy, so an id file of any length is read a chunk at a time (the caller checks the ids: an id file
    whole beforehand, see `adapters.kaltura.listing.check_id_file`)."""
    seen: set[str] = set()
    chunk: list[str] = []
    for line in lines:
        entry_id = line.split("#", 1)[0].strip()
        if not entry_id or entry_id in seen:
            continue
        seen.add(entry_id)
        chunk.append(entry_id)
        if len(chunk) == size:
            yield tuple(chunk)
            chunk = []
    if chunk:
        yield tuple(chunk)
