"""Downloads of flavor files: streamed, following redirects, resumed with `Range` after a broken link."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import aiohttp
import anyio

from adapters.kaltura.errors import from_connection_error, item_failed
from adapters.kaltura.session import NETWORK_ERRORS, ApiSession
from engine.errors import ArchiverError, RetryableError
from engine.retry import retry

DOWNLOAD_CHUNK = 1 << 18


class Downloads(ApiSession):
    """The client's downloads (over its HTTP session, within its retry policy)."""

    async def download(
        self, url: str, *, offset: int = 0, chunk_size: int = DOWNLOAD_CHUNK, entry_id: str | None = None
    ) -> AsyncGenerator[bytes, None]:
        """Stream the file at `url` from byte `offset`: chunks as they arrive.

        A broken connection mid-stream resumes from the next byte with `Range` (within the retry policy);
        a server that ignores `Range` where we need it is an item failure, never silently wrong data.
        """
        position = offset
        failures = 0
        while True:
            try:
                async for chunk in self._download_once(url, position, chunk_size, entry_id):
                    position += len(chunk)
                    failures = 0
                    yield chunk
                return
            except RetryableError:
                failures += 1
                if failures >= self._policy.attempts:
                    raise
                await anyio.sleep(self._policy.backoff_s(failures))

    async def content_length(self, url: str, *, entry_id: str | None = None) -> int:
        """The exact byte size of the file at `url`, from its own server (for originals whose sizeInBytes
        Kaltura reports as 0): a `Range: bytes=0-0` GET, whose `Content-Range` gives the total; a server that
        ignores Range answers 200 and its `Content-Length` is the size (the body is not read)."""

        async def once() -> int:
            return await self._content_length_once(url, entry_id)

        size: int = await retry(once, policy=self._policy, describe="download.size")
        return size

    async def _content_length_once(self, url: str, entry_id: str | None) -> int:
        timeout = aiohttp.ClientTimeout(
            total=self.config.request_timeout_s, sock_connect=self.config.connect_timeout_s, sock_read=60
        )
        try:
            async with self._http().get(url, headers={"Range": "bytes=0-0"}, timeout=timeout) as resp:
                if resp.status in (206, 416):
                    total = content_range_total(resp.headers.get("Content-Range"))
                    if total is None:
                        why = f"HTTP {resp.status} without a usable Content-Range: size unknown"
                        raise item_failed("download.size", entry_id, why)
                    return total
                if resp.status != 200:
                    raise _download_status_error(resp.status, entry_id)
                if resp.content_length is None:
                    why = "neither Content-Range nor Content-Length: size unknown"
                    raise item_failed("download.size", entry_id, why)
                size = resp.content_length
                resp.close()  # never read a whole file to learn its size
                return size
        except NETWORK_ERRORS as exc:
            raise from_connection_error(exc, operation="download.size") from None

    async def _download_once(
        self, url: str, position: int, chunk_size: int, entry_id: str | None
    ) -> AsyncGenerator[bytes, None]:
        headers = {"Range": f"bytes={position}-"} if position else {}
        # no total (a large file takes what it takes), but every wait is bounded: a connection from the pool
        # and its set-up (`connect`), the TCP connect, and each read
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=self.config.request_timeout_s,
            sock_connect=self.config.connect_timeout_s,
            sock_read=60,
        )
        try:
            async with self._http().get(url, headers=headers, timeout=timeout) as resp:
                if resp.status == 416:
                    return  # nothing past `position`: the file is complete
                if resp.status not in (200, 206):
                    raise _download_status_error(resp.status, entry_id)
                if position and resp.status != 206:
                    raise item_failed("download", entry_id, "server ignored Range: cannot resume")
                async for chunk in resp.content.iter_chunked(chunk_size):
                    yield chunk
        except NETWORK_ERRORS as exc:
            raise from_connection_error(exc, operation="download") from None


def _download_status_error(status: int, entry_id: str | None) -> ArchiverError:
    if status == 429 or status >= 500:
        return RetryableError(f"download: HTTP {status}", throttled=True)
    return item_failed("download", entry_id, f"HTTP {status}")


def content_range_total(header: str | None) -> int | None:
    """The complete length in a `Content-Range` header (`bytes 0-0/1234`, `bytes */1234`); None if absent
    or unknown (`*`)."""
    if not header or "/" not in header:
        return None
    unit, _, rest = header.strip().partition(" ")
    total = rest.rpartition("/")[2].strip()
    if unit.lower() != "bytes" or not total.isdigit():
        return None
    return int(total)
