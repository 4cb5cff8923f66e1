"""A readable copy of an archived object, asked of Glacier once: what restore_from_s3 and repair do with an
object in GLACIER or DEEP_ARCHIVE before they read it.

A run never waits hours for Glacier: an object without a readable copy gets one restore request (through the
gate; the adapter falls back from Expedited and never uses it for Deep Archive) and its entry a `waiting` row;
the next scheduled run finds the copy readable and goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

from adapters.s3 import RestoreOutcome, RestoreState
from jobs.common import events
from jobs.common.events import EventLog
from jobs.common.gate import Gate

WAITING: Final = "waiting"  # the row's outcome while Glacier makes a copy
PLANNED: Final = "planned"  # a dry run's: the request it would make


@dataclass(frozen=True)
class GlacierConfig:
    """How a readable copy is asked for: the retrieval tier and the days the copy stays."""

    tier: str = "Standard"
    days: int = 7


@dataclass(frozen=True)
class NotReadable:
    """Why an entry cannot go on yet: its row's outcome (`waiting`, or `planned` in a dry run) and reason."""

    outcome: str
    reason: str


class _Decided(Protocol):
    """What the request's event needs of a job's action."""

    @property
    def entry_id(self) -> str: ...

    @property
    def from_state(self) -> str | None: ...


async def ask_for_copy(
    state: RestoreState,
    action: _Decided,
    *,
    gate: Gate,
    log: EventLog,
    config: GlacierConfig,
    real: bool,
    then: str,
) -> NotReadable | None:
    """None when the object is readable now (or became so on request); else why not: a restore in progress,
    the request a dry run would make (`real` False), or the one just made. `then` says what the next run does
    ("brings it back", "proves it")."""
    if state.readable:
        return None
    if state.ongoing:
        why = f"a Glacier restore of its {state.storage_class} object is in progress: the next run {then}"
        return NotReadable(WAITING, why)
    if not real:
        why = f"would ask Glacier for a copy ({config.tier}, {config.days} d) of {state.storage_class}"
        return NotReadable(PLANNED, why)
    answer = await gate.request_restore(
        state.key, storage_class=state.storage_class, tier=config.tier, days=config.days
    )
    if answer.outcome in (RestoreOutcome.RESTORED, RestoreOutcome.NOT_NEEDED):
        return None
    log.entry(
        events.RESTORE_REQUESTED,
        action.entry_id,
        from_state=action.from_state,
        to_state=action.from_state,
        tier=answer.tier,
        storage_class=state.storage_class,
    )
    why = f"Glacier restore {answer.outcome} ({answer.tier}, {config.days} d): the next run {then}"
    return NotReadable(WAITING, why)
