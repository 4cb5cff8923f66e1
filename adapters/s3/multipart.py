"""The streaming multipart writer: bounded memory, concurrent parts, never a short or stray upload.

Memory: a part's bytes are only held while the part holds one of `parts_in_flight` slots, and the slot is
taken before the first byte is kept; so at most `parts_in_flight * part_size` bytes are buffered, whatever
the object size. With a `MemoryBudget` shared by all writers of a store, a part also takes its exact size
from the budget before its buffer is allocated: all writers together stay within it even when a big
object's parts are larger than the configured part size (10,000-part limit). Each part's `PartBuffer` is
allocated once at the part's exact size (the last part's from the expected size), incoming chunks are
copied once into it as they arrive (so they are freed at once), every attempt sends that same buffer, and
it is unmapped as soon as S3 has acknowledged the part. No second copy anywhere: the part goes to the socket
in slices of its buffer (`getbuffer()` copies nothing).

CPU: the event loop only copies each chunk into its part. The part's S3 checksum and the object's SHA-256
are computed in a worker thread once the part is full (hashlib and crc32c release the GIL, so this runs
beside the loop), the parts of one object one after the other, in order.

Safety: the upload is aborted (shielded, with its own deadline) on every way out of the `async with` block
except a successful `complete()`: an error in the body, a failed part, cancellation, or a stream whose length
is not the expected size. A failed part (after its retries) cancels the other parts and the body at once.
"""

from __future__ import annotations

import hashlib
import io
import math
import mmap
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

import anyio
import crc32c
from anyio.abc import TaskGroup

from adapters.s3.checksums import Algorithm, S3Checksum, b64, digest, of_parts
from adapters.s3.wire import PutResult
from engine.errors import ItemFailedError, RetryableError
from engine.logs import get_logger

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

MiB: Final = 1 << 20
GiB: Final = 1 << 30
MIN_PART: Final = 5 * MiB  # S3's limits
MAX_PART: Final = 5 * GiB
MAX_PARTS: Final = 10_000
HASH_BLOCK: Final = 256 * 1024  # see digest_part
HUGE_PAGE: Final = 2 * MiB  # see _mapping
DEFAULT_PART: Final = 8 * MiB  # our floor: fewer requests than 5 MiB, still little memory per slot
# at shutdown, the create and the abort of an upload end this long before the drain does (the run's summary
# is written in that time), but never take less than ABORT_FLOOR_S
SUMMARY_RESERVE_S: Final = 1.0
ABORT_FLOOR_S: Final = 0.5

TimeLeft = Callable[[], float | None]  # seconds until a shutdown's drain is over; None: no shutdown

_log = get_logger("adapters.s3")


def part_size(expected_size: int, override: int | None = None) -> int:
    """The part size for an object of `expected_size` bytes.

    `override` (or 8 MiB) clamped to S3's 5 MiB-5 GiB, then raised as needed to stay within 10,000 parts,
    in whole MiB. ValueError for a negative size or one that cannot fit 10,000 parts of 5 GiB.
    """
    if expected_size < 0:
        raise ValueError(f"expected size must not be negative, not {expected_size}")
    wanted = DEFAULT_PART if override is None else min(max(override, MIN_PART), MAX_PART)
    needed = math.ceil(math.ceil(expected_size / MAX_PARTS) / MiB) * MiB
    size = max(wanted, needed)
    if size > MAX_PART:
        raise ValueError(f"{expected_size} bytes do not fit in {MAX_PARTS} parts of at most 5 GiB")
    return size


