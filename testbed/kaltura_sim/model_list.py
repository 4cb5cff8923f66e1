"""Entry listing as media.list does it: filters, ordering, the pager and the 10,000-match cap.

Entries are kept sorted by (createdAt, id) with a per-status copy of the keys, so a createdAt window is two
bisections and counting a status-only filter needs no scan: cursor paging over 100,000 entries stays cheap.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from testbed.kaltura_sim.errors import query_exceeded
from testbed.kaltura_sim.model_params import Pager, Params, csv_values, enum_value, opt_int, opt_str
from testbed.kaltura_sim.objects import ENTRY_READY, Entry, tag_words

MAX_MATCHES = 10_000
ENTRY_STATUSES = ("-2", "-1", "0", "1", "2", "3", "4", "5", "6", "7")
MEDIA_TYPES = ("1", "2", "5", "6", "201", "202", "203", "204")
_ORDER_FIELDS: dict[str, Callable[[Entry], int | str]] = {
    "createdAt": lambda e: e.created_at,
    "updatedAt": lambda e: e.updated_at,
    "plays": lambda e: e.plays,
    "views": lambda e: e.views,
    "lastPlayedAt": lambda e: e.last_played_at or 0,
    "name": lambda e: e.name.lower(),
    "duration": lambda e: e.duration,
    "mediaType": lambda e: e.media_type,
}
Key = tuple[int, str]
Predicate = Callable[[Entry], bool]


class EntryIndex:
    """Listable entries (not hidden, not deleted) sorted by (createdAt, id), plus keys per status."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        ordered = sorted(entries, key=lambda e: (e.created_at, e.id))
        self.keys: list[Key] = [(e.created_at, e.id) for e in ordered]
        self.entries: list[Entry] = ordered
        self.by_status: dict[str, list[Key]] = {}
        for e, key in zip(ordered, self.keys, strict=True):
            self.by_status.setdefault(e.status, []).append(key)

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, e: Entry) -> None:
        key = (e.created_at, e.id)
        pos = bisect.bisect_left(self.keys, key)
        self.keys.insert(pos, key)
        self.entries.insert(pos, e)
        bisect.insort(self.by_status.setdefault(e.status, []), key)

    def remove(self, e: Entry) -> None:
        key = (e.created_at, e.id)
        pos = bisect.bisect_left(self.keys, key)
        if pos < len(self.keys) and self.keys[pos] == key:
            del self.keys[pos]
            del self.entries[pos]
            self._drop_status_key(e.status, key)

    def status_changed(self, e: Entry, old: str) -> None:
        """Keep the per-status keys right; call after changing ``e.status`` from ``old``."""
        if old == e.status:
            return
        key = (e.created_at, e.id)
        if self._drop_status_key(old, key):
            bisect.insort(self.by_status.setdefault(e.status, []), key)

    def _drop_status_key(self, status: str, key: Key) -> bool:
        keys = self.by_status.get(status, [])
        pos = bisect.bisect_left(keys, key)
        if pos < len(keys) and keys[pos] == key:
            del keys[pos]
            return True
        return False

    def window(self, gte: int | None, lte: int | None) -> tuple[int, int]:
        """Positions [lo, hi) of the entries with gte <= createdAt <= lte."""
        lo = 0 if gte is None else bisect.bisect_left(self.keys, (gte, ""))
        hi = len(self.keys) if lte is None else bisect.bisect_left(self.keys, (lte + 1, ""))
        return lo, max(lo, hi)

    def count_statuses(self, statuses: Iterable[str], gte: int | None, lte: int | None) -> int:
        total = 0
        for status in statuses:
            keys = self.by_status.get(status, [])
            lo = 0 if gte is None else bisect.bisect_left(keys, (gte, ""))
            hi = len(keys) if lte is None else bisect.bisect_left(keys, (lte + 1, ""))
            total += max(0, hi - lo)
        return total


@dataclass
class EntryQuery:
    """A parsed KalturaMediaEntryFilter / KalturaBaseEntryFilter (only what the simulator honours)."""

    id_equal: str | None = None
    id_in: list[str] | None = None
    id_not_in: frozenset[str] = frozenset()
    statuses: frozenset[str] | None = frozenset({ENTRY_READY})  # None: any status
    created_gte: int | None = None
    created_lte: int | None = None
    predicates: tuple[Predicate, ...] = ()  # the filters that need a look at each entry
    order_field: str = "createdAt"
    descending: bool = True

    @property
    def status_window_only(self) -> bool:
        """True when counting needs only the per-status keys (no id, tag, category... filters)."""
        return (
            self.id_equal is None and self.id_in is None and not self.predicates and self.statuses is not None
        )


