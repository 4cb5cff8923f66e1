"""Group commit: concurrent submitters share calls; answers and errors reach the right submitter."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import pytest

from engine.batch import Batcher
from engine.errors import DeadlineError
from engine.pipeline import Activity


class Recorder:
    """A batch call that remembers its batches and answers key * 10 (a ValueError for negative keys)."""

    def __init__(self, pause_s: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.pause_s = pause_s

    async def __call__(self, keys: Sequence[int]) -> list[int | Exception]:
        self.batches.append(list(keys))
        await anyio.sleep(self.pause_s)
        return [ValueError(f"bad {k}") if k < 0 else k * 10 for k in keys]


class HeldWhileOne:
    """A batch call that remembers its batches, answers key * 10, and holds a batch with key 1 in flight until
    `release` is set."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = anyio.Event()

    async def __call__(self, keys: Sequence[int]) -> list[int | Exception]:
        self.batches.append(list(keys))
        if 1 in keys:
            await self.release.wait()
        return [k * 10 for k in keys]


async def test_a_lone_request_goes_out_at_once_and_gets_its_answer() -> None:
    call = Recorder()
    async with Batcher(call, max_batch=10) as batcher:
        assert await batcher.submit(4) == 40
    assert call.batches == [[4]]


async def test_requests_arriving_during_a_call_share_the_next_one() -> None:
    call = Recorder(pause_s=0.05)
    answers: dict[int, int] = {}
    async with Batcher(call, max_batch=50) as batcher:

        async def ask(k: int) -> None:
            answers[k] = await batcher.submit(k)

        async with anyio.create_task_group() as tg:
            for k in range(20):
                tg.start_soon(ask, k)
    assert answers == {k: k * 10 for k in range(20)}
    assert len(call.batches) < 20
    assert sorted(k for batch in call.batches for k in batch) == list(range(20))


async def test_batches_never_exceed_max_batch() -> None:
    call = Recorder(pause_s=0.01)
    async with Batcher(call, max_batch=3) as batcher, anyio.create_task_group() as tg:
        for k in range(10):
            tg.start_soon(batcher.submit, k)
    assert max(len(b) for b in call.batches) <= 3


async def test_one_keys_error_goes_to_its_submitter_only() -> None:
    call = Recorder(pause_s=0.01)
    results: dict[int, object] = {}
    async with Batcher(call, max_batch=10) as batcher:

        async def ask(k: int) -> None:
            try:
                results[k] = await batcher.submit(k)
            except ValueError as exc:
                results[k] = str(exc)

        async with anyio.create_task_group() as tg:
            for k in (1, -2, 3):
                tg.start_soon(ask, k)
    assert results == {1: 10, -2: "bad -2", 3: 30}


async def test_a_failed_call_fails_every_request_of_its_batch_and_the_batcher_goes_on() -> None:
    calls = 0

    async def flaky(keys: Sequence[int]) -> list[int | Exception]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("connection lost")
        return list(keys)

    async with Batcher(flaky, max_batch=10) as batcher:
        with pytest.raises(RuntimeError, match="connection lost"):
            await batcher.submit(1)
        assert await batcher.submit(2) == 2


async def test_a_wrong_number_of_answers_is_an_error_not_a_mix_up() -> None:
    async def short(keys: Sequence[int]) -> list[int | Exception]:
        return []

    async with Batcher(short, max_batch=10) as batcher:
        with pytest.raises(RuntimeError, match="0 answers for 1"):
            await batcher.submit(1)


async def test_submit_outside_the_context_is_refused() -> None:
    with pytest.raises(RuntimeError, match="outside"):
        await Batcher(Recorder(), max_batch=1).submit(1)


async def test_a_submitter_hears_a_deadline_error_when_its_batch_never_answers() -> None:
    never = anyio.Event()

    async def stuck(keys: Sequence[int]) -> list[int | Exception]:
        await never.wait()
        return list(keys)

    async with Batcher(stuck, max_batch=4, timeout_s=0.05) as batcher:
        with pytest.raises(DeadlineError, match=r"within 0\.05 s"):
            await batcher.submit(1)
        never.set()  # let the flusher finish so the block can end


async def test_with_a_ready_gate_everything_queued_while_waiting_goes_in_one_batch() -> None:
    call = Recorder()
    gate = anyio.Event()
    async with Batcher(call, max_batch=50, ready=gate.wait) as batcher, anyio.create_task_group() as tg:
        for k in range(30):
            tg.start_soon(batcher.submit, k)
        await anyio.wait_all_tasks_blocked()
        gate.set()  # the rate lets the call go now: it takes all 30 at once
    assert call.batches == [list(range(30))]


async def test_a_request_that_does_not_fit_opens_the_next_batch() -> None:
    call = Recorder()
    gate = anyio.Event()

    def fits(keys: Sequence[int]) -> bool:
        return sum(keys) <= 10

    async with (
        Batcher(call, max_batch=50, ready=gate.wait, fits=fits) as batcher,
        anyio.create_task_group() as tg,
    ):
        for k in (4, 5, 3, 2):
            tg.start_soon(batcher.submit, k)
            await anyio.wait_all_tasks_blocked()
        gate.set()
    assert call.batches == [[4, 5], [3, 2]]


