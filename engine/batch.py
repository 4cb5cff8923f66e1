"""Group commit for API calls: many workers ask one at a time, one request answers a batch of them.

A worker calls `await batcher.submit(key)` and gets its own answer. `flushers` tasks take whatever is waiting
(up to `max_batch`) and send it as one call. With `ready` (e.g. `Pacer.ready`), a flusher holding a first
request waits until the call could start, THEN takes everything queued meanwhile: batches grow exactly when
the rate is the bottleneck ("natural batching"), and a quiet run pays no delay. So a busy run sends few
requests (how the Kaltura adapter puts getUrl, re-reads and tag writes of many workers in few multirequests).
With `fits`, a batch also stops before the request that would not fit (by the caller's measure, e.g.
sub-calls); that request opens the next batch.
Nothing is unbounded: at most `max_batch` requests wait in the stream; more submitters wait to send; and a
submitter waits at most `timeout_s` for its answer (docs/architecture.md, conventions 5), then hears a
`DeadlineError` (retryable).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Generic, TypeVar

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from engine.deadlines import deadline

K = TypeVar("K")
V = TypeVar("V")

# one call for a batch of keys: one answer per key, in order (an Exception for a key that failed)
BatchCall = Callable[[Sequence[K]], Awaitable[Sequence["V | Exception"]]]


class _Request(Generic[K, V]):
    __slots__ = ("abandoned", "done", "error", "key", "taken", "value")

    def __init__(self, key: K) -> None:
        self.key = key
        self.done = anyio.Event()
        self.value: V | None = None
        self.error: BaseException | None = None
        self.taken = False  # a flusher put it in a batch: from then on it is sent
        self.abandoned = False  # its submitter gave up before that: it is never sent


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
    ) -> None:
        if max_batch < 1 or flushers < 1:
            raise ValueError("max_batch and flushers must be at least 1")
        if not timeout_s > 0:
            raise ValueError("timeout_s must be positive")
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
        request: _Request[K, V] = _Request(key)
        self.submitted += 1
        try:
            with deadline(self.timeout_s, f"{self.name}: batched call"):
                await self._send.send(request)
                await request.done.wait()
        except BaseException:
            # given up (deadline, cancellation): a request still queued is dropped, never sent later behind
            # its submitter's back; one already taken may or may not have reached the server
            request.abandoned = not request.taken
            raise
        if request.error is not None:
            raise request.error
        return request.value  # type: ignore[return-value]  # set together with done

    async def _flush(self, receive: MemoryObjectReceiveStream[_Request[K, V]]) -> None:
        carry: _Request[K, V] | None = None  # taken, did not fit the last batch: opens the next
        async with receive:
            while True:
                if carry is None:
                    try:
                        carry = await receive.receive()
                    except anyio.EndOfStream:
                        return
                if self._ready is not None:
                    await self._ready()  # the call could go now: take what came meanwhile with it
                batch, carry = [carry], None
                while len(batch) < self._max:
                    try:
                        request = receive.receive_nowait()
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                    if request.abandoned:
                        continue
                    if self._fits is not None and not self._fits([r.key for r in (*batch, request)]):
                        carry = request
                        break
                    batch.append(request)
                batch = [r for r in batch if not r.abandoned]
                for request in batch:
                    request.taken = True
                if batch:
                    await self._answer(batch)

    async def _answer(self, batch: list[_Request[K, V]]) -> None:
        self.calls += 1
        try:
            answers = await self._call([r.key for r in batch])
            if len(answers) != len(batch):
                raise RuntimeError(f"{self.name}: {len(answers)} answers for {len(batch)} requests")
        except Exception as exc:  # the whole batch failed: every request in it hears why
            for request in batch:
                request.error = exc
                request.done.set()
            return
        except BaseException as exc:  # cancelled: nobody must wait forever for an answer
            for request in batch:
                request.error = exc
                request.done.set()
            raise
        for request, answer in zip(batch, answers, strict=True):
            if isinstance(answer, Exception):
                request.error = answer
            else:
                request.value = answer
            request.done.set()

    async def __aenter__(self) -> Batcher[K, V]:
        send, receive = anyio.create_memory_object_stream[_Request[K, V]](self._max)
        self._send = send
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
        if exc is not None:
            self._tg.cancel_scope.cancel()
        return await self._tg.__aexit__(exc_type, exc, tb)