def parse_entry_filter(flt: Params, descendants: dict[int, frozenset[int]]) -> EntryQuery:
    q = EntryQuery()
    q.id_equal = opt_str(flt, "idEqual") or None
    id_in = opt_str(flt, "idIn")
    q.id_in = csv_values(id_in) if id_in is not None else None
    q.id_not_in = frozenset(csv_values(opt_str(flt, "idNotIn")))
    status_equal = enum_value(
        opt_str(flt, "statusEqual"), ENTRY_STATUSES, "statusEqual", "KalturaEntryStatus"
    )
    status_in = csv_values(opt_str(flt, "statusIn"))
    if status_equal is not None:
        q.statuses = frozenset({status_equal})
    elif status_in:
        q.statuses = frozenset(status_in)
    elif q.id_equal is not None:  # idEqual lifts the READY default; idIn does not
        q.statuses = None
    q.created_gte = opt_int(flt, "createdAtGreaterThanOrEqual")
    q.created_lte = opt_int(flt, "createdAtLessThanOrEqual")
    q.predicates = tuple(_predicates(flt, descendants))
    order = (opt_str(flt, "orderBy") or "").split(",")[0].strip()
    if order[:1] in ("+", "-") and order[1:] in _ORDER_FIELDS:  # unknown orders are silently dropped
        q.order_field, q.descending = order[1:], order[0] == "-"
    return q


def _predicates(flt: Params, descendants: dict[int, frozenset[int]]) -> Iterable[Predicate]:
    tags_or = [
        tuple(w for t in tag_words(term) for w in t) for term in csv_values(opt_str(flt, "tagsMultiLikeOr"))
    ]
    tags_and = [
        tuple(w for t in tag_words(term) for w in t) for term in csv_values(opt_str(flt, "tagsMultiLikeAnd"))
    ]
    if tags_or:
        yield lambda e: any(_term_matches(term, e.words) for term in tags_or)
    if tags_and:
        yield lambda e: all(_term_matches(term, e.words) for term in tags_and)
    cats = {int(c) for c in csv_values(opt_str(flt, "categoriesIdsMatchOr")) if c.lstrip("-").isdigit()}
    if opt_str(flt, "categoriesIdsMatchOr") is not None:
        yield lambda e: any(c in cats for c in e.categories_ids)
    ancestors = [int(c) for c in csv_values(opt_str(flt, "categoryAncestorIdIn")) if c.lstrip("-").isdigit()]
    if opt_str(flt, "categoryAncestorIdIn") is not None:
        under: frozenset[int] = frozenset().union(*(descendants.get(a, frozenset({a})) for a in ancestors))
        yield lambda e: any(c in under for c in e.categories_ids)
    media = enum_value(opt_str(flt, "mediaTypeEqual"), MEDIA_TYPES, "mediaTypeEqual", "KalturaMediaType")
    if media is not None:
        media_type = int(media)
        yield lambda e: e.media_type == media_type
    lp_gte = opt_int(flt, "lastPlayedAtGreaterThanOrEqual")
    lp_lte = opt_int(flt, "lastPlayedAtLessThanOrEqual")
    lp_lte_null = opt_int(flt, "lastPlayedAtLessThanOrEqualOrNull")
    if lp_gte is not None:
        yield lambda e: e.last_played_at is not None and e.last_played_at >= lp_gte
    if lp_lte is not None:
        yield lambda e: e.last_played_at is not None and e.last_played_at <= lp_lte
    if lp_lte_null is not None:
        yield lambda e: e.last_played_at is None or e.last_played_at <= lp_lte_null


def _term_matches(term: tuple[str, ...], tags: tuple[tuple[str, ...], ...]) -> bool:
    """A search term matches when its words appear as consecutive whole words in one tag."""
    if not term:
        return False
    n = len(term)
    for words in tags:
        for i in range(len(words) - n + 1):
            if words[i : i + n] == term:
                return True
    return False


def _matcher(q: EntryQuery) -> Predicate:
    match = _base_matcher(q)
    excluded = q.id_not_in
    if excluded:
        return lambda e: e.id not in excluded and match(e)
    return match