async def test_a_request_whose_submitter_gave_up_while_queued_is_never_sent() -> None:
    """Given up (its deadline) while the batch waited at the gate: the call that follows leaves it out, so
    a call that must not run twice is not sent behind its caller's back."""
    call = Recorder()
    gate = anyio.Event()
    async with Batcher(call, max_batch=10, ready=gate.wait, timeout_s=0.05) as batcher:
        with pytest.raises(DeadlineError):
            await batcher.submit(1)  # taken by the flusher's first receive, held at the gate
        with pytest.raises(DeadlineError):
            await batcher.submit(2)  # queued behind it
        gate.set()
        batcher.timeout_s = 10
        assert await batcher.submit(3) == 30
    assert [k for batch in call.batches for k in batch] == [3]


async def test_a_lingering_batch_waits_for_company_and_takes_what_comes() -> None:
    """With `linger_s`, a lone first request is held (no call yet) and the requests that follow join it."""
    call = Recorder()
    async with Batcher(call, max_batch=4, linger_s=3600) as batcher, anyio.create_task_group() as tg:
        tg.start_soon(batcher.submit, 1)
        await anyio.wait_all_tasks_blocked()
        assert call.batches == []  # held for company, not sent
        for k in (2, 3):
            tg.start_soon(batcher.submit, k)
            await anyio.wait_all_tasks_blocked()
        assert call.batches == []
        tg.start_soon(batcher.submit, 4)  # the batch is full: it goes at once, an hour early
    assert call.batches == [[1, 2, 3, 4]]


async def test_lingering_flushers_never_split_a_batch() -> None:
    """Two flushers: only one gathers at a time, so staggered requests still travel together."""
    call = Recorder()
    async with (
        Batcher(call, max_batch=3, flushers=2, linger_s=3600) as batcher,
        anyio.create_task_group() as tg,
    ):
        for k in range(6):
            tg.start_soon(batcher.submit, k)
            await anyio.wait_all_tasks_blocked()
    assert call.batches == [[0, 1, 2], [3, 4, 5]]


async def test_a_lone_lingering_request_goes_when_nobody_else_asks() -> None:
    """`quiet_s`: the batch does not wait its whole linger when no other request comes."""
    call = Recorder()
    with anyio.fail_after(600):  # the linger is a day: only the quiet gap can send it
        async with Batcher(call, max_batch=10, linger_s=86_400, quiet_s=0.01) as batcher:
            assert await batcher.submit(7) == 70
    assert call.batches == [[7]]


async def test_a_lingering_batch_goes_when_its_oldest_request_waited_long_enough() -> None:
    call = Recorder()
    with anyio.fail_after(600):
        async with Batcher(call, max_batch=10, linger_s=0.01) as batcher:
            assert await batcher.submit(5) == 50
    assert call.batches == [[5]]


async def test_a_lingering_batch_leaves_out_requests_that_do_not_fit_and_goes_when_the_batcher_closes() -> (
    None
):
    call = Recorder()

    def fits(keys: Sequence[int]) -> bool:
        return sum(keys) <= 10

    with anyio.fail_after(600):  # the linger is an hour: only closing the batcher sends the last batch
        # the batcher closes before the submitters' group ends: that is what sends [3, 2]
        async with (
            anyio.create_task_group() as tg,
            Batcher(call, max_batch=50, fits=fits, linger_s=3600) as batcher,
        ):
            for k in (4, 5, 3, 2):
                tg.start_soon(batcher.submit, k)
                await anyio.wait_all_tasks_blocked()
            # 4 + 5 + 3 does not fit: [4, 5] went at once, [3, 2] lingers
            assert call.batches == [[4, 5]]
    assert call.batches == [[4, 5], [3, 2]]


