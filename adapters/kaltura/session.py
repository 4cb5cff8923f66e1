"""The Kaltura API v3 session: one aiohttp session, every call through the pacer and the retry policy.

A call is an `ApiCall` recorded from the official package (wire.py), sent as a JSON body asking for JSON
back. Failures become engine errors (errors.py). `INVALID_KS` gets one fresh KS and one more try; a second
rejection stops the run.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import aiohttp

from adapters.kaltura import wire
from adapters.kaltura.errors import (
    INVALID_KS,
    RETRYABLE_CODES,
    KalturaFatalError,
    from_connection_error,
    from_fault,
    from_http_status,
)
from adapters.kaltura.ks import SessionKeeper
from adapters.kaltura.wire import ApiCall, ApiFault
from engine.errors import RetryableError
from engine.logs import add_secret, get_logger
from engine.pacer import Pacer
from engine.retry import RetryPolicy, retry

CLIENT_TAG = "kaltura-archiver"

_log = get_logger("adapters.kaltura")

NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, ValueError, UnicodeDecodeError)
# an upload's time limit grows with its size: the request timeout plus its bytes at this slowest rate
UPLOAD_MIN_RATE = 256 * 1024  # bytes/s
UPLOAD_CONNECTIONS = 8  # uploads in flight on their own pool, so they never take listing's connections

# one try (a session renewal aside): for a request that must not be sent twice
SEND_ONCE = RetryPolicy(attempts=1, budget_s=0.0)
# a file field of an upload: (file name, bytes)
FileField = tuple[str, bytes]


@dataclass(frozen=True)
class ClientConfig:
    """Where and as whom to call Kaltura."""

    partner_id: int
    admin_secret: str = field(repr=False)
    service_url: str  # the API's base URL (the caller's setting owns the default)
    user_id: str = ""
    ks_ttl_s: int = 86_400
    request_timeout_s: float = 120.0
    connect_timeout_s: float = 10.0
    batch_calls: int = 50  # most sub-calls in one multirequest of batched calls
    batch_wait_s: float = 0.0  # longest a batched call waits for company (see engine.batch, linger)


class ApiSession:
    """The session, KS and call path of the Kaltura client (`KalturaClient` adds the archiver's calls)."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        pacer: Pacer,
        policy: RetryPolicy,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._pacer = pacer
        self._policy = policy
        self._url = config.service_url.rstrip("/") + "/api_v3/service/"
        self._keeper = SessionKeeper(
            secret=config.admin_secret,
            partner_id=config.partner_id,
            user_id=config.user_id,
            ttl_s=config.ks_ttl_s,
            clock=clock,
            on_new_ks=add_secret,
        )
        self._session: aiohttp.ClientSession | None = None
        self._uploads: aiohttp.ClientSession | None = None  # made at the first upload
        self._upload_slots = asyncio.Semaphore(UPLOAD_CONNECTIONS)
        self.calls = 0  # HTTP requests sent to the API (retries and renewals included)

    async def __aenter__(self) -> Self:
        timeout = aiohttp.ClientTimeout(
            total=self.config.request_timeout_s, sock_connect=self.config.connect_timeout_s
        )
        self._session = aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=64))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for session in (self._session, self._uploads):
            if session is not None:
                await session.close()
        self._session = self._uploads = None

    @property
    def ks_expires_at(self) -> float:
        """When the current KS expires (Unix seconds, our clock); 0 before the first call."""
        return self._keeper.expires_at

    @property
    def ks_generated(self) -> int:
        """How many KS this client has made (1 + renewals)."""
        return self._keeper.generated

    @property
    def pacer(self) -> Pacer:
        return self._pacer

    # ------------------------------------------------------------------------------------------ transport

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("KalturaClient used outside `async with`")
        return self._session

    async def _post(self, path: str, body: dict[str, Any], operation: str) -> Any:
        """POST one JSON body through a pacer slot; the parsed JSON result or an engine error."""
        payload = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        async with self._pacer.slot():
            self.calls += 1
            try:
                async with self._http().post(self._url + path, data=payload, headers=headers) as resp:
                    if resp.status != 200:
                        raise from_http_status(
                            resp.status, operation=operation, retry_after=resp.headers.get("Retry-After")
                        )
                    text = await resp.read()
                return json.loads(text)
            except NETWORK_ERRORS as exc:
                raise from_connection_error(exc, operation=operation) from None

    def _upload_http(self) -> aiohttp.ClientSession:
        self._http()  # inside `async with`
        if self._uploads is None:
            connector = aiohttp.TCPConnector(limit=UPLOAD_CONNECTIONS)
            self._uploads = aiohttp.ClientSession(connector=connector)
        return self._uploads

    async def _post_files(
        self, path: str, body: dict[str, Any], files: dict[str, FileField], operation: str
    ) -> Any:
        """POST one multipart/form-data body as the official client does (the parameters as JSON in a `json`
        field, each file as a field with its file name) through a pacer slot, on the uploads' own pool."""
        size = sum(len(data) for _, data in files.values())
        timeout = aiohttp.ClientTimeout(
            total=self.config.request_timeout_s + size / UPLOAD_MIN_RATE,
            sock_connect=self.config.connect_timeout_s,
        )
        form = aiohttp.FormData()
        form.add_field("json", json.dumps(body), content_type="application/json")
        for name, (file_name, data) in files.items():
            # a file object, not bytes: aiohttp streams it (BytesIO shares the bytes, it does not copy them)
            stream = io.BytesIO(data)
            form.add_field(name, stream, filename=file_name, content_type="application/octet-stream")
        # a connection of the uploads' pool first, then the pacer's slot: a request paced out must leave at
        # once, not wait for a connection and reach Kaltura bunched with others (the budget counts arrivals)
        async with self._upload_slots, self._pacer.slot():
            self.calls += 1
            try:
                async with self._upload_http().post(
                    self._url + path, data=form, headers={"Accept": "application/json"}, timeout=timeout
                ) as resp:
                    if resp.status != 200:
                        raise from_http_status(
                            resp.status, operation=operation, retry_after=resp.headers.get("Retry-After")
                        )
                    text = await resp.read()
                return json.loads(text)
            except NETWORK_ERRORS as exc:
                raise from_connection_error(exc, operation=operation) from None

    async def _with_session(self, send: Callable[[str], Any], operation: str) -> Any:
        """Run `send(ks)`; on INVALID_KS make a new KS once and send again."""
        ks = self._keeper.current()
        try:
            return await send(ks)
        except KalturaFatalError as exc:
            if exc.code != INVALID_KS:
                raise
            self._keeper.invalidate(ks)
            _log.info("kaltura.ks_renewed", reason="invalid_ks", operation=operation)
            return await send(self._keeper.current())

    async def _paced(self, op: Callable[[], Any], operation: str, policy: RetryPolicy | None = None) -> Any:
        return await retry(op, policy=policy or self._policy, pacer=self._pacer, describe=operation)

    async def call(
        self, api_call: ApiCall, *, entry_id: str | None = None, policy: RetryPolicy | None = None
    ) -> Any:
        """Send one call (paced, retried); its JSON result, or the engine error for its failure."""
        operation = api_call.name

        async def send(ks: str) -> Any:
            body = wire.request_body(api_call, ks=ks, client_tag=CLIENT_TAG)
            result = await self._post(f"{api_call.service}/action/{api_call.action}", body, operation)
            fault = wire.as_fault(result)
            if fault is not None:
                raise from_fault(fault, operation=operation, entry_id=entry_id)
            return result

        async def attempt() -> Any:
            return await self._with_session(send, operation)

        return await self._paced(attempt, operation, policy)

    async def upload(
        self,
        api_call: ApiCall,
        files: dict[str, FileField],
        *,
        entry_id: str | None = None,
        policy: RetryPolicy | None = None,
    ) -> Any:
        """Send one call that carries files (`uploadToken.upload`, `thumbAsset.addFromImage`) as
        multipart/form-data on the uploads' own connections, paced and retried like `call`."""
        operation = api_call.name
        if set(files) != set(api_call.files):
            raise ValueError(f"{operation}: files {sorted(files)} given, the call has {list(api_call.files)}")

        async def send(ks: str) -> Any:
            body = wire.request_body(api_call, ks=ks, client_tag=CLIENT_TAG)
            path = f"{api_call.service}/action/{api_call.action}"
            result = await self._post_files(path, body, files, operation)
            fault = wire.as_fault(result)
            if fault is not None:
                raise from_fault(fault, operation=operation, entry_id=entry_id)
            return result

        async def attempt() -> Any:
            return await self._with_session(send, operation)

        return await self._paced(attempt, operation, policy)

    async def multirequest(
        self, calls: Sequence[ApiCall], *, retry_faults: bool = True, resend: bool = True
    ) -> list[Any]:
        """Send `calls` as one multirequest; each slot holds its result or its `ApiFault`.

        With `retry_faults` (read-only batches) a throttled or transiently failed slot makes the whole batch
        retry; mutating batches pass False and deal with each slot's fault themselves. Without `resend` (a
        batch holding a call that must not run twice) a failure of the whole request is not sent again: the
        callers learn what happened.
        """
        if not calls:
            return []
        operation = f"multirequest({len(calls)}: " + ",".join(dict.fromkeys(c.name for c in calls)) + ")"

        async def send(ks: str) -> list[Any]:
            body = wire.multirequest_body(calls, ks=ks, client_tag=CLIENT_TAG)
            results = await self._post("multirequest", body, operation)
            if isinstance(results, dict):  # the whole request failed (e.g. no KS at all)
                fault = wire.as_fault(results)
                if fault is not None:
                    raise from_fault(fault, operation=operation)
            if not isinstance(results, list) or len(results) != len(calls):
                raise RetryableError(f"{operation}: malformed multirequest answer")
            slots: list[Any] = [wire.as_fault(r) or r for r in results]
            for slot in slots:
                if isinstance(slot, ApiFault) and slot.code == INVALID_KS:
                    raise from_fault(slot, operation=operation)
                if retry_faults and isinstance(slot, ApiFault) and slot.code in RETRYABLE_CODES:
                    raise from_fault(slot, operation=operation)
            return slots

        async def attempt() -> list[Any]:
            result: list[Any] = await self._with_session(send, operation)
            return result

        result: list[Any] = await self._paced(attempt, operation, None if resend else SEND_ONCE)
        return result
