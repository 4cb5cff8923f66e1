"""s3copy's memory budget: refused at start when it cannot hold one part per transfer; the shared byte budget
that every part takes its real size from before it is read into memory."""

from __future__ import annotations

import anyio
import pytest

from adapters.s3 import multipart
from adapters.s3.client import S3Store
from adapters.s3.config import StoreConfig
from adapters.s3.multipart import MemoryBudget, MiB
from engine.errors import ConfigError
from jobs.common.archive import store_config
from jobs.common.settings import Settings, load_settings


def settings(**env: str) -> Settings:
    return load_settings({}, {"AWS_BUCKET": "archive", **env})


def test_a_budget_below_one_part_per_transfer_is_refused_naming_the_settings_and_the_minimum() -> None:
    knobs = {"ARCHIVER_MEMORY_BUDGET": "16MiB", "ARCHIVER_PART_SIZE": "64MiB", "ARCHIVER_TRANSFERS": "8"}
    with pytest.raises(ConfigError) as caught:
        store_config(settings(**knobs))
    message = str(caught.value)
    assert "\n" not in message
    for name in ("ARCHIVER_MEMORY_BUDGET", "ARCHIVER_TRANSFERS", "ARCHIVER_PART_SIZE"):
        assert name in message
    assert "at least 512MiB" in message


def test_a_minimum_that_is_not_whole_mib_is_given_in_bytes_never_rounded_down() -> None:
    knobs = {"ARCHIVER_MEMORY_BUDGET": "16MiB", "ARCHIVER_PART_SIZE": "5.5MiB", "ARCHIVER_TRANSFERS": "3"}
    with pytest.raises(ConfigError, match=f"at least {3 * int(5.5 * MiB)},"):
        store_config(settings(**knobs))


def test_a_budget_of_exactly_one_part_per_transfer_goes_to_the_store_shared_by_all() -> None:
    knobs = {"ARCHIVER_MEMORY_BUDGET": "64MiB", "ARCHIVER_PART_SIZE": "16MiB", "ARCHIVER_TRANSFERS": "4"}
    config = store_config(settings(**knobs))
    assert config.parts_in_flight == 4  # the store's budget, not this cap, shares the 4 parts out
    assert config.memory_budget == 64 * MiB


def test_the_default_budget_is_128_mib_and_one_transfer_may_take_8_parts_of_it() -> None:
    config = store_config(settings())
    assert config.memory_budget == 128 * MiB  # 16 parts of 8 MiB for 16 transfers, shared
    assert config.parts_in_flight == 8  # a fast stream alone (the tail of a run) still overlaps its parts


def test_the_default_budget_grows_to_one_part_per_transfer_when_there_are_more_transfers() -> None:
    config = store_config(settings(ARCHIVER_TRANSFERS="32", ARCHIVER_PART_SIZE="16MiB"))
    assert config.memory_budget == 32 * 16 * MiB
    assert config.parts_in_flight == 8


def test_a_set_budget_is_kept_as_given() -> None:
    assert store_config(settings(ARCHIVER_MEMORY_BUDGET="1GiB")).memory_budget == 1024 * MiB


def test_a_transfer_may_take_what_the_budget_holds_up_to_8_parts() -> None:
    assert store_config(settings(ARCHIVER_MEMORY_BUDGET="40MiB", ARCHIVER_TRANSFERS="2")).parts_in_flight == 5


def test_one_transfer_has_at_most_8_parts_in_flight_whatever_the_budget() -> None:
    config = store_config(settings(ARCHIVER_TRANSFERS="1", ARCHIVER_MEMORY_BUDGET="1GiB"))
    assert config.parts_in_flight == 8


async def test_a_part_waits_for_room_and_never_takes_more_than_the_budget() -> None:
    budget = MemoryBudget(10)
    await budget.acquire(6)
    got = anyio.Event()

    async def take() -> None:
        await budget.acquire(6)
        got.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(take)
        await anyio.wait_all_tasks_blocked()
        assert not got.is_set()
        assert budget.held == 6
        budget.release(6)
        await got.wait()
    assert budget.held == 6
    assert budget.peak == 6


