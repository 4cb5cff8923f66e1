"""The `stats` report: one row per figure (`section`, `key`, `metric`, `value`, `unit`, `shown`), written as
TSV or JSON lines, or as one JSON document `{section: {key: {metric: value}}}` with the units beside.

Every value is exact: bytes are counted in bytes, money in USD (4 decimals). `shown` is the same figure for
people: bytes in binary units (2^40 bytes is `1.00 TiB`), money as `$1,234.56`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final, TextIO

from jobs.common.report import ReportWriter, Value
from jobs.stats.facts import REASONS, STATES
from jobs.stats.figures import MIN_DAYS, Costs, Prices, Row, Tally

COLUMNS: Final = ("section", "key", "metric", "value", "unit", "shown")
UNITS: Final = {
    "entries": "entries", "objects": "objects", "bytes": "B", "kaltura_bytes": "B", "s3_bytes": "B",
    "billed_bytes": "B", "standard_overhead_bytes": "B", "young_objects": "objects", "young_bytes": "B",
    "min_days": "days", "years": "years", "usd_per_gib_month": "USD/GiB-month", "usd_per_month": "USD/month",
    "usd_if_deleted_now": "USD", "text": "",
    **{state: "entries" for state in STATES},
}  # fmt: skip
BINARY: Final = (("PiB", 1 << 50), ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))
_CENT = Decimal("0.0001")


def human_bytes(n: int) -> str:
    """`n` bytes in the largest binary unit it reaches, 2 decimals: `1.00 TiB`, `1.50 GiB`, `512 B`."""
    for unit, factor in BINARY:
        if abs(n) >= factor:
            return f"{n / factor:,.2f} {unit}"
    return f"{n} B"


def usd(amount: Decimal) -> Decimal:
    """An amount of USD to 4 decimals (a sub-cent figure stays visible on small archives)."""
    return amount.quantize(_CENT, rounding=ROUND_HALF_EVEN)


def shown(value: Value, unit: str) -> str:
    if value is None:
        return ""
    if unit == "B" and isinstance(value, int):
        return human_bytes(value)
    if unit.startswith("USD") and isinstance(value, float):
        digits = 2 if abs(value) >= 1 or value == 0 else 4
        amount = f"{'-' if value < 0 else ''}${abs(value):,.{digits}f}"
        per = unit.partition("/")[2]
        return f"{amount} per {per}" if per else amount
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@dataclass(frozen=True)
class Context:
    """What the figures were taken over: the selection, the policy, the prices."""

    selection: str
    policy_years: int
    prices: Prices
    bucket: str


def rows(tally: Tally, costs: Costs, ctx: Context) -> Iterator[tuple[str, str, str, Value]]:
    """Every figure as (section, key, metric, value), in report order."""
    yield "run", "selection", "text", ctx.selection
    yield "run", "bucket", "text", ctx.bucket
    yield "run", "policy", "years", ctx.policy_years
    yield "price", "kaltura", "usd_per_gib_month", float(ctx.prices.kaltura)
    for name, price in ctx.prices.classes.items():
        yield "price", name, "usd_per_gib_month", float(price)
    for year in sorted(tally.by_created):
        yield from _year_rows("created", str(year), tally.by_created[year], states=True)
    for key in sorted(tally.by_played, key=lambda k: (k == "never", k)):
        yield from _year_rows("played", key, tally.by_played[key], states=False)
    for state in STATES:
        yield "state", state, "entries", tally.states[state]
        yield "state", state, "kaltura_bytes", tally.state_bytes[state]
    for reason in REASONS:
        if tally.reasons[reason]:
            yield "unhealthy", reason, "entries", tally.reasons[reason]
    yield "kaltura", "all_flavors", "entries", tally.entries
    yield "kaltura", "all_flavors", "bytes", tally.kaltura_bytes
    yield "kaltura", "freed_by_replacements", "entries", tally.freed_entries
    yield "kaltura", "freed_by_replacements", "bytes", tally.freed_bytes
    savable = f"unplayed_for_{ctx.policy_years}y"
    yield "kaltura", savable, "entries", tally.savable_entries
    yield "kaltura", savable, "bytes", tally.savable_bytes
    yield from _s3_rows(tally)
    yield "join", "objects_without_entry", "objects", tally.orphan_objects
    yield "join", "objects_without_entry", "bytes", tally.orphan_bytes
    yield "join", "entries_without_object", "entries", tally.entries_without_object
    yield from _cost_rows(tally, costs, savable)


def _year_rows(section: str, key: str, row: Row, *, states: bool) -> Iterator[tuple[str, str, str, Value]]:
    yield section, key, "entries", row.entries
    yield section, key, "kaltura_bytes", row.kaltura_bytes
    yield section, key, "s3_bytes", row.s3_bytes
    if states:
        for state in STATES:
            yield section, key, state, row.states[state]


def _s3_rows(tally: Tally) -> Iterator[tuple[str, str, str, Value]]:
    for name in sorted(tally.classes):
        c = tally.classes[name]
        yield "s3_class", name, "objects", c.objects
        yield "s3_class", name, "bytes", c.bytes
        yield "s3_class", name, "billed_bytes", c.class_bytes
        if c.standard_bytes:
            yield "s3_class", name, "standard_overhead_bytes", c.standard_bytes
    yield "s3_class", "total", "objects", tally.s3_objects
    yield "s3_class", "total", "bytes", tally.s3_bytes


def _cost_rows(tally: Tally, costs: Costs, savable: str) -> Iterator[tuple[str, str, str, Value]]:
    yield "cost", "kaltura", "usd_per_month", float(usd(costs.kaltura))
    for name in sorted(costs.s3_by_class):
        yield "cost", f"s3_{name}", "usd_per_month", float(usd(costs.s3_by_class[name]))
    yield "cost", "s3_total", "usd_per_month", float(usd(costs.s3))
    yield "cost", "freed_by_replacements", "usd_per_month", float(usd(costs.freed))
    yield "cost", "saving", "usd_per_month", float(usd(costs.saving))
    yield "cost", savable, "usd_per_month", float(usd(costs.savable))
    for name in sorted(costs.early_deletion):
        c = tally.classes[name]
        yield "early_deletion", name, "min_days", MIN_DAYS[name]
        yield "early_deletion", name, "young_objects", c.young_objects
        yield "early_deletion", name, "young_bytes", c.young_bytes
        yield "early_deletion", name, "usd_if_deleted_now", float(usd(costs.early_deletion[name]))


def as_row(section: str, key: str, metric: str, value: Value) -> dict[str, Value]:
    unit = UNITS[metric]
    return {"section": section, "key": key, "metric": metric, "value": value, "unit": unit,
            "shown": shown(value, unit)}  # fmt: skip


def document(figures: Iterator[tuple[str, str, str, Value]]) -> dict[str, Any]:
    """The figures as one JSON document: `{section: {key: {metric: value}}, "units": {metric: unit}}`."""
    doc: dict[str, Any] = {}
    units: dict[str, str] = {}
    for section, key, metric, value in figures:
        doc.setdefault(section, {}).setdefault(key, {})[metric] = value
        units[metric] = UNITS[metric]
    doc["units"] = units
    return doc


def write(stream: TextIO, fmt: str, figures: Iterator[tuple[str, str, str, Value]]) -> None:
    """The report in `fmt` (tsv, json, jsonl) on `stream`."""
    if fmt == "json":
        stream.write(json.dumps(document(figures), indent=2, ensure_ascii=False) + "\n")
        stream.flush()
        return
    writer = ReportWriter(stream, COLUMNS, fmt)
    for figure in figures:
        writer.row(as_row(*figure))
    writer.close()


def flat(doc: Mapping[str, Any]) -> dict[tuple[str, str, str], Value]:
    """A JSON document back as {(section, key, metric): value} (tests and tools compare figures this way)."""
    return {
        (section, key, metric): value
        for section, keys in doc.items()
        if section != "units"
        for key, metrics in keys.items()
        for metric, value in metrics.items()
    }
