"""The pipeline: a source, stages of worker pools, and a sink, joined by small bounded streams.

```
source ──► stage 1 (n workers) ──► stage 2 (m workers) ──► … ──► sink (one task)
```

A stage function returns what the next stage gets, `Finish(value)` to send `value` straight to the sink
(e.g. a decided "skip"), or None to drop the item. An exception other than `FatalError` becomes a `Failed`
value for the sink, so one bad item never stops the batch; a `FatalError` cancels the run and is re-raised.
Every stream holds at most `buffer` items, so the items in the pipeline at any moment are bounded by
`(stages + 1) · buffer + workers + 2`, however long the source.

Setting `stop` stops reading the source; what was already taken drains through the stages, except that a
stage with `on_stop` begins nothing after the stop: each item it takes from then on goes straight to the sink
as `on_stop(item)` (a transfer stage starts no new transfer, yet every entry it was given gets its row).
After `drain_s` (if given) or once `abort` is set, whatever is still running is cancelled (stage functions
clean up under their own shielded scopes); with `report_cut`, every item taken in but not finished then still
reaches the sink, as `Cut(item, stage)`, so a report can give each its row.

With `activity`, the run counts the tasks that hold work: the feeder until the source ends, and each worker
while it holds an item. A batcher of API calls (`engine.batch`) uses it to send a batch at once when every
one of them already waits for an answer from it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import AsyncIterable, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from engine.errors import FatalError, SkippedError, leaf_errors

T = TypeVar("T")

# how long closing the source (an async generator's finally) may take after a stop
_SOURCE_CLOSE_S = 5.0


@dataclass(frozen=True)
class Stage:
    """One pool of `workers` tasks applying `fn` to each item.

    `on_stop`: once the pipeline's `stop` is set, an item this stage takes is not given to `fn` but to
    `on_stop`, whose result goes to the sink. For a stage whose work should not begin during a drain (a
    costly transfer); a stage that only finishes what earlier stages did (tagging a proven copy) has none.
    """

    name: str
    workers: int
    fn: Callable[[Any], Awaitable[Any]]
    on_stop: Callable[[Any], Any] | None = None


class Activity:
    """How many of a pipeline's tasks hold work now; listeners hear each time that falls."""

    def __init__(self) -> None:
        self.active = 0
        self._listeners: list[Callable[[], None]] = []

    def listen(self, fn: Callable[[], None]) -> None:
        self._listeners.append(fn)

    def unlisten(self, fn: Callable[[], None]) -> None:
        self._listeners.remove(fn)

    def begin(self) -> None:
        self.active += 1

    def end(self) -> None:
        self.active -= 1
        for fn in list(self._listeners):
            fn()


@dataclass(frozen=True)
class Finish(Generic[T]):
    """Returned by a stage: `value` is done and goes straight to the sink, skipping later stages."""

    value: T


@dataclass(frozen=True)
class Failed:
    """What the sink gets for an item whose stage raised: the item as the stage got it, and the error."""

    item: Any
    stage: str
    error: Exception

    @property
    def skipped(self) -> bool:
        """The stage chose to leave the item alone (`SkippedError`): counted, not a failure."""
        return isinstance(self.error, SkippedError)


@dataclass(frozen=True)
class Cut:
    """What the sink gets (with `report_cut`) for an item the drain deadline or an abort cancelled: the item
    as `stage` got it, or was about to get it."""

    item: Any
    stage: str


@dataclass(frozen=True)
class PipelineResult:
    """What happened to the items: taken in, delivered to the sink (of which failed), dropped by a stage."""

    taken: int
    delivered: int
    failed: int
    dropped: int
    stopped: bool  # intake stopped before the source was exhausted
    cancelled: bool  # the drain deadline or abort cancelled items still in flight
    not_started: int = 0  # delivered as `on_stop(item)`: taken by a stage after the stop, never begun
    cut: int = 0  # of the lost, those that still reached the sink as `Cut` (with `report_cut`)

    @property
    def lost(self) -> int:
        """Items taken in that were neither finished nor dropped: cancelled in flight (`Cut` ones too)."""
        return self.taken - self.delivered - self.dropped


