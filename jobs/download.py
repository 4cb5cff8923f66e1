"""`download`: save one entry's original flavor to a local file.

The bytes stream into `<file>.part` (a progress bar shows them), which is flushed to disk and renamed to the
final name only when whole, so a file with the final name is always complete. Beside the `.part`,
`<file>.part.json` records what it is a prefix of (entry, flavor id and version, size). An interrupted
download is resumed (`Range`) only when that record matches the original Kaltura serves now; otherwise the
`.part` is discarded and the download starts over. The finished file must have the expected size; its
SHA-256 (of the whole file, the resumed prefix re-read from disk) is printed and, when AWS_BUCKET holds an
archive record of the same flavor version, must equal the record's. An existing file is replaced only with
`--force`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from typing import Any

import anyio
import anyio.to_thread

from adapters.kaltura import FlavorAsset, MediaCatalog
from adapters.s3 import S3Store, StoreConfig
from adapters.s3.proof import ArchiveRecord, from_head
from engine.errors import ConfigError, FatalError, ItemFailedError, RetryableError
from engine.logs import get_logger
from engine.progress import Progress
from jobs.common import events
from jobs.common.context import PROBE_CALL_S, PROBE_POLICY, RunContext, connected, s3_not_answering
from jobs.common.options import add_option
from jobs.common.settings import Settings
from jobs.lifecycle import original_of

_log = get_logger("jobs.download")
READ_CHUNK = 1 << 20  # re-hashing a resumed prefix


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "--id", "-i", required=True, metavar="ID", help="the entry whose original to save")
    add_option(parser, "--tmp", default=".", metavar="DIR", help="directory for the file (default .)")
    add_option(parser, "--output", "-o", metavar="FILE", help="file name (default DIR/<entry id>.<ext>)")
    add_option(parser, "--force", action="store_true", help="replace the file if it exists")


@dataclass(frozen=True)
class Target:
    """Where the original goes: the final path, its `.part` and the `.part`'s record."""

    path: str
    part: str

    @property
    def record(self) -> str:
        return self.part + ".json"


@dataclass(frozen=True)
class PartRecord:
    """What a `.part` is a prefix of; written beside it before its first byte."""

    entry_id: str
    flavor_id: str
    flavor_version: int
    size: int

    def describe(self) -> str:
        return f"flavor {self.flavor_id} version {self.flavor_version} of {self.size} bytes"

    def write(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(asdict(self), out)

    @classmethod
    def read(cls, path: str) -> PartRecord | None:
        """The record at `path`; None when there is none or it is not ours."""
        try:
            with open(path, encoding="utf-8") as src:
                data: Any = json.load(src)
            return cls(str(data["entry_id"]), str(data["flavor_id"]), int(data["flavor_version"]),
                       int(data["size"]))  # fmt: skip
        except (OSError, ValueError, TypeError, KeyError):
            return None


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


def check_writable(directory: str, option: str) -> None:
    """`directory` exists and takes a new file (a temporary one, removed at once); else ConfigError."""
    if not os.path.isdir(directory):
        raise ConfigError(f"{option} {directory!r} is not a directory: give an existing directory")
    try:
        handle, probe = tempfile.mkstemp(dir=directory, prefix=".kaltura-archiver-", suffix=".probe")
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"{option} {directory!r} is not writable ({why}): give a directory you can write to"
        ) from None


def check_not_there(path: str, *, force: bool) -> None:
    """Refuse to replace an existing file without `--force`; never replace a directory, a device, a pipe or
    a link (the rename at the end would put a plain file in its place, `--force` or not)."""
    if os.path.isdir(path):
        raise ConfigError(f"{path!r} is a directory: give a file name with --output")
    if os.path.lexists(path) and (os.path.islink(path) or not stat.S_ISREG(os.lstat(path).st_mode)):
        raise ConfigError(f"{path!r} is not a regular file (a device, pipe or link): give another --output")
    if os.path.lexists(path) and not force:
        raise ConfigError(f"{path!r} exists: pass --force to replace it, or give another --output")


def check_destination(args: argparse.Namespace) -> None:
    """Before any Kaltura call: the file's directory is writable, and an `--output` file is not in the way."""
    if args.output is not None and not args.output.strip():
        raise ConfigError("--output '' names no file: give a file name, or leave --output out")
    if args.output:
        check_writable(os.path.dirname(args.output) or ".", "--output's directory")
        check_not_there(args.output, force=args.force)
    else:
        check_writable(args.tmp, "--tmp")


@contextmanager
def local_io(path: str) -> Iterator[None]:
    """A failure of the local file system (disk full, I/O error) as one line: the run cannot go on."""
    try:
        yield
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise FatalError(
            f"writing {path!r} failed ({why}): free space on that disk or give another --tmp or --output"
        ) from None


def prepare_part(target: Target, wanted: PartRecord) -> int:
    """The offset to resume from: the `.part`'s length if its record matches `wanted`, else 0 after
    discarding it (a foreign file, another flavor or version, or longer than the file). Writes `wanted`
    as the `.part`'s record."""
    if os.path.lexists(target.part):
        found = PartRecord.read(target.record)
        length = os.path.getsize(target.part)
        reason = None
        if found is None:
            reason = f"no record of what it holds ({target.record} missing or unreadable)"
        elif found != wanted:
            reason = f"it holds {found.describe()}, the original is now {wanted.describe()}"
        elif length > wanted.size:
            reason = f"it has {length} bytes, more than the {wanted.size} of the original"
        if reason is None:
            return length
        _log.warning("download.part_discarded", entry_id=wanted.entry_id, part=target.part, reason=reason)
        os.unlink(target.part)
    wanted.write(target.record)
    return 0