class MemoryBudget:
    """Bytes of part buffers that the uploads of one store may hold together.

    A part takes its exact size (`acquire`) before its buffer is allocated and gives it back (`release`) once
    the buffer is freed. First come, first served: a large part waits until there is room for it, and the
    smaller ones that come after it wait behind it, so it is never starved. A part larger than the whole
    budget can never be taken: `fits` says so beforehand, and `acquire` refuses it (ValueError).
    """

    def __init__(self, total: int, *, reuse_size: int | None = None) -> None:
        if total < 1:
            raise ValueError(f"a memory budget must be at least 1 byte, not {total}")
        self.total = total
        self.held = 0
        self.peak = 0  # the most held at once
        self._waiting: deque[tuple[int, anyio.Event]] = deque()
        self._reuse_size = reuse_size
        self._idle: list[PartBuffer] = []  # given back, of `reuse_size`, kept for the next part

    @property
    def idle(self) -> int:
        """Bytes of part buffers kept for reuse: with `held`, never more than `total`."""
        return len(self._idle) * (self._reuse_size or 0)

    async def buffer(self, size: int) -> PartBuffer:
        """A part buffer of `size` bytes, taken from the budget (waiting for room); `give_back` it.

        One of `reuse_size` is an idle one when there is one: its pages are already in memory, and
        mapping and filling fresh ones (page faults, the kernel zeroing every page) cost the event loop
        more than copying the bytes in. Idle buffers count against the budget: a fresh one that would not
        fit beside them unmaps them first.
        """
        await self.acquire(size)
        if size == self._reuse_size and self._idle:
            buf = self._idle.pop()
            buf.seek(0)
            return buf
        while self._idle and self.held + self.idle > self.total:
            self._idle.pop().release()
        try:
            return PartBuffer(size)
        except BaseException:  # no mapping (ENOMEM, the map count): the room goes back, or it leaks for good
            self.release(size)
            raise

    def give_back(self, buf: PartBuffer, *, reusable: bool) -> None:
        """Return `buf`'s bytes to the budget; keep it for the next part if `reusable` (no slice of it can
        still be waiting in a socket: S3 has acknowledged all of it, or none was ever sent)."""
        size = buf.size
        if reusable and size == self._reuse_size and not buf.closed:
            self._idle.append(buf)
        else:
            buf.release()
        self.release(size)

    def drop_idle(self) -> None:
        """Unmap the buffers kept for reuse (the store is closing: no part will take them)."""
        while self._idle:
            self._idle.pop().release()

    def fits(self, size: int) -> bool:
        return size <= self.total

    async def acquire(self, size: int) -> None:
        """Take `size` bytes, waiting for them; the caller must `release(size)` them."""
        if not self.fits(size):
            raise ValueError(f"{size} bytes do not fit in a memory budget of {self.total}")
        if not self._waiting and self.held + size <= self.total:
            self._take(size)
            return
        turn = (size, anyio.Event())
        self._waiting.append(turn)
        try:
            await turn[1].wait()
        except BaseException:
            if turn[1].is_set():  # granted as the cancellation came: give it back
                self.release(size)
            else:
                self._waiting.remove(turn)
                self._grant()  # it may have been the first in line, holding up smaller ones
            raise

    def release(self, size: int) -> None:
        self.held -= size
        self._grant()

    def _take(self, size: int) -> None:
        self.held += size
        self.peak = max(self.peak, self.held)

    def _grant(self) -> None:
        while self._waiting and self.held + self._waiting[0][0] <= self.total:
            size, granted = self._waiting.popleft()
            self._take(size)
            granted.set()


class PartBuffer(io.RawIOBase):
    """A part's bytes: mapped once at their exact size, filled once, sent as they are on every attempt.

    Why a private anonymous mapping and not a `bytes`/`BytesIO`: glibc serves a freed 8 MiB block's
    successors from its heap (its mmap threshold rises to the largest block freed), zeroes each of them at
    once and keeps the freed ones in the heap, so the process grew far past the part buffers it held (W2:
    660 MB for 512 MiB of parts). A mapping's pages are only resident once written, and `release()` unmaps
    them at once: the process holds what its part buffers hold, no more. Its pages are huge ones where the
    kernel allows (`_mapping`).

    A file object too (botocore's path reads it); aiohttp closes the body it sent: here `close()` only
    rewinds, so a retry re-sends the same buffer; `release()` frees it.
    """

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"a part buffer's size must not be negative, not {size}")
        super().__init__()
        # an empty mapping is refused by mmap: an empty object needs no pages
        self._mem: mmap.mmap | bytearray | None = _mapping(size) if size else bytearray()
        self._size = size
        self._pos = 0

    def _backing(self) -> mmap.mmap | bytearray:
        if self._mem is None:
            raise ValueError("I/O operation on a closed (released) part buffer")
        return self._mem

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer) -> int:
        """Copy `data` in at the position; ValueError past the buffer's end (it never grows)."""
        mem = self._backing()
        with memoryview(data) as view:
            n = view.nbytes
            if self._pos + n > self._size:
                raise ValueError(f"{n} bytes at {self._pos} overflow a part buffer of {self._size}")
            mem[self._pos : self._pos + n] = view.cast("B") if view.format != "B" else view
        self._pos += n
        return n

    def readinto(self, target: WriteableBuffer) -> int:
        mem = self._backing()
        with memoryview(target) as out:
            n = min(out.nbytes, self._size - self._pos)
            out.cast("B")[:n] = mem[self._pos : self._pos + n]
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._backing()
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        self._backing()
        return self._pos

    def getbuffer(self) -> memoryview:
        """The whole buffer, without a copy (use as `with buf.getbuffer() as view`)."""
        return memoryview(self._backing())

    def close(self) -> None:
        if self._mem is not None:
            self._pos = 0

    @property
    def closed(self) -> bool:
        return self._mem is None

    def release(self) -> None:
        """Unmap the bytes. A slice of them still queued in a socket's send buffer (Python 3.12 and later send
        memoryviews without copying them, and a cancelled upload may leave some unsent until its connection
        closes) keeps them mapped: the last holder unmaps them then, and this does not fail."""
        mem, self._mem = self._mem, None
        if isinstance(mem, mmap.mmap):
            with suppress(BufferError):
                mem.close()

    @property
    def size(self) -> int:
        return self._size

    @property
    def filled(self) -> int:
        """Bytes written so far (the buffer is filled from the start, once)."""
        return self._pos


