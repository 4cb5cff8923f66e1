"""Putting new content on an entry with `media.updateContent`, shared by replace_video (the placeholder) and
restore_from_s3 (the archived original): send it once, recognise a lost answer, wait for Kaltura's
conversion without holding a worker, cancel only a replacement this run began (docs/lifecycle.md,
Replacing an entry)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.kaltura import (
    AnswerLost,
    FlavorAsset,
    Fresh,
    KalturaItemError,
    MediaCatalog,
    MediaEntry,
    UrlResource,
)
from adapters.s3 import ArchiveStore, ObjectHead
from engine.errors import ItemFailedError
from engine.logs import get_logger
from engine.pipeline import Finish
from jobs.common import events
from jobs.common.events import EventLog
from jobs.common.gate import Gate
from jobs.common.report import Outcome
from jobs.common.stages import CONFLICT, REFUSED, EntryStages, Work
from jobs.common.waiter import Waiter, WaitTimedOut
from jobs.lifecycle import REPLACEMENT_FAILED, REPLACEMENT_NONE, original_of

ALREADY_REPLACING = "ENTRY_REPLACEMENT_ALREADY_EXISTS"
# what media.updateContent is given: an upload token's id, or a URL Kaltura fetches the content from
Content = str | UrlResource

SEND_ATTEMPTS = 3  # new tokens + updateContent per entry, when each answer was lost and nothing began

_log = get_logger("jobs.replacement")


@dataclass(frozen=True)
class NotOurs:
    """Someone else's replacement began between our look and our act: left alone."""

    reason: str = "a replacement of its content began between our check and our act (not ours): left alone"


@dataclass(frozen=True)
class Changed:
    """The entry or its object changed while the new content went up: nothing sent, left alone."""

    reason: str


def settled(fresh: Fresh) -> bool:
    """A replacement is over: done (no replacing entry any more) or FAILED."""
    entry = fresh.entry
    return entry.replacement_status == REPLACEMENT_FAILED or (
        not entry.replacing_entry_id and entry.replacement_status == REPLACEMENT_NONE
    )


def same_source(now: FlavorAsset | None, decided: FlavorAsset | None) -> bool:
    """The source flavor is still the one a decision was made on: same id, same version."""
    return now is not None and decided is not None and (now.id, now.version) == (decided.id, decided.version)


def began(fresh: Fresh, flavor_id: str, version: int) -> bool:
    """The re-read after a lost updateContent answer shows a replacement: one in progress (there was none
    just before we sent ours) or already done (the source flavor's version went up)."""
    if fresh.entry.replacing_entry_id or fresh.entry.replacement_status != REPLACEMENT_NONE:
        return True
    source = original_of(fresh.flavors)
    return source is not None and source.id == flavor_id and source.version > version