def _base_matcher(q: EntryQuery) -> Predicate:
    statuses, preds = q.statuses, q.predicates
    if statuses is None and not preds:
        return lambda e: True
    if not preds:
        assert statuses is not None
        return lambda e: e.status in statuses
    if statuses is None:
        return lambda e: all(p(e) for p in preds)
    return lambda e: e.status in statuses and all(p(e) for p in preds)


def _id_candidates(q: EntryQuery, by_id: dict[str, Entry]) -> list[Entry]:
    ids = [q.id_equal] if q.id_equal is not None else (q.id_in or [])
    if q.id_equal is not None and q.id_in is not None and q.id_equal not in q.id_in:
        return []
    found = (by_id.get(i) for i in ids)
    return [e for e in found if e is not None and not e.hidden and e.status != "3" and _in_window(q, e)]


def _in_window(q: EntryQuery, e: Entry) -> bool:
    return (q.created_gte is None or e.created_at >= q.created_gte) and (
        q.created_lte is None or e.created_at <= q.created_lte
    )


def _sort(rows: list[Entry], q: EntryQuery) -> list[Entry]:
    value = _ORDER_FIELDS[q.order_field]
    return sorted(rows, key=lambda e: (value(e), e.id), reverse=q.descending)


def _fast_count(index: EntryIndex, by_id: dict[str, Entry], q: EntryQuery) -> int:
    """Count a status + createdAt (+ idNotIn) filter from the per-status keys, without a scan."""
    statuses = q.statuses
    assert statuses is not None
    total = index.count_statuses(statuses, q.created_gte, q.created_lte)
    for entry_id in q.id_not_in:  # idNotIn only removes ids that would have matched
        e = by_id.get(entry_id)
        if e is not None and not e.hidden and e.status in statuses and e.status != "3" and _in_window(q, e):
            total -= 1
    return total


def count_entries(index: EntryIndex, by_id: dict[str, Entry], q: EntryQuery) -> int:
    """media.count: the true number of matches (no cap)."""
    if q.id_equal is not None or q.id_in is not None:
        match = _matcher(q)
        return sum(1 for e in _id_candidates(q, by_id) if match(e))
    if q.status_window_only:
        return _fast_count(index, by_id, q)
    lo, hi = index.window(q.created_gte, q.created_lte)
    match = _matcher(q)
    entries = index.entries
    return sum(1 for i in range(lo, hi) if match(entries[i]))


def list_entries(
    index: EntryIndex, by_id: dict[str, Entry], q: EntryQuery, pager: Pager
) -> tuple[list[Entry], int]:
    """One page of matches in order and the totalCount; rows past position 9,999 are cut off."""
    offset = pager.offset
    if offset >= MAX_MATCHES:
        raise query_exceeded()
    end = min(offset + pager.size, MAX_MATCHES)
    match = _matcher(q)
    if q.id_equal is not None or q.id_in is not None:
        matches = _sort([e for e in _id_candidates(q, by_id) if match(e)], q)
        rows, total = matches[offset:end], len(matches)
    elif q.order_field == "createdAt":
        rows, total = _scan_created(index, by_id, q, match, offset, end)
    else:
        lo, hi = index.window(q.created_gte, q.created_lte)
        entries = index.entries
        matches = _sort([e for e in entries[lo:hi] if match(e)], q)
        rows, total = matches[offset:end], len(matches)
    if 0 < len(rows) < pager.size:  # a short page reports offset + rows, as Kaltura does
        total = offset + len(rows)
    return rows, total


def _scan_created(
    index: EntryIndex, by_id: dict[str, Entry], q: EntryQuery, match: Predicate, offset: int, end: int
) -> tuple[list[Entry], int]:
    """Walk the createdAt window in order, keeping rows [offset, end); count without a scan when possible."""
    lo, hi = index.window(q.created_gte, q.created_lte)
    entries = index.entries
    positions = range(hi - 1, lo - 1, -1) if q.descending else range(lo, hi)
    fast_count = q.status_window_only
    kept: list[Entry] = []
    seen = 0
    for i in positions:
        e = entries[i]
        if match(e):
            seen += 1
            if seen > offset:
                kept.append(e)
            if seen >= end:
                if not fast_count:  # totalCount needs the rest of the window checked one by one
                    seen += sum(1 for j in _rest(positions, i) if match(entries[j]))
                break
    if fast_count:
        seen = _fast_count(index, by_id, q)
    return kept, seen


def _rest(positions: range, i: int) -> range:
    step = positions.step
    return range(i + step, positions.stop, step)