def _mapping(size: int) -> mmap.mmap:
    """`size` zeroed bytes of private memory, in 2 MiB pages where the kernel has them for the asking.

    Why: filling fresh memory costs a page fault per page. In 4 KiB pages that was the event loop's
    largest cost after the SHA-256 (measured: 0.3 CPU s/GB, against 0.07 in 2 MiB pages, and 0.4 for
    `mmap`'s default shared mapping). Without them (another OS, transparent huge pages off) it is slower,
    never wrong.
    """
    mem = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if size >= HUGE_PAGE and hasattr(mmap, "MADV_HUGEPAGE"):
        with suppress(OSError):  # a kernel without transparent huge pages refuses the advice
            mem.madvise(mmap.MADV_HUGEPAGE)
    return mem


@dataclass(frozen=True)
class CompletedPart:
    number: int
    etag: str
    checksum: str  # base64, as sent
    size: int


@dataclass(frozen=True)
class Completion:
    """What CompleteMultipartUpload answered."""

    etag: str
    checksum: S3Checksum | None


@dataclass(frozen=True)
class WriterStats:
    """A snapshot of a writer: bytes taken, parts, retries, and part buffers alive (now and at the peak)."""

    bytes_in: int
    parts_started: int
    parts_done: int
    part_retries: int
    buffers_alive: int
    peak_buffers: int


class UploadCalls(Protocol):
    """The S3 calls a writer makes, each already retried and mapped to engine errors (the store's)."""

    async def create_upload(self, key: str, metadata: Mapping[str, str]) -> str: ...

    async def upload_part(
        self, key: str, upload_id: str, number: int, body: PartBuffer, checksum: str, on_retry: OnRetry
    ) -> str: ...

    async def complete_upload(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[CompletedPart],
        *,
        checksum: S3Checksum,
        overwrite: bool,
    ) -> Completion: ...

    async def abort_upload(self, key: str, upload_id: str) -> bool: ...  # False: it was gone already

    async def record_new(self, key: str, sha256: str, checksum: S3Checksum) -> None: ...


class OnRetry(Protocol):
    def __call__(self, attempt: int, error: BaseException, pause: float, /) -> None: ...


