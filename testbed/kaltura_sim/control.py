"""The test-only control surface `/__sim/*` (server routes) and a small sync + async client for it.

Routes (JSON in, JSON out; a bad document answers 400 `{"error": "..."}`):

- `GET /__sim/entries` → `{"entries": [...]}` (the model's `entries_snapshot()`).
- `POST /__sim/entries/{entryId}` with any of `{"plays": int, "lastPlayedAt": int|null, "status": "2",
  "tags": "a, b"}` → `{"ok": true}`; 404 `{"error": ...}` for an unknown entry.
- `GET /__sim/clock` → `{"now": float}`; `POST /__sim/clock` with `{"advance_s": N}` or `{"set": unix_ts}`
  → `{"now": float}` (the new simulated time).
- `GET /__sim/faults` → the current knobs; `POST /__sim/faults` merges a document and answers the knobs:

      {
        "reset": true,                      # first clear every knob, CLI ones included (not the RNG)
        "seed": 42,                         # reseed the fault RNG (repeatable runs)
        "api_latency_ms": 20,               # added to every API request
        "rate_limits": {"flavorasset.delete": 3, "*": 100},   # calls/s per action key; null removes
        "actions": {                        # per lower-case "service.action", "*" or "multirequest";
          "media.list": {                   # an entry replaces that key's knobs, null removes them
            "latency_ms": 50,
            "http_429":       {"probability": 0.1, "next": 2},   # HTML 429, action not run
            "http_503":       {"probability": 0.0, "next": 1},   # HTML 503, action not run
            "drop":           {"next": 1},   # connection closed without a response, action not run
            "drop_after":     {"next": 1},   # action RUN, then the connection closed (lost response)
            "internal_error": {"probability": 0.05},             # API error INTERNAL_SERVERL_ERROR
            "action_blocked": {"next": 5},   # API error ACTION_BLOCKED (as a rate limit answers), not run
            "hold":           {"next": 1}    # the call waits before it runs, until "release": true
          }
        },
        "release": true,                    # the held API calls go on (GET /__sim/faults: "held" waiting)
        "download": {                       # serveFlavor; keys given replace those knobs only
          "first_byte_ms": 100, "mbps": 80,  # latency before headers; per-stream cap in megabits/s (0 = none)
          "truncate": {"next": 1}, "truncate_fraction": 0.5,   # send only that share of Content-Length
          "hold": true,                     # downloads wait before their first byte until "hold": false
          "drop": {...}, "http_429": {...}, "http_503": {...}
        },
        "conversion": {"delay_s": 5, "fail": false, "fail_rate": 0.05}   # SimState.set_conversion;
                                            # fail_rate: that share fails (a seeded draw per conversion)
      }

  A trigger fires for its `next` calls first, then with `probability`. Rate-limited calls answer
  `ACTION_BLOCKED` (HTTP 200), checked per sub-call of a multirequest, like `internal_error`.
- `GET /__sim/counters` → `{"calls": {"media.list": n}, "errors": {code: n},
  "faults": {"media.list.http_503": n}, "requests", "in_flight", "peak_in_flight", "peak_rps", "downloads",
  "downloads_in_flight", "peak_downloads_in_flight", "bytes_served", "first_download_at",
  "last_download_at"}` (the last two: epoch seconds, or null before any download);
  `POST /__sim/counters/reset` zeroes them and answers them.
- `GET /__sim/catalog` → `{"edge_cases": {name: [entryId]}, "summary": {...}}`.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from testbed.kaltura_sim.errors import ApiError

if TYPE_CHECKING:
    from testbed.kaltura_sim.server import Simulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _document(request: web.Request) -> dict[str, Any]:
    try:
        value = await request.json() if request.can_read_body else {}
    except ValueError as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"invalid JSON: {exc}"}), content_type="application/json"
        ) from None
    if not isinstance(value, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "expected a JSON object"}), content_type="application/json"
        )
    return value


def add_routes(app: web.Application, sim: Simulator) -> None:
    """Register `/__sim/*` for `sim`."""

    async def get_entries(request: web.Request) -> web.StreamResponse:
        return web.json_response({"entries": sim.state.entries_snapshot()})

    async def patch_entry(request: web.Request) -> web.StreamResponse:
        changes = await _document(request)
        unknown = set(changes) - {"plays", "lastPlayedAt", "status", "tags"}
        if unknown:
            return _error(400, f"unknown fields {sorted(unknown)}")
        try:
            sim.state.patch_entry(request.match_info["entry_id"], changes)
        except ApiError as exc:
            return _error(404, exc.message)
        except (ValueError, TypeError) as exc:
            return _error(400, str(exc))
        return web.json_response({"ok": True})

    async def get_clock(request: web.Request) -> web.StreamResponse:
        return web.json_response({"now": sim.state.clock.now()})

    async def set_clock(request: web.Request) -> web.StreamResponse:
        doc = await _document(request)
        try:
            if "set" in doc:
                sim.state.clock.set(float(doc["set"]))
            if "advance_s" in doc:
                sim.state.clock.advance(float(doc["advance_s"]))
        except (TypeError, ValueError) as exc:
            return _error(400, str(exc))
        return web.json_response({"now": sim.state.clock.now()})

    async def get_faults(request: web.Request) -> web.StreamResponse:
        return web.json_response(sim.faults.describe())

    async def set_faults(request: web.Request) -> web.StreamResponse:
        doc = await _document(request)
        try:
            conversion = sim.faults.configure(doc)
            if conversion:
                sim.state.set_conversion(
                    delay_s=None if conversion.get("delay_s") is None else float(conversion["delay_s"]),
                    fail=None if conversion.get("fail") is None else bool(conversion["fail"]),
                    fail_rate=None if conversion.get("fail_rate") is None else float(conversion["fail_rate"]),
                )
        except (TypeError, ValueError) as exc:
            return _error(400, str(exc))
        return web.json_response(sim.faults.describe())

    async def get_counters(request: web.Request) -> web.StreamResponse:
        return web.json_response(sim.counters.snapshot())

    async def reset_counters(request: web.Request) -> web.StreamResponse:
        sim.counters.reset()
        return web.json_response(sim.counters.snapshot())

    async def get_catalog(request: web.Request) -> web.StreamResponse:
        catalog = sim.catalog
        if catalog is None:
            return web.json_response({"edge_cases": {}, "summary": {}})
        return web.json_response({"edge_cases": catalog.edge_cases, "summary": catalog.summary()})

    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/__sim/entries", get_entries),
        ("POST", "/__sim/entries/{entry_id}", patch_entry),
        ("GET", "/__sim/clock", get_clock),
        ("POST", "/__sim/clock", set_clock),
        ("GET", "/__sim/faults", get_faults),
        ("POST", "/__sim/faults", set_faults),
        ("GET", "/__sim/counters", get_counters),
        ("POST", "/__sim/counters/reset", reset_counters),
        ("GET", "/__sim/catalog", get_catalog),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)


class ControlError(Exception):
    """The control surface refused a request (400/404)."""


class SimControl:
    """Client for `/__sim/*`: sync methods (urllib) and `a`-prefixed async twins (aiohttp)."""

    def __init__(self, service_url: str, *, timeout_s: float = 30.0) -> None:
        self.base = service_url.rstrip("/") + "/__sim"
        self.timeout_s = timeout_s

    # sync

    def request(self, method: str, path: str, doc: dict[str, Any] | None = None) -> Any:
        data = None if doc is None else json.dumps(doc).encode()
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise ControlError(f"{method} {path}: {exc.code} {exc.read().decode(errors='replace')}") from None

    def get_entries(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.request("GET", "/entries")["entries"]
        return entries

    def patch_entry(self, entry_id: str, **changes: Any) -> None:
        self.request("POST", f"/entries/{entry_id}", changes)

    def advance_clock(self, seconds: float) -> float:
        return float(self.request("POST", "/clock", {"advance_s": seconds})["now"])

    def now(self) -> float:
        return float(self.request("GET", "/clock")["now"])

    def set_faults(self, doc: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", "/faults", doc)
        return result

    def counters(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", "/counters")
        return result

    def reset_counters(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", "/counters/reset")
        return result

    def catalog(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", "/catalog")
        return result

    # async

    async def arequest(self, method: str, path: str, doc: dict[str, Any] | None = None) -> Any:
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, self.base + path, json=doc) as resp,
        ):
            if resp.status >= 400:
                raise ControlError(f"{method} {path}: {resp.status} {await resp.text()}")
            return await resp.json()

    async def aget_entries(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = (await self.arequest("GET", "/entries"))["entries"]
        return entries

    async def apatch_entry(self, entry_id: str, **changes: Any) -> None:
        await self.arequest("POST", f"/entries/{entry_id}", changes)

    async def aadvance_clock(self, seconds: float) -> float:
        return float((await self.arequest("POST", "/clock", {"advance_s": seconds}))["now"])

    async def anow(self) -> float:
        return float((await self.arequest("GET", "/clock"))["now"])

    async def acatalog(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.arequest("GET", "/catalog")
        return result

    async def aset_faults(self, doc: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.arequest("POST", "/faults", doc)
        return result

    async def acounters(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.arequest("GET", "/counters")
        return result

    async def areset_counters(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.arequest("POST", "/counters/reset")
        return result
