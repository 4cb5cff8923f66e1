"""replace_video's stages (docs/architecture.md, Pipeline):

```
lister ──► check (head, plan) ──► replace (re-read, head, plan again; upload, updateContent)
       ──► wait (the one waiter polls every pending entry) ──► finish (re-read, thumbnail, tag) ──► sink
```

The check decides from the listing and the object; only what it would replace goes on. The replacer looks
again, immediately before acting and never from the listing: a fresh re-read of the entry and its flavors,
a fresh HEAD of the object with its tags, the same plan; the content is swapped only if the object is still
a proven copy of the current source. `media.updateContent` puts the placeholder beside the original, which
Kaltura keeps serving until the placeholder is READY (never delete-then-upload); a lost answer is settled by
a re-read (`jobs/common/replacement.py`). The waiters hold no connection: each hands its entry to the one
`Waiter` and sleeps. Only once the placeholder is the READY source (same flavor id, new version) does the
finisher set the thumbnail and then tag `flavors_deleted`, re-reading the tags first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from adapters.kaltura import FlavorAsset, Fresh, MediaCatalog, MediaEntry
from adapters.s3 import ArchiveStore, ObjectHead
from engine.errors import ItemFailedError
from engine.pipeline import Finish
from jobs.common.candidates import Candidate
from jobs.common.events import EventLog
from jobs.common.gate import Gate
from jobs.common.replacement import ContentStagesBase
from jobs.common.report import Outcome
from jobs.common.stages import Work
from jobs.common.waiter import Waiter
from jobs.lifecycle import ENTRY_READY, REPLACED_TAG, REPLACEMENT_NONE, State, original_of
from jobs.replace_video.plan import Action, Kind, Rules, plan
from jobs.replace_video.report import CONFLICT, PLANNED, REFUSED, REPLACED, SKIPPED, UNCHANGED, WAITING

_SETTLED = {Kind.NOTHING: UNCHANGED, Kind.REFUSE: REFUSED, Kind.SKIP: SKIPPED}

__all__ = ["PlaceholderFiles", "Replace", "Work"]


@dataclass(frozen=True)
class PlaceholderFiles:
    """The placeholder video and thumbnail, read once at start."""

    video: bytes
    video_name: str
    image: bytes
    image_name: str


class Replace(ContentStagesBase):
    """The stage functions and the sink's adapters of one replace_video run."""

    ACT = "replacement"

    def __init__(
        self,
        *,
        catalog: MediaCatalog,
        store: ArchiveStore,
        gate: Gate,
        waiter: Waiter,
        log: EventLog,
        rules: Rules,
        files: PlaceholderFiles,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(catalog=catalog, store=store, gate=gate, waiter=waiter, log=log, clock=clock)
        self.rules = rules
        self.files = files

    # ------------------------------------------------------------------------------------------ check

    async def check(self, candidate: Candidate) -> Work | Finish[Outcome]:
        """HEAD the object, then the plan from the listing: a Work for the replacers, or an outcome."""
        entry = candidate.entry
        started = self.clock()
        key = self.store.key_for(entry.id)
        action = plan(entry, candidate.flavors, await self.store.head(key), self.rules)
        if action.kind in _SETTLED:
            return Finish(self.outcome(action, _SETTLED[action.kind], started))
        if not self.gate.allows(action):
            return Finish(
                self.outcome(action, PLANNED, started, to_state=action.to_state, size=action.freed_bytes)
            )
        return Work(entry, action, key, started, action.from_state)

    # ------------------------------------------------------------------------------------------ replace

    def decide(self, entry: MediaEntry, flavors: Sequence[FlavorAsset], head: ObjectHead | None) -> Action:
        return plan(entry, flavors, head, self.rules)

    async def act(self, work: Work) -> Work | Finish[Outcome]:
        """Look again (re-read, HEAD, plan); if the entry is still to be replaced, swap in the placeholder."""
        entry, action, _ = await self.look_again(work)
        if action.kind in _SETTLED:
            why = f"changed since it was listed: {action.reason}"
            return Finish(self.outcome(action, _SETTLED[action.kind], work.started, reason=why))
        work.entry, work.action, work.state = entry, action, action.from_state
        if action.kind == Kind.FINISH:
            return work
        entry_id, files = entry.id, self.files

        async def token() -> str:
            return await self.gate.upload_file(entry_id, files.video, files.video_name)

        return await self.swap_in(work, token, "the placeholder went up")

    # ------------------------------------------------------------------------------------------ wait

    async def wait(self, work: Work) -> Work | Finish[Outcome]:
        """Hand the entry to the waiter until Kaltura has converted the placeholder (or failed to)."""
        if work.action.kind == Kind.FINISH:
            return work
        if await self.replacements.wait(work, "the placeholder") is None:
            why = "Kaltura still converts the placeholder (ARCHIVER_READY_TIMEOUT): the next run finishes it"
            return Finish(self.outcome(work.action, WAITING, work.started, reason=why, attempt=work.attempt))
        return work

    # ------------------------------------------------------------------------------------------ finish

    async def finish(self, work: Work) -> Outcome:
        """Re-read; if the placeholder is the READY source, set the thumbnail, then tag `flavors_deleted`."""
        entry_id = work.entry.id
        fresh = await self.catalog.reread(entry_id)
        problem = self._not_placeholder(fresh, work)
        if problem is not None:
            why = f"the replacement did not end on the placeholder ({problem}): left alone, see health"
            return self.outcome(work.action, CONFLICT, work.started, reason=why, attempt=work.attempt or None)
        await self.gate.add_thumbnail(entry_id, self.files.image, self.files.image_name)
        if not fresh.entry.has_tag(REPLACED_TAG):
            stored = await self.gate.write_tags(entry_id, [*fresh.entry.tags, REPLACED_TAG])
            if not stored.has_tag(REPLACED_TAG):
                raise ItemFailedError("media.update", entry_id, f"tag {REPLACED_TAG} not kept by Kaltura")
        reason = "; ".join([work.action.reason, *work.notes])
        return self.outcome(
            work.action,
            REPLACED,
            work.started,
            reason=reason,
            to_state=State.PLACE_HOLDER,
            attempt=work.attempt or None,
            size=work.action.freed_bytes,
        )

    def _not_placeholder(self, fresh: Fresh, work: Work) -> str | None:
        entry = fresh.entry
        source = original_of(fresh.flavors)
        replaced = work.action.source
        assert replaced is not None
        if entry.status != ENTRY_READY:
            return f"entry status {entry.status}"
        if entry.replacing_entry_id or entry.replacement_status != REPLACEMENT_NONE:
            return "another replacement is in progress"
        if source is None or not source.ready:
            return "no READY source flavor"
        if source.id != replaced.id:
            return f"source flavor {source.id}, not {replaced.id}"
        if not self.rules.placeholder.is_source(source):
            size = source.size_bytes or source.size_kb * 1024
            return f"source has {size} B, the placeholder {self.rules.placeholder.size} B"
        return None
