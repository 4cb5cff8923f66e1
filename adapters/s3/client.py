"""The S3 archive store: objects and multipart uploads of one bucket behind the `ArchiveStore` interface.

Uploads refuse to replace an existing object (`If-None-Match: *`) unless told to overwrite; a retry that
finds its own earlier attempt already done (lost response) is recognised by the object's checksum. A stream
below the part size goes up in one PUT, a larger one as a multipart upload (`adapters.s3.multipart`). The
calls themselves: `adapters.s3.transport` (client, retries), `.objects` (HEAD, PUT, tags), `.restores`
(Glacier restores, streaming reads), `.uploads` (multipart).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from contextlib import AbstractAsyncContextManager

from adapters.s3 import multipart
from adapters.s3.config import StoreConfig
from adapters.s3.errors import CONDITIONAL_CONFLICT, NO_SUCH_UPLOAD, PRECONDITION_FAILED, S3ItemError
from adapters.s3.multipart import MemoryBudget, MultipartWriter, PartBuffer, TimeLeft, open_writer
from adapters.s3.restores import RestoreCalls
from adapters.s3.uploads import Uploads
from adapters.s3.wire import PutResult
from engine.errors import ItemFailedError
from engine.pacer import Pacer


class S3Store(RestoreCalls, Uploads):
    """The `ArchiveStore` on S3; use as `async with S3Store(config) as store`."""

    def __init__(
        self, config: StoreConfig, *, pacer: Pacer | None = None, time_left: TimeLeft | None = None
    ) -> None:
        """`time_left`: a shutdown's (engine.shutdown.Shutdown.time_left), which the shielded create and
        abort of an upload stay within."""
        super().__init__(config, pacer=pacer)
        self._time_left = time_left
        # shared by every upload of this store: a part takes its real size from it before it is read in
        self.budget: MemoryBudget | None = None
        if config.memory_budget is not None:
            reuse = multipart.part_size(0, config.part_size)  # the parts of every object below 80 GB
            self.budget = MemoryBudget(config.memory_budget, reuse_size=reuse)

    async def __aenter__(self) -> S3Store:
        await super().__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await super().__aexit__(*exc_info)
        finally:
            if self.budget is not None:
                self.budget.drop_idle()  # a long-lived process (tests, a library user) gets the memory back

    def single_put(self, size: int) -> bool:
        """Whether an object of `size` bytes goes up in one PUT (below the part size), not in parts."""
        return size < multipart.part_size(size, self.config.part_size)

    def key_for(self, entry_id: str) -> str:
        """The object key of an entry's archive: the entry id, after the prefix."""
        return self.config.prefix + entry_id

    def writer(
        self, key: str, expected_size: int, metadata: Mapping[str, str], *, overwrite: bool = False
    ) -> AbstractAsyncContextManager[MultipartWriter]:
        """A multipart upload of `expected_size` bytes to `key`: `async with` it, `write()`, `complete()`."""
        if expected_size < 1:
            raise ValueError("a multipart upload needs at least one byte: use put_bytes")
        part = multipart.part_size(expected_size, self.config.part_size)
        self._check_budget(key, part)
        return open_writer(
            self,
            key,
            metadata,
            expected_size=expected_size,
            part_size=part,
            parts_in_flight=self.config.parts_in_flight,
            algorithm=self.config.checksum_algorithm,
            overwrite=overwrite,
            abort_timeout_s=self.config.abort_timeout_s,
            time_left=self._time_left,
            budget=self.budget,
        )

    def _check_budget(self, key: str, part: int) -> None:
        """ItemFailedError, before anything is sent, when one part of `part` bytes is more than the memory
        budget holds (a part raised far above the part size, to keep a huge object within 10,000 parts)."""
        if self.budget is not None and not self.budget.fits(part):
            cause = (
                f"a part of {part} bytes does not fit in the memory budget of {self.budget.total} bytes: "
                f"raise ARCHIVER_MEMORY_BUDGET to at least {part} bytes"
            )
            raise ItemFailedError("s3.upload", key, cause)

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        expected_size: int,
        metadata: Mapping[str, str],
        *,
        overwrite: bool = False,
    ) -> PutResult:
        """Stream `chunks` (exactly `expected_size` bytes) to `key`: one PUT below the part size, else
        a multipart upload; ItemFailedError (nothing left behind) when the stream is shorter or longer."""
        if self.single_put(expected_size):
            return await self._put_gathered(key, chunks, expected_size, metadata, overwrite=overwrite)
        async with self.writer(key, expected_size, metadata, overwrite=overwrite) as upload:
            async for chunk in chunks:
                await upload.write(chunk)
            return await upload.complete()

    async def _put_gathered(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        expected_size: int,
        metadata: Mapping[str, str],
        *,
        overwrite: bool,
    ) -> PutResult:
        """One PUT of a stream smaller than a part, gathered in one buffer: its size is taken from the
        budget first."""
        self._check_budget(key, expected_size)
        budget = self.budget
        body = PartBuffer(expected_size) if budget is None else await budget.buffer(expected_size)
        try:
            await _gather(chunks, body, key)
            return await self._put_body(key, body, metadata, overwrite=overwrite)  # releases it
        finally:
            body.release()
            if budget is not None:
                budget.give_back(body, reusable=False)


async def _gather(chunks: AsyncIterable[bytes], body: PartBuffer, key: str) -> None:
    """Fill `body` with all of a small stream; ItemFailedError if it is not `body.size` bytes long."""
    expected_size = body.size
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > expected_size:  # refused before it overflows
            raise ItemFailedError("s3.put", key, f"stream longer than the expected {expected_size} bytes")
        body.write(chunk)
    if size != expected_size:
        raise ItemFailedError("s3.put", key, f"stream ended at {size} of {expected_size} bytes")


__all__ = [
    "CONDITIONAL_CONFLICT",
    "NO_SUCH_UPLOAD",
    "PRECONDITION_FAILED",
    "S3ItemError",
    "S3Store",
    "StoreConfig",
]
