"""repair's stages (docs/lifecycle.md, Repairing an entry):

```
lister ──► check (HEAD with tags, plan) ──► repair (re-read, HEAD, plan again; the one fix) ──► wait (none)
           ──► finish (the row) ──► sink
```

Every fix looks again (the entry and its flavors re-read, a fresh HEAD, the plan made again) immediately
before its write, and is made only if the plan is still the same. A tag is written over the tags just
re-read, so none is lost. Archiving again is s3copy's own check, transfer (copy and proof) and finalize.
An old tool's object is proven by streaming the original through a digest of the object as S3 stores it
(same part layout and algorithm): only if the checksum those bytes give is the one S3 reports is its record
written, in its tags (its bytes and metadata stay as they are). Most of the old tool's objects predate S3's
additional checksums (only an ETag) or carry one we do not compute: then the object and the original are
both streamed through SHA-256 (one chunk at a time), and only the same size and SHA-256 write the record,
with the object's ETag as its check. Such an object in GLACIER or DEEP_ARCHIVE without a readable copy gets
one restore request (restore_from_s3's tier and days) and a `waiting` row: the next run proves it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable
from typing import NamedTuple

from adapters.kaltura import Fresh, MediaCatalog
from adapters.s3 import (
    ArchiveRecord,
    ArchiveStore,
    ObjectHead,
    computable,
    of_etag,
    restore_state,
    verify,
)
from engine.errors import ItemFailedError
from engine.pipeline import Finish
from jobs.common import archive_report as s3copy_report
from jobs.common import events
from jobs.common.archive import S3Copy
from jobs.common.candidates import Candidate
from jobs.common.events import EventLog
from jobs.common.gate import Gate
from jobs.common.glacier import GlacierConfig, ask_for_copy
from jobs.common.report import Outcome
from jobs.common.served import digest_served
from jobs.common.stages import CONFLICT, REFUSED, EntryStages, Work
from jobs.lifecycle import ARCHIVED_TAG, REPLACED_TAG, expected_record, original_of, total_flavor_bytes
from jobs.repair.plan import Action, Kind, Rules, plan
from jobs.repair.report import NEEDS_PERSON, PLANNED, REPAIRED, UNCHANGED, WAITING

_SETTLED = {Kind.NOTHING: UNCHANGED, Kind.PERSON: NEEDS_PERSON, Kind.LATER: WAITING}


class Repair(EntryStages):
    """The stage functions of one repair run."""

    ACT = "repair"

    def __init__(
        self,
        *,
        catalog: MediaCatalog,
        store: ArchiveStore,
        gate: Gate,
        log: EventLog,
        rules: Rules,
        copier: S3Copy,
        glacier: GlacierConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(clock)
        self.catalog = catalog
        self.store = store
        self.gate = gate
        self.log = log
        self.rules = rules
        self.copier = copier  # s3copy's stages, to archive an original again
        self.glacier = glacier or GlacierConfig()

    # ------------------------------------------------------------------------------------------ check

    async def check(self, candidate: Candidate) -> Work | Finish[Outcome]:
        """HEAD the object (with its tags), then the plan: a Work for the fix, or the entry's row."""
        started = self.clock()
        key = self.store.key_for(candidate.entry.id)
        head = await self.store.head(key)
        action = plan(candidate.entry, candidate.flavors, head, self.rules)
        if action.kind in _SETTLED:
            return Finish(self.outcome(action, _SETTLED[action.kind], started))
        if action.kind == Kind.PROVE_LEGACY and head is not None and not computable(head.checksum):
            unreadable = await self._unreadable(action, head, started)
            if unreadable is not None:
                return Finish(unreadable)
        if not self.gate.allows(action):
            return Finish(self.outcome(action, PLANNED, started, to_state=action.to_state))
        return Work(candidate.entry, action, key, started, action.from_state)

    async def _unreadable(self, action: Action, head: ObjectHead, started: float) -> Outcome | None:
        """The row of an old tool's object to download that cannot be read yet (in Glacier: a restore
        requested, or in progress); None when it can be read now."""
        real = self.gate.allows(action)
        waits = await ask_for_copy(
            restore_state(head), action, gate=self.gate, log=self.log, config=self.glacier, real=real,
            then="proves it",
        )  # fmt: skip
        if waits is None:
            return None
        reason = waits.reason if waits.outcome == WAITING else f"{action.reason}; {waits.reason}"
        return self.outcome(action, waits.outcome, started, reason=reason)

    # ------------------------------------------------------------------------------------------ repair

    async def act(self, work: Work) -> Work | Finish[Outcome]:
        """The one fix, after a look again; the Work once made, or the row of an entry left alone."""
        kind = work.action.kind
        if kind == Kind.ARCHIVE_AGAIN:
            return await self._archive_again(work)
        if kind == Kind.PROVE_LEGACY:
            return await self._prove_legacy(work)
        if kind == Kind.TAG_REPLACED:
            await self._placeholder_proven(work)
        fresh, _, changed = await self._look_again(work)
        if changed is not None:
            return changed
        entry = fresh.entry
        if kind == Kind.CANCEL_REPLACE:
            await self.gate.cancel_replace(entry.id)
            self.log.entry(
                events.REPLACE_CANCELLED, entry.id, from_state=work.state, to_state=work.state, attempt=1
            )
        elif kind == Kind.UNTAG_REPLACED:
            await self._write_tags(fresh, drop=REPLACED_TAG)
        else:  # TAG_ARCHIVED, TAG_REPLACED
            await self._write_tags(fresh, add=ARCHIVED_TAG if kind == Kind.TAG_ARCHIVED else REPLACED_TAG)
        return work

    async def _look_again(self, work: Work) -> tuple[Fresh, ObjectHead | None, Finish[Outcome] | None]:
        """The entry re-read, a fresh HEAD and the plan on them: the row of an entry whose plan changed."""
        fresh = await self.catalog.reread(work.entry.id)
        head = await self.store.head(work.key)
        now = plan(fresh.entry, fresh.flavors, head, self.rules)
        if _same(now, work.action):
            return fresh, head, None
        if now.kind == Kind.NOTHING:
            return fresh, head, Finish(self.outcome(now, UNCHANGED, work.started))
        why = f"changed since its check: {now.reason} (the next run looks again)"
        return fresh, head, Finish(self.outcome(work.action, REFUSED, work.started, reason=why))

    async def _write_tags(self, fresh: Fresh, *, add: str | None = None, drop: str | None = None) -> None:
        """The re-read tags with `add` added or `drop` removed; ItemFailedError if Kaltura did not keep it."""
        entry = fresh.entry
        tags = [t for t in entry.tags if t.lower() != drop] if drop else [*entry.tags, str(add)]
        stored = await self.gate.write_tags(entry.id, tags)
        if (add and not stored.has_tag(add)) or (drop and stored.has_tag(drop)):
            raise ItemFailedError("media.update", entry.id, f"Kaltura did not store the tags ({add or drop})")

    async def _placeholder_proven(self, work: Work) -> None:
        """The source Kaltura serves is the placeholder by its SHA-256 (it is small); else ItemFailedError."""
        source = work.action.source
        assert source is not None
        digest = hashlib.sha256()
        size = await digest_served(self.catalog, work.entry.id, source.id, digest)
        placeholder = self.rules.placeholder
        if (size, digest.hexdigest()) != (placeholder.size, placeholder.sha256):
            why = f"the source has the placeholder's size but not its SHA-256: {REPLACED_TAG} not written"
            raise ItemFailedError("repair.placeholder", work.entry.id, why)

    # ------------------------------------------------------------------------------------------ archive again

    async def _archive_again(self, work: Work) -> Work | Finish[Outcome]:
        """s3copy's check on the entry re-read, its transfer (copy and proof) and its finalize (the tag)."""
        fresh, _, changed = await self._look_again(work)
        if changed is not None:
            return changed
        copied = await self.copier.check(Candidate(fresh.entry, fresh.flavors))
        if not isinstance(copied, Finish):
            copied = await self.copier.transfer(copied)
        if not isinstance(copied, Finish):
            copied = Finish(await self.copier.finalize(copied))
        done = copied.value
        if done.outcome in (s3copy_report.ARCHIVED, s3copy_report.TAGGED):
            work.notes.append(f"{done.bytes} B copied and proven")
            work.bytes = done.bytes
            return work
        outcome = CONFLICT if done.outcome == s3copy_report.CONFLICT else REFUSED
        return Finish(self.outcome(work.action, outcome, work.started, reason=f"s3copy: {done.reason}"))

    # ------------------------------------------------------------------------------------------ legacy

    async def _prove_legacy(self, work: Work) -> Work | Finish[Outcome]:
        """Prove the old tool's object is the original (by its S3 checksum, else by downloading both); if
        so, look again, write the object's record (tags) and tag the entry."""
        head = await self.store.head(work.key)
        if head is None:
            why = "the old tool's object is gone: the next run looks again"
            return Finish(self.outcome(work.action, REFUSED, work.started, reason=why))
        if computable(head.checksum):
            proven = await self._prove_by_checksum(work, head)
        else:
            proven = await self._prove_by_download(work, head)
        if isinstance(proven, Finish):
            return proven
        sha256, size, how = proven
        fresh, now, changed = await self._look_again(work)
        if changed is not None:
            return changed
        if now is None or now.etag != head.etag:
            why = "the old tool's object changed while it was proven: the next run looks again"
            return Finish(self.outcome(work.action, REFUSED, work.started, reason=why))
        source = original_of(fresh.flavors)
        assert source is not None
        total = total_flavor_bytes(fresh.flavors)
        record = expected_record(self.rules.partner_id, work.entry.id, source, total)
        check = head.checksum if computable(head.checksum) else of_etag(head.etag)
        assert check is not None
        record = record.with_result(sha256, check)
        if record.source_bytes <= 0:  # sizeInBytes 0: the bytes just streamed are its exact size
            record = dataclasses.replace(record, source_bytes=size)
        await self.gate.record_legacy(work.key, record)
        await self._proven(work, record)
        if not fresh.entry.has_tag(ARCHIVED_TAG):
            await self._write_tags(fresh, add=ARCHIVED_TAG)
        work.notes.append(f"{size} B proven {how}; the record written in the object's tags")
        return work

    async def _prove_by_checksum(self, work: Work, head: ObjectHead) -> _Proof | Finish[Outcome]:
        """Stream the original through a digest of the object as S3 stores it: its SHA-256 and size if the
        checksum they give is the one S3 reports, else the conflict row."""
        source = work.action.source
        assert source is not None
        stored = await self.store.stored_digest(head)
        await digest_served(self.catalog, work.entry.id, source.id, stored)
        proof = stored.result()
        if proof.bytes != head.size or not proof.matches:
            why = (
                f"the old tool's object is not the original: {head.size} B, S3 checksum {head.checksum}; the "
                f"original is {proof.bytes} B, checksum {proof.checksum} as stored: left alone, see health"
            )
            return Finish(self.outcome(work.action, CONFLICT, work.started, reason=why))
        return _Proof(proof.sha256, proof.bytes, "by S3's checksum")

    async def _prove_by_download(self, work: Work, head: ObjectHead) -> _Proof | Finish[Outcome]:
        """Stream the object (of the ETag `head` gives) and the original through SHA-256, a chunk at a
        time: its SHA-256 and size if both are the same, else the conflict row."""
        source = work.action.source
        assert source is not None
        theirs = hashlib.sha256()
        stored = 0
        async for chunk in self.store.read(work.key, etag=head.etag):
            theirs.update(chunk)
            stored += len(chunk)
        ours = hashlib.sha256()
        size = await digest_served(self.catalog, work.entry.id, source.id, ours)
        if (stored, theirs.hexdigest()) != (size, ours.hexdigest()):
            why = (
                f"the old tool's object is not the original: {stored} B, sha256 {theirs.hexdigest()}; the "
                f"original is {size} B, sha256 {ours.hexdigest()}: left alone, see health"
            )
            return Finish(self.outcome(work.action, CONFLICT, work.started, reason=why))
        return _Proof(ours.hexdigest(), size, "by downloading it and the original (same SHA-256)")

    async def _proven(self, work: Work, record: ArchiveRecord) -> None:
        """The object, HEADed again, proves `record` now: else ItemFailedError."""
        head = await self.store.head(work.key)
        problems = ["the object is gone"] if head is None else verify(head, record)
        if problems:
            raise ItemFailedError("repair.proof", work.entry.id, "; ".join(problems))

    # ------------------------------------------------------------------------------------------ the rest

    async def wait(self, work: Work) -> Work:
        """Nothing to wait for: a repair ends with its fix."""
        return work

    async def finish(self, work: Work) -> Outcome:
        """The row of an entry repaired."""
        action: Action = work.action
        reason = "; ".join([action.reason, *work.notes])
        return self.outcome(
            action, REPAIRED, work.started, reason=reason, to_state=action.to_state, size=work.bytes
        )


class _Proof(NamedTuple):
    """An old tool's object proven the original: the original's SHA-256 and size, and how it was proven."""

    sha256: str
    size: int
    how: str


def _same(now: Action, decided: Action) -> bool:
    """The plan made again is the one decided on: same fix, same source flavor, same object record."""
    same_source = (now.source is None) == (decided.source is None) and (
        now.source is None
        or decided.source is None
        or (now.source.id, now.source.version) == (decided.source.id, decided.source.version)
    )
    return now.kind == decided.kind and same_source and now.record == decided.record