class _Run:
    """The state of one `run_pipeline` call: its streams, scopes and counters."""

    def __init__(
        self,
        source: AsyncIterable[Any],
        sink: Callable[[Any], Awaitable[None]],
        stop: anyio.Event | None,
        activity: Activity | None = None,
    ) -> None:
        self.activity = activity or Activity()
        self.source = source
        self.sink = sink
        self.stop = stop
        self.intake = anyio.CancelScope()
        self.source_error: Exception | None = None
        self.taken = self.delivered = self.failed = self.dropped = self.not_started = self.cut = 0
        self.stopped = self.cancelled = False
        self.ends: list[MemoryObjectSendStream[Any] | MemoryObjectReceiveStream[Any]] = []
        # what a cancellation would leave behind: the item each worker holds, and a spare receiving end of
        # each stream (stage name; None for the sink's), through which the items still queued can be read
        self.busy: dict[int, tuple[str, Any]] = {}
        self.spares: list[tuple[str | None, MemoryObjectReceiveStream[Any]]] = []
        self._keys = itertools.count()

    def keep(self, *ends: Any) -> tuple[Any, ...]:
        """Remember stream ends so they can all be closed, even those of tasks cancelled before they ran."""
        self.ends.extend(ends)
        return ends

    def close_all(self) -> None:
        for end in self.ends:
            end.close()

    async def feed(self, send: MemoryObjectSendStream[Any], stop: anyio.Event | None) -> None:
        self.activity.begin()
        try:
            await self._feed(send, stop)
        finally:
            self.activity.end()

    async def _feed(self, send: MemoryObjectSendStream[Any], stop: anyio.Event | None) -> None:
        async with send:
            with self.intake:
                try:
                    async for item in self.source:
                        if stop is not None and stop.is_set():
                            self.stopped = True
                            break
                        await send.send(item)
                        self.taken += 1
                except FatalError:
                    raise
                except Exception as exc:
                    # the listing broke: stop taking items, let the taken ones finish, raise it at the end
                    self.source_error = exc
                    self.stopped = True
            if self.intake.cancelled_caught:
                self.stopped = True
            await self._close_source()

    async def _close_source(self) -> None:
        aclose = getattr(self.source, "aclose", None)
        if aclose is not None:
            with anyio.move_on_after(_SOURCE_CLOSE_S, shield=True):
                await aclose()

    async def work(
        self,
        stage: Stage,
        receive: MemoryObjectReceiveStream[Any],
        send_next: MemoryObjectSendStream[Any],
        send_sink: MemoryObjectSendStream[Any],
    ) -> None:
        async with receive, send_next, send_sink:
            # counted in `activity` from its first item until it finds none queued: a worker that takes the
            # next item at once never looks idle in between (a batcher would take it for one that cannot ask)
            held = False
            try:
                while True:
                    if held:
                        await anyio.lowlevel.checkpoint()  # between items, as `async for` would (before
                        # taking the next: a cancellation here leaves it queued, where `settle` finds it)
                    try:
                        item = receive.receive_nowait()
                    except anyio.WouldBlock:
                        if held:
                            held = False
                            self.activity.end()
                        try:
                            item = await receive.receive()
                        except anyio.EndOfStream:
                            return
                    except anyio.EndOfStream:
                        return
                    if not held:
                        held = True
                        self.activity.begin()
                    key = next(self._keys)
                    self.busy[key] = (stage.name, item)  # until handed on; a cancellation leaves it here
                    await self._handle(stage, item, send_next, send_sink)
                    del self.busy[key]
            finally:
                if held:
                    self.activity.end()

    async def _handle(
        self,
        stage: Stage,
        item: Any,
        send_next: MemoryObjectSendStream[Any],
        send_sink: MemoryObjectSendStream[Any],
    ) -> None:
        if stage.on_stop is not None and self.stop is not None and self.stop.is_set():
            self.not_started += 1
            await send_sink.send(stage.on_stop(item))  # not begun: the sink still hears of it
            return
        outcome = await _apply(stage, item)
        if outcome is None:
            self.dropped += 1
        elif isinstance(outcome, Finish):
            await send_sink.send(outcome.value)
        elif isinstance(outcome, Failed):
            await send_sink.send(outcome)
        else:
            await send_next.send(outcome)

    async def deliver(self, receive: MemoryObjectReceiveStream[Any]) -> None:
        async with receive:
            async for value in receive:
                await self.hand_over(value)

    async def hand_over(self, value: Any) -> None:
        await self.sink(value)
        if isinstance(value, Cut):
            self.cut += 1
            return
        self.delivered += 1
        if isinstance(value, Failed):
            self.failed += 1

    async def settle(self) -> None:
        """After a cancellation: the finished values still queued for the sink, then every item taken in but
        not finished (held by a worker, or queued for a stage) as `Cut`, reach the sink."""
        left: list[Any] = []
        for stage, spare in self.spares:
            while True:
                try:
                    item = spare.receive_nowait()
                except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                    break
                left.append(item if stage is None else Cut(item, stage))
        left += [Cut(item, stage) for stage, item in self.busy.values()]
        self.busy.clear()
        for value in sorted(left, key=lambda v: isinstance(v, Cut)):  # finished values first
            await self.hand_over(value)

    async def watch_stop(self, stop: anyio.Event, drain_s: float | None, work: anyio.CancelScope) -> None:
        await stop.wait()
        self.intake.cancel()
        await anyio.sleep(math.inf if drain_s is None else drain_s)
        self.cancelled = True
        work.cancel()

    async def watch_abort(self, abort: anyio.Event, work: anyio.CancelScope) -> None:
        await abort.wait()
        self.intake.cancel()
        self.cancelled = True
        work.cancel()

    def result(self) -> PipelineResult:
        return PipelineResult(
            taken=self.taken,
            delivered=self.delivered,
            failed=self.failed,
            dropped=self.dropped,
            stopped=self.stopped,
            cancelled=self.cancelled,
            not_started=self.not_started,
            cut=self.cut,
        )


