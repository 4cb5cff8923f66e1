"""The simulator's URL fetches: a KalturaUrlResource's bytes, fetched as Kaltura's import job fetches them.

Each fetch runs in a task of the server's loop, never inside a request: the `media.updateContent` that
named the URL has answered long before. The model is called back with the bytes of a 200 answer, or with
None for any other answer (an expired presigned URL's 403) or a failed connection, which fails the
conversion. The URL is never logged: a presigned one carries a signature (and maybe a session token).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp

log = logging.getLogger("testbed.kaltura_sim")

FETCH_TIMEOUT_S = 300.0


class UrlFetcher:
    """Fetches URLs in the background of the running loop (`fetcher(url, done)`); `close()` stops them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    def __call__(self, url: str, done: Callable[[bytes | None], None]) -> None:
        task = asyncio.get_running_loop().create_task(self._fetch(url, done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch(self, url: str, done: Callable[[bytes | None], None]) -> None:
        where = urlsplit(url).netloc  # host and port only: the query is the URL's secret
        data: bytes | None = None
        try:
            if self._session is None:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S))
            async with self._session.get(url) as resp:
                if resp.status == 200:
                    data = await resp.read()
                else:
                    log.warning("URL resource fetch from %s failed: HTTP %s", where, resp.status)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("URL resource fetch from %s failed: %s", where, type(exc).__name__)
        done(data)

    async def close(self) -> None:
        """Cancel the fetches still running and close the connection pool."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
