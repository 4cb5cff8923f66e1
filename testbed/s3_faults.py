"""A fault-injecting reverse proxy for S3: answers `503 SlowDown`, resets the connection, loses an answer,
cuts an answer's body short, answers `200 OK` with an error in the body or `409 ConditionalRequestConflict`,
on chosen calls; and can hide
response headers (S3 leaves `x-amz-tagging-count` out for a caller that may not read tags); and can hold
chosen calls at the door until a test releases them, so a test stops a client at a known point (a part on its
way, a completion not yet sent) instead of racing it.

`async with S3FaultProxy(upstream_url) as proxy:` serves on 127.0.0.1 (a free port) and forwards every
request to the upstream S3 (moto), streaming bodies both ways. Headers pass unchanged (`Host` included, so a
signature stays valid; `Content-Encoding: aws-chunked` and `x-amz-trailer` too, with the aws-chunked body
and its trailer forwarded byte for byte); only hop-by-hop headers are re-made. By default faults hit
UploadPart (PUT with `partNumber` and `uploadId`), chosen by a seeded random draw or for the next N calls.

A presigned request (`X-Amz-Date` and `X-Amz-Expires` in its query) is checked for expiry as S3 checks it
when the plan's `clock_ahead_s` is set: at the proxy's clock moved that far ahead, a URL past its expiry is
answered `403 AccessDenied` (Request has expired), whatever the operation; a test thus sees a URL expire
without waiting for it.

Control, under `/__faults` (no bucket name can start with `_`):
`POST /__faults {"slowdown_rate": 0.3, "reset_rate": 0.1, "cut_rate": 0, "slowdown_next": 0, "reset_next": 0,
"lose_next": 0, "error200_next": 0, "conflict_next": 0, "cut_next": 0, "cut_after": 65536, "hold": false,
"operations": ["UploadPart"], "hide_headers": [], "clock_ahead_s": null, "seed": 1}` replaces the plan;
`GET /__faults` shows it;
`GET /__faults/counters` gives requests by operation and faults by kind;
`GET /__faults/held` lists the calls held (operation, key, upload id); `POST /__faults/release
{"forward": true}` lets them go on to S3 (`false`: their connections are reset and S3 never sees them); the
plan's `hold` still holds the calls that come after.

In a test, `await proxy.until(predicate, what)` waits, with no polling, until `predicate(proxy)` holds: it is
checked whenever a call arrives, is held, or is answered by S3 (`answered`), or ends (`in_flight`).

`python -m testbed.s3_faults --upstream URL --port 0` prints `{"endpoint_url": ...}` and serves until
SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import socket
import ssl
import struct
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

HOST: Final = "127.0.0.1"
CONTROL: Final = "/__faults"
SLOWDOWN: Final = "slowdown"
RESET: Final = "reset"
LOSE: Final = "lose"  # forwarded and done upstream, then the answer is lost (connection reset)
CUT: Final = "cut"  # forwarded; the answer's head and first bytes reach the client, then the connection ends
# S3 may answer CompleteMultipartUpload (and CopyObject) `200 OK` and then report a failure in the body
ERROR_200: Final = "error200"
# a conditional write (If-None-Match) that met a concurrent write of the key: S3 says to send it again
CONFLICT: Final = "conflict"
HOLD: Final = "hold"  # kept waiting at the door until released (counted once per call held)
EXPIRED: Final = "expired"  # a presigned URL past its expiry (with `clock_ahead_s` set)

# re-made per hop by each side's HTTP stack; everything else passes as it came
_HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "proxy-connection",
        "expect",  # each hop answers 100-continue itself; botocore does not sign it
    }
)

_ERROR_XML: Final = (
    '<?xml version="1.0" encoding="UTF-8"?>\n{gap}<Error><Code>{code}</Code><Message>{message}</Message>'
    "<RequestId>{rid}</RequestId><HostId>s3-faults</HostId></Error>"
)
# the faults answered by the proxy itself (not forwarded: nothing happens in S3): status, S3 code, message
_ANSWERS: Final = {
    EXPIRED: (403, "AccessDenied", "Request has expired"),
    # after the body, as S3 does, so the client reads a 503 and not a reset
    SLOWDOWN: (503, "SlowDown", "Please reduce your request rate."),
    # the failure S3 reports after it has begun answering: status 200, the error in the body
    ERROR_200: (200, "InternalError", "We encountered an internal error. Please try again."),
    # a conditional write that met a concurrent one
    CONFLICT: (
        409,
        "ConditionalRequestConflict",
        "A conflicting operation occurred. If using PutObject you can retry the request.",
    ),
}


@dataclass(frozen=True)
class FaultPlan:
    """Which calls fail, and how. Rates are fractions of the matching calls; `*_next` come first."""

    slowdown_rate: float = 0.0
    reset_rate: float = 0.0
    cut_rate: float = 0.0  # share of matching calls whose answer's body is cut after `cut_after` bytes
    slowdown_next: int = 0
    reset_next: int = 0
    lose_next: int = 0  # the next N matching calls reach S3 but their answers never come back
    cut_next: int = 0  # the next N matching calls get their answer's head and `cut_after` bytes of its body
    cut_after: int = 65536
    error200_next: int = 0  # the next N matching calls are answered 200 OK with an InternalError body
    conflict_next: int = 0  # the next N matching calls are answered 409 ConditionalRequestConflict
    hold: bool = False  # every matching call waits, before any other fault, until `release()`
    operations: frozenset[str] = field(default_factory=lambda: frozenset({"UploadPart"}))
    hide_headers: frozenset[str] = frozenset()  # response headers (lower case) left out of every answer
    clock_ahead_s: float | None = None  # set: presigned URLs are checked for expiry this far in the future

    @classmethod
    def from_json(cls, body: dict[str, Any], base: FaultPlan | None = None) -> FaultPlan:
        """A plan from a control request: given keys replace those of `base` (default: no faults)."""
        plan = base or cls()
        known = {k: v for k, v in body.items() if k in asdict(plan)}
        if "operations" in known:
            known["operations"] = frozenset(str(op) for op in known["operations"])
        if "hide_headers" in known:
            known["hide_headers"] = frozenset(str(name).lower() for name in known["hide_headers"])
        plan = replace(plan, **known)
        for rate in (plan.slowdown_rate, plan.reset_rate, plan.cut_rate):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"rates are fractions in [0, 1], not {rate}")
        if plan.slowdown_rate + plan.reset_rate + plan.cut_rate > 1.0:
            raise ValueError("slowdown_rate + reset_rate + cut_rate must not exceed 1")
        return plan

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["operations"] = sorted(self.operations)
        out["hide_headers"] = sorted(self.hide_headers)
        return out


@dataclass(frozen=True)
class HeldCall:
    """A call waiting at the door: its operation, its key (bucket/key) and its upload id, if any."""

    operation: str
    key: str
    upload_id: str | None


def operation_of(method: str, path: str, query: Any, headers: Any) -> str:
    """The S3 operation a path-style request is (`UploadPart`, `HeadObject`, ...)."""
    parts = path.lstrip("/").split("/", 1)
    if not parts[0]:
        return "ListBuckets"
    has_key = len(parts) == 2 and parts[1] != ""
    if not has_key:
        return _bucket_operation(method, query)
    if "tagging" in query:
        return {"PUT": "PutObjectTagging", "GET": "GetObjectTagging"}.get(method, "DeleteObjectTagging")
    if method == "PUT":
        if "partNumber" in query and "uploadId" in query:
            return "UploadPartCopy" if "x-amz-copy-source" in headers else "UploadPart"
        return "CopyObject" if "x-amz-copy-source" in headers else "PutObject"
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload"
        return "CompleteMultipartUpload" if "uploadId" in query else "RestoreObject"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    if method == "GET":
        return "ListParts" if "uploadId" in query else "GetObject"
    return "HeadObject" if method == "HEAD" else f"{method}Object"


def _bucket_operation(method: str, query: Any) -> str:
    if method == "GET":
        if "uploads" in query:
            return "ListMultipartUploads"
        return "ListObjectsV2" if query.get("list-type") == "2" else "ListObjects"
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    return {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket"}.get(
        method, f"{method}Bucket"
    )


class S3FaultProxy:
    """The proxy: an async context manager serving on 127.0.0.1; `endpoint_url` is what clients use."""

    def __init__(
        self,
        upstream: str,
        *,
        port: int = 0,
        seed: int = 0,
        plan: FaultPlan | None = None,
        upstream_ca: str | None = None,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.plan = plan or FaultPlan()
        self.requests: Counter[str] = Counter()  # by operation, faulted ones included
        self.faults: Counter[str] = Counter()  # by kind
        self.answered: Counter[str] = Counter()  # by operation: calls S3 has done and answered
        self.in_flight = 0  # calls arrived and not yet ended (held ones included)
        self._held: dict[HeldCall, list[asyncio.Future[bool]]] = {}
        self._changed: asyncio.Condition | None = None  # made in the proxy's event loop
        self._rng = random.Random(seed)
        self._port = port
        self._ssl: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=upstream_ca) if upstream_ca else True
        )
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    # -- control -----------------------------------------------------------------------------------------

    def set_plan(
        self, plan: FaultPlan | None = None, *, seed: int | None = None, **changes: Any
    ) -> FaultPlan:
        """Replace the plan with `plan`, or change fields of the current one; reseed if `seed` is given."""
        base = plan if plan is not None else self.plan
        self.plan = FaultPlan.from_json(changes, base) if changes else base
        if seed is not None:
            self._rng = random.Random(seed)
        return self.plan

    def counters(self) -> dict[str, dict[str, int]]:
        return {"requests": dict(self.requests), "faults": dict(self.faults)}

    @property
    def held(self) -> list[HeldCall]:
        """The calls held now, one item per call."""
        return [call for call, waiting in self._held.items() for _ in waiting]

    def release(self, *, forward: bool = True) -> int:
        """Let every call held now go on to S3 (`forward=False`: reset their connections, S3 never sees
        them); how many. The plan is unchanged: with `hold` still on, the calls that come next are held."""
        waiting = [future for futures in self._held.values() for future in futures]
        self._held.clear()
        for future in waiting:
            if not future.done():
                future.set_result(forward)
        return len(waiting)

    async def until(
        self, predicate: Callable[[S3FaultProxy], bool], what: str, *, timeout_s: float = 60.0
    ) -> None:
        """Wait until `predicate(self)` is true; TimeoutError naming `what` after `timeout_s` (a guard only:
        the wait ends on the proxy's own events, not on a clock)."""
        changed = self._condition()
        try:
            async with asyncio.timeout(timeout_s), changed:
                await changed.wait_for(lambda: predicate(self))
        except TimeoutError:
            raise TimeoutError(f"the S3 proxy did not see {what} within {timeout_s:g} s") from None

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def _notify(self) -> None:
        changed = self._condition()
        async with changed:
            changed.notify_all()

    def _decide(self, operation: str) -> str | None:
        plan = self.plan
        if operation not in plan.operations:
            return None
        if plan.slowdown_next > 0:
            self.plan = replace(plan, slowdown_next=plan.slowdown_next - 1)
            return SLOWDOWN
        if plan.reset_next > 0:
            self.plan = replace(plan, reset_next=plan.reset_next - 1)
            return RESET
        if plan.lose_next > 0:
            self.plan = replace(plan, lose_next=plan.lose_next - 1)
            return LOSE
        if plan.cut_next > 0:
            self.plan = replace(plan, cut_next=plan.cut_next - 1)
            return CUT
        if plan.error200_next > 0:
            self.plan = replace(plan, error200_next=plan.error200_next - 1)
            return ERROR_200
        if plan.conflict_next > 0:
            self.plan = replace(plan, conflict_next=plan.conflict_next - 1)
            return CONFLICT
        draw = self._rng.random()
        if draw < plan.slowdown_rate:
            return SLOWDOWN
        if draw < plan.slowdown_rate + plan.reset_rate:
            return RESET
        if draw < plan.slowdown_rate + plan.reset_rate + plan.cut_rate:
            return CUT
        return None

    # -- life cycle --------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._runner is None:
            raise RuntimeError("proxy not started")
        return int(self._runner.addresses[0][1])

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def __aenter__(self) -> S3FaultProxy:
        # no pooling of upstream connections across resets; moto closes after each answer anyway
        self._session = aiohttp.ClientSession(
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=120),
            connector=aiohttp.TCPConnector(limit=64, ssl=self._ssl),
        )
        app = web.Application(client_max_size=1 << 20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, HOST, self._port).start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release(forward=False)  # a held call would keep the server's clean-up waiting
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- requests ----------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == CONTROL or request.path.startswith(CONTROL + "/"):
            return await self._control(request)
        operation = operation_of(request.method, request.path, request.query, request.headers)
        self.requests[operation] += 1
        self.in_flight += 1
        await self._notify()
        try:
            if self._holds(operation) and not await self._wait_held(request, operation):
                return await self._reset(request)
            if self._expired(request):
                self.faults[EXPIRED] += 1
                return await self._answer(request, EXPIRED)
            fault = self._decide(operation)
            if fault is not None:
                self.faults[fault] += 1
                if fault in _ANSWERS:
                    return await self._answer(request, fault)
                if fault == LOSE:
                    await self._forward(request, operation, lose=True)
                if fault == CUT:
                    return await self._forward(request, operation, cut_after=self.plan.cut_after)
                return await self._reset(request)
            return await self._forward(request, operation)
        finally:
            self.in_flight -= 1
            await self._notify()

    def _expired(self, request: web.Request) -> bool:
        """A presigned request past its expiry at the proxy's clock moved `clock_ahead_s` ahead."""
        ahead, query = self.plan.clock_ahead_s, request.query
        if ahead is None:
            return False
        if "X-Amz-Expires" in query and "X-Amz-Date" in query:  # SigV4
            signed = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            expires = signed.timestamp() + int(query["X-Amz-Expires"])
        elif "Expires" in query and "Signature" in query:  # SigV2: the expiry itself
            expires = float(query["Expires"])
        else:
            return False
        return time.time() + ahead > expires

    def _holds(self, operation: str) -> bool:
        return self.plan.hold and operation in self.plan.operations

    async def _wait_held(self, request: web.Request, operation: str) -> bool:
        """Hold the call until `release()`; whether to send it on to S3."""
        call = HeldCall(operation, request.path.lstrip("/"), request.query.get("uploadId"))
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._held.setdefault(call, []).append(future)
        self.faults[HOLD] += 1
        await self._notify()
        return await future

    async def _control(self, request: web.Request) -> web.StreamResponse:
        if request.path == CONTROL + "/counters" and request.method == "GET":
            return web.json_response(self.counters())
        if request.path == CONTROL and request.method == "GET":
            return web.json_response(self.plan.as_json())
        if request.path == CONTROL and request.method == "POST":
            try:
                body = await request.json()
                seed = body.pop("seed", None)
                self.set_plan(FaultPlan.from_json(body), seed=seed)
            except (ValueError, TypeError, AttributeError) as exc:
                return web.json_response({"error": str(exc)}, status=400)
            return web.json_response(self.plan.as_json())
        if request.path == CONTROL + "/held" and request.method == "GET":
            return web.json_response({"held": [asdict(call) for call in self.held]})
        if request.path == CONTROL + "/release" and request.method == "POST":
            try:
                body = await request.json() if request.can_read_body else {}
                forward = bool(body.get("forward", True))
            except (ValueError, AttributeError) as exc:
                return web.json_response({"error": str(exc)}, status=400)
            return web.json_response({"released": self.release(forward=forward)})
        return web.json_response({"error": "unknown control request"}, status=404)

    async def _answer(self, request: web.Request, fault: str) -> web.StreamResponse:
        """S3's error answer for `fault`, given once the request's body has arrived."""
        await _drain(request)
        status, code, message = _ANSWERS[fault]
        gap = "\n" if status == 200 else ""  # S3 begins a 200 error body with a blank line
        body = _ERROR_XML.format(gap=gap, code=code, message=message, rid=uuid.uuid4().hex[:16].upper())
        return web.Response(status=status, text=body, content_type="application/xml")

    async def _reset(self, request: web.Request) -> web.StreamResponse:
        if not request.content.at_eof():
            await request.content.readany()  # some of the body has arrived, as in a real mid-transfer reset
        transport = request.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None:  # linger 0: close() sends a TCP RST instead of a FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError  # nothing more to say on this connection

    async def _forward(
        self, request: web.Request, operation: str, *, lose: bool = False, cut_after: int | None = None
    ) -> web.StreamResponse:
        if self._session is None:
            raise RuntimeError("proxy not started")
        headers = CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP)
        data = _body(request) if request.body_exists else None
        async with self._session.request(
            request.method,
            self.upstream + request.raw_path,
            headers=headers,
            data=data,
            allow_redirects=False,
            skip_auto_headers=("Content-Type", "User-Agent", "Accept", "Accept-Encoding"),
        ) as upstream:
            self.answered[operation] += 1  # S3 has done it, whatever becomes of its answer
            await self._notify()
            if lose:
                await upstream.read()  # S3 has done it and answered; the client will never know
                return web.StreamResponse()
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            hidden = _HOP_BY_HOP | self.plan.hide_headers
            for name, value in upstream.headers.items():
                if name.lower() not in hidden:
                    response.headers.add(name, value)
            await response.prepare(request)
            sent = 0
            async for chunk in upstream.content.iter_any():
                if cut_after is not None and sent >= cut_after:
                    continue  # S3's answer is read to its end, so its connection is left clean
                if cut_after is not None and sent + len(chunk) >= cut_after:
                    chunk = chunk[: cut_after - sent]
                await response.write(chunk)
                sent += len(chunk)
            if cut_after is not None:
                return await _cut(request)
            await response.write_eof()
            return response


async def _cut(request: web.Request) -> web.StreamResponse:
    """End the connection after what was written: the client has the head and some of the body, then EOF
    before the length it was promised (closed, not reset, so the bytes written reach it first)."""
    if request.transport is not None:
        request.transport.close()
    raise asyncio.CancelledError  # nothing more to say on this connection


async def _body(request: web.Request) -> AsyncIterator[bytes]:
    async for chunk in request.content.iter_any():
        yield chunk


async def _drain(request: web.Request) -> None:
    async for _chunk in request.content.iter_any():
        pass


async def serve(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m testbed.s3_faults", description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="the S3 endpoint to forward to")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: a free one)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault draws")
    parser.add_argument("--upstream-ca", default=None, help="CA bundle for an HTTPS upstream")
    args = parser.parse_args(argv)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with S3FaultProxy(
        args.upstream, port=args.port, seed=args.seed, upstream_ca=args.upstream_ca
    ) as proxy:
        sys.stdout.write(json.dumps({"endpoint_url": proxy.endpoint_url}) + "\n")
        sys.stdout.flush()
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    asyncio.run(serve(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
