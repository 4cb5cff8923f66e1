"""`stats --chart FILE.html`: one self-contained page (inline SVG and CSS, no script, no external URL) with
bars of entries by year created, stacked by state, and of S3 bytes by storage class."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from jobs.stats.facts import STATES
from jobs.stats.figures import Tally
from jobs.stats.report import BINARY, Context, human_bytes

COLORS: Final = {
    "initial": "#9aa5b1", "archived": "#2b7bb9", "place_holder": "#2ca25f", "unhealthy": "#d7301f",
}  # fmt: skip
CLASS_COLOR: Final = "#6a51a3"
WIDTH, HEIGHT = 760, 340
LEFT, RIGHT, TOP, BOTTOM = 80, 20, 52, 60


@dataclass(frozen=True)
class Bar:
    """One bar: its label under the axis and its stacked segments (name, value, colour, tooltip)."""

    label: str
    segments: tuple[tuple[str, int, str, str], ...]

    @property
    def total(self) -> int:
        return sum(value for _, value, _, _ in self.segments)


def axis(value: int, *, bytes_axis: bool = False) -> tuple[float, float]:
    """The top of an axis that holds `value`, and its tick step: 1, 2, 2.5 or 5 times a power of ten of the
    unit (of entries; or of the binary unit `value` bytes reach, so ticks read 0.5 TiB, not 549.76 GiB)."""
    unit = float(next((f for _, f in BINARY if value >= f), 1)) if bytes_axis else 1.0
    span = max(value / unit, 1e-9)
    power = 10 ** math.floor(math.log10(span / 4))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power * 4 >= span)
    if not bytes_axis:
        step = max(1.0, math.ceil(step))  # entries come whole
    if value <= 0:
        step = 1.0
    return math.ceil(span / step) * step * unit, step * unit


def tick_label(value: float, *, bytes_axis: bool) -> str:
    if not bytes_axis:
        return f"{value:,.0f}"
    for unit, factor in BINARY:
        if value >= factor:
            return f"{value / factor:g} {unit}"
    return f"{value:g} B"


def _svg(title: str, bars: Sequence[Bar], caption: str, *, bytes_axis: bool = False) -> str:
    """One bar chart; the axis is in entries, or in bytes shown in binary units."""
    top, step = axis(max((b.total for b in bars), default=0), bytes_axis=bytes_axis)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    out = [f'<svg role="img" aria-label="{html.escape(title)}" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}">',
           f'<text x="{LEFT}" y="22" class="title">{html.escape(title)}</text>']  # fmt: skip
    for i in range(round(top / step) + 1):
        value = step * i
        y = TOP + plot_h - plot_h * value / top
        label = tick_label(value, bytes_axis=bytes_axis)
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{label}</text>')
    slot = plot_w / max(1, len(bars))
    width = min(60.0, slot * 0.7)
    for n, bar in enumerate(bars):
        x = LEFT + slot * n + (slot - width) / 2
        y = TOP + plot_h
        for name, value, color, tip in bar.segments:
            h = plot_h * value / top
            y -= h
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{h:.1f}" fill="{color}" '
                f'data-segment="{html.escape(name)}"><title>{html.escape(tip)}</title></rect>'
            )
        out.append(f'<text x="{x + width / 2:.1f}" y="{TOP + plot_h + 18}" class="tick" text-anchor="middle">'
                   f"{html.escape(bar.label)}</text>")  # fmt: skip
        total = human_bytes(bar.total) if bytes_axis else f"{bar.total:,}"
        out.append(f'<text x="{x + width / 2:.1f}" y="{y - 5:.1f}" class="tick" text-anchor="middle">'
                   f"{total}</text>")  # fmt: skip
    out.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 12}" class="axis" text-anchor="middle">'
               f"{html.escape(caption)}</text>")  # fmt: skip
    out.append("</svg>")
    return "\n".join(out)


def created_bars(tally: Tally) -> list[Bar]:
    bars = []
    for year in sorted(tally.by_created):
        row = tally.by_created[year]
        segments = tuple(
            (state, row.states[state], COLORS[state], f"{year} {state}: {row.states[state]:,} entries")
            for state in STATES
            if row.states[state]
        )
        bars.append(Bar(str(year), segments))
    return bars


def class_bars(tally: Tally) -> list[Bar]:
    bars = []
    for name in sorted(tally.classes):
        c = tally.classes[name]
        tip = f"{name}: {human_bytes(c.bytes)} in {c.objects:,} objects"
        bars.append(Bar(name, ((name, c.bytes, CLASS_COLOR, tip),)))
    return bars


def legend() -> str:
    items = "".join(
        f'<span class="key"><span class="swatch" style="background:{COLORS[s]}"></span>{s}</span>'
        for s in STATES
    )
    return f'<p class="legend">{items}</p>'


def page(tally: Tally, ctx: Context) -> str:
    """The chart page, whole."""
    entries = _svg("Entries by year created, by state", created_bars(tally), "year created (UTC); entries")
    s3 = _svg("S3 bytes by storage class", class_bars(tally), "storage class; bytes (binary units)",
              bytes_axis=True)  # fmt: skip
    summary = (
        f"{tally.entries:,} entries, {human_bytes(tally.kaltura_bytes)} in Kaltura; "
        f"{tally.s3_objects:,} objects, {human_bytes(tally.s3_bytes)} in S3 bucket {ctx.bucket}"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>kaltura-archiver stats</title>
<style>
body {{ font-family: sans-serif; margin: 24px; color: #222; }}
.title {{ font-size: 16px; font-weight: bold; }} .tick {{ font-size: 11px; fill: #444; }}
.axis {{ font-size: 12px; fill: #222; }} .grid {{ stroke: #ddd; stroke-width: 1; }}
.legend .key {{ margin-right: 16px; font-size: 13px; }}
.swatch {{ display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; }}
</style></head>
<body>
<h1>kaltura-archiver stats</h1>
<p>{html.escape(summary)}</p>
<p>Selection: {html.escape(ctx.selection)}</p>
{legend()}
{entries}
{s3}
</body></html>
"""