async def test_a_lingering_batch_goes_at_once_when_every_busy_task_waits_on_it() -> None:
    """With `company`, nobody else can join once every task holding work waits for an answer: the batch goes
    then, not a quiet gap or a linger later."""
    call = Recorder()
    activity = Activity()
    activity.begin()
    activity.begin()  # two tasks hold work
    async with (
        Batcher(call, max_batch=10, linger_s=3600, quiet_s=3600, company=activity) as batcher,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(batcher.submit, 1)
        await anyio.wait_all_tasks_blocked()
        assert call.batches == []  # the other busy task may still ask
        tg.start_soon(batcher.submit, 2)
        await anyio.wait_all_tasks_blocked()
        assert call.batches == [[1, 2]]  # both wait on this batch: it goes an hour early


async def test_a_task_that_stops_holding_work_lets_the_waiting_batch_go() -> None:
    call = Recorder()
    activity = Activity()
    activity.begin()
    activity.begin()
    async with (
        Batcher(call, max_batch=10, linger_s=3600, quiet_s=3600, company=activity) as batcher,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(batcher.submit, 1)
        await anyio.wait_all_tasks_blocked()
        assert call.batches == []
        activity.end()  # the other task finished its item without asking anything
        await anyio.wait_all_tasks_blocked()
        assert call.batches == [[1]]


async def test_a_batch_in_flight_keeps_the_next_one_lingering() -> None:
    """Its submitters get their answers soon and may ask again: the next batch still waits for them."""
    held = HeldWhileOne()
    batches, release = held.batches, held.release

    activity = Activity()
    for _ in range(3):
        activity.begin()  # three tasks hold work
    async with (
        Batcher(held, max_batch=10, flushers=2, linger_s=3600, quiet_s=3600, company=activity) as batcher,
        anyio.create_task_group() as tg,
    ):
        for k in (1, 2, 3):  # once all three wait, the batch goes, and is held in flight
            tg.start_soon(batcher.submit, k)
            await anyio.wait_all_tasks_blocked()
        assert batches == [[1, 2, 3]]
        activity.begin()  # a fourth task takes an item and asks
        tg.start_soon(batcher.submit, 4)
        await anyio.wait_all_tasks_blocked()
        assert batches == [[1, 2, 3]]  # every busy task waits, but the answer in flight may bring company
        release.set()
        await anyio.wait_all_tasks_blocked()
        assert batches == [[1, 2, 3]]  # answered: the three may ask again
        activity.end()
        activity.end()
        await anyio.wait_all_tasks_blocked()
        assert batches == [[1, 2, 3]]  # one of them still holds work and does not wait
        activity.end()
        await anyio.wait_all_tasks_blocked()
        assert batches == [[1, 2, 3], [4]]


async def test_a_batch_nobody_else_can_join_does_not_wait_for_the_rate_gate() -> None:
    """`ready` is where a batch gathers the calls that come while the rate holds it; with `company`, a batch
    nobody else can join skips it (the pacer still spaces the call itself)."""
    call = Recorder()
    gate = anyio.Event()
    activity = Activity()
    activity.begin()
    activity.begin()  # two tasks hold work

    async def rate_gate() -> None:
        await gate.wait()

    async with (
        Batcher(call, max_batch=10, ready=rate_gate, company=activity) as batcher,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(batcher.submit, 1)
        await anyio.wait_all_tasks_blocked()
        assert call.batches == []  # the other task may ask while the gate is shut: the batch waits there
        gate.set()
        await anyio.wait_all_tasks_blocked()
        assert call.batches == [[1]]
        gate = anyio.Event()  # shut again
        activity.end()  # one task left
        tg.start_soon(batcher.submit, 2)
        await anyio.wait_all_tasks_blocked()
        assert call.batches == [[1], [2]]  # nobody else can come: it went without waiting at the gate


async def test_a_submitter_answered_counts_as_one_who_may_ask_again_before_it_resumes() -> None:
    """An answer and another task's end in the same step: the answered submitters have not run yet, but they
    may ask again at once, so the lingering batch waits for them instead of going alone."""
    held = HeldWhileOne()
    batches, release = held.batches, held.release

    activity = Activity()
    activity.begin()
    activity.begin()  # A and B hold work

    async def ask_twice(first: int) -> None:
        await batcher.submit(first)
        await batcher.submit(first + 10)

    with anyio.fail_after(60):  # the linger is an hour: a batch sent alone leaves A and B waiting for it
        async with (
            Batcher(held, max_batch=10, flushers=2, linger_s=3600, quiet_s=3600, company=activity) as batcher,
            anyio.create_task_group() as tg,
        ):
            for k in (1, 2):  # A and B both wait: [1, 2] goes and is held in flight
                tg.start_soon(ask_twice, k)
                await anyio.wait_all_tasks_blocked()
            activity.begin()
            activity.begin()  # C and D take items
            tg.start_soon(batcher.submit, 4)  # C asks: it lingers behind the batch in flight
            await anyio.wait_all_tasks_blocked()
            release.set()
            activity.end()  # in the same step: D finishes without asking
            await anyio.wait_all_tasks_blocked()
            assert batches == [[1, 2], [4, 11, 12]]


async def test_a_falling_company_does_not_restart_the_quiet_gap() -> None:
    """Other tasks finishing items wake a lingering batch to look again; the quiet gap still counts from the
    newest request, so a lone request goes after `quiet_s`, not after the whole linger."""
    call = Recorder()
    activity = Activity()
    for _ in range(3):
        activity.begin()
    answered = anyio.Event()

    async def ask() -> None:
        await batcher.submit(7)
        answered.set()

    with anyio.fail_after(60):  # the linger is a day: only the quiet gap can send it
        async with (
            Batcher(call, max_batch=10, linger_s=86_400, quiet_s=0.01, company=activity) as batcher,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(ask)
            while not answered.is_set():  # others keep finishing items (and taking new ones) meanwhile
                activity.end()
                activity.begin()
                await anyio.lowlevel.checkpoint()
    assert call.batches == [[7]]