class MultipartWriter:
    """Takes the bytes of one object through `write()`; `complete()` finishes it. Built by `open_writer`."""

    def __init__(
        self,
        calls: UploadCalls,
        key: str,
        upload_id: str,
        *,
        expected_size: int,
        part_size: int,
        parts_in_flight: int,
        algorithm: Algorithm,
        overwrite: bool,
        task_group: TaskGroup,
        budget: MemoryBudget | None = None,
    ) -> None:
        self.key = key
        self._budget = budget
        self._calls = calls
        self._upload_id = upload_id
        self._expected = expected_size
        self._part_size = part_size
        self._algorithm: Algorithm = algorithm
        self._overwrite = overwrite
        self._tg = task_group
        self._slots = anyio.Semaphore(parts_in_flight)
        self._in_flight = parts_in_flight
        self._sha = hashlib.sha256()  # fed part by part, in order, off the event loop (`_send_part`)
        self._hashed: anyio.Event | None = None  # set once the last launched part is in `_sha`
        self._part: PartBuffer | None = None  # the part being filled
        self._fill = 0
        self._target = 0  # size of the part being filled; 0 while none is
        self._next_part = 1
        self._parts: dict[int, tuple[CompletedPart, bytes]] = {}  # number -> (part, raw digest)
        self._bytes_in = 0
        self._retries = 0
        self._alive = 0
        self._peak = 0
        self.error: BaseException | None = None  # the first part failure, once there is one
        self.completed = False
        self.result: PutResult | None = None

    def statistics(self) -> WriterStats:
        return WriterStats(
            bytes_in=self._bytes_in,
            parts_started=self._next_part - 1,
            parts_done=len(self._parts),
            part_retries=self._retries,
            buffers_alive=self._alive,
            peak_buffers=self._peak,
        )

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        """Take `chunk`; waits for a free slot when a new part is started."""
        if self.completed:
            raise RuntimeError("write() after complete()")
        view = memoryview(chunk).cast("B")
        if self._bytes_in + len(view) > self._expected:
            cause = f"stream longer than the expected {self._expected} bytes"
            raise ItemFailedError("s3.upload", self.key, cause)
        self._bytes_in += len(view)
        while view:
            if self._part is None:
                await self._start_part()
            assert self._part is not None
            n = min(len(view), self._target - self._fill)
            self._part.write(view[:n])  # the one copy: the chunk is free once written
            self._fill += n
            view = view[n:]
            if self._fill == self._target:
                self._launch()

    async def complete(self) -> PutResult:
        """Finish the upload once every part is in; the result, with what S3 must report about the object.

        Refuses (ItemFailedError, and the block then aborts) when fewer bytes came than expected.
        """
        if self.completed:
            raise RuntimeError("complete() called twice")
        if self._bytes_in != self._expected:
            raise ItemFailedError(
                "s3.upload", self.key, f"stream ended at {self._bytes_in} of {self._expected} bytes"
            )
        await self._wait_for_parts()
        numbers = sorted(self._parts)
        parts = [self._parts[n][0] for n in numbers]
        ours = of_parts(self._algorithm, (self._parts[n][1] for n in numbers))
        done = await self._calls.complete_upload(
            self.key, self._upload_id, parts, checksum=ours, overwrite=self._overwrite
        )
        self.completed = True  # the upload no longer exists: nothing to abort from here on
        if done.checksum is not None and not done.checksum.matches(ours):
            cause = f"S3 checksum {done.checksum} differs from ours {ours}"
            raise ItemFailedError("s3.upload", self.key, cause)
        sha256 = self._sha.hexdigest()
        try:
            await self._calls.record_new(self.key, sha256, ours)
        except RetryableError as exc:
            # the object is complete and stays: sending it all again would only meet it under its key (and
            # leave that second upload open). Without its record it is proven afresh by the next run.
            cause = f"stored, but its proof record was not written ({exc}): the next run re-proves it"
            raise ItemFailedError("s3.record", self.key, cause) from None
        self.result = PutResult(self.key, self._bytes_in, sha256, ours, done.etag, len(parts))
        return self.result

    async def _start_part(self) -> None:
        await self._slots.acquire()  # the slot first: memory is only taken once a part may be sent
        start = (self._next_part - 1) * self._part_size
        size = min(self._part_size, self._expected - start)
        try:
            # the exact size, known now: allocated once (or reused whole), never grown; with a budget,
            # its bytes are taken from it before they are allocated
            part = PartBuffer(size) if self._budget is None else await self._budget.buffer(size)
        except BaseException:
            self._slots.release()
            raise
        self._part = part
        self._target = size
        self._fill = 0
        self._alive += 1
        self._peak = max(self._peak, self._alive)

    def drop_part(self) -> None:
        """Free the part still being filled (the upload ended before it was full): its buffer, slot and
        bytes of the budget."""
        buf, self._part = self._part, None
        if buf is None:
            return
        self._free(buf, reusable=True)  # never sent
        self._target = self._fill = 0

    def _free(self, buf: PartBuffer, *, reusable: bool) -> None:
        self._alive -= 1
        self._slots.release()
        if self._budget is not None:
            self._budget.give_back(buf, reusable=reusable)
        else:
            buf.release()

    def _launch(self) -> None:
        number = self._next_part
        self._next_part += 1
        buf, self._part = self._part, None
        assert buf is not None
        self._target = self._fill = 0
        previous, self._hashed = self._hashed, anyio.Event()
        self._tg.start_soon(
            self._send_part, number, buf, previous, self._hashed, name=f"s3 part {number} of {self.key}"
        )

    async def _send_part(
        self, number: int, buf: PartBuffer, previous: anyio.Event | None, hashed: anyio.Event
    ) -> None:
        # reusable once S3 has acknowledged it in one attempt: a failed attempt's connection may still hold
        # slices of it (Python >= 3.12 queues memoryviews), which a new part must not overwrite
        clean = False
        retried = False

        def on_retry(attempt: int, error: BaseException, pause: float) -> None:
            nonlocal retried
            retried = True
            self._count_retry(attempt, error, pause)

        try:
            if previous is not None:
                await previous.wait()  # the object's SHA-256 takes the parts in their order
            raw = await anyio.to_thread.run_sync(digest_part, self._algorithm, self._sha, buf)
            hashed.set()
            etag = await self._calls.upload_part(self.key, self._upload_id, number, buf, b64(raw), on_retry)
            self._parts[number] = (CompletedPart(number, etag, b64(raw), buf.size), raw)
            clean = not retried
        except Exception as exc:
            if self.error is None:
                self.error = exc
                self._tg.cancel_scope.cancel()  # the upload is lost: stop the other parts and the body
        finally:
            self._free(buf, reusable=clean)
            del buf

    def _count_retry(self, attempt: int, error: BaseException, pause: float) -> None:
        self._retries += 1

    async def _wait_for_parts(self) -> None:
        for _ in range(self._in_flight):  # every part holds a slot until it is done
            await self._slots.acquire()
        for _ in range(self._in_flight):
            self._slots.release()


