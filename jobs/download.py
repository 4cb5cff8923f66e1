"""`download`: save one entry's original flavor to a local file.

The bytes stream into `<file>.part` (a progress bar shows them), which is flushed to disk and renamed to the
final name only when complete, so a file with the final name is always whole. A `.part` left by an earlier,
interrupted download is resumed from where it stopped (`Range`).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

import anyio
import anyio.to_thread

from adapters.kaltura import FlavorAsset, MediaCatalog
from engine.errors import ConfigError, ItemFailedError
from engine.logs import get_logger
from engine.progress import Progress
from jobs.context import RunContext, connected
from jobs.listing import original_of
from jobs.options import add_option

_log = get_logger("jobs.download")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "--id", "-i", required=True, metavar="ID", help="the entry whose original to save")
    add_option(parser, "--tmp", default=".", metavar="DIR", help="directory for the file (default .)")
    add_option(parser, "--output", "-o", metavar="FILE", help="file name (default DIR/<entry id>.<ext>)")


@dataclass(frozen=True)
class Target:
    """Where the original goes."""

    path: str
    part: str


def target_for(entry_id: str, original: FlavorAsset, *, directory: str, output: str | None) -> Target:
    """The final path and its `.part` companion."""
    path = output or os.path.join(directory, f"{entry_id}.{original.file_ext or 'mp4'}")
    return Target(path, path + ".part")


def check_original(entry_id: str, original: FlavorAsset | None) -> FlavorAsset:
    """The original, if it can be downloaded; else the reason as an item failure."""
    if original is None:
        raise ItemFailedError("download", entry_id, "the entry has no original flavor")
    if not original.ready:
        raise ItemFailedError("download", entry_id, f"the original flavor {original.id} is not READY")
    return original


async def fetch(
    client: MediaCatalog, entry_id: str, target: Target, original: FlavorAsset, progress: Progress
) -> int:
    """Stream the original into `target.part` (resuming it), then fsync; the byte count."""
    part = anyio.Path(target.part)
    offset = (await part.stat()).st_size if await part.exists() else 0
    if offset:
        _log.info("download.resume", entry_id=entry_id, offset=offset)
        progress.add(done=0, bytes=offset)
    url = await client.flavor_url(original.id, entry_id=entry_id)
    size = offset
    async with await anyio.open_file(part, "ab") as out:
        async for chunk in client.download(url, offset=offset, entry_id=entry_id):
            await out.write(chunk)
            size += len(chunk)
            progress.add(done=0, bytes=len(chunk))
        await out.flush()
        await anyio.to_thread.run_sync(os.fsync, out.wrapped.fileno())
    return size


async def run(args: argparse.Namespace, ctx: RunContext) -> int:
    entry_id = args.id.strip()
    directory = args.tmp
    if not await anyio.Path(directory).is_dir():
        raise ConfigError(f"--tmp {directory!r} is not a directory: give an existing directory")
    async with connected(ctx.settings) as (client, _):
        await client.get_media(entry_id)
        flavors = (await client.flavors_of([entry_id])).get(entry_id, [])
        original = check_original(entry_id, original_of(flavors))
        target = target_for(entry_id, original, directory=directory, output=args.output)
        async with Progress(total=1, stream=ctx.stderr, label="files") as progress:
            size = await fetch(client, entry_id, target, original, progress)
            if original.size_bytes and size != original.size_bytes:
                why = f"got {size} bytes, Kaltura says {original.size_bytes}; kept {target.part}"
                raise ItemFailedError("download", entry_id, why)
            await anyio.Path(target.part).replace(target.path)
            progress.add(done=1)
    _log.info("entry.downloaded", entry_id=entry_id, bytes=size, path=target.path)
    ctx.stdout.write(f"downloaded to {target.path}\t{size}\n")
    return 0
