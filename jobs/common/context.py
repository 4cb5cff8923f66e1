"""What every job gets: the settings, the run's identity and start time, its output streams, and Kaltura."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from adapters.kaltura import ClientConfig, KalturaClient, KalturaHttpError, KalturaUnreachableError
from engine.errors import ConfigError, RetryableError
from engine.pacer import Pacer
from engine.retry import RetryPolicy
from engine.shutdown import Shutdown
from jobs.common.settings import Settings

if TYPE_CHECKING:
    from adapters.s3 import ArchiveStore

# the first call of a run only proves the service answers: a wrong URL should fail in seconds, not minutes
PROBE_POLICY = RetryPolicy(attempts=3, base_s=0.5, max_s=2.0, budget_s=10.0)
PROBE_CALL_S = 15.0  # each bucket probe's deadline: an endpoint that answers does so well within it


@dataclass
class RunContext:
    """One run of one subcommand."""

    settings: Settings
    run_id: str
    run_start: int  # Unix seconds: the listing snapshot and the "now" of year-based filters
    stdout: TextIO
    stderr: TextIO
    shutdown: Shutdown | None = None

    @property
    def stopping(self) -> bool:
        """A signal asked us to stop taking new work."""
        return self.shutdown is not None and self.shutdown.stop_intake.is_set()


def now_s() -> int:
    return int(time.time())


def require_kaltura(settings: Settings) -> None:
    """ConfigError naming the first Kaltura setting a run needs that is missing (a job that writes before it
    connects calls this first). The KS user is required, as the old tool required it: without one, the user
    Kaltura records for every change we make would be nobody."""
    settings.require("partner_id", "secret", "user_id")


def kaltura_client(settings: Settings) -> KalturaClient:
    """The run's Kaltura client (one session, one pacer) from the settings; ConfigError if one is missing."""
    require_kaltura(settings)
    assert settings.partner_id is not None
    assert settings.secret is not None
    assert settings.user_id is not None
    config = ClientConfig(
        partner_id=settings.partner_id,
        admin_secret=settings.secret,
        user_id=settings.user_id,
        service_url=settings.service_url,
        ks_ttl_s=int(settings.ks_ttl_s),
        request_timeout_s=settings.kaltura_timeout_s,
        batch_calls=settings.kaltura_batch_calls,
        batch_wait_s=settings.kaltura_batch_wait_s,
    )
    pacer = Pacer(settings.kaltura_rps, max_in_flight=settings.kaltura_in_flight)
    policy = RetryPolicy(
        attempts=settings.kaltura_retries, base_s=0.5, max_s=30.0, budget_s=settings.kaltura_retry_budget_s
    )
    return KalturaClient(config, pacer=pacer, policy=policy)


@asynccontextmanager
async def connected(settings: Settings) -> AsyncIterator[tuple[KalturaClient, int]]:
    """An open Kaltura client whose credentials were just proved, and the partner's entry count.

    No answer at all from the service URL is a setting to fix (exit 2); a refused KS is fatal (exit 3).
    """
    async with kaltura_client(settings) as client:
        try:
            entries = await client.check_access(policy=PROBE_POLICY)
        except KalturaUnreachableError:
            raise ConfigError(
                f"KALTURA_SERVICE_URL={settings.service_url!r} does not answer: check the URL and the network"
            ) from None
        except KalturaHttpError as exc:
            raise ConfigError(
                f"KALTURA_SERVICE_URL={settings.service_url!r} is not a Kaltura API (HTTP {exc.status}): "
                "check the URL"
            ) from None
        yield client, entries


async def prove_bucket(store: ArchiveStore, bucket: str) -> None:
    """Prove the bucket exists and may be used (refusals stop the run, exit 3); an S3 endpoint that never
    answers is a setting to fix (exit 2), as an unanswering Kaltura service URL is."""
    try:
        await store.check_access()
    except RetryableError:
        raise s3_not_answering(bucket) from None


def s3_not_answering(bucket: str, or_else: str = "") -> ConfigError:
    """The one-line error for an S3 endpoint that never answered within the retries: a setting to fix."""
    return ConfigError(
        f"AWS_BUCKET={bucket!r}: the S3 endpoint does not answer: "
        f"check AWS_ENDPOINT_URL (or AWS_REGION) and the network{or_else}"
    )
