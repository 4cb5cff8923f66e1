"""Deterministic catalog generator: N Kaltura entries over M years with realistic sizes, plays and edge cases.

The same (n, seed, now, options) always yields the same catalog. Records are immutable named tuples so that
100,000 entries stay small; the simulator copies them into its own mutable model.
"""

from __future__ import annotations

import gc
import math
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

# 2026-11-01T00:00:00Z: catalogs are reproducible because "now" is fixed unless the caller gives one.
DEFAULT_NOW = 1793491200
YEAR_S = 365 * 86400
TOO_BIG_KB = 10_000_000
EDGE_MIN_N = 50
BURST_MIN_N = 1000
BURST_SIZE = 600
EDGE_PER_CASE = 3

ENTRY_STATUS_READY = "2"
MEDIA_VIDEO, MEDIA_IMAGE, MEDIA_AUDIO = 1, 2, 5
FLAVOR_READY = 2


class FlavorParams(NamedTuple):
    """A conversion profile member: what a flavor of these params looks like."""

    id: int
    name: str
    tags: str
    width: int
    height: int
    bitrate: int  # kbit/s
    size_ratio: float  # typical size relative to the source


SOURCE_PARAMS_ID = 0
FLAVOR_PARAMS: dict[int, FlavorParams] = {
    p.id: p
    for p in (
        FlavorParams(0, "Source", "source", 1920, 1080, 8000, 1.0),
        FlavorParams(487, "Basic/Small - WEB/MBL (H264/400)", "mobile,web,mbr,iphone", 640, 360, 400, 0.06),
        FlavorParams(488, "Basic/Small - WEB/MBL (H264/600)", "mobile,web,mbr,iphone", 640, 360, 600, 0.09),
        FlavorParams(489, "SD/Small - WEB/MBL (H264/900)", "mobile,web,mbr,iphone", 640, 360, 900, 0.13),
        FlavorParams(490, "SD/Large - WEB/MBL (H264/1500)", "web,mbr,ipad", 1280, 720, 1500, 0.2),
        FlavorParams(491, "HD/720 - WEB (H264/2500)", "web,mbr", 1280, 720, 2500, 0.33),
        FlavorParams(492, "HD/1080 - WEB (H264/4000)", "web,mbr", 1920, 1080, 4000, 0.5),
    )
}
DERIVED_PARAMS_IDS = (487, 488, 489, 490, 491, 492)
# What a new upload or a replacement converts to (the partner's default conversion profile).
DEFAULT_CONVERSION_PARAMS = (0, 487, 489, 491)

TAG_VOCABULARY = (
    "foo",
    "football",
    "foo bar",
    "lecture",
    "lectures",
    "math",
    "mathematics",
    "physics",
    "seminar",
    "graduation",
    "campus tour",
    "research",
    "webinar",
    "interview",
    "chemistry",
    "keynote",
    "lab safety",
)
_TOPICS = ("Physics", "Mathematics", "Chemistry", "History", "Biology", "Economics", "Law", "Music")
_KINDS = ("lecture", "seminar", "interview", "recording", "webinar", "keynote")
_CATEGORY_TREE = {
    "MediaSpace": {
        "Faculties": {
            "Science": ("Physics", "Chemistry", "Biology"),
            "Humanities": ("History", "Philosophy"),
        },
        "Events": {"Graduation": ("2019", "2023"), "Open Day": ()},
    },
    "Archive": {"Legacy": {"Imported": ("Batch 1", "Batch 2")}},
}
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_PAIRS = tuple(a + b for a in _ALPHABET for b in _ALPHABET)
_ID_SPACE = 36**8
_STATUS_WEIGHTS = (("2", 930), ("-1", 15), ("-2", 10), ("0", 10), ("1", 10), ("4", 10), ("7", 15))


class Category(NamedTuple):
    id: int
    name: str
    parent_id: int | None
    full_name: str  # "MediaSpace>Faculties>Science"
    depth: int  # 1 for a root


class CatalogFlavor(NamedTuple):
    id: str
    flavor_params_id: int
    is_original: bool
    status: int
    content_size: int  # bytes actually served
    size_kb: int  # the "size" field (KB, rounded inconsistently as Kaltura does)
    size_in_bytes: int  # the "sizeInBytes" field (0 on some old assets)
    version: str
    file_ext: str
    created_at: int


class CatalogEntry(NamedTuple):
    id: str
    name: str
    user_id: str
    tags: str  # normalised: "a, b, c"
    categories_ids: tuple[int, ...]
    status: str
    media_type: int
    created_at: int
    updated_at: int
    plays: int
    views: int
    last_played_at: int | None
    duration: int  # seconds
    flavors: tuple[CatalogFlavor, ...]


