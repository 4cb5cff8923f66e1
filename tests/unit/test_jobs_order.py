"""jobs.common.order.InOrder: rows in listing order whatever the completion order, a bounded window, rows of
unlisted ids where the listing was, and what a cut-short run still writes."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import anyio
import pytest
from structlog.testing import capture_logs

from jobs.common.order import InOrder


async def ids(*names: str) -> AsyncGenerator[str, None]:
    for name in names:
        yield name


def same(name: str) -> str:
    return name


async def listed(order: InOrder[str], *names: str) -> list[str]:
    return [name async for name in order.number(ids(*names), same)]


async def test_rows_come_out_in_listing_order_whatever_order_they_finish_in() -> None:
    written: list[str] = []
    order = InOrder(10, written.append)
    await listed(order, "a", "b", "c", "d")
    order.put("c", "row c")
    order.put("b", "row b")
    assert written == []  # a is still at work: nothing after it is written
    order.put("a", "row a")
    assert written == ["row a", "row b", "row c"]
    order.put("d", "row d")
    assert written == ["row a", "row b", "row c", "row d"]
    assert order.open == 0


async def test_the_lister_waits_while_window_places_are_open_and_says_so_once() -> None:
    written: list[str] = []
    order = InOrder(2, written.append)
    got: list[str] = []

    async def lister() -> None:
        async for name in order.number(ids("a", "b", "c", "d"), same):
            got.append(name)

    with capture_logs() as logs:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lister)
            await anyio.wait_all_tasks_blocked()
            assert got == ["a", "b"]  # two places open: c waits
            order.put("b", "row b")  # b done, but a holds the report: still two open
            await anyio.wait_all_tasks_blocked()
            assert got == ["a", "b"]
            order.put("a", "row a")
            await anyio.wait_all_tasks_blocked()
            assert got == ["a", "b", "c", "d"]
            order.put("d", "row d")
            order.put("c", "row c")
    assert written == ["row a", "row b", "row c", "row d"]
    full = [e for e in logs if e["event"] == "report.order_window_full"]
    assert full == [
        {"event": "report.order_window_full", "window": 2, "waiting_for": "a", "log_level": "info"}
    ]
    assert order.waits == 1


async def test_a_row_for_an_id_never_listed_takes_the_place_where_the_listing_is() -> None:
    written: list[str] = []
    order = InOrder(10, written.append)
    await listed(order, "a")
    order.put("0_unknown", "row unknown")  # the lister reports it before listing b
    await listed(order, "b")
    order.put("b", "row b")
    assert written == []
    order.put("a", "row a")
    assert written == ["row a", "row unknown", "row b"]


async def test_flush_writes_the_held_rows_in_order_and_skips_those_that_never_came() -> None:
    written: list[str] = []
    order = InOrder(10, written.append)
    await listed(order, "a", "b", "c", "d")
    order.put("d", "row d")
    order.put("b", "row b")
    order.flush()  # a and c were cut off with the run
    assert written == ["row b", "row d"]
    order.put("c", "row c")  # a late row is written at once
    assert written == ["row b", "row d", "row c"]
    assert order.open == 0


async def test_closing_the_numbered_listing_closes_the_listing() -> None:
    closed = False

    async def source() -> AsyncGenerator[str, None]:
        nonlocal closed
        try:
            yield "a"
            yield "b"
        finally:
            closed = True

    numbered = InOrder(10, print).number(source(), same)
    assert await anext(numbered) == "a"
    await numbered.aclose()
    assert closed


def test_a_window_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="window must be 1 or more"):
        InOrder(0, print)
