"""The simulator's aiohttp application: API v3 dispatch (single calls and multirequest) and its routes.

`Simulator` holds one partner's state, admin secret, faults and counters; `build_app` wires the API,
the serveFlavor downloads and the `/__sim` control surface onto it.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from testbed.kaltura_sim import control, download, ks, render, wire
from testbed.kaltura_sim.errors import ApiError
from testbed.kaltura_sim.faults import HTTP_KINDS, Counters, Faults
from testbed.kaltura_sim.fetch import UrlFetcher
from testbed.kaltura_sim.state import CallContext, Params, Result, SimState

log = logging.getLogger("testbed.kaltura_sim")

DEFAULT_USER_ID = "archiver@testbed"
# Parameters every call may carry that are not the action's own.
_META = frozenset(
    {"ks", "format", "clientTag", "apiVersion", "partnerId", "language", "kalsig", "ignoreNull"}
)
_UNPROTECTED = frozenset({("session", "start")})
_HTML_BODIES = {
    429: "<html><head><title>429 Too Many Requests</title></head><body><center><h1>429 Too Many Requests"
    "</h1></center><hr><center>nginx</center></body></html>",
    503: "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 Service"
    " Temporarily Unavailable</h1></center><hr><center>nginx</center></body></html>",
}
_REQUEST_LIMIT = 256 << 20  # JSON and form bodies; multipart uploads stream


def default_secret(seed: int) -> str:
    """A fixed admin secret per seed: a testbed value, 32 hex digits like the real ones."""
    return hashlib.sha256(f"kaltura-sim-admin-secret:{seed}".encode()).hexdigest()[:32]


def service_forbidden(service: str, action: str) -> ApiError:
    name = f"{service}->{action}"
    return ApiError("SERVICE_FORBIDDEN", f"The access to service [{name}] is forbidden", {"SERVICE": name})


def service_missing(service: str) -> ApiError:
    return ApiError("SERVICE_DOES_NOT_EXISTS", f'Service "{service}" does not exists', {"SRV_NAME": service})


def action_missing(service: str, action: str) -> ApiError:
    return ApiError(
        "ACTION_DOES_NOT_EXISTS",
        f'Action "{action}" does not exists for service "{service}"',
        {"ACTION_NAME": action, "SERVICE_NAME": service},
    )


def action_blocked(service: str, action: str) -> ApiError:
    return ApiError(
        "ACTION_BLOCKED",
        f'Action "{action}" in service "{service}" is blocked',
        {"ACTION_NAME": action, "SERVICE_NAME": service},
    )


def internal_error() -> ApiError:
    return ApiError("INTERNAL_SERVERL_ERROR", "Internal server error occurred")


@dataclass
class Simulator:
    """One simulated partner: its state plus everything the HTTP side keeps."""

    state: SimState
    admin_secret: str
    user_id: str = DEFAULT_USER_ID
    faults: Faults = field(default_factory=Faults)
    counters: Counters = field(default_factory=Counters)
    catalog: Any = None  # testbed.catalog.Catalog, for /__sim/catalog
    revoked: set[str] = field(default_factory=set)

    @property
    def partner_id(self) -> int:
        return int(self.state.partner_id)

    # --- one call ---------------------------------------------------------------------------------------

    def call(self, service: str, action: str, params: Params, service_url: str) -> Result:
        """Run one API call; every failure is an ApiError (unexpected ones become INTERNAL_SERVERL_ERROR)."""
        service, key = service.lower(), f"{service}.{action}".lower()
        self.counters.calls[key] += 1
        try:
            return self._call(service, action, key, params, service_url)
        except ApiError as exc:
            self.counters.errors[exc.code] += 1
            raise
        except Exception:
            log.exception("unexpected error in %s", key)
            self.counters.errors["INTERNAL_SERVERL_ERROR"] += 1
            raise internal_error() from None

    def _call(self, service: str, action: str, key: str, params: Params, service_url: str) -> Result:
        if not self.faults.rates.allow(key, time.monotonic()) or self.faults.fired(key, "action_blocked"):
            self.counters.faults[f"{key}.action_blocked"] += 1
            raise action_blocked(service, action)
        if self.faults.fired(key, "internal_error"):
            self.counters.faults[f"{key}.internal_error"] += 1
            raise internal_error()
        if service == "session":
            return self._session(action, params)
        if not service or not self.state.has_service(service):
            raise service_missing(service)
        handler = self.state.handler(service, action.lower())
        if handler is None:
            raise action_missing(service, action)
        session = self._authenticate(service, action, params)
        context = CallContext(self.partner_id, session.user_id, service_url)
        return handler({k: v for k, v in params.items() if k not in _META}, context)

    def _authenticate(self, service: str, action: str, params: Params) -> ks.Session:
        token = params.get("ks")
        if not isinstance(token, str) or not token:
            raise service_forbidden(service, action)
        return ks.validate(
            token,
            secret=self.admin_secret,
            partner_id=self.partner_id,
            now=self.state.clock.now(),
            revoked=self.revoked,
        )

    def _session(self, action: str, params: Params) -> Result:
        name = action.lower()
        if name == "start":
            return self._session_start(params)
        if name not in ("end", "get"):
            raise action_missing("session", action)
        session = self._authenticate("session", action, params)
        if name == "end":
            self.revoked.add(str(params["ks"]))
            return None
        target = str(params.get("session") or params["ks"])
        info = (
            session
            if target == params["ks"]
            else ks.validate(
                target,
                secret=self.admin_secret,
                partner_id=self.partner_id,
                now=self.state.clock.now(),
                revoked=self.revoked,
            )
        )
        return {
            "objectType": "KalturaSessionInfo",
            "ks": target,
            "sessionType": info.type,
            "partnerId": info.partner_id,
            "userId": info.user_id,
            "expiry": info.valid_until,
            "privileges": ",".join(f"{k}:{v}" if v else k for k, v in info.privileges.items()),
        }

    def _session_start(self, params: Params) -> str:
        partner = str(params.get("partnerId") or self.partner_id)
        if params.get("secret") != self.admin_secret or partner != str(self.partner_id):
            raise ApiError(
                "START_SESSION_ERROR",
                f"Error while starting session for partner [{partner}]",
                {"PID": partner},
            )
        try:
            type_ = int(str(params.get("type") or ks.KS_TYPE_USER))
            expiry = int(str(params.get("expiry") or 86400))
        except ValueError:
            raise ApiError(
                "START_SESSION_ERROR",
                f"Error while starting session for partner [{partner}]",
                {"PID": partner},
            ) from None
        return ks.generate_v2(
            self.admin_secret,
            partner_id=self.partner_id,
            user_id=str(params.get("userId") or ""),
            type_=type_,
            valid_until=int(self.state.clock.now()) + expiry,
            privileges=str(params.get("privileges") or ""),
        )

    # --- a whole request ----------------------------------------------------------------------------------

    def multirequest(self, params: Params, service_url: str) -> list[Any]:
        """Run the sub-calls in order; each slot holds a result or the ApiError it failed with."""
        common, calls = wire.split_multirequest(params)
        results: list[Any] = []
        for sub in calls:
            merged = wire.merge(copy.deepcopy(common), wire.substitute(sub, results))
            service, action = str(merged.pop("service", "")), str(merged.pop("action", ""))
            try:
                results.append(self.call(service, action, merged, service_url))
            except ApiError as exc:
                results.append(exc)
        return results

    def http_fault(self, keys: list[str]) -> str | None:
        """The HTTP-level fault (drop, 429, 503) that fires for this request, if any."""
        for kind in HTTP_KINDS:
            for key in keys:
                if self.faults.fired(key, kind):
                    self.counters.faults[f"{key}.{kind}"] += 1
                    return kind
        return None


SIM_KEY = web.AppKey("kaltura_sim", Simulator)


def _service_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def handle_api(request: web.Request) -> web.StreamResponse:
    """`/api_v3/service/{service}/action/{action}` and `/api_v3/service/multirequest`, GET or POST."""
    sim = request.app[SIM_KEY]
    sim.counters.request_started()
    try:
        return await _answer(sim, request)
    finally:
        sim.counters.request_finished()


async def _answer(sim: Simulator, request: web.Request) -> web.StreamResponse:
    started = time.perf_counter()
    try:
        params = await wire.request_params(request, request.match_info.get("tail", ""))
    except wire.BadRequest as exc:
        return web.Response(status=400, text=str(exc))
    fmt = str(params.get("format", render.FORMAT_XML))
    service, action = str(params.pop("service", "")), str(params.pop("action", ""))
    is_batch = service.lower() == "multirequest"
    keys = ["multirequest"] if is_batch else [f"{service}.{action}".lower()]
    if is_batch:
        keys += [
            f"{c.get('service', '')}.{c.get('action', '')}".lower()
            for c in wire.split_multirequest(params)[1]
        ]
    if await sim.faults.action_gate(keys):
        sim.counters.faults[f"{keys[0]}.hold"] += 1
    delay = max(sim.faults.latency_s(key) for key in keys)
    if delay > 0:
        await asyncio.sleep(delay)
    fault = sim.http_fault(keys)
    if fault == "drop":
        _drop(request)
        return web.Response()
    if fault is not None:
        status = 429 if fault == "http_429" else 503
        return web.Response(status=status, text=_HTML_BODIES[status], content_type="text/html")
    url = _service_url(request)
    result: Any
    if is_batch:
        result = sim.multirequest(params, url)
    else:
        try:
            result = sim.call(service, action, params, url)
        except ApiError as exc:
            result = exc
    if any(sim.faults.fired(key, "drop_after") for key in keys):
        sim.counters.faults[f"{keys[0]}.drop_after"] += 1
        _drop(request)
        return web.Response()
    body, content_type = render.render(result, fmt, time.perf_counter() - started)
    return web.Response(body=body, content_type=content_type, charset="utf-8")


def _drop(request: web.Request) -> None:
    """Close the connection without answering: the client sees a server disconnect."""
    if request.transport is not None:
        request.transport.close()


def build_app(sim: Simulator) -> web.Application:
    """The aiohttp application serving one simulator."""
    app = web.Application(client_max_size=_REQUEST_LIMIT)
    app[SIM_KEY] = sim
    for path in ("/api_v3", "/api_v3/{tail:.*}"):
        app.router.add_route("GET", path, handle_api)
        app.router.add_route("POST", path, handle_api)
    download.add_routes(app, sim)
    control.add_routes(app, sim)
    fetcher = UrlFetcher()  # KalturaUrlResource bytes, fetched in this loop outside any request
    sim.state.set_fetcher(fetcher)

    async def close_fetcher(_: web.Application) -> None:
        sim.state.set_fetcher(None)
        await fetcher.close()

    app.on_cleanup.append(close_fetcher)
    return app