async def test_a_large_part_first_in_line_is_not_overtaken_by_smaller_ones() -> None:
    budget = MemoryBudget(10)
    await budget.acquire(4)
    order: list[int] = []

    async def take(size: int) -> None:
        await budget.acquire(size)
        order.append(size)

    async with anyio.create_task_group() as tg:
        tg.start_soon(take, 10)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(take, 2)  # would fit now, but waits behind the large one
        await anyio.wait_all_tasks_blocked()
        assert order == []
        budget.release(4)
        await anyio.wait_all_tasks_blocked()
        assert order == [10]
        budget.release(10)
    assert order == [10, 2]
    assert budget.peak == 10


async def test_a_cancelled_wait_leaves_nothing_held_and_lets_the_next_in_line_in() -> None:
    budget = MemoryBudget(10)
    await budget.acquire(8)
    got: list[int] = []
    first = anyio.CancelScope()

    async def take(size: int) -> None:
        await budget.acquire(size)
        got.append(size)

    async def take_first(size: int) -> None:
        with first:
            await take(size)

    async with anyio.create_task_group() as tg:
        tg.start_soon(take_first, 9)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(take, 2)  # fits, but waits behind the 9
        await anyio.wait_all_tasks_blocked()
        assert got == []
        first.cancel()
    assert got == [2]
    assert budget.held == 10


async def test_a_part_larger_than_the_whole_budget_is_refused_not_waited_for() -> None:
    budget = MemoryBudget(10)
    assert not budget.fits(11)
    with pytest.raises(ValueError, match="do not fit"):
        await budget.acquire(11)


async def test_a_part_buffer_given_back_clean_is_reused_whole_for_the_next_part_of_the_part_size() -> None:
    budget = MemoryBudget(3 * MiB, reuse_size=MiB)
    first = await budget.buffer(MiB)
    first.write(b"x" * MiB)
    budget.give_back(first, reusable=True)
    assert (budget.held, budget.idle) == (0, MiB)
    again = await budget.buffer(MiB)
    assert again is first  # its pages are in memory already: no fault, no zeroing
    assert again.filled == 0  # rewound: filled from the start again
    assert (budget.held, budget.idle) == (MiB, 0)
    budget.give_back(again, reusable=True)


async def test_kept_buffers_are_unmapped_when_the_store_closes() -> None:
    budget = MemoryBudget(3 * MiB, reuse_size=MiB)
    kept = [await budget.buffer(MiB) for _ in range(2)]
    for buf in kept:
        budget.give_back(buf, reusable=True)
    budget.drop_idle()
    assert budget.idle == 0
    assert all(buf.closed for buf in kept)
    part = multipart.part_size(0, None)  # the size the store's budget keeps
    store = S3Store(StoreConfig(bucket="archive", memory_budget=2 * part))
    assert store.budget is not None
    kept_by_store = await store.budget.buffer(part)
    store.budget.give_back(kept_by_store, reusable=True)
    assert store.budget.idle == part
    await store.__aexit__(None, None, None)  # never entered: closing alone gives the kept buffers back
    assert store.budget.idle == 0
    assert kept_by_store.closed


async def test_a_part_buffer_that_may_still_be_in_a_socket_or_of_another_size_is_unmapped_not_kept() -> None:
    budget = MemoryBudget(3 * MiB, reuse_size=MiB)
    retried = await budget.buffer(MiB)
    budget.give_back(retried, reusable=False)  # a failed attempt's connection may still send from it
    last = await budget.buffer(MiB // 2)
    budget.give_back(last, reusable=True)  # an object's last, shorter part
    assert retried.closed
    assert last.closed
    assert budget.idle == 0
    assert (await budget.buffer(MiB)) is not retried


async def test_kept_buffers_count_against_the_budget_and_are_unmapped_to_make_room() -> None:
    budget = MemoryBudget(3 * MiB, reuse_size=MiB)
    kept = [await budget.buffer(MiB) for _ in range(3)]
    for buf in kept:
        budget.give_back(buf, reusable=True)
    big = await budget.buffer(2 * MiB)  # a part larger than the part size: room is made beside the idle
    assert budget.held + budget.idle <= budget.total
    assert sum(buf.closed for buf in kept) == 2
    budget.give_back(big, reusable=True)


async def test_a_part_the_system_cannot_map_gives_its_room_back() -> None:
    """A mapping refused (no memory, too many maps) fails the part, not every part after it: the budget
    still has the room it had."""
    budget = MemoryBudget(1 << 62)
    with pytest.raises(OSError, match="memory"):
        await budget.buffer(1 << 60)  # more than any machine maps: refused with ENOMEM
    assert budget.held == 0
