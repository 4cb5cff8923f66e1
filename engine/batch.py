"""Group commit for API calls: many workers ask one at a time, one request answers a batch of them.

A worker calls `await batcher.submit(key)` and gets its own answer. `flushers` tasks take whatever is waiting
(up to `max_batch`) and send it as one call. With `ready` (e.g. `Pacer.ready`), a flusher holding a first
request waits until the call could start, THEN takes everything queued meanwhile: batches grow exactly when
the rate is the bottleneck ("natural batching"), and a quiet run pays no delay. So a busy run sends few
requests (how the Kaltura adapter puts getUrl, re-reads and tag writes of many workers in few multirequests).
With `fits`, a batch also stops before the request that would not fit (by the caller's measure, e.g.
sub-calls); that request opens the next batch.
With `linger_s`, a batch also waits for company: it goes when it is full, when its oldest request has waited
`linger_s`, or when no new request came for `quiet_s` (so a lone request waits only that long). A call that is
in flight counts as waiting time for the requests queued behind it. This is what keeps requests per entry
low when the rate does not bind: a busy run sends full batches, not one per pacer token.
With `company` (e.g. a pipeline's `Activity`: how many tasks hold work), a batch also goes at once when
nobody else can join it: no batch is in flight (whose submitters would come back) and every task that holds
work is waiting for an answer here. Lingering or waiting for `ready` then adds nothing, only delay (a run's
first and last steps, a small run).
Only one flusher collects at a time (the others may be sending), so lingering flushers never split a batch.
Nothing is unbounded: at most `max_batch` requests wait in the stream; more submitters wait to send; and a
submitter waits at most `timeout_s` for its answer (docs/architecture.md, conventions 5), then hears a
`DeadlineError` (retryable).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Generic, Protocol, TypeVar

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from engine.deadlines import deadline

K = TypeVar("K")
V = TypeVar("V")

# one call for a batch of keys: one answer per key, in order (an Exception for a key that failed)
BatchCall = Callable[[Sequence[K]], Awaitable[Sequence["V | Exception"]]]


class Company(Protocol):
    """Who else could submit: how many tasks hold work now, and a way to hear when that falls."""

    @property
    def active(self) -> int: ...

    def listen(self, fn: Callable[[], None]) -> None: ...

    def unlisten(self, fn: Callable[[], None]) -> None: ...


class _Request(Generic[K, V]):
    __slots__ = ("abandoned", "born", "done", "error", "key", "taken", "value", "waiting")

    def __init__(self, key: K, born: float) -> None:
        self.key = key
        self.born = born  # when it was submitted (anyio's clock): its batch lingers from there
        self.done = anyio.Event()
        self.value: V | None = None
        self.error: BaseException | None = None
        self.taken = False  # a flusher put it in a batch: from then on it is sent
        self.abandoned = False  # its submitter gave up before that: it is never sent
        self.waiting = True  # counted in the batcher's `_waiting` until answered or given up


class Batcher(Generic[K, V]):
    """Batches `submit(key)` calls into `call(keys)`; use as `async with Batcher(call, ...) as batcher`."""

    def __init__(
        self,
        call: BatchCall[K, V],
        *,
        max_batch: int,
        flushers: int = 1,
        name: str = "batch",
        timeout_s: float = 600.0,
        ready: Callable[[], Awaitable[None]] | None = None,
        fits: Callable[[Sequence[K]], bool] | None = None,
        linger_s: float = 0.0,
        quiet_s: float = 0.0,
        company: Company | None = None,
    ) -> None:
        if max_batch < 1 or flushers < 1:
            raise ValueError("max_batch and flushers must be at least 1")
        if not timeout_s > 0:
            raise ValueError("timeout_s must be positive")
        if linger_s < 0 or quiet_s < 0:
            raise ValueError("linger_s and quiet_s must not be negative")
        self._linger_s = linger_s
        self._quiet_s = quiet_s
        self._collecting = anyio.Lock()  # one flusher gathers a batch at a time
        self._carry: _Request[K, V] | None = None  # taken, did not fit the last batch: opens the next
        self._arrived = anyio.Event()  # set by each submit (and when `company` falls): look again
        self._company = company
        self._waiting = 0  # submitters waiting for their answer (queued or in flight)
        self._last_arrival = -math.inf  # when the newest request was submitted (anyio's clock)
        self._sending = 0  # batches in flight
        self.timeout_s = timeout_s
        self._call = call
        self._max = max_batch
        self._flushers = flushers
        self._ready = ready
        self._fits = fits
        self.name = name
        self.calls = 0  # batches sent
        self.submitted = 0
        self._send: MemoryObjectSendStream[_Request[K, V]] | None = None
        self._tg: TaskGroup | None = None

    async def submit(self, key: K) -> V:
        """The answer for `key` (its batch's error, or its own, is raised); DeadlineError after `timeout_s`
        (the queue and the call together; a late answer is dropped, so calls should be idempotent)."""
        if self._send is None:
            raise RuntimeError(f"{self.name}: submit() outside `async with`")
        request: _Request[K, V] = _Request(key, anyio.current_time())
        self.submitted += 1
        self._waiting += 1
        try:
            with deadline(self.timeout_s, f"{self.name}: batched call"):
                await self._send.send(request)
                self._last_arrival = anyio.current_time()
                self._arrived.set()
                await request.done.wait()
        except BaseException:
            # given up (deadline, cancellation): a request still queued is dropped, never sent later behind
            # its submitter's back; one already taken may or may not have reached the server
            request.abandoned = not request.taken
            raise
        finally:
            self._stop_waiting(request)
        if request.error is not None:
            raise request.error
        return request.value  # type: ignore[return-value]  # set together with done

    async def _flush(self, receive: MemoryObjectReceiveStream[_Request[K, V]]) -> None:
        async with receive:
            while True:
                async with self._collecting:
                    batch = await self._collect(receive)
                if batch is None:
                    return
                if batch:
                    await self._answer(batch)

    async def _collect(
        self, receive: MemoryObjectReceiveStream[_Request[K, V]]
    ) -> list[_Request[K, V]] | None:
        """The next batch (None once the stream has ended): a first request, what comes while it lingers,
        then, once the pacer lets the call go, whatever was queued meanwhile."""
        first, self._carry = self._carry, None
        if first is None:
            try:
                first = await receive.receive()
            except anyio.EndOfStream:
                return None
        batch = [first]
        full = await self._linger(receive, batch) if self._linger_s > 0 else False
        if self._ready is not None and not self._nobody_else():
            await self._ready()  # the call could go now: take what came meanwhile with it
        while not full and len(batch) < self._max:
            try:
                request = receive.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream):
                break
            full = self._add(batch, request)
        batch = [r for r in batch if not r.abandoned]
        for request in batch:
            request.taken = True
        return batch

    async def _linger(
        self, receive: MemoryObjectReceiveStream[_Request[K, V]], batch: list[_Request[K, V]]
    ) -> bool:
        """Add what arrives to `batch` until it is full (True), its oldest request has waited `linger_s`, or
        nothing came for `quiet_s`."""
        until = batch[0].born + self._linger_s
        began = anyio.current_time()
        while len(batch) < self._max:
            try:
                request = receive.receive_nowait()
            except anyio.EndOfStream:
                return False
            except anyio.WouldBlock:
                now = anyio.current_time()
                if self._quiet_s > 0:  # quiet since the newest request came, or since lingering began
                    until_quiet = max(began, self._last_arrival) + self._quiet_s
                    left = min(until, until_quiet) - now
                else:
                    left = until - now
                if left <= 0 or self._nobody_else():
                    return False  # waited long enough, quiet, or nobody else can come
                # wait for a submitter's (or a falling company's) signal, not in receive(): a cancelled
                # receive may lose its item
                self._arrived = arrived = anyio.Event()
                with anyio.move_on_after(left):
                    await arrived.wait()
                continue
            if self._add(batch, request):
                return True
        return True

    def _nobody_else(self) -> bool:
        """No batch is in flight and every task that holds work waits for an answer here: nobody can join."""
        return self._company is not None and self._sending == 0 and self._waiting >= self._company.active

    def _look_again(self) -> None:
        self._arrived.set()

    def _stop_waiting(self, request: _Request[K, V]) -> None:
        """`request`'s submitter no longer waits here (answered, or gave up): once only."""
        if request.waiting:
            request.waiting = False
            self._waiting -= 1

    def _add(self, batch: list[_Request[K, V]], request: _Request[K, V]) -> bool:
        """Put `request` in `batch` unless it was abandoned; True when the batch is full (a request that does
        not fit is carried to the next batch)."""
        if request.abandoned:
            return False
        if self._fits is not None and not self._fits([r.key for r in (*batch, request)]):
            self._carry = request
            return True
        batch.append(request)
        return len(batch) >= self._max

    async def _answer(self, batch: list[_Request[K, V]]) -> None:
        self.calls += 1
        self._sending += 1
        try:
            answers = await self._call([r.key for r in batch])
            if len(answers) != len(batch):
                raise RuntimeError(f"{self.name}: {len(answers)} answers for {len(batch)} requests")
        except Exception as exc:  # the whole batch failed: every request in it hears why
            for request in batch:
                self._answered(request, error=exc)
            return
        except BaseException as exc:  # cancelled: nobody must wait forever for an answer
            for request in batch:
                self._answered(request, error=exc)
            raise
        finally:
            self._sending -= 1
        for request, answer in zip(batch, answers, strict=True):
            if isinstance(answer, Exception):
                self._answered(request, error=answer)
            else:
                self._answered(request, value=answer)

    def _answered(
        self, request: _Request[K, V], *, value: V | None = None, error: BaseException | None = None
    ) -> None:
        """Give `request` its answer. Its submitter stops counting as waiting now, not when it resumes: it may
        ask again at once, so a lingering batch must not take it for one who cannot."""
        request.value, request.error = value, error
        self._stop_waiting(request)
        request.done.set()

    async def __aenter__(self) -> Batcher[K, V]:
        send, receive = anyio.create_memory_object_stream[_Request[K, V]](self._max)
        self._send = send
        if self._company is not None:
            self._company.listen(self._look_again)
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        for _ in range(self._flushers):
            self._tg.start_soon(self._flush, receive.clone())
        receive.close()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        assert self._tg is not None
        assert self._send is not None
        self._send.close()  # the flushers answer what is queued, then end
        self._arrived.set()  # a lingering batch goes now: nobody else can come
        if exc is not None:
            self._tg.cancel_scope.cancel()
        try:
            return await self._tg.__aexit__(exc_type, exc, tb)
        finally:
            if self._company is not None:
                self._company.unlisten(self._look_again)