@dataclass
class Catalog:
    """The generated entries (ordered by createdAt, then id), categories and named edge cases."""

    partner_id: int
    seed: int
    now: int
    entries: list[CatalogEntry]
    categories: list[Category]
    edge_cases: dict[str, list[str]] = field(default_factory=dict)
    users: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.entries)

    def summary(self) -> dict[str, Any]:
        """Counts by status and by year created, total bytes (all flavors and sources), never played."""
        by_status = Counter(e.status for e in self.entries)
        by_year = Counter(datetime.fromtimestamp(e.created_at, UTC).year for e in self.entries)
        total = sum(f.content_size for e in self.entries for f in e.flavors)
        sources = sum(f.content_size for e in self.entries for f in e.flavors if f.is_original)
        return {
            "entries": len(self.entries),
            "by_status": dict(sorted(by_status.items())),
            "by_year": dict(sorted(by_year.items())),
            "total_bytes": total,
            "source_bytes": sources,
            "never_played": sum(1 for e in self.entries if e.last_played_at is None),
            "edge_cases": {k: len(v) for k, v in self.edge_cases.items()},
        }


def build_categories() -> list[Category]:
    """The fixed category tree (depth 4), ids from 101 in depth-first order."""
    out: list[Category] = []

    def walk(node: dict[str, Any] | tuple[str, ...], parent: Category | None) -> None:
        names = list(node)
        for name in names:
            full = name if parent is None else f"{parent.full_name}>{name}"
            cat = Category(
                101 + len(out),
                name,
                None if parent is None else parent.id,
                full,
                1 if parent is None else parent.depth + 1,
            )
            out.append(cat)
            if isinstance(node, dict):
                walk(node[name], cat)

    walk(_CATEGORY_TREE, None)
    return out


def normalise_tags(raw: str) -> str:
    """Kaltura's tag normalisation: split on ",", trim, lower-case, drop tags under 2 chars, de-duplicate.

    Tags are re-joined with ", ".
    """
    seen: dict[str, None] = {}
    for part in raw.split(","):
        tag = part.strip().lower()
        if len(tag) >= 2:
            seen.setdefault(tag, None)
    return ", ".join(seen)


@dataclass(slots=True)
class _Draft:
    """A mutable entry during generation (turned into a CatalogEntry at the end)."""

    id: str = ""
    name: str = ""
    user_id: str = ""
    status: str = ENTRY_STATUS_READY
    media_type: int = MEDIA_VIDEO
    created_at: int = 0
    updated_at: int = 0
    plays: int = 0
    views: int = 0
    last_played_at: int | None = None
    duration: int = 0
    categories: tuple[int, ...] = ()
    tags: list[str] = field(default_factory=list)
    flavors: list[CatalogFlavor] = field(default_factory=list)


