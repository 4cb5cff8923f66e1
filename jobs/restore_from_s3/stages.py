"""restore_from_s3's stages (docs/lifecycle.md, Restoring an entry):

```
lister ──► check (head, plan; Glacier: restore state, request) ──► bring back (re-read, head, plan again;
           stream the object into a chunked upload token, SHA-256 on the way; updateContent only if it
           matches the record) ──► wait (the one waiter) ──► finish (re-read, download and prove the bytes
           Kaltura serves, record the version on the object, remove flavors_deleted) ──► sink
```

With `--via url` the bring-back step gives Kaltura a presigned GET URL of the object instead
(`KalturaUrlResource`, valid `ARCHIVER_RESTORE_URL_TTL`): Kaltura fetches the bytes itself; finish checks the
size Kaltura reports for the READY source, then proves the bytes it serves (downloaded, SHA-256) as after an
upload. The URL is a secret and is never logged or reported.

An object in GLACIER or DEEP_ARCHIVE without a readable copy gets one restore request and a `waiting` row; a
run never waits hours for Glacier: the next scheduled run brings it back. The token is completed (its final
chunk) only when the streamed bytes and their SHA-256 equal the object's record, so bytes that differ from
the record never reach Kaltura. Chunks after the first go up in parallel, each taking a slot before its
bytes are held: memory stays under transfers x chunks in flight x chunk size.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass

import anyio

from adapters.kaltura import FlavorAsset, Fresh, MediaCatalog, MediaEntry, UrlResource
from adapters.s3 import ArchiveRecord, ArchiveStore, ObjectHead
from engine.errors import ItemFailedError
from engine.pipeline import Finish
from jobs.common.candidates import Candidate
from jobs.common.events import EventLog
from jobs.common.gate import Gate
from jobs.common.glacier import GlacierConfig, ask_for_copy
from jobs.common.replacement import ContentStagesBase
from jobs.common.report import Outcome
from jobs.common.served import digest_served
from jobs.common.stages import Work
from jobs.common.waiter import Waiter
from jobs.lifecycle import ARCHIVED_TAG, ENTRY_READY, REPLACED_TAG, REPLACEMENT_NONE, State, original_of
from jobs.restore_from_s3.plan import Action, Kind, Rules, plan
from jobs.restore_from_s3.report import (
    CONFLICT,
    CONVERTING,
    PLANNED,
    REFUSED,
    RESTORED,
    UNCHANGED,
)

_SETTLED = {Kind.NOTHING: UNCHANGED, Kind.REFUSE: REFUSED}
VIA_UPLOAD, VIA_URL = "upload", "url"
VIAS = (VIA_UPLOAD, VIA_URL)


@dataclass(frozen=True)
class RestoreConfig:
    """The knobs of one run: Glacier's tier and days, the chunk size and chunks in flight per entry, how the
    bytes go back (`upload`: streamed into a token; `url`: Kaltura fetches a presigned URL valid
    `url_ttl_s`)."""

    tier: str
    days: int
    chunk_size: int
    chunks_in_flight: int
    via: str = VIA_UPLOAD
    url_ttl_s: int = 6 * 3600


class Restore(ContentStagesBase):
    """The stage functions and the sink's adapters of one restore_from_s3 run."""

    ACT = "transfer"

    def __init__(
        self,
        *,
        catalog: MediaCatalog,
        store: ArchiveStore,
        gate: Gate,
        waiter: Waiter,
        log: EventLog,
        rules: Rules,
        config: RestoreConfig,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(catalog=catalog, store=store, gate=gate, waiter=waiter, log=log, clock=clock)
        self.rules = rules
        self.config = config

    # ------------------------------------------------------------------------------------------ check

    async def check(self, candidate: Candidate) -> Work | Finish[Outcome]:
        """HEAD and plan; for an archived object without a readable copy, one Glacier restore request."""
        entry = candidate.entry
        started = self.clock()
        key = self.store.key_for(entry.id)
        action = plan(entry, candidate.flavors, await self.store.head(key), self.rules)
        if action.kind in _SETTLED:
            return Finish(self.outcome(action, _SETTLED[action.kind], started))
        if action.kind == Kind.RESTORE:
            glacier = await self._glacier(action, key, started)
            if glacier is not None:
                return Finish(glacier)
        if not self.gate.allows(action):
            size = action.record.source_bytes if action.record is not None else 0
            return Finish(self.outcome(action, PLANNED, started, to_state=action.to_state, size=size))
        return Work(entry, action, key, started, action.from_state)

    async def _glacier(self, action: Action, key: str, started: float) -> Outcome | None:
        """The row of an entry whose object cannot be read yet (a restore requested or in progress); None
        when it can be read now."""
        state = await self.store.restore_state(key)
        if state is None:
            return self.outcome(action, REFUSED, started, reason="the S3 object is gone: see health")
        config = GlacierConfig(self.config.tier, self.config.days)
        real = self.gate.allows(action)
        waits = await ask_for_copy(
            state, action, gate=self.gate, log=self.log, config=config, real=real, then="brings it back"
        )
        return None if waits is None else self.outcome(action, waits.outcome, started, reason=waits.reason)

    # ------------------------------------------------------------------------------------------ bring back

    def decide(self, entry: MediaEntry, flavors: Sequence[FlavorAsset], head: ObjectHead | None) -> Action:
        return plan(entry, flavors, head, self.rules)

    async def act(self, work: Work) -> Work | Finish[Outcome]:
        """Look again (re-read, HEAD, plan); stream the object into Kaltura (or give Kaltura its presigned
        URL) and swap it in for the placeholder, only if its bytes are (or, by URL, will be proven) the
        record's."""
        entry, action, head = await self.look_again(work)
        if action.kind in _SETTLED:
            why = f"changed since it was listed: {action.reason}"
            return Finish(self.outcome(action, _SETTLED[action.kind], work.started, reason=why))
        work.entry, work.action, work.state = entry, action, action.from_state
        if action.kind == Kind.FINISH:
            return work
        assert head is not None
        assert action.record is not None
        record, etag = action.record, head.etag
        if self.config.via == VIA_URL:

            async def url() -> UrlResource:  # a new one for each updateContent sent
                return UrlResource(await self.store.presigned_get(work.key, expires_s=self.config.url_ttl_s))

            return await self.swap_in(work, url, "its presigned URL was made")

        async def token() -> str:
            return await self._upload(work, record, etag)

        return await self.swap_in(work, token, "the original streamed back")

    async def _upload(self, work: Work, record: ArchiveRecord, etag: str) -> str:
        """A token holding the object's bytes, completed only once they proved to be the record's: the last
        chunk is held back until the whole object is read and proven, then sent as the final one."""
        entry_id, size = work.entry.id, record.source_bytes
        source = work.action.source
        name = f"{entry_id}.{source.file_ext if source is not None and source.file_ext else 'mp4'}"
        token_id = await self.gate.new_token(entry_id, name, size)
        digest = hashlib.sha256()
        chunk_size = self.config.chunk_size
        slots = anyio.Semaphore(self.config.chunks_in_flight)
        offset = 0
        last: tuple[bytes, int] | None = None  # the chunk that ends the record's size, and where it goes

        async def send(chunk: bytes, at: int) -> None:
            try:
                await self.gate.upload_chunk(
                    entry_id, token_id, chunk, resume_at=at, final=False, file_name=name
                )
            finally:
                slots.release()

        async with anyio.create_task_group() as tg:
            await slots.acquire()  # the slot of the chunk being filled, taken before its bytes are held
            buffer = bytearray()

            async def put() -> None:
                nonlocal offset, buffer, last
                chunk, buffer = bytes(buffer), bytearray()
                if offset + len(chunk) >= size:  # the last: held, with its slot, until the proof
                    last = (chunk, offset)
                elif offset == 0:
                    await send(chunk, 0)  # the first chunk alone: it starts the file
                else:
                    tg.start_soon(send, chunk, offset)  # the others in parallel
                offset += len(chunk)
                if last is None:
                    await slots.acquire()  # the next chunk's

            async with aclosing(self.store.read(work.key, etag=etag)) as stream:
                async for piece in stream:
                    digest.update(piece)
                    if offset + len(buffer) + len(piece) > size:  # longer than its record: never proven
                        offset += len(buffer) + len(piece)
                        last = None
                        break
                    view = memoryview(piece)
                    while view:
                        room = chunk_size - len(buffer)
                        buffer += view[:room]
                        view = view[room:]
                        if len(buffer) == chunk_size:
                            await put()
                else:
                    if buffer:
                        await put()
            if last is None:
                slots.release()  # the slot of a chunk that holds nothing
        if offset != size or digest.hexdigest() != record.sha256 or last is None:
            why = (
                f"the S3 object's bytes ({offset} B, sha256 {digest.hexdigest()}) differ from its record "
                f"({size} B, {record.sha256}): not restored"
            )
            raise ItemFailedError("restore.proof", entry_id, why)
        chunk, at = last
        await self.gate.upload_chunk(entry_id, token_id, chunk, resume_at=at, final=True, file_name=name)
        return token_id

    # ------------------------------------------------------------------------------------------ wait

    async def wait(self, work: Work) -> Work | Finish[Outcome]:
        """Hand the entry to the waiter until Kaltura has converted the original (or failed to)."""
        if work.action.kind == Kind.FINISH:
            return work
        what = "the restored original"
        if self.config.via == VIA_URL:
            what = "the original it fetched by URL (an expired URL or a bucket it cannot reach fails that "
            what += "too: --via upload avoids both)"
        if await self.replacements.wait(work, what) is None:
            why = "Kaltura still converts the original (ARCHIVER_READY_TIMEOUT): the next run finishes it"
            return Finish(
                self.outcome(work.action, CONVERTING, work.started, reason=why, attempt=work.attempt)
            )
        return work

    # ------------------------------------------------------------------------------------------ finish

    async def finish(self, work: Work) -> Outcome:
        """Re-read; prove the bytes Kaltura serves are the record's (by URL, its reported size first);
        record the version; untag."""
        entry_id = work.entry.id
        record = work.action.record
        assert record is not None
        fresh = await self.catalog.reread(entry_id)
        problem = _not_original(fresh, record)
        if problem is not None:
            why = f"the restore did not end on the original ({problem}): left alone, see health"
            return self.outcome(work.action, CONFLICT, work.started, reason=why, attempt=work.attempt or None)
        source = original_of(fresh.flavors)
        assert source is not None
        if self.config.via == VIA_URL:  # what Kaltura fetched by itself: first the size it reports
            _prove_reported(entry_id, source, record)
        await self._prove_served(entry_id, source.id, record)
        await self.gate.record_restored_version(work.key, str(source.version))
        if fresh.entry.has_tag(REPLACED_TAG):
            kept = [t for t in fresh.entry.tags if t.lower() != REPLACED_TAG]
            stored = await self.gate.write_tags(
                entry_id, kept if fresh.entry.has_tag(ARCHIVED_TAG) else [*kept, ARCHIVED_TAG]
            )
            if stored.has_tag(REPLACED_TAG) or not stored.has_tag(ARCHIVED_TAG):
                raise ItemFailedError(
                    "media.update", entry_id, f"Kaltura did not store the tags without {REPLACED_TAG}"
                )
        reason = "; ".join([work.action.reason, *work.notes])
        return self.outcome(
            work.action,
            RESTORED,
            work.started,
            reason=reason,
            to_state=State.ARCHIVED,
            attempt=work.attempt or None,
            size=record.source_bytes,
        )

    async def _prove_served(self, entry_id: str, flavor_id: str, record: ArchiveRecord) -> None:
        """What Kaltura serves as the source now is the record's bytes (downloaded again, SHA-256)."""
        digest = hashlib.sha256()
        size = await digest_served(self.catalog, entry_id, flavor_id, digest)
        if size != record.source_bytes or digest.hexdigest() != record.sha256:
            why = (
                f"Kaltura serves {size} B (sha256 {digest.hexdigest()}), the record says "
                f"{record.source_bytes} B ({record.sha256}): flavors_deleted kept, see health"
            )
            raise ItemFailedError("restore.proof", entry_id, why)


def _prove_reported(entry_id: str, source: FlavorAsset, record: ArchiveRecord) -> None:
    """What Kaltura fetched by URL and made the READY source has the record's size exactly, as Kaltura
    reports it (it reports no checksum of a flavor), before its bytes are downloaded and proven."""
    if source.size_bytes != record.source_bytes:
        got = f"{source.size_bytes} B" if source.size_bytes else "no size in bytes"
        why = (
            f"Kaltura reports {got} for the source fetched by URL, the record says {record.source_bytes} B: "
            "flavors_deleted kept, see health"
        )
        raise ItemFailedError("restore.proof", entry_id, why)


def _not_original(fresh: Fresh, record: ArchiveRecord) -> str | None:
    entry = fresh.entry
    source = original_of(fresh.flavors)
    if entry.status != ENTRY_READY:
        return f"entry status {entry.status}"
    if entry.replacing_entry_id or entry.replacement_status != REPLACEMENT_NONE:
        return "another replacement is in progress"
    if source is None or not source.ready:
        return "no READY source flavor"
    if source.id != record.flavor_id:
        return f"source flavor {source.id}, not {record.flavor_id}"
    if source.size_bytes not in (0, record.source_bytes):
        return f"source has {source.size_bytes} B, the original {record.source_bytes} B"
    return None
