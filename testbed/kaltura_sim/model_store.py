"""The simulator's data: entries, flavors, thumbnails, upload tokens, pending jobs, and their invariants."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from testbed.catalog import Catalog, CatalogEntry, Category, paused_gc
from testbed.kaltura_sim.clock import SimClock
from testbed.kaltura_sim.errors import entry_not_found, flavor_not_found
from testbed.kaltura_sim.model_list import EntryIndex
from testbed.kaltura_sim.objects import ENTRY_DELETED, FLAVOR_DELETED, Entry, Flavor, ThumbAsset, UploadToken

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"

# fetches a URL's bytes outside any request, then calls back with them (None: the fetch failed)
Fetcher = Callable[[str, Callable[[bytes | None], None]], None]


@dataclass(order=True)
class Job:
    """Something that completes when the clock reaches ``due`` (a conversion or a replacement)."""

    due: float
    seq: int
    run: Callable[[], None] = field(compare=False)


class Store:
    """Every object of one partner, with the lookups and index upkeep the handlers share."""

    def __init__(self, catalog: Catalog, partner_id: int, clock: SimClock) -> None:
        self.partner_id = partner_id
        self.clock = clock
        self.categories: list[Category] = list(catalog.categories)
        self.category_names = {c.id: c.full_name for c in catalog.categories}
        self.descendants = _descendants(catalog.categories)
        self.entries: dict[str, Entry] = {}
        self.flavors: dict[str, Flavor] = {}  # live (not deleted) flavors by id
        self.thumbs: dict[str, ThumbAsset] = {}
        self.tokens: dict[str, UploadToken] = {}
        with paused_gc():
            for seed in catalog.entries:
                entry = _entry_from_catalog(seed, partner_id)
                self.entries[entry.id] = entry
                for f in entry.flavors:
                    self.flavors[f.id] = f
            self.index = EntryIndex(e for e in self.entries.values() if e.status != ENTRY_DELETED)
        self.conversion_delay = 0.0
        self.conversion_fail = False
        self.fetcher: Fetcher | None = None  # the transport's; the model alone has none
        self.conversion_fail_rate = 0.0  # share of conversions that fail, drawn from their own seeded RNG
        self._conversion_rng = random.Random(f"conversion:{catalog.seed}:{partner_id}")
        self._jobs: list[Job] = []
        self._seq = 0
        self._rng = random.Random(f"sim:{catalog.seed}:{partner_id}")

    # -- time and ids ------------------------------------------------------------------------------------
    def now(self) -> int:
        return self.clock.now_int()

    def new_id(self) -> str:
        while True:
            candidate = "0_" + "".join(self._rng.choices(_ALPHABET, k=8))
            if (
                candidate not in self.entries
                and candidate not in self.flavors
                and candidate not in self.thumbs
            ):
                return candidate

    def new_token_id(self) -> str:
        return f"0_{self._rng.getrandbits(128):032x}"

    def conversion_fails(self) -> bool:
        """Whether a conversion started now will fail: always with `conversion_fail`, else drawn at
        `conversion_fail_rate`."""
        if self.conversion_fail:
            return True
        return self.conversion_fail_rate > 0 and self._conversion_rng.random() < self.conversion_fail_rate

    # -- jobs --------------------------------------------------------------------------------------------
    def schedule(self, delay: float, run: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._jobs, Job(self.clock.now() + max(0.0, delay), self._seq, run))

    def run_due(self) -> None:
        """Complete every job whose due time has come (state machines advance lazily)."""
        now = self.clock.now()
        while self._jobs and self._jobs[0].due <= now:
            heapq.heappop(self._jobs).run()

    # -- lookups -----------------------------------------------------------------------------------------
    def entry(self, entry_id: str) -> Entry:
        """A non-deleted entry (hidden temp entries included), else ENTRY_ID_NOT_FOUND."""
        e = self.entries.get(entry_id)
        if e is None or e.status == ENTRY_DELETED:
            raise entry_not_found(entry_id)
        return e

    def flavor(self, flavor_id: str) -> Flavor:
        f = self.flavors.get(flavor_id)
        if f is None:
            raise flavor_not_found(flavor_id)
        return f

    # -- changes that keep the index right ---------------------------------------------------------------
    def add_entry(self, e: Entry) -> None:
        self.entries[e.id] = e
        if not e.hidden:
            self.index.add(e)

    def set_status(self, e: Entry, status: str) -> None:
        old, e.status = e.status, status
        if e.hidden:
            return
        if status == ENTRY_DELETED:
            e.status = old
            self.index.remove(e)
            e.status = status
        elif old == ENTRY_DELETED:
            self.index.add(e)
        else:
            self.index.status_changed(e, old)

    def add_flavor(self, e: Entry, f: Flavor) -> None:
        e.flavors.append(f)
        self.flavors[f.id] = f

    def delete_flavor(self, f: Flavor) -> None:
        f.status = FLAVOR_DELETED
        f.deleted_at = f.updated_at = self.now()
        f.stored = None
        self.flavors.pop(f.id, None)

    def drop_entry(self, e: Entry) -> None:
        """Delete an entry and its flavors (a temp entry disappears entirely)."""
        for f in e.live_flavors():
            self.delete_flavor(f)
        self.set_status(e, ENTRY_DELETED)
        e.updated_at = self.now()
        if e.hidden:
            self.entries.pop(e.id, None)


def _descendants(categories: list[Category]) -> dict[int, frozenset[int]]:
    """Each category id mapped to itself and all its descendants."""
    children: dict[int, list[int]] = {}
    for c in categories:
        if c.parent_id is not None:
            children.setdefault(c.parent_id, []).append(c.id)

    def collect(cid: int) -> frozenset[int]:
        out = {cid}
        for child in children.get(cid, []):
            out |= collect(child)
        return frozenset(out)

    return {c.id: collect(c.id) for c in categories}


def _entry_from_catalog(seed: CatalogEntry, partner_id: int) -> Entry:
    entry = Entry(
        id=seed.id,
        name=seed.name,
        partner_id=partner_id,
        user_id=seed.user_id,
        tags=seed.tags,
        categories_ids=seed.categories_ids,
        status=seed.status,
        media_type=seed.media_type,
        created_at=seed.created_at,
        updated_at=seed.updated_at,
        plays=seed.plays,
        views=seed.views,
        last_played_at=seed.last_played_at,
        duration=seed.duration,
    )
    entry.flavors = [
        Flavor(
            id=f.id,
            entry_id=seed.id,
            partner_id=partner_id,
            flavor_params_id=f.flavor_params_id,
            is_original=f.is_original,
            status=f.status,
            content_size=f.content_size,
            size_kb=f.size_kb,
            size_in_bytes=f.size_in_bytes,
            version=f.version,
            file_ext=f.file_ext,
            created_at=f.created_at,
            updated_at=f.created_at,
        )
        for f in seed.flavors
    ]
    return entry
