"""replace_video's stages (docs/architecture.md, Pipeline):

```
lister ──► check (head, plan) ──► replace (re-read, head, plan again; upload, updateContent)
       ──► wait (the one waiter polls every pending entry) ──► finish (re-read, thumbnail, tag) ──► sink
```

The check decides from the listing and the object; only what it would replace goes on. The replacer looks
again, immediately before acting and never from the listing: a fresh re-read of the entry and its flavors,
a fresh HEAD of the object with its tags, the same plan; the content is swapped only if the object is still
a proven copy of the current source. `media.updateContent` puts the placeholder beside the original, which
Kaltura keeps serving until the placeholder is READY (never delete-then-upload). A lost answer is not sent
again blindly: a re-read tells whether our replacement began. The waiters hold no connection: each hands its
entry to the one `Waiter` and sleeps. Only once the placeholder is the READY source (same flavor id, new
version) does the finisher set the thumbnail and then tag `flavors_deleted`, re-reading the tags first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from adapters.kaltura import AnswerLost, Fresh, KalturaItemError, MediaCatalog, MediaEntry
from adapters.s3 import ArchiveStore
from engine.errors import ItemFailedError
from engine.logs import get_logger
from engine.pipeline import Cut, Failed, Finish
from jobs.common import events
from jobs.common.candidates import Candidate
from jobs.common.events import EventLog
from jobs.common.gate import Gate
from jobs.common.report import Outcome, failed_outcome
from jobs.common.waiter import Waiter, WaitTimedOut
from jobs.lifecycle import (
    ENTRY_READY,
    REPLACED_TAG,
    REPLACEMENT_FAILED,
    REPLACEMENT_NONE,
    State,
    original_of,
)
from jobs.replace_video.plan import Action, Kind, Rules, plan
from jobs.replace_video.report import (
    CONFLICT,
    PLANNED,
    REFUSED,
    REPLACED,
    SKIPPED,
    STOPPED,
    UNCHANGED,
    WAITING,
)

ALREADY_REPLACING = "ENTRY_REPLACEMENT_ALREADY_EXISTS"
SEND_ATTEMPTS = (
    3  # placeholder uploads + updateContent per entry, when each answer was lost and nothing began
)

_log = get_logger("jobs.replace_video")
_SETTLED = {Kind.NOTHING: UNCHANGED, Kind.REFUSE: REFUSED, Kind.SKIP: SKIPPED}


@dataclass(frozen=True)
class PlaceholderFiles:
    """The placeholder video and thumbnail, read once at start."""

    video: bytes
    video_name: str
    image: bytes
    image_name: str


@dataclass
class Work:
    """An entry on its way through the replacers, the waiter and the finishers."""

    entry: MediaEntry
    action: Action
    key: str
    started: float
    state: State
    attempt: int = 0
    notes: list[str] = field(default_factory=list)


def _settled(fresh: Fresh) -> bool:
    """A replacement is over: done (no replacing entry any more) or FAILED."""
    entry = fresh.entry
    return entry.replacement_status == REPLACEMENT_FAILED or (
        not entry.replacing_entry_id and entry.replacement_status == REPLACEMENT_NONE
    )


class Replace:
    """The stage functions and the sink's adapters of one replace_video run."""

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
        self.catalog = catalog
        self.store = store
        self.gate = gate
        self.waiter = waiter
        self.log = log
        self.rules = rules
        self.files = files
        self.clock = clock
        self.started_here: set[str] = set()  # entries whose replacement this run began

    # ------------------------------------------------------------------------------------------ check

    async def check(self, candidate: Candidate) -> Work | Finish[Outcome]:
        """HEAD the object, then the plan from the listing: a Work for the replacers, or an outcome."""
        entry = candidate.entry
        started = self.clock()
        key = self.store.key_for(entry.id)
        action = plan(entry, candidate.flavors, await self.store.head(key), self.rules)
        if action.kind in _SETTLED:
            return Finish(self._outcome(action, _SETTLED[action.kind], started))
        if not self.gate.allows(action):
            return Finish(
                self._outcome(action, PLANNED, started, to_state=action.to_state, size=action.freed_bytes)
            )
        return Work(entry, action, key, started, action.from_state)

    # ------------------------------------------------------------------------------------------ replace

    async def replace(self, work: Work) -> Work | Finish[Outcome]:
        """Look again (re-read, HEAD, plan); if the entry is still to be replaced, swap in the placeholder."""
        fresh = await self.catalog.reread(work.entry.id)
        head = await self.store.head(work.key)
        action = plan(fresh.entry, fresh.flavors, head, self.rules)
        if action.kind in _SETTLED:
            why = f"changed since it was listed: {action.reason}"
            return Finish(self._outcome(action, _SETTLED[action.kind], work.started, reason=why))
        work.entry, work.action, work.state = fresh.entry, action, action.from_state
        if action.kind == Kind.FINISH:
            return work
        return await self._begin(work)

    async def _begin(self, work: Work) -> Work | Finish[Outcome]:
        entry_id = work.entry.id
        source = work.action.source
        assert source is not None
        for attempt in range(1, SEND_ATTEMPTS + 1):
            work.attempt = attempt
            token = await self.gate.upload_file(entry_id, self.files.video, self.files.video_name)
            try:
                await self.gate.update_content(entry_id, token)
                break
            except AnswerLost as exc:
                now = await self.catalog.reread(entry_id)
                if _began(now, source.id, source.version):
                    _log.warning("replace.answer_lost_but_begun", entry_id=entry_id, error=str(exc))
                    work.notes.append("updateContent's answer was lost; the re-read showed it began")
                    break
                _log.warning(
                    "replace.answer_lost_not_begun", entry_id=entry_id, attempt=attempt, error=str(exc)
                )
                if attempt == SEND_ATTEMPTS:
                    raise ItemFailedError(
                        "media.updateContent", entry_id, f"no answer {attempt} times: {exc}"
                    ) from None
            except KalturaItemError as exc:
                if exc.code != ALREADY_REPLACING:
                    raise
                why = (
                    "a replacement of its content began between our check and our act (not ours): left alone"
                )
                return Finish(self._outcome(work.action, CONFLICT, work.started, reason=why, attempt=attempt))
        self.started_here.add(entry_id)
        self.log.entry(
            events.REPLACE_STARTED,
            entry_id,
            from_state=work.action.from_state,
            to_state=work.action.from_state,
            attempt=work.attempt,
            flavor_id=source.id,
        )
        return work

    # ------------------------------------------------------------------------------------------ wait

    async def wait(self, work: Work) -> Work | Finish[Outcome]:
        """Hand the entry to the waiter until Kaltura has converted the placeholder (or failed to)."""
        if work.action.kind == Kind.FINISH:
            return work
        entry_id = work.entry.id
        try:
            fresh = await self.waiter.wait(entry_id, _settled)
        except WaitTimedOut:
            why = "Kaltura still converts the placeholder (ARCHIVER_READY_TIMEOUT): the next run finishes it"
            return Finish(self._outcome(work.action, WAITING, work.started, reason=why, attempt=work.attempt))
        if fresh.entry.replacement_status != REPLACEMENT_FAILED:
            return work
        cancelled = ""
        if entry_id in self.started_here:  # only ever our own replacement
            await self.gate.cancel_replace(entry_id)
            cancelled = "; our replacement was cancelled (media.cancelReplace)"
            self.log.entry(
                events.REPLACE_CANCELLED,
                entry_id,
                from_state=work.state,
                to_state=work.state,
                attempt=work.attempt,
            )
        raise ItemFailedError(
            "media.updateContent",
            entry_id,
            f"Kaltura failed to convert the placeholder{cancelled}; the original is untouched: run again",
        )

    # ------------------------------------------------------------------------------------------ finish

    async def finish(self, work: Work) -> Outcome:
        """Re-read; if the placeholder is the READY source, set the thumbnail, then tag `flavors_deleted`."""
        entry_id = work.entry.id
        fresh = await self.catalog.reread(entry_id)
        problem = self._not_placeholder(fresh, work)
        if problem is not None:
            why = f"the replacement did not end on the placeholder ({problem}): left alone, see health"
            return self._outcome(
                work.action, CONFLICT, work.started, reason=why, attempt=work.attempt or None
            )
        await self.gate.add_thumbnail(entry_id, self.files.image, self.files.image_name)
        if not fresh.entry.has_tag(REPLACED_TAG):
            stored = await self.gate.write_tags(entry_id, [*fresh.entry.tags, REPLACED_TAG])
            if not stored.has_tag(REPLACED_TAG):
                raise ItemFailedError("media.update", entry_id, f"tag {REPLACED_TAG} not kept by Kaltura")
        reason = "; ".join([work.action.reason, *work.notes])
        return self._outcome(
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

    # ------------------------------------------------------------------------------------------ outcomes

    def _outcome(
        self,
        action: Action,
        outcome: str,
        started: float,
        *,
        reason: str | None = None,
        to_state: str | None = None,
        attempt: int | None = None,
        size: int = 0,
    ) -> Outcome:
        return Outcome(
            entry_id=action.entry_id,
            action=action.kind.value,
            outcome=outcome,
            from_state=action.from_state,
            to_state=to_state or action.from_state,
            reason=reason or action.reason,
            bytes=size,
            seconds=self.clock() - started,
            attempt=attempt,
        )

    def not_started(self, item: Candidate | Work) -> Outcome:
        """The outcome of an entry whose check or replacement had not begun when a stop signal came."""
        what = "replacement" if isinstance(item, Work) else "check"
        return self._stopped(item, f"stopped before its {what} began (stop signal): the next run does it")

    def cut_off(self, cut: Cut) -> Outcome:
        """The outcome of an entry the drain deadline cancelled in a stage."""
        why = f"cut off in its {cut.stage} by the drain deadline (ARCHIVER_DRAIN): the next run finishes it"
        return self._stopped(cut.item, why)

    def _stopped(self, item: Candidate | Work, reason: str) -> Outcome:
        if isinstance(item, Work):
            return Outcome(
                entry_id=item.entry.id,
                action=item.action.kind.value,
                outcome=STOPPED,
                from_state=item.action.from_state,
                to_state=item.state,
                reason=reason,
                seconds=self.clock() - item.started,
            )
        return Outcome(item.entry.id, "check", STOPPED, from_state=None, to_state=None, reason=reason)

    def failed(self, failure: Failed) -> Outcome:
        """The outcome of an entry a stage failed on."""
        item = failure.item
        if isinstance(item, Work):
            return failed_outcome(
                failure,
                entry_id=item.entry.id,
                action=item.action.kind.value,
                from_state=item.action.from_state,
                to_state=item.state,
                seconds=self.clock() - item.started,
                attempt=item.attempt or None,
            )
        entry_id = item.entry.id if isinstance(item, Candidate) else str(item)
        return failed_outcome(
            failure,
            entry_id=entry_id,
            action="check",
            from_state=None,
            to_state=None,
            seconds=0.0,
            attempt=None,
        )


def _began(fresh: Fresh, flavor_id: str, version: int) -> bool:
    """The re-read after a lost updateContent answer shows a replacement: one in progress (there was none
    just before we sent ours) or already done (the source flavor's version went up)."""
    if fresh.entry.replacing_entry_id or fresh.entry.replacement_status != REPLACEMENT_NONE:
        return True
    source = original_of(fresh.flavors)
    return source is not None and source.id == flavor_id and source.version > version
