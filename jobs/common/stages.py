"""What the stages of every job that acts on entries share: the report row of an entry that a stage finished,
failed, stopped before it began, or the drain deadline cut off (s3copy's own stages predate it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from adapters.kaltura import MediaEntry
from engine.pipeline import Cut, Failed
from jobs.common.candidates import Candidate
from jobs.common.report import Outcome, failed_outcome

STOPPED, REFUSED, CONFLICT = "stopped", "refused", "conflict"  # outcomes every acting job has


class Decision(Protocol):
    """A job's decision for one entry, as the report needs it."""

    @property
    def entry_id(self) -> str: ...
    @property
    def from_state(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def action_name(self) -> str: ...


@dataclass
class Work:
    """An entry on its way through a job's stages after its check."""

    entry: MediaEntry
    action: Any  # the job's Action (a Decision)
    key: str
    started: float
    state: str
    attempt: int = 0
    notes: list[str] = field(default_factory=list)  # said in the report's reason when it ends
    bytes: int = 0  # moved for it (its row's `bytes`)


class EntryStages:
    """The report rows of a job's stages (`clock` measures each entry's seconds); `ACT` names the job's
    acting step in a `stopped` row."""

    ACT = "act"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock

    def outcome(
        self,
        action: Decision,
        outcome: str,
        started: float,
        *,
        reason: str | None = None,
        to_state: str | None = None,
        attempt: int | None = None,
        size: int = 0,
    ) -> Outcome:
        """The row of an entry whose decision was `action`."""
        return Outcome(
            entry_id=action.entry_id,
            action=action.action_name,
            outcome=outcome,
            from_state=action.from_state,
            to_state=to_state or action.from_state,
            reason=reason or action.reason,
            bytes=size,
            seconds=self.clock() - started,
            attempt=attempt,
        )

    def not_started(self, item: Candidate | Work) -> Outcome:
        """The row of an entry whose check or act had not begun when a stop signal came."""
        what = self.ACT if isinstance(item, Work) else "check"
        return self._stopped(item, f"stopped before its {what} began (stop signal): the next run does it")

    def cut_off(self, cut: Cut) -> Outcome:
        """The row of an entry the drain deadline cancelled in a stage."""
        why = f"cut off in its {cut.stage} by the drain deadline (ARCHIVER_DRAIN): the next run finishes it"
        return self._stopped(cut.item, why)

    def _stopped(self, item: Candidate | Work, reason: str) -> Outcome:
        if isinstance(item, Work):
            return Outcome(
                entry_id=item.entry.id,
                action=item.action.action_name,
                outcome=STOPPED,
                from_state=item.action.from_state,
                to_state=item.state,
                reason=reason,
                seconds=self.clock() - item.started,
            )
        return Outcome(item.entry.id, "check", STOPPED, from_state=None, to_state=None, reason=reason)

    def failed(self, failure: Failed) -> Outcome:
        """The row of an entry a stage failed on."""
        item = failure.item
        if isinstance(item, Work):
            return failed_outcome(
                failure,
                entry_id=item.entry.id,
                action=item.action.action_name,
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