def hash_prefix(path: str, length: int) -> hashlib._Hash:
    """SHA-256 state after the first `length` bytes of `path`."""
    sha = hashlib.sha256()
    if length <= 0:
        return sha
    with open(path, "rb") as src:
        left = length
        while left > 0:
            block = src.read(min(READ_CHUNK, left))
            if not block:
                break
            sha.update(block)
            left -= len(block)
    return sha


@dataclass(frozen=True)
class Fetched:
    """A `.part` filled to its end: its byte count and SHA-256."""

    size: int
    sha256: str


async def fetch(
    client: MediaCatalog, entry_id: str, target: Target, original: FlavorAsset, progress: Progress
) -> Fetched:
    """Stream the original into `target.part` (resuming it when its record matches), then fsync."""
    url = await client.flavor_url(original.id, entry_id=entry_id)
    expected = original.size_bytes or await client.content_length(url, entry_id=entry_id)
    wanted = PartRecord(entry_id, original.id, original.version, expected)
    with local_io(target.part):
        offset = await anyio.to_thread.run_sync(prepare_part, target, wanted)
        sha = await anyio.to_thread.run_sync(hash_prefix, target.part, offset)
    if offset:
        _log.info("download.resume", entry_id=entry_id, offset=offset)
        progress.add(done=0, bytes=offset)
    size = offset
    with local_io(target.part):
        async with await anyio.open_file(target.part, "ab") as out:
            async for chunk in client.download(url, offset=offset, entry_id=entry_id):
                size += len(chunk)
                if size > expected:
                    await anyio.Path(target.part).unlink()
                    why = f"the server sent more than the {expected} bytes expected; discarded {target.part}"
                    raise ItemFailedError("download", entry_id, why)
                await out.write(chunk)
                sha.update(chunk)
                progress.add(done=0, bytes=len(chunk))
            await out.flush()
            await anyio.to_thread.run_sync(os.fsync, out.wrapped.fileno())
    if size != expected:
        why = f"got {size} bytes, expected {expected}; kept {target.part}"
        raise ItemFailedError("download", entry_id, why)
    return Fetched(size, sha.hexdigest())


@dataclass(frozen=True)
class Archived:
    """The archive object of the entry (`s3://bucket/key`) and the record it carries."""

    where: str
    record: ArchiveRecord


async def archive_record(settings: Settings, entry_id: str) -> Archived | None:
    """The entry's archive object (`s3://bucket/key`) and its record, when AWS_BUCKET is set and the object
    carries a record with a SHA-256; None otherwise."""
    if not settings.aws_bucket:
        return None
    bucket, prefix = settings.aws_bucket, settings.s3_prefix
    config = StoreConfig(bucket=bucket, prefix=prefix, policy=PROBE_POLICY, call_timeout_s=PROBE_CALL_S)
    try:
        async with S3Store(config) as store:
            key = store.key_for(entry_id)
            head = await store.head(key, with_tags=True, record_only=True)
    except RetryableError:
        raise s3_not_answering(bucket, ", or unset AWS_BUCKET") from None
    record = from_head(head) if head is not None else None
    if record is None or not record.sha256:
        return None
    return Archived(f"s3://{bucket}/{key}", record)


def check_against_archive(
    entry_id: str, original: FlavorAsset, fetched: Fetched, target: Target, archived: Archived
) -> None:
    """The file's SHA-256 equals the archive record's, if that record is of the same flavor version."""
    where, record = archived.where, archived.record
    if (record.flavor_id, record.flavor_version) != (original.id, str(original.version)):
        held = f"the archive holds flavor {record.flavor_id} version {record.flavor_version}"
        _log.info("download.archive_not_compared", entry_id=entry_id, archive=where, reason=held)
        return
    if record.sha256 != fetched.sha256:
        with suppress(FileNotFoundError):
            os.unlink(target.record)  # the next run downloads afresh instead of resuming these bytes
        why = (
            f"SHA-256 {fetched.sha256} differs from {record.sha256} recorded on {where}; "
            f"kept {target.part} to compare"
        )
        raise ItemFailedError("download", entry_id, why)
    _log.info("download.matches_archive", entry_id=entry_id, archive=where)


async def run(args: argparse.Namespace, ctx: RunContext) -> int:
    entry_id = args.id.strip()
    started = time.monotonic()
    check_destination(args)
    archived = await archive_record(ctx.settings, entry_id)
    async with connected(ctx.settings) as (client, _):
        await client.get_media(entry_id)
        flavors = (await client.flavors_of([entry_id])).get(entry_id, [])
        original = check_original(entry_id, original_of(flavors))
        target = target_for(entry_id, original, directory=args.tmp, output=args.output)
        check_not_there(target.path, force=args.force)
        async with Progress(total=1, stream=ctx.stderr, label="files") as progress:
            fetched = await fetch(client, entry_id, target, original, progress)
            if archived is not None:
                check_against_archive(entry_id, original, fetched, target, archived)
            with local_io(target.path):
                check_not_there(target.path, force=args.force)  # it may have appeared meanwhile
                os.replace(target.part, target.path)
                os.unlink(target.record)
            progress.add(done=1)
    # the entry's own state is unchanged: a copy of its original now exists here
    events.EventLog(run_id=ctx.run_id, job="download", dry_run=False, logger=_log).entry(
        events.DOWNLOADED, entry_id, from_state=None, to_state=None, bytes=fetched.size,
        duration_ms=round((time.monotonic() - started) * 1000), sha256=fetched.sha256, path=target.path,
    )  # fmt: skip
    ctx.stdout.write(f"downloaded to {target.path}\t{fetched.size}\t{fetched.sha256}\n")
    return 0
