"""Counting call starts in windows of time (a pacer's promise, checked from outside)."""

from __future__ import annotations


def max_starts_in_any_window(starts: list[float], window: float = 1.0) -> int:
    """The most starts found in any half-open window [t, t + window) beginning at a start."""
    starts = sorted(starts)
    best, j = 0, 0
    for i, first in enumerate(starts):
        j = max(j, i)
        while j < len(starts) and starts[j] < first + window:
            j += 1
        best = max(best, j - i)
    return best