def digest_part(algorithm: Algorithm, sha: hashlib._Hash, buf: PartBuffer) -> bytes:
    """The part's S3 digest, and the part fed to the object's `sha`: in a worker thread (both release the
    GIL), in one pass of blocks small enough to stay in the CPU's cache between the two."""
    with buf.getbuffer() as view:
        if algorithm == "SHA256":
            sha.update(view)
            return digest(algorithm, view)
        crc = 0
        for start in range(0, view.nbytes, HASH_BLOCK):
            block = view[start : start + HASH_BLOCK]
            sha.update(block)
            crc = crc32c.crc32c(block, crc)
        return crc.to_bytes(4, "big")


@asynccontextmanager
async def open_writer(
    calls: UploadCalls,
    key: str,
    metadata: Mapping[str, str],
    *,
    expected_size: int,
    part_size: int,
    parts_in_flight: int,
    algorithm: Algorithm,
    overwrite: bool = False,
    abort_timeout_s: float = 30.0,
    time_left: TimeLeft | None = None,
    budget: MemoryBudget | None = None,
) -> AsyncIterator[MultipartWriter]:
    """Create a multipart upload for `key` and yield its writer; abort it unless `complete()` succeeded.

    `time_left` (a shutdown's, see engine.shutdown) shortens the shielded create and abort so that they end
    before the drain does."""
    if parts_in_flight < 1:
        raise ValueError(f"parts_in_flight must be at least 1, not {parts_in_flight}")
    # shielded: cancelled while S3 creates it, the upload would exist with nobody knowing its id to abort it;
    # a cancellation waiting here is delivered at the block's first step, whose way out aborts the upload
    upload_id: str | None = None
    create_s = _within(abort_timeout_s, time_left)
    with anyio.move_on_after(create_s, shield=True):
        upload_id = await calls.create_upload(key, metadata)
    if upload_id is None:
        raise RetryableError(f"s3.create_upload {key}: no answer within {create_s:g} s")
    writer: MultipartWriter | None = None
    try:  # from here on the upload exists: every way out below aborts it unless it completed
        try:
            async with anyio.create_task_group() as tg:
                writer = MultipartWriter(
                    calls,
                    key,
                    upload_id,
                    expected_size=expected_size,
                    part_size=part_size,
                    parts_in_flight=parts_in_flight,
                    algorithm=algorithm,
                    overwrite=overwrite,
                    task_group=tg,
                    budget=budget,
                )
                yield writer
        except BaseExceptionGroup as group:  # anyio groups even the body's own exception: unwrap it
            leaf = _first_leaf(group)
            raise leaf from leaf.__cause__
        if writer is not None and writer.error is not None:  # a part failed and cancelled the body
            raise writer.error
    finally:
        if writer is not None:
            writer.drop_part()
        if writer is None or not writer.completed:
            await _abort(calls, key, upload_id, _within(abort_timeout_s, time_left))


def _within(timeout_s: float, time_left: TimeLeft | None) -> float:
    """`timeout_s`, or less during a shutdown: what is left of its drain, less the summary's reserve."""
    left = time_left() if time_left is not None else None
    if left is None:
        return timeout_s
    return min(timeout_s, max(ABORT_FLOOR_S, left - SUMMARY_RESERVE_S))


async def _abort(calls: UploadCalls, key: str, upload_id: str, timeout_s: float) -> None:
    with anyio.move_on_after(timeout_s, shield=True) as scope:
        try:
            await calls.abort_upload(key, upload_id)
        except Exception as exc:
            # never mask the error that brought us here; the stale-upload sweep will find it
            _log.warning("s3.abort_failed", key=key, error=str(exc))
            return
    if scope.cancelled_caught:
        _log.warning("s3.abort_failed", key=key, error=f"no answer within {timeout_s:g} s")
    else:
        _log.info("s3.upload_aborted", key=key)


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first
