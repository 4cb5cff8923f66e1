"""The figures of `stats`, pure: counters that grow by one entry or one object at a time, S3 billing rules,
and the costs the prices give. Memory is a few counters per year and per storage class, whatever the catalog.

Billing as AWS states it for S3 storage (docs/lifecycle.md, Statistics): an object in GLACIER or DEEP_ARCHIVE
is billed 32 KiB more at its class's rate plus 8 KiB at STANDARD's (the index and name S3 keeps for it);
GLACIER_IR, STANDARD_IA and ONEZONE_IA bill at least 128 KiB per object; deleting (or moving) an object
before its class's minimum (30, 90 or 180 days) bills the days left. A class without a price setting is
priced as STANDARD.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Final

from jobs.stats.facts import ARCHIVED, INITIAL, PLACE_HOLDER, EntryFacts, played_key, state_of

KiB: Final = 1024
GiB: Final = 1 << 30
TiB: Final = 1 << 40
DAY_S: Final = 86_400
MONTH_DAYS: Final = 30  # a month of storage, for the early-deletion charge of the days left
GLACIER_INDEX: Final = 32 * KiB  # per object in GLACIER / DEEP_ARCHIVE, at the class's rate
GLACIER_NAME: Final = 8 * KiB  # per object in GLACIER / DEEP_ARCHIVE, at STANDARD's rate
OVERHEAD_CLASSES: Final = frozenset({"GLACIER", "DEEP_ARCHIVE"})
MIN_OBJECT: Final = 128 * KiB
MIN_OBJECT_CLASSES: Final = frozenset({"GLACIER_IR", "STANDARD_IA", "ONEZONE_IA"})
MIN_DAYS: Final = {"STANDARD_IA": 30, "ONEZONE_IA": 30, "GLACIER_IR": 90, "GLACIER": 90, "DEEP_ARCHIVE": 180}
STANDARD: Final = "STANDARD"


@dataclass(frozen=True)
class Billed:
    """The bytes one object is billed for: at its class's rate, and at STANDARD's (Glacier's overhead)."""

    class_bytes: int
    standard_bytes: int


def billed(storage_class: str, size: int) -> Billed:
    """What S3 bills for an object of `size` bytes in `storage_class`."""
    if storage_class in OVERHEAD_CLASSES:
        return Billed(size + GLACIER_INDEX, GLACIER_NAME)
    if storage_class in MIN_OBJECT_CLASSES:
        return Billed(max(size, MIN_OBJECT), 0)
    return Billed(size, 0)


def days_left(storage_class: str, last_modified: datetime | None, now: int) -> int:
    """Whole days an object has left to its class's minimum storage duration (0: none, or reached).

    Its age counts from LastModified, in whole days: for an object a lifecycle rule moved into the class
    later, the real clock started then, so the days left are at least these."""
    minimum = MIN_DAYS.get(storage_class)
    if minimum is None or last_modified is None:
        return 0
    age = max(0, now - int(last_modified.timestamp())) // DAY_S
    return max(0, minimum - age)


@dataclass
class ClassTally:
    """The objects of one storage class."""

    objects: int = 0
    bytes: int = 0
    class_bytes: int = 0  # billed at the class's rate (overhead and minimum size included)
    standard_bytes: int = 0  # billed at STANDARD's rate (Glacier's 8 KiB per object)
    young_objects: int = 0  # younger than the class's minimum storage duration
    young_bytes: int = 0
    byte_days_left: int = 0  # sum over young objects of billed bytes x days left

    def add(self, storage_class: str, size: int, last_modified: datetime | None, now: int) -> None:
        bill = billed(storage_class, size)
        self.objects += 1
        self.bytes += size
        self.class_bytes += bill.class_bytes
        self.standard_bytes += bill.standard_bytes
        left = days_left(storage_class, last_modified, now)
        if left:
            self.young_objects += 1
            self.young_bytes += size
            self.byte_days_left += bill.class_bytes * left


@dataclass
class Row:
    """One row of a by-year table."""

    entries: int = 0
    kaltura_bytes: int = 0
    s3_bytes: int = 0
    states: Counter[str] = field(default_factory=Counter)

    def add(self, facts: EntryFacts, state: str, object_size: int | None) -> None:
        self.entries += 1
        self.kaltura_bytes += facts.kaltura_bytes
        self.s3_bytes += object_size or 0
        self.states[state] += 1


@dataclass
class Tally:
    """Every figure of one `stats` run, added to one entry or one object at a time."""

    now: int
    by_created: dict[int, Row] = field(default_factory=dict)
    by_played: dict[str, Row] = field(default_factory=dict)
    states: Counter[str] = field(default_factory=Counter)
    state_bytes: Counter[str] = field(default_factory=Counter)  # bytes in Kaltura now, by state
    reasons: Counter[str] = field(default_factory=Counter)  # unhealthy entries by reason
    entries: int = 0
    kaltura_bytes: int = 0
    freed_entries: int = 0
    freed_bytes: int = 0
    savable_entries: int = 0
    savable_bytes: int = 0
    entries_without_object: int = 0
    classes: dict[str, ClassTally] = field(default_factory=dict)
    orphan_objects: int = 0
    orphan_bytes: int = 0

    def add_entry(self, facts: EntryFacts, object_size: int | None) -> None:
        """One listed entry, with the size of the object under its key (None: no object)."""
        state, reason = state_of(facts, object_size)
        self.entries += 1
        self.kaltura_bytes += facts.kaltura_bytes
        self.states[state] += 1
        self.state_bytes[state] += facts.kaltura_bytes
        if reason is not None:
            self.reasons[reason] += 1
        self.by_created.setdefault(facts.created_year, Row()).add(facts, state, object_size)
        self.by_played.setdefault(played_key(facts), Row()).add(facts, state, object_size)
        if object_size is None:
            self.entries_without_object += 1
        if state == PLACE_HOLDER and object_size is not None:
            # the original's bytes left Kaltura; the placeholder's flavors came in (never below 0)
            self.freed_entries += 1
            self.freed_bytes += max(0, object_size - facts.kaltura_bytes)
        if state in (INITIAL, ARCHIVED) and facts.in_policy:
            self.savable_entries += 1
            self.savable_bytes += facts.kaltura_bytes

    def add_object(self, storage_class: str, size: int, last_modified: datetime | None) -> None:
        """One object of the bucket (under the prefix)."""
        self.classes.setdefault(storage_class, ClassTally()).add(storage_class, size, last_modified, self.now)

    def add_orphans(self, objects: int, size: int) -> None:
        """Objects whose key names no listed entry."""
        self.orphan_objects += objects
        self.orphan_bytes += size

    @property
    def s3_objects(self) -> int:
        return sum(c.objects for c in self.classes.values())

    @property
    def s3_bytes(self) -> int:
        return sum(c.bytes for c in self.classes.values())


# ------------------------------------------------------------------------------------------ costs


@dataclass(frozen=True)
class Prices:
    """USD per GiB-month: Kaltura's and each S3 class's (a class not here is priced as STANDARD)."""

    kaltura: Decimal
    classes: dict[str, Decimal]

    def of(self, storage_class: str) -> Decimal:
        return self.classes.get(storage_class, self.classes[STANDARD])


def monthly(byte_count: int, price: Decimal) -> Decimal:
    """USD per month of `byte_count` bytes at `price` USD per GiB-month."""
    return Decimal(byte_count) * price / GiB


@dataclass(frozen=True)
class Costs:
    """USD per month (and the early-deletion charges, USD once) that the tally and the prices give."""

    kaltura: Decimal  # all bytes in Kaltura now
    s3_by_class: dict[str, Decimal]  # each class's objects, overhead included
    freed: Decimal  # what the bytes replacements freed would cost in Kaltura
    savable: Decimal  # what the bytes still savable cost in Kaltura now
    early_deletion: dict[str, Decimal]  # per class: the days left of young objects, if deleted now

    @property
    def s3(self) -> Decimal:
        return sum(self.s3_by_class.values(), Decimal(0))

    @property
    def saving(self) -> Decimal:
        """Net saving per month: what replacements freed in Kaltura, less what the whole archive costs."""
        return self.freed - self.s3


def costs(tally: Tally, prices: Prices) -> Costs:
    by_class = {
        name: monthly(c.class_bytes, prices.of(name)) + monthly(c.standard_bytes, prices.of(STANDARD))
        for name, c in tally.classes.items()
    }
    early = {
        name: monthly(c.byte_days_left, prices.of(name)) / MONTH_DAYS
        for name, c in tally.classes.items()
        if name in MIN_DAYS
    }
    return Costs(
        kaltura=monthly(tally.kaltura_bytes, prices.kaltura),
        s3_by_class=by_class,
        freed=monthly(tally.freed_bytes, prices.kaltura),
        savable=monthly(tally.savable_bytes, prices.kaltura),
        early_deletion=early,
    )
