"""What Kaltura serves as a flavor, streamed through a digest: the proof, after a restore or before a tag,
that its bytes are the ones expected."""

from __future__ import annotations

from contextlib import aclosing
from typing import Protocol

from adapters.kaltura import MediaCatalog


class Digest(Protocol):
    """What the bytes are streamed through: hashlib's, or a digest of an object as S3 stores it."""

    def update(self, chunk: bytes, /) -> None: ...


async def digest_served(catalog: MediaCatalog, entry_id: str, flavor_id: str, digest: Digest) -> int:
    """Stream the flavor `flavor_id` of `entry_id`, as Kaltura serves it now, through `digest`; how many bytes
    it gave."""
    url = await catalog.flavor_url(flavor_id, entry_id=entry_id)
    size = 0
    async with aclosing(catalog.download(url, entry_id=entry_id)) as stream:
        async for chunk in stream:
            digest.update(chunk)
            size += len(chunk)
    return size