async def _apply(stage: Stage, item: Any) -> Any:
    try:
        return await stage.fn(item)
    except FatalError:
        raise
    except Exception as exc:  # one item's failure is a value for the sink, never the end of the batch
        return Failed(item=item, stage=stage.name, error=exc)


async def run_pipeline(
    source: AsyncIterable[Any],
    stages: Sequence[Stage],
    sink: Callable[[Any], Awaitable[None]],
    *,
    buffer: int = 16,
    stop: anyio.Event | None = None,
    drain_s: float | None = None,
    abort: anyio.Event | None = None,
    report_cut: bool = False,
    activity: Activity | None = None,
) -> PipelineResult:
    """Push every item of `source` through `stages` into `sink`; return the counts.

    The sink runs in one task, so it sees one value at a time: a stage's result, a `Finish` value or a
    `Failed`. An error from the source stops intake, lets the taken items finish, then is raised; an error
    from the sink, or a `FatalError` anywhere, cancels the run and is raised (not wrapped in a group).
    """
    if buffer < 0:
        raise ValueError(f"buffer must be 0 or more, not {buffer}")
    for stage in stages:
        if stage.workers < 1:
            raise ValueError(f"stage {stage.name!r} needs at least one worker, not {stage.workers}")
    run = _Run(source, sink, stop, activity)
    error: BaseException | None = None
    try:
        async with anyio.create_task_group() as watchers:
            async with anyio.create_task_group() as work:
                _start(run, work, stages, buffer, stop)
                if stop is not None:
                    watchers.start_soon(run.watch_stop, stop, drain_s, work.cancel_scope)
                if abort is not None:
                    watchers.start_soon(run.watch_abort, abort, work.cancel_scope)
            watchers.cancel_scope.cancel()
        if report_cut and run.cancelled:
            await run.settle()
    except BaseExceptionGroup as group:
        error = _first_error(group)  # raised below, outside this block, so its own cause stays as it was
    finally:
        run.close_all()
    if error is not None:
        raise error
    if run.source_error is not None:
        raise run.source_error
    return run.result()


def _start(
    run: _Run, tg: anyio.abc.TaskGroup, stages: Sequence[Stage], buffer: int, stop: anyio.Event | None
) -> None:
    """Start the feeder, the workers and the sink: stage i reads stream i and writes stream i+1."""
    streams = [anyio.create_memory_object_stream[Any](buffer) for _ in range(len(stages) + 1)]
    run.keep(*(end for pair in streams for end in pair))
    names: list[str | None] = [stage.name for stage in stages]
    for (_, receive), name in zip(streams, [*names, None], strict=True):
        run.spares.append((name, receive.clone()))
    run.keep(*(spare for _, spare in run.spares))
    sink_send = streams[-1][0]
    tg.start_soon(run.feed, streams[0][0], stop)
    for i, stage in enumerate(stages):
        receive, send_next = streams[i][1], streams[i + 1][0]
        for _ in range(stage.workers):
            ends = run.keep(receive.clone(), send_next.clone(), sink_send.clone())
            tg.start_soon(run.work, stage, *ends)
    # the tasks hold clones; closing the originals lets each stream end when its last writer is done
    for i in range(len(stages)):
        streams[i][1].close()
        streams[i + 1][0].close()
    tg.start_soon(run.deliver, streams[-1][1])


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error a caller should see: a FatalError if any, else the first one."""
    leaves = list(leaf_errors(group))
    fatal = [e for e in leaves if isinstance(e, FatalError)]
    return (fatal or leaves)[0]
