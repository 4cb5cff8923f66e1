"""engine.pipeline: items flow, fail as values, stop, drain, cancel; memory stays bounded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from engine.errors import FatalError, SkippedError
from engine.pipeline import Activity, Cut, Failed, Finish, Stage, run_pipeline


async def numbers(n: int) -> AsyncIterator[int]:
    for i in range(n):
        yield i


class Sink:
    def __init__(self) -> None:
        self.got: list[Any] = []

    async def __call__(self, value: Any) -> None:
        self.got.append(value)


async def double(x: int) -> int:
    await anyio.lowlevel.checkpoint()
    return x * 2


async def test_items_flow_through_every_stage_to_the_sink() -> None:
    sink = Sink()

    async def label(x: int) -> str:
        return f"v{x}"

    result = await run_pipeline(numbers(50), [Stage("double", 3, double), Stage("label", 2, label)], sink)
    assert sorted(sink.got) == sorted(f"v{2 * i}" for i in range(50))
    assert (result.taken, result.delivered, result.failed, result.dropped, result.lost) == (50, 50, 0, 0, 0)
    assert not result.stopped
    assert not result.cancelled


async def test_no_stages_sends_the_source_straight_to_the_sink() -> None:
    sink = Sink()
    result = await run_pipeline(numbers(5), [], sink)
    assert sink.got == [0, 1, 2, 3, 4]
    assert result.delivered == 5


async def test_finish_goes_straight_to_the_sink_skipping_later_stages() -> None:
    sink = Sink()
    seen_by_transfer: list[int] = []

    async def check(x: int) -> Any:
        return Finish(("already archived", x)) if x % 2 else x

    async def transfer(x: int) -> tuple[str, int]:
        seen_by_transfer.append(x)
        return ("archived", x)

    await run_pipeline(numbers(10), [Stage("check", 2, check), Stage("transfer", 2, transfer)], sink)
    assert sorted(seen_by_transfer) == [0, 2, 4, 6, 8]
    assert sorted(sink.got) == sorted(
        [("archived", x) for x in range(0, 10, 2)] + [("already archived", x) for x in range(1, 10, 2)]
    )


async def test_none_drops_the_item() -> None:
    sink = Sink()

    async def evens(x: int) -> int | None:
        return x if x % 2 == 0 else None

    result = await run_pipeline(numbers(10), [Stage("evens", 2, evens)], sink)
    assert sorted(sink.got) == [0, 2, 4, 6, 8]
    assert (result.dropped, result.delivered, result.lost) == (5, 5, 0)


async def test_failing_item_becomes_a_failed_value_and_the_batch_goes_on() -> None:
    sink = Sink()

    async def picky(x: int) -> int:
        if x == 3:
            raise RuntimeError("flavor missing")
        return x

    result = await run_pipeline(numbers(10), [Stage("check", 2, picky), Stage("next", 1, double)], sink)
    failures = [v for v in sink.got if isinstance(v, Failed)]
    assert len(failures) == 1
    assert (failures[0].item, failures[0].stage, str(failures[0].error)) == (3, "check", "flavor missing")
    assert not failures[0].skipped
    assert sorted(v for v in sink.got if not isinstance(v, Failed)) == [2 * x for x in range(10) if x != 3]
    assert (result.delivered, result.failed) == (10, 1)


async def test_skipped_error_arrives_as_a_skipped_failure() -> None:
    sink = Sink()

    async def skip(x: int) -> int:
        raise SkippedError(f"0_{x}", "no source flavor")

    await run_pipeline(numbers(2), [Stage("check", 1, skip)], sink)
    assert all(isinstance(v, Failed) and v.skipped for v in sink.got)


async def test_fatal_error_cancels_the_run_and_is_raised_unwrapped() -> None:
    sink = Sink()
    started: list[int] = []
    cleaned: list[int] = []

    async def work(x: int) -> int:
        if x == 5:
            await anyio.wait_all_tasks_blocked()
            raise FatalError("bucket gone")
        started.append(x)
        try:
            await anyio.sleep(30)
        finally:
            cleaned.append(x)
        return x

    with pytest.raises(FatalError, match="bucket gone"):
        await run_pipeline(numbers(1000), [Stage("work", 8, work)], sink)
    assert sink.got == []
    assert len(started) == 7  # the other workers had their items
    assert sorted(cleaned) == sorted(started)  # and those were cancelled, their cleanups ran


async def test_sink_error_stops_the_run_and_is_raised_unwrapped() -> None:
    async def broken_sink(value: Any) -> None:
        raise BrokenPipeError("stdout closed")

    with pytest.raises(BrokenPipeError):
        await run_pipeline(numbers(100), [Stage("double", 2, double)], broken_sink)


async def test_workers_of_a_stage_run_concurrently() -> None:
    current = peak = 0

    async def slow(x: int) -> int:
        nonlocal current, peak
        current += 1
        peak = max(peak, current)
        await anyio.sleep(0.01)
        current -= 1
        return x

    await run_pipeline(numbers(20), [Stage("slow", 4, slow)], Sink())
    assert peak == 4


async def test_million_item_source_is_read_only_as_far_as_the_buffers_allow() -> None:
    taken = 0

    async def huge() -> AsyncIterator[int]:
        nonlocal taken
        for i in range(1_000_000):
            taken += 1
            yield i

    stop = anyio.Event()
    taken_when_sink_busy: list[int] = []

    async def stuck_sink(value: Any) -> None:
        if not taken_when_sink_busy:
            await anyio.wait_all_tasks_blocked()  # everything upstream is as full as it gets
            taken_when_sink_busy.append(taken)
            stop.set()

    buffer, stages = 4, [Stage("check", 3, double), Stage("transfer", 2, double)]
    result = await run_pipeline(huge(), stages, stuck_sink, buffer=buffer, stop=stop)
    bound = (len(stages) + 1) * buffer + sum(s.workers for s in stages) + 2  # + the feeder's and the sink's
    assert taken_when_sink_busy[0] <= bound
    assert taken_when_sink_busy[0] >= bound - 2  # the buffers really did fill: the bound is tight
    assert taken <= bound + 1
    assert result.stopped
    assert result.delivered == result.taken


async def test_stop_intake_drains_the_items_already_taken() -> None:
    stop = anyio.Event()
    release = anyio.Event()
    closed: list[str] = []

    async def source() -> AsyncIterator[int]:
        try:
            for i in range(1000):
                yield i
        finally:
            closed.append("source closed")

    async def work(x: int) -> int:
        await release.wait()
        return x

    sink = Sink()
    results = []

    async def run() -> None:
        results.append(await run_pipeline(source(), [Stage("work", 4, work)], sink, buffer=2, stop=stop))

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await anyio.wait_all_tasks_blocked()  # 4 items in the workers, 2 in the buffer, 1 held by the feeder
        stop.set()
        await anyio.wait_all_tasks_blocked()
        release.set()
    [result] = results
    assert result.stopped
    assert not result.cancelled
    assert result.taken == result.delivered == len(sink.got) == 6
    assert sorted(sink.got) == [0, 1, 2, 3, 4, 5]
    assert closed == ["source closed"]


async def test_after_stop_a_stage_with_on_stop_begins_nothing_and_every_item_reaches_the_sink() -> None:
    """Transfers stop starting, the one in flight finishes, the finalizers finish what was transferred, and
    every item taken in reaches the sink, the never-begun ones as `on_stop(item)`."""
    stop = anyio.Event()
    transferring = anyio.Event()
    release = anyio.Event()
    transferred: list[int] = []
    finalized: list[int] = []

    async def check(x: int) -> int:
        return x

    async def transfer(x: int) -> int:
        transferred.append(x)
        if x == 2:
            transferring.set()
            await release.wait()
        return x

    async def finalize(x: int) -> tuple[str, int]:
        if x == 0:
            await release.wait()
        finalized.append(x)
        return ("done", x)

    stages = [
        Stage("check", 1, check),
        Stage("transfer", 1, transfer, on_stop=lambda x: ("not started", x)),
        Stage("finalize", 1, finalize),
    ]
    sink = Sink()
    results = []

    async def run() -> None:
        results.append(await run_pipeline(numbers(100), stages, sink, buffer=1, stop=stop))

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await transferring.wait()
        # 0 in a finalizer, 1 waiting for one, 2 transferring, 3 waiting for a transfer, 4 in the checker...
        await anyio.wait_all_tasks_blocked()
        stop.set()
        await anyio.wait_all_tasks_blocked()
        release.set()
    [result] = results
    assert transferred == [0, 1, 2]  # nothing new began after the stop
    assert sorted(finalized) == [0, 1, 2]  # what was transferred was finished
    assert result.taken == result.delivered == len(sink.got) > 4
    assert result.not_started == result.taken - 3
    assert sorted(sink.got) == [("done", 0), ("done", 1), ("done", 2)] + [
        ("not started", x) for x in range(3, result.taken)
    ]
    assert not result.cancelled


async def test_drain_deadline_cancels_stragglers_and_counts_them_lost() -> None:
    stop = anyio.Event()
    cleaned: list[int] = []

    async def work(x: int) -> int:
        if x == 3:
            stop.set()
        if x % 2:
            try:
                await anyio.sleep(30)
            finally:
                with anyio.move_on_after(1, shield=True):  # the cleanup a transfer would do
                    await anyio.lowlevel.checkpoint()
                    cleaned.append(x)
        return x

    sink = Sink()
    stages = [Stage("work", 4, work)]
    result = await run_pipeline(numbers(100), stages, sink, buffer=0, stop=stop, drain_s=0.05)
    assert result.stopped
    assert result.cancelled
    assert result.lost == len(cleaned) > 0
    assert all(x % 2 == 0 for x in sink.got)


async def test_abort_cancels_at_once() -> None:
    abort = anyio.Event()
    started = 0

    async def work(x: int) -> int:
        nonlocal started
        started += 1
        if started == 3:
            abort.set()
        await anyio.sleep(30)
        return x

    result = await run_pipeline(numbers(100), [Stage("work", 3, work)], Sink(), buffer=0, abort=abort)
    assert result.cancelled
    assert result.delivered == 0
    assert result.lost == result.taken >= 3


async def test_source_error_lets_taken_items_finish_then_is_raised() -> None:
    async def listing() -> AsyncIterator[int]:
        yield 1
        yield 2
        raise ConnectionError("media.list failed after retries")

    sink = Sink()
    with pytest.raises(ConnectionError, match=r"media\.list"):
        await run_pipeline(listing(), [Stage("double", 2, double)], sink)
    assert sorted(sink.got) == [2, 4]


async def test_fatal_error_from_the_source_is_raised_at_once() -> None:
    async def listing() -> AsyncIterator[int]:
        yield 1
        raise FatalError("credentials rejected")

    with pytest.raises(FatalError):
        await run_pipeline(listing(), [Stage("double", 1, double)], Sink())


async def test_stop_set_before_start_takes_nothing() -> None:
    stop = anyio.Event()
    stop.set()
    result = await run_pipeline(numbers(10), [Stage("double", 1, double)], Sink(), stop=stop)
    assert (result.taken, result.stopped) == (0, True)


async def test_stage_without_workers_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one worker"):
        await run_pipeline(numbers(1), [Stage("none", 0, double)], Sink())


async def test_with_report_cut_every_item_the_drain_deadline_cancels_still_reaches_the_sink() -> None:
    """Items held by a worker and items queued for a stage each arrive as Cut(item, stage): none is lost
    without a word, and finished values still queued for the sink arrive as they are."""
    stop = anyio.Event()

    async def check(x: int) -> int:
        await anyio.lowlevel.checkpoint()
        return x

    async def transfer(x: int) -> int:
        if x < 2:
            return x * 10  # finished before the stop
        if x == 5:
            stop.set()
        await anyio.sleep(30)  # held until the deadline cancels it
        return x * 10

    sink = Sink()
    stages = [Stage("check", 2, check), Stage("transfer", 4, transfer)]
    result = await run_pipeline(
        numbers(100), stages, sink, buffer=2, stop=stop, drain_s=0.05, report_cut=True
    )
    assert result.cancelled
    finished = [v for v in sink.got if not isinstance(v, Cut)]
    cut = [v for v in sink.got if isinstance(v, Cut)]
    assert finished == [0, 10]
    assert {c.stage for c in cut} <= {"check", "transfer"}
    assert sorted(c.item for c in cut) == list(range(2, result.taken))  # every other item taken, once
    assert (result.cut, result.lost) == (len(cut), len(cut))
    assert result.delivered == len(finished)


async def test_without_report_cut_the_sink_hears_nothing_of_cancelled_items() -> None:
    abort = anyio.Event()

    async def work(x: int) -> int:
        abort.set()
        await anyio.sleep(30)
        return x

    sink = Sink()
    result = await run_pipeline(numbers(10), [Stage("work", 2, work)], sink, buffer=1, abort=abort)
    assert sink.got == []
    assert result.cut == 0
    assert result.lost == result.taken > 0


async def test_activity_counts_the_feeder_and_each_worker_holding_an_item() -> None:
    """`activity` is the feeder until the source ends plus every worker while it holds an item (its failure
    included); each fall is heard, and a finished run leaves nothing counted."""
    activity = Activity()
    falls: list[int] = []
    activity.listen(lambda: falls.append(activity.active))
    seen: dict[int, int] = {}
    gate, more = anyio.Event(), anyio.Event()

    async def held(x: int) -> int:
        seen[x] = activity.active
        if x == 2:
            raise ValueError("bad item")
        await gate.wait()
        return x

    async def source() -> AsyncIterator[int]:
        yield 0
        await more.wait()
        yield 1
        yield 2

    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: run_pipeline(source(), [Stage("hold", 3, held)], Sink(), activity=activity))
        await anyio.wait_all_tasks_blocked()
        assert (activity.active, seen[0]) == (2, 2)  # the feeder, still reading, and the worker holding 0
        more.set()
        await anyio.wait_all_tasks_blocked()
        assert activity.active == 2  # the feeder has ended, item 2 failed: the workers holding 0 and 1
        gate.set()
    assert activity.active == 0
    assert len(falls) == 4  # the feeder, items 2, 0 and 1
    assert falls[-2:] == [1, 0]


async def test_a_worker_with_items_queued_never_looks_idle_between_them() -> None:
    """A worker takes the next queued item before it stops counting: between items it never looks like a
    task that cannot ask anything (a batcher would send a batch without it)."""
    activity = Activity()
    falls: list[int] = []
    activity.listen(lambda: falls.append(activity.active))
    gate = anyio.Event()

    async def first_waits(x: int) -> int:
        if x == 0:
            await gate.wait()
        return x

    stages = [Stage("one", 1, first_waits)]
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: run_pipeline(numbers(3), stages, Sink(), activity=activity))
        await anyio.wait_all_tasks_blocked()
        assert falls == [1]  # the feeder queued 1 and 2 and ended; the worker holds 0
        gate.set()
    assert falls == [1, 0]  # the worker stopped counting once, after its last item