class _Generator:
    def __init__(
        self,
        n: int,
        seed: int,
        partner_id: int,
        years: int,
        now: int,
        size_mb: float | None,
        max_size_mb: float | None,
    ) -> None:
        self.n, self.partner_id, self.now = n, partner_id, now
        self.years = max(1, years)
        self.size_mb, self.max_size_mb = size_mb, max_size_mb
        self.rng = random.Random(f"catalog:{seed}")
        self._id_counter = 0
        self._id_mul = self.rng.randrange(_ID_SPACE // 7, _ID_SPACE) * 6 + 1  # coprime with 36**8
        self._id_add = self.rng.randrange(_ID_SPACE)
        self.categories = build_categories()
        self.users = tuple(f"user{k:04d}" for k in range(1, 201))
        statuses, weights = zip(*_STATUS_WEIGHTS, strict=True)
        self.statuses: tuple[str, ...] = statuses
        self.status_cum = tuple(_cumulative(weights))

    def new_id(self) -> str:
        # A counter through an affine bijection mod 36**8: unique without a lookup, random-looking.
        x = (self._id_counter * self._id_mul + self._id_add) % _ID_SPACE
        self._id_counter += 1
        hi, lo = divmod(x, 1296 * 1296)
        return "0_" + _PAIRS[hi // 1296] + _PAIRS[hi % 1296] + _PAIRS[lo // 1296] + _PAIRS[lo % 1296]

    def created_times(self) -> list[int]:
        rng, start = self.rng, self.now - self.years * YEAR_S
        span = self.now - 3600 - start
        times: list[int] = []
        centres = [start + int(rng.random() * span) for _ in range(max(1, self.n // 200))]
        for _ in range(self.n):
            if rng.random() < 0.15:  # bursts: bulk uploads, lecture-capture batches
                times.append(min(self.now - 3600, rng.choice(centres) + int(rng.random() * 3600)))
            else:
                times.append(start + int(rng.random() * span))
        return times

    def source_size(self) -> int:
        if self.size_mb is not None:
            return max(1, int(self.size_mb * 1_000_000))
        # Long tail from 100 KB to several GB, median around 150 MB.
        size = int(min(6e9, max(100_000.0, self.rng.lognormvariate(math.log(150e6), 1.6))))
        if self.max_size_mb is not None:
            size = min(size, max(1, int(self.max_size_mb * 1_000_000)))
        return size

    def flavor(
        self,
        entry_id: str,
        params_id: int,
        size: int,
        created_at: int,
        status: int = FLAVOR_READY,
        ext: str = "mp4",
    ) -> CatalogFlavor:
        # Kaltura's KB figure is sometimes floored, sometimes rounded, sometimes ceiled.
        roll = self.rng.random()
        kb = size // 1024 if roll < 0.4 else round(size / 1024) if roll < 0.7 else -(-size // 1024)
        version = "1" if roll < 0.9 else "2" if roll < 0.96 else "3"
        return CatalogFlavor(
            self.new_id(),
            params_id,
            params_id == SOURCE_PARAMS_ID,
            status,
            size,
            kb,
            size,
            version,
            ext,
            created_at,
        )

    def draft(self, created_at: int) -> _Draft:
        rng, d = self.rng, _Draft()
        d.id = self.new_id()
        d.created_at = created_at
        d.user_id = rng.choice(self.users)
        d.status = self.statuses[_pick(self.status_cum, rng.random())]
        roll = rng.random()
        d.media_type = MEDIA_VIDEO if roll < 0.85 else MEDIA_AUDIO if roll < 0.95 else MEDIA_IMAGE
        d.name = f"{rng.choice(_TOPICS)} {rng.choice(_KINDS)} {rng.randint(1, 400)}"
        d.tags = rng.sample(TAG_VOCABULARY, rng.choice((0, 1, 1, 2, 2, 3)))
        d.categories = tuple(sorted({c.id for c in rng.sample(self.categories, rng.choice((0, 1, 1, 2)))}))
        d.duration = 0 if d.media_type == MEDIA_IMAGE else int(min(4 * 3600, rng.lognormvariate(7.3, 0.9)))
        self.plays(d)
        d.updated_at = created_at + int(rng.random() * (self.now - created_at))
        d.flavors = self.flavors(d)
        return d

    def plays(self, d: _Draft) -> None:
        rng = self.rng
        d.plays = 0 if rng.random() < 0.45 else int(rng.paretovariate(1.1))
        d.views = d.plays + (0 if d.plays == 0 else rng.randint(0, d.plays))
        d.last_played_at = None
        if d.plays:
            d.last_played_at = d.created_at + int((rng.random() ** 2) * (self.now - d.created_at))

    def flavors(self, d: _Draft) -> list[CatalogFlavor]:
        if d.status in ("7", "0", "-2"):  # no content yet / import never finished
            return []
        src_size = self.source_size()
        at = d.created_at
        if d.media_type == MEDIA_IMAGE:
            return [self.flavor(d.id, 0, max(1, src_size // 50), at, ext="jpg")]
        ext = "mp3" if d.media_type == MEDIA_AUDIO else self.rng.choice(("mp4", "mp4", "mov"))
        out = [self.flavor(d.id, 0, src_size, at, ext=ext)]
        n_derived = self.rng.randint(1, 2) if d.media_type == MEDIA_AUDIO else self.rng.randint(1, 4)
        derived_status = {"1": 1, "-1": -1, "4": 0}.get(d.status, FLAVOR_READY)
        for pid in sorted(self.rng.sample(DERIVED_PARAMS_IDS, n_derived)):
            ratio = FLAVOR_PARAMS[pid].size_ratio * (0.7 + 0.6 * self.rng.random())
            out.append(self.flavor(d.id, pid, max(1, int(src_size * ratio)), at + 60, derived_status))
        return out


def _cumulative(weights: tuple[int, ...]) -> list[float]:
    total, acc, out = sum(weights), 0, []
    for w in weights:
        acc += w
        out.append(acc / total)
    return out


def _pick(cumulative: tuple[float, ...], x: float) -> int:
    for i, bound in enumerate(cumulative):
        if x < bound:
            return i
    return len(cumulative) - 1


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small acyclic objects.

    Without this, collections triggered by the allocations rescan the ever-growing heap and building
    100,000 entries takes several times longer.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def generate(
    n: int,
    seed: int,
    *,
    partner_id: int = 1000,
    years: int = 8,
    now: int | None = None,
    size_mb: float | None = None,
    max_size_mb: float | None = None,
) -> Catalog:
    """Generate ``n`` entries deterministically for (n, seed, now, options).

    ``size_mb`` fixes every source size, ``max_size_mb`` caps it; neither applies to the
    ``original_too_big`` edge case, whose point is to be larger than 10,000,000 KB.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    with paused_gc():
        return _generate(
            n, seed, partner_id, years, DEFAULT_NOW if now is None else now, size_mb, max_size_mb
        )


def _generate(
    n: int, seed: int, partner_id: int, years: int, now: int, size_mb: float | None, max_size_mb: float | None
) -> Catalog:
    gen = _Generator(n, seed, partner_id, years, now, size_mb, max_size_mb)
    drafts = [gen.draft(t) for t in gen.created_times()]
    edge_cases = _apply_edge_cases(gen, drafts) if n >= EDGE_MIN_N else {}
    entries = [
        CatalogEntry(
            d.id,
            d.name,
            d.user_id,
            normalise_tags(",".join(d.tags)),
            d.categories,
            d.status,
            d.media_type,
            d.created_at,
            max(d.updated_at, d.created_at),
            d.plays,
            d.views,
            d.last_played_at,
            d.duration,
            tuple(d.flavors),
        )
        for d in drafts
    ]
    entries.sort(key=lambda e: (e.created_at, e.id))
    return Catalog(partner_id, seed, gen.now, entries, gen.categories, edge_cases, gen.users)


def _apply_edge_cases(gen: _Generator, drafts: list[_Draft]) -> dict[str, list[str]]:
    """Turn chosen drafts into the named edge cases (disjoint sets of READY video entries)."""
    rng = gen.rng
    cases: dict[str, list[str]] = {}
    taken: set[int] = set()
    if len(drafts) >= BURST_MIN_N:
        second = rng.choice(drafts).created_at
        burst = rng.sample(range(len(drafts)), BURST_SIZE)
        for i in burst:
            d = drafts[i]
            d.created_at = second
            d.status = ENTRY_STATUS_READY
            d.updated_at = max(d.updated_at, second)
            if d.last_played_at is not None and d.last_played_at < second:
                d.last_played_at = second
            d.flavors = [f._replace(status=FLAVOR_READY, created_at=second) for f in gen.flavors(d)]
        taken.update(burst)
        cases["same_second_burst"] = sorted(drafts[i].id for i in burst)
    oldest_first = sorted(range(len(drafts)), key=lambda i: drafts[i].created_at)
    pool = [i for i in oldest_first if i not in taken]
    for name, fix in _EDGE_FIXES:
        chosen = (
            pool[:EDGE_PER_CASE]
            if name in ("size_in_bytes_zero", "never_played")
            else rng.sample(pool, EDGE_PER_CASE)
        )
        for i in chosen:
            d = drafts[i]
            d.status, d.media_type = ENTRY_STATUS_READY, MEDIA_VIDEO
            d.flavors = gen.flavors(d)
            d.duration = d.duration or 600 + gen.rng.randrange(3000)
            fix(gen, d)
        pool = [i for i in pool if i not in chosen]
        cases[name] = [drafts[i].id for i in chosen]
    return cases


def _no_original(gen: _Generator, d: _Draft) -> None:
    d.flavors = [f for f in d.flavors if not f.is_original]


def _original_not_ready(gen: _Generator, d: _Draft) -> None:
    status = gen.rng.choice((-1, 0, 1))
    d.flavors = [f._replace(status=status) if f.is_original else f for f in d.flavors]


def _original_too_big(gen: _Generator, d: _Draft) -> None:
    size = (TOO_BIG_KB + 1 + gen.rng.randint(0, 2_000_000)) * 1024
    d.flavors = [
        f._replace(content_size=size, size_kb=size // 1024, size_in_bytes=size) if f.is_original else f
        for f in d.flavors
    ]


def _legacy_archived(gen: _Generator, d: _Draft) -> None:
    d.tags = [*d.tags, "archived_to_s3"]


def _legacy_placeholder(gen: _Generator, d: _Draft) -> None:
    d.tags = [*d.tags, "archived_to_s3", "flavors_deleted"]
    size = 300_000 + gen.rng.randint(0, 200_000)  # the small placeholder video the old tool uploaded
    d.flavors = [
        f._replace(content_size=size, size_kb=size // 1024, size_in_bytes=size, version="2")
        if f.is_original
        else f
        for f in d.flavors
    ]


def _size_in_bytes_zero(gen: _Generator, d: _Draft) -> None:
    d.flavors = [f._replace(size_in_bytes=0) for f in d.flavors]


def _never_played(gen: _Generator, d: _Draft) -> None:
    d.plays, d.views, d.last_played_at = 0, 0, None


_EDGE_FIXES = (
    ("no_original", _no_original),
    ("original_not_ready", _original_not_ready),
    ("original_too_big", _original_too_big),
    ("legacy_archived", _legacy_archived),
    ("legacy_placeholder", _legacy_placeholder),
    ("size_in_bytes_zero", _size_in_bytes_zero),
    ("never_played", _never_played),
)