class Replacements:
    """Begins replacements (`begin`) and waits for them (`wait`) for one run; remembers which it began."""

    def __init__(self, *, catalog: MediaCatalog, gate: Gate, waiter: Waiter, log: EventLog) -> None:
        self.catalog = catalog
        self.gate = gate
        self.waiter = waiter
        self.log = log
        self.started_here: set[str] = set()  # entries whose replacement this run began

    async def begin(
        self, work: Work, token: Callable[[], Awaitable[Content]], look: Callable[[], Awaitable[str | None]]
    ) -> NotOurs | Changed | None:
        """`media.updateContent` of `work.entry` with the content `token()` makes (a token it fills, or a
        URL); None once it began (ours), NotOurs when another replacement got there first. Once the content
        is ready, and immediately before each updateContent, `look()` re-reads the entry and its object: a
        reason it gives means they changed (Changed, nothing sent). A lost answer is settled by a re-read,
        and the content sent again (a new token or URL) only when nothing began."""
        entry_id = work.entry.id
        source = work.action.source
        for attempt in range(1, SEND_ATTEMPTS + 1):
            work.attempt = attempt
            content = await token()
            changed = await look()  # the token may have taken long to fill: look again, right before
            if changed is not None:
                return Changed(changed)
            try:
                await self.gate.update_content(entry_id, content)
                break
            except AnswerLost as exc:
                now = await self.catalog.reread(entry_id)
                if began(now, source.id, source.version):
                    _log.warning("replace.answer_lost_but_begun", entry_id=entry_id, error=str(exc))
                    work.notes.append("updateContent's answer was lost; the re-read showed it began")
                    break
                _log.warning(
                    "replace.answer_lost_not_begun", entry_id=entry_id, attempt=attempt, error=str(exc)
                )
                if attempt == SEND_ATTEMPTS:
                    why = f"no answer {attempt} times: {exc}"
                    raise ItemFailedError("media.updateContent", entry_id, why) from None
            except KalturaItemError as exc:
                if exc.code != ALREADY_REPLACING:
                    raise
                return NotOurs()
        self.started_here.add(entry_id)
        self.log.entry(
            events.REPLACE_STARTED,
            entry_id,
            from_state=work.action.from_state,
            to_state=work.action.from_state,
            attempt=work.attempt,
            flavor_id=source.id,
        )
        return None

    async def wait(self, work: Work, what: str) -> Fresh | None:
        """The entry once Kaltura has converted `what` (the new content); None when the wait timed out.
        A FAILED conversion this run began is cancelled, and the entry fails with the original untouched."""
        entry_id = work.entry.id
        try:
            fresh = await self.waiter.wait(entry_id, settled)
        except WaitTimedOut:
            return None
        if fresh.entry.replacement_status != REPLACEMENT_FAILED:
            return fresh
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
            f"Kaltura failed to convert {what}{cancelled}; the content in Kaltura is untouched: run again",
        )


class ContentStagesBase(EntryStages):
    """What the stages of replace_video and restore_from_s3 hold: Kaltura, S3, the gate, the event log and
    the run's replacements (which keep the waiter)."""

    def __init__(
        self,
        *,
        catalog: MediaCatalog,
        store: ArchiveStore,
        gate: Gate,
        waiter: Waiter,
        log: EventLog,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(clock)
        self.catalog = catalog
        self.store = store
        self.gate = gate
        self.log = log
        self.replacements = Replacements(catalog=catalog, gate=gate, waiter=waiter, log=log)

    def decide(self, entry: MediaEntry, flavors: Sequence[FlavorAsset], head: ObjectHead | None) -> Any:
        """The job's plan for an entry (its Action)."""
        raise NotImplementedError

    async def look_again(self, work: Work) -> tuple[MediaEntry, Any, ObjectHead | None]:
        """The entry re-read, the job's plan on it and a fresh HEAD of its object (never the listing), and
        that HEAD."""
        fresh = await self.catalog.reread(work.entry.id)
        head = await self.store.head(work.key)
        return fresh.entry, self.decide(fresh.entry, fresh.flavors, head), head

    async def swap_in(
        self, work: Work, token: Callable[[], Awaitable[Content]], what: str
    ) -> Work | Finish[Outcome]:
        """Send `media.updateContent` with the content `token()` makes (a token it fills, or a URL), after
        one more look once it is ready:
        the entry goes on to the waiter, or ends `refused` (it changed while `what`) or `conflict` (another
        replacement got there first)."""
        decided = work.action

        async def look() -> str | None:
            _, action, _ = await self.look_again(work)
            same = same_source(action.source, decided.source)
            if (
                action.kind == decided.kind
                and same
                and getattr(action, "record", None) == getattr(decided, "record", None)
            ):
                return None
            return f"changed while {what}: {action.reason}"

        refused = await self.replacements.begin(work, token, look)
        if isinstance(refused, Changed):
            return Finish(self.outcome(decided, REFUSED, work.started, reason=refused.reason))
        if isinstance(refused, NotOurs):
            return Finish(
                self.outcome(decided, CONFLICT, work.started, reason=refused.reason, attempt=work.attempt)
            )
        return work
