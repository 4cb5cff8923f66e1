"""Archiving one entry: checkers decide, transfers copy and prove, finalizers tag (docs/architecture.md,
Pipeline). These are s3copy's stages; repair uses them to archive an entry again.

```
lister ──► check (head, plan) ──► transfer (getUrl, stream → S3, proof) ──► finalize (re-read, tag) ──► sink
```

The checker HEADs the key before deciding, except for the copy of an untagged entry that goes up in one PUT
(`S3Copy._put_first`): that PUT is conditional, and only when it finds an object does the transfer HEAD it and
decide as the checker would have (`S3Copy._replan`).

A decided skip, conflict or no-op, and every dry-run decision, goes straight to the sink (`Finish`). The tag
is written only after the object proved out (length, metadata, SHA-256, S3 checksum) and a fresh re-read shows
the source flavor is still the one copied (id, version, sizeInBytes); otherwise the entry is a conflict.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import AsyncGenerator, Callable, Collection, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata

from adapters.kaltura import FlavorAsset, MediaCatalog, MediaEntry
from adapters.s3 import (
    CONDITIONAL_CONFLICT,
    NO_SUCH_UPLOAD,
    PRECONDITION_FAILED,
    ArchiveRecord,
    ArchiveStore,
    ObjectHead,
    PutResult,
    S3ItemError,
    StoreConfig,
    to_metadata,
    verify,
)
from engine.errors import ConfigError, ItemFailedError, RetryableError
from engine.logs import get_logger
from engine.pipeline import Finish
from engine.progress import Progress
from engine.retry import RetryPolicy, retry
from jobs.common import events, stages
from jobs.common.archive_plan import Action, Facts, Kind, plan
from jobs.common.archive_report import (
    ARCHIVED,
    CONFLICT,
    PLANNED,
    SKIPPED,
    TAGGED,
    UNCHANGED,
    Outcome,
)
from jobs.common.candidates import Candidate
from jobs.common.events import EventLog
from jobs.common.gate import Gate
from jobs.common.settings import Settings, check_memory_budget
from jobs.lifecycle import ARCHIVED_TAG, State, original_of, size_agrees

# S3 errors after which the fix is to send the entry again, as a new upload (the write stays conditional,
# so it never overwrites); code -> why
_SEND_AGAIN = {
    NO_SUCH_UPLOAD: "our upload was aborted (another run's sweep of stale uploads, or a lifecycle rule)",
    CONDITIONAL_CONFLICT: "S3 met a concurrent write of the key and asks for the write again",
}
# a transfer is sent at most 3 times; no time budget: its length is the original's size, not a fault's
STALE_UPLOADS_LIMIT = 100_000  # open uploads remembered at start (a lifecycle rule should keep this tiny)
# more parts of one transfer at once gain nothing and only hold more memory while S3 is behind (one 1 GiB
# entry alone: as fast with 8 parts in flight as with 16, at 100 MB of RSS instead of 230)
MAX_PARTS_IN_FLIGHT = 8
TRANSFER_POLICY = RetryPolicy(attempts=3, base_s=1.0, max_s=10.0, budget_s=math.inf)

_log = get_logger("jobs.s3copy")

_SETTLED = {Kind.NOTHING: UNCHANGED, Kind.SKIP: SKIPPED, Kind.CONFLICT: CONFLICT}


@dataclass
class Work(stages.Work):
    """An entry on its way through the transfers and finalizers (`state`: where it is now, the action's
    from_state until the copy is proven)."""

    action: Action
    url: str | None = None  # the source's URL, fetched by the checker (a transfer slot never waits for it)
    # put first, head later: no S3 HEAD before the upload (see S3Copy.check); the flavors to plan again with
    # if the PUT finds an object under the key
    put_first: bool = False
    flavors: tuple[FlavorAsset, ...] = ()


@dataclass(frozen=True)
class JobConfig:
    """The knobs the stages need."""

    partner_id: int
    max_size_kb: int
    tool: str
    policy: RetryPolicy = TRANSFER_POLICY


class S3Copy(stages.EntryStages):
    """The stage functions and the sink adapter of one s3copy run."""

    ACT = "transfer"

    def __init__(
        self,
        *,
        catalog: MediaCatalog,
        store: ArchiveStore,
        gate: Gate,
        log: EventLog,
        config: JobConfig,
        stale_uploads: Mapping[str, Collection[str]] | None = None,
        progress: Progress | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.gate = gate
        self.log = log
        self.config = config
        self.stale_uploads = dict(stale_uploads or {})  # key -> upload ids open at the run's start
        self.progress = progress
        super().__init__(clock)

    # ------------------------------------------------------------------------------------------ check

    async def check(self, candidate: Candidate) -> Work | Finish[Outcome]:
        """S3 head, then the plan: a Work for the transfers, or an outcome for the sink."""
        entry = candidate.entry
        started = self.clock()
        key = self.store.key_for(entry.id)
        stale = self.stale_uploads.pop(key, None)
        if stale:
            await self._abort_stale(entry.id, key, stale)
        action = self._facts_plan(candidate, None)
        put_first = self._put_first(entry, action)
        if not put_first:
            action = self._facts_plan(candidate, await self.store.head(key))
        if action.kind in _SETTLED:
            return Finish(self.outcome(action, _SETTLED[action.kind], started))
        if not self.gate.allows(action):
            source = action.source if action.kind == Kind.ARCHIVE else None
            # an original of unknown exact size (sizeInBytes 0) counts at its KB figure in the plan
            size = 0 if source is None else source.size_bytes or source.size_kb * 1024
            return Finish(self.outcome(action, PLANNED, started, to_state=action.to_state, size=size))
        work = Work(
            entry, action, key, started, action.from_state, put_first=put_first, flavors=candidate.flavors
        )
        if action.kind in (Kind.ARCHIVE, Kind.REPROVE) and action.source is not None:
            # the getUrl waits for a batched Kaltura request: here, where waiting holds no part buffer
            work.url = await self.catalog.flavor_url(action.source.id, entry_id=entry.id)
        return work

    def _facts_plan(self, candidate: Candidate, head: ObjectHead | None) -> Action:
        config = self.config
        return plan(candidate.entry, Facts(candidate.flavors, head, config.partner_id, config.max_size_kb))

    def _put_first(self, entry: MediaEntry, blind: Action) -> bool:
        """Whether to upload with no HEAD first: when `blind` (the plan as if no object existed) is one small
        PUT of an untagged entry.

        The PUT is conditional (`If-None-Match: *`), so it never replaces an object; when it finds one, the
        transfer HEADs it and plans again (`_replan`), as the checker would have. What that costs, in the
        rare case, is one download of under a part size; what it saves is a HEAD per archived entry. A
        dry run, a tagged entry and a large copy still HEAD first.
        """
        if self.gate.dry_run or entry.has_tag(ARCHIVED_TAG) or blind.kind != Kind.ARCHIVE:
            return False
        size = blind.expected.source_bytes if blind.expected is not None else 0
        return size > 0 and self.store.single_put(size)

    async def _abort_stale(self, entry_id: str, key: str, upload_ids: Collection[str]) -> None:
        if self.gate.dry_run:
            self.log.entry(
                events.PLANNED, entry_id, from_state=None, to_state=None, operation="abort_stale_uploads"
            )
            return
        aborted = await self.gate.abort_stale_uploads(key, upload_ids)
        if aborted:
            self.log.entry(
                events.STALE_UPLOAD_ABORTED, entry_id, from_state=None, to_state=None, uploads=aborted
            )

    # ------------------------------------------------------------------------------------------ transfer

    async def transfer(self, work: Work) -> Work | Finish[Outcome]:
        """Copy (or re-prove) the original; the Work, now with a proven object, or a conflict."""
        if work.action.kind == Kind.TAG:
            return work
        if work.action.kind == Kind.REPROVE:
            return await self._reprove(work)
        return await self._archive(work)

    async def _archive(self, work: Work) -> Work | Finish[Outcome]:
        action = work.action
        assert action.expected is not None
        record = dataclasses.replace(action.expected, archived_at=_now_iso(), tool=self.config.tool)

        async def send() -> PutResult | Finish[Outcome]:
            nonlocal record
            work.attempt += 1
            url = await self._url(work)
            if record.source_bytes <= 0:
                exact = await self._exact_size(work, url)
                if exact is None:
                    why = f"original is over --max-size {self.config.max_size_kb} KB (exact size)"
                    return Finish(self.outcome(action, SKIPPED, work.started, reason=why))
                record = dataclasses.replace(record, source_bytes=exact)
            async with aclosing(self._chunks(url, work.entry.id)) as chunks:
                return await self.gate.put_stream(work.key, chunks, record.source_bytes, to_metadata(record))

        def again(_attempt: int, exc: BaseException, _pause: float) -> None:
            entry_id, attempt = work.entry.id, work.attempt
            if isinstance(exc, S3ItemError):
                why = _SEND_AGAIN[exc.code]
                _log.warning("transfer.sending_again", entry_id=entry_id, attempt=attempt, code=exc.code,
                             why=why, error=str(exc))  # fmt: skip
            else:
                _log.warning("transfer.retrying", entry_id=entry_id, attempt=attempt, error=str(exc))

        # the entry's attempts count across a re-plan (a put-first upload that found an object now gone)
        policy = self.config.policy
        policy = dataclasses.replace(policy, attempts=max(1, policy.attempts - work.attempt))
        try:
            result = await retry(
                send, policy=policy, describe="transfer", on_retry=again, retry_if=_worth_another_send,
                annotate=False,
            )  # fmt: skip
        except S3ItemError as exc:
            if exc.code != PRECONDITION_FAILED:
                raise
            if work.put_first:
                return await self._replan(work)
            why = f"an object appeared under {work.key} during the upload: not overwritten"
            return Finish(self.outcome(action, CONFLICT, work.started, reason=why, attempt=work.attempt))
        if isinstance(result, Finish):
            return result
        await self._prove(work, record.with_result(result.sha256, result.checksum))
        work.bytes = result.bytes_written
        return work

    async def _replan(self, work: Work) -> Work | Finish[Outcome]:
        """A put-first upload found an object under the key: HEAD it and plan again, as a checker would."""
        work.put_first = False
        head = await self.store.head(work.key)
        action = self._facts_plan(Candidate(work.entry, work.flavors), head)
        _log.info("transfer.object_found", entry_id=work.entry.id, key=work.key, action=action.kind.value)
        work.action, work.state = action, action.from_state
        if action.kind in _SETTLED:
            return Finish(self.outcome(action, _SETTLED[action.kind], work.started, attempt=work.attempt))
        return await self.transfer(work)  # archive again (the object is gone), re-prove, or tag

    async def _url(self, work: Work) -> str:
        """The checker's URL on the first attempt, a fresh one on a retry."""
        url, work.url = work.url, None
        if url is None:
            source = work.action.source
            assert source is not None
            url = await self.catalog.flavor_url(source.id, entry_id=work.entry.id)
        return url

    async def _exact_size(self, work: Work, url: str) -> int | None:
        """The exact size of an original Kaltura reports as 0 bytes, from the download server; None when it
        is over `--max-size`. ItemFailedError when it contradicts Kaltura's KB figure."""
        source = work.action.source
        assert source is not None
        exact = await self.catalog.content_length(url, entry_id=work.entry.id)
        if not size_agrees(source.size_kb, exact):
            why = f"the download has {exact} B, Kaltura says {source.size_kb} KB: not the original?"
            raise ItemFailedError("download.size", work.entry.id, why)
        if exact > self.config.max_size_kb * 1024:
            return None
        _log.info("transfer.size_learned", entry_id=work.entry.id, flavor_id=source.id, bytes=exact)
        return exact

    async def _reprove(self, work: Work) -> Work | Finish[Outcome]:
        action = work.action
        assert action.source is not None
        assert action.expected is not None
        size = action.expected.source_bytes
        work.attempt += 1
        head = await self.store.head(work.key, with_tags=False)
        if head is None or head.checksum is None:
            found = "no object" if head is None else "no S3 checksum"
            why = f"unrecorded object {work.key} cannot be proven ({found})"
            return Finish(self.outcome(action, CONFLICT, work.started, reason=why, attempt=work.attempt))
        if head.size != size:
            why = f"unrecorded object {work.key} is not the original ({head.size} B, source {size} B)"
            return Finish(self.outcome(action, CONFLICT, work.started, reason=why, attempt=work.attempt))
        digest = await self.store.stored_digest(head)  # the source digested as S3 stored the object
        url = await self._url(work)
        async with aclosing(self._chunks(url, work.entry.id)) as chunks:
            async for chunk in chunks:
                digest.update(chunk)
        proof = digest.result()
        if proof.bytes != size:
            raise ItemFailedError(
                "s3copy.reprove", work.entry.id, f"source ended at {proof.bytes} of {size} B"
            )
        if not proof.matches:
            found = f"S3 checksum {head.checksum}"
            why = f"unrecorded object {work.key} is not the original ({found}, source {proof.checksum})"
            return Finish(self.outcome(action, CONFLICT, work.started, reason=why, attempt=work.attempt))
        await self.gate.record(work.key, proof.sha256, proof.checksum)
        await self._prove(work, action.expected.with_result(proof.sha256, proof.checksum))
        return work

    async def _prove(self, work: Work, expected: ArchiveRecord) -> None:
        """HEAD the object and check it proves a copy of `expected`; ItemFailedError if not."""
        head = await self.store.head(work.key, record_only=True)
        problems = (
            ["the object is missing right after its upload"] if head is None else verify(head, expected)
        )
        if problems:
            raise ItemFailedError("s3copy.proof", work.entry.id, "; ".join(problems))
        work.state = State.UNTAGGED
        self.log.entry(
            events.UPLOADED,
            work.entry.id,
            from_state=work.action.from_state,
            to_state=State.UNTAGGED,
            bytes=expected.source_bytes,
            attempt=work.attempt,
            key=work.key,
        )

    async def _chunks(self, url: str, entry_id: str) -> AsyncGenerator[bytes, None]:
        async with aclosing(self.catalog.download(url, entry_id=entry_id)) as stream:
            async for chunk in stream:
                if self.progress is not None:
                    self.progress.add(done=0, bytes=len(chunk))
                yield chunk

    # ------------------------------------------------------------------------------------------ finalize

    async def finalize(self, work: Work) -> Outcome:
        """Re-read the entry; tag it if its source is still the one copied, else report a conflict."""
        action = work.action
        copied = action.source
        assert copied is not None
        fresh = await self.catalog.reread(work.entry.id)
        now = original_of(fresh.flavors)
        # the flavor as Kaltura reported it when planned (sizeInBytes 0 stays 0 for an old asset)
        same = now is not None and (now.id, now.version, now.size_bytes) == (
            copied.id,
            copied.version,
            copied.size_bytes,
        )
        if not same:
            found = "no original" if now is None else f"{now.id} v{now.version}, {now.size_bytes} B"
            why = (
                f"the original changed while it was archived (copied {copied.id} "
                f"v{copied.version}, {copied.size_bytes} B, now {found}): not tagged"
            )
            return self.outcome(
                action,
                CONFLICT,
                work.started,
                reason=why,
                attempt=work.attempt,
                to_state=work.state,
                size=work.bytes,
            )
        if not fresh.entry.has_tag(ARCHIVED_TAG):
            stored = await self.gate.write_tags(work.entry.id, [*fresh.entry.tags, ARCHIVED_TAG])
            if not stored.has_tag(ARCHIVED_TAG):
                raise ItemFailedError(
                    "media.update", work.entry.id, f"tag {ARCHIVED_TAG} not kept by Kaltura"
                )
        outcome = TAGGED if action.kind == Kind.TAG else ARCHIVED
        return self.outcome(
            action,
            outcome,
            work.started,
            to_state=action.to_state,
            attempt=work.attempt or None,
            size=work.bytes,
        )

    # ------------------------------------------------------------------------------------------ outcomes


