"""The one waiter for Kaltura's conversions: every entry waiting for its new content is polled by a single
task, in batches, with backoff, up to a deadline (docs/architecture.md, Pipeline).

A job hands an entry over with `await waiter.wait(entry_id, settled)`: no worker slot, connection or buffer
is held while Kaltura converts. Each poll re-reads every pending entry at once; the re-reads share
multirequests (`MediaCatalog.reread` inside `batching()`: one `media.list idIn` and one `flavorAsset.list
entryIdIn` per 50 entries), so 300 pending entries cost a few requests per poll, not 300. The pause between
polls starts short, doubles while nothing settles (up to `poll_s`) and starts short again when something
does. Used by replace_video; restore_from_s3 waits the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import anyio

from adapters.kaltura import Fresh
from engine.errors import ItemFailedError, RetryableError
from engine.logs import get_logger

Settled = Callable[[Fresh], bool]
FIRST_POLL_S = 1.0  # the shortest pause between polls (or `poll_s`, if that is shorter)

_log = get_logger("jobs.waiter")


class Rereader(Protocol):
    """What the waiter needs of Kaltura (`MediaCatalog.reread`)."""

    async def reread(self, entry_id: str) -> Fresh: ...


@dataclass
class _Pending:
    settled: Settled
    deadline: float
    done: anyio.Event = field(default_factory=anyio.Event)
    fresh: Fresh | None = None
    error: Exception | None = None


class WaitTimedOut(Exception):
    """The entry did not settle before the deadline (`ARCHIVER_READY_TIMEOUT`); `last` is how it was."""

    def __init__(self, entry_id: str, timeout_s: float, last: Fresh | None) -> None:
        super().__init__(f"{entry_id}: not settled after {timeout_s:g} s")
        self.last = last


class Waiter:
    """Polls the entries handed to `wait` until each settles or its deadline passes. Run `run()` in a task
    group for as long as entries may be handed over."""

    def __init__(
        self,
        catalog: Rereader,
        *,
        timeout_s: float,
        poll_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._catalog = catalog
        self._timeout_s = timeout_s
        self._poll_max_s = poll_s
        self._poll_min_s = min(FIRST_POLL_S, poll_s)
        self._clock = clock
        self._pending: dict[str, _Pending] = {}
        self._arrived = anyio.Event()
        self.polls = 0  # polls made (each re-reads every pending entry, batched)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def wait(self, entry_id: str, settled: Settled) -> Fresh:
        """`entry_id` as Kaltura has it once `settled` says so; WaitTimedOut at the deadline, the re-read's
        error if the entry cannot be read any more (deleted, say)."""
        pending = _Pending(settled, self._clock() + self._timeout_s)
        self._pending[entry_id] = pending
        self._arrived.set()
        try:
            await pending.done.wait()
        finally:
            self._pending.pop(entry_id, None)
        if pending.error is not None:
            raise pending.error
        assert pending.fresh is not None
        return pending.fresh

    async def run(self) -> None:
        """Poll until cancelled."""
        pause = self._poll_min_s
        while True:
            if not self._pending:
                await self._arrived.wait()
                self._arrived = anyio.Event()
                pause = self._poll_min_s
            await anyio.sleep(pause)
            settled = await self.poll()
            pause = self._poll_min_s if settled else min(self._poll_max_s, pause * 2)

    async def poll(self) -> int:
        """Re-read every pending entry once; how many settled (or ended otherwise)."""
        self.polls += 1
        batch = dict(self._pending)
        answers: dict[str, Fresh | Exception] = {}

        async def one(entry_id: str) -> None:
            try:
                answers[entry_id] = await self._catalog.reread(entry_id)
            except (ItemFailedError, RetryableError) as exc:
                answers[entry_id] = exc

        async with anyio.create_task_group() as tg:
            for entry_id in batch:
                tg.start_soon(one, entry_id)
        now = self._clock()
        ended = 0
        for entry_id, pending in batch.items():
            answer = answers[entry_id]
            if isinstance(answer, ItemFailedError):
                pending.error = answer
            elif isinstance(answer, Exception):  # transient: the next poll tries again, until the deadline
                _log.warning("waiter.reread_failed", entry_id=entry_id, error=str(answer))
                if now < pending.deadline:
                    continue
                pending.error = WaitTimedOut(entry_id, self._timeout_s, pending.fresh)
            elif pending.settled(answer):
                pending.fresh = answer
            else:
                pending.fresh = answer
                if now < pending.deadline:
                    continue
                pending.error = WaitTimedOut(entry_id, self._timeout_s, answer)
            pending.done.set()
            ended += 1
        return ended
