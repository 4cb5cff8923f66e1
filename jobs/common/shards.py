"""This task's shard: which createdAt window of the selection it works on (docs/architecture.md, Scale-out).

A task learns its shard from `--shard K/N` (ARCHIVER_SHARD), or, in an AWS Batch array job, from
ARCHIVER_SHARDS=N and the 0-based AWS_BATCH_JOB_ARRAY_INDEX Batch sets (index i is shard i+1). Its window
comes from ARCHIVER_SHARD_BOUNDS (the N-1 cuts `kaltura-archiver shards N` printed) when given; otherwise
the task counts its two cuts itself as of its run start (`adapters.kaltura.shards`: a few dozen cheap
`media.count` requests). Counted by each task, the windows agree only if the selection's server-side count
did not change between the tasks' starts (entries added or deleted, or a `--created_*`/`--unplayed_for`
bound moving past an entry): give ARCHIVER_SHARD_BOUNDS when the catalog is live.

`shard_of` judges the settings before anything connects (exit 2, one line); `narrowed` gives the selection
of this task's window once the client is open. A selecting command calls both.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.kaltura import FilterSpec
from adapters.kaltura.listing import MediaLister
from adapters.kaltura.shards import in_window, plan_shards, window_of
from engine.errors import ConfigError
from engine.logs import get_logger
from jobs.common.settings import Settings

_log = get_logger("jobs.common.shards")


@dataclass(frozen=True)
class Shard:
    """Window k of n (1-based), and the cuts between the windows when they were given."""

    k: int
    n: int
    bounds: tuple[int, ...] | None

    @property
    def label(self) -> str:
        return f"{self.k}/{self.n}"


def shard_of(settings: Settings, spec: FilterSpec) -> Shard | None:
    """This task's shard (None: the whole selection); ConfigError naming the fix for settings that do not
    make one, or a shard of an id selection."""
    k_n = _k_n(settings)
    if k_n is None:
        if settings.shard_bounds is not None:
            raise ConfigError(
                "ARCHIVER_SHARD_BOUNDS is set without a shard: give --shard K/N (or ARCHIVER_SHARDS in an "
                "AWS Batch array job), or unset it"
            )
        return None
    k, n = k_n
    if spec.by_id:
        raise ConfigError(
            f"shard {k}/{n} with --id/--idfile: a shard is a createdAt window, ids are not split by it; "
            "split the id file between the tasks instead, or unset the shard"
        )
    bounds = settings.shard_bounds
    if bounds is not None and len(bounds) != n - 1:
        raise ConfigError(
            f"ARCHIVER_SHARD_BOUNDS holds {len(bounds)} cut(s) but {n} shards need {n - 1}: set it to what "
            f"`kaltura-archiver shards {n}` prints"
        )
    return Shard(k, n, bounds)


def _k_n(settings: Settings) -> tuple[int, int] | None:
    """(K, N) from --shard/ARCHIVER_SHARD or from ARCHIVER_SHARDS and AWS_BATCH_JOB_ARRAY_INDEX."""
    n, index = settings.shards, settings.array_index
    if settings.shard is not None:
        if n is not None:
            raise ConfigError(
                "--shard (ARCHIVER_SHARD) and ARCHIVER_SHARDS are both set: keep one (ARCHIVER_SHARDS is for "
                "AWS Batch array jobs, with AWS_BATCH_JOB_ARRAY_INDEX)"
            )
        return settings.shard
    if n is None and index is None:
        return None
    if n is None:
        raise ConfigError(
            f"AWS_BATCH_JOB_ARRAY_INDEX={index} without ARCHIVER_SHARDS: set ARCHIVER_SHARDS to the array's "
            "size, or run the task outside an array job"
        )
    if index is None:
        raise ConfigError(
            f"ARCHIVER_SHARDS={n} without AWS_BATCH_JOB_ARRAY_INDEX: run it as an AWS Batch array job of "
            f"size {n}, or give --shard K/{n} instead"
        )
    if index >= n:
        raise ConfigError(
            f"AWS_BATCH_JOB_ARRAY_INDEX={index} is beyond ARCHIVER_SHARDS={n} (indexes 0 to {n - 1}): "
            "make the array's size ARCHIVER_SHARDS"
        )
    return index + 1, n


async def narrowed(
    client: MediaLister, spec: FilterSpec, shard: Shard | None, *, run_start: int
) -> FilterSpec:
    """`spec` narrowed to the shard's window (unchanged without a shard): from the given bounds, or from
    the two cuts counted as of `run_start`."""
    if shard is None:
        return spec
    k, n = shard.k, shard.n
    if n == 1:
        return spec
    if shard.bounds is not None:
        bounds, source, requests, counted = shard.bounds, "ARCHIVER_SHARD_BOUNDS", 0, None
    else:
        plan = await plan_shards(client, spec, n, run_start=run_start, only=(k - 1, k))
        # only cuts k-1 and k were counted: the others are never read by window_of for this k
        bounds = tuple(plan.cuts[i].at if i in plan.cuts else 0 for i in range(1, n))
        source, requests, counted = "counted", plan.requests, plan.counted(k)
    after, until = window_of(k, n, bounds)
    _log.info(
        "shard.window",
        shard=shard.label,
        created_from=after,
        created_before=None if until is None else until + 1,
        source=source,
        entries_counted=counted,
        count_requests=requests,
    )
    return in_window(spec, k, n, bounds)