def _worth_another_send(exc: Exception) -> bool:
    """A transient fault, or an S3 error whose fix is a new upload (`_SEND_AGAIN`)."""
    return isinstance(exc, RetryableError) or (isinstance(exc, S3ItemError) and exc.code in _SEND_AGAIN)


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tool_version() -> str:
    try:
        return f"kaltura-archiver {metadata.version('kaltura-archiver')}"
    except metadata.PackageNotFoundError:
        return "kaltura-archiver"


def store_config(settings: Settings) -> StoreConfig:
    """The archive store's configuration: the part buffers of all transfers together stay within the memory
    budget. ConfigError when it cannot hold one part per transfer.

    The budget is one pool: every part, of every transfer, takes its real size from it before it is read
    in, and waits for room (`StoreConfig.memory_budget`, first come first served). A transfer may have as
    many parts in flight as the whole budget holds (at most MAX_PARTS_IN_FLIGHT): a stream waits for a
    buffer only when its previous parts are still uploading, so a slow download, whose part is gone before
    the next is full, holds one, and a fast one takes what the slow ones leave. No transfer waits for room
    while it holds a part that is not filling or uploading, so waiting never deadlocks. A big
    original whose parts must be larger than the part size (10,000 parts at most) takes them from the same
    budget.
    """
    settings.require("aws_bucket")
    assert settings.aws_bucket is not None
    check_memory_budget(settings)
    parts = settings.memory_budget // settings.part_size
    parts_in_flight = min(MAX_PARTS_IN_FLIGHT, parts)
    try:
        return StoreConfig(
            bucket=settings.aws_bucket,
            prefix=settings.s3_prefix,
            storage_class=settings.storage_class,
            part_size=settings.part_size,
            parts_in_flight=parts_in_flight,
            memory_budget=settings.memory_budget,
        )
    except ValueError as exc:
        raise ConfigError(f"S3 settings: {exc}") from None


async def stale_uploads(store: ArchiveStore) -> dict[str, set[str]]:
    """key -> ids of the multipart uploads open before this run made any (left by an earlier run, or by one
    still running), at most STALE_UPLOADS_LIMIT of them. Ids, not a time: no clock to compare with S3's."""
    stale: dict[str, set[str]] = {}
    count = 0
    async for upload in store.open_uploads():
        if count == STALE_UPLOADS_LIMIT:
            hint = "add an AbortIncompleteMultipartUpload lifecycle rule to the bucket"
            _log.warning("s3copy.stale_uploads_truncated", limit=STALE_UPLOADS_LIMIT, hint=hint)
            break
        stale.setdefault(upload.key, set()).add(upload.upload_id)
        count += 1
    return stale
