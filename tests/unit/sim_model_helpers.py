"""Small hand-made catalogs and call helpers for the simulator model's unit tests."""

from __future__ import annotations

from typing import Any

from testbed.catalog import Catalog, CatalogEntry, CatalogFlavor, build_categories
from testbed.kaltura_sim.clock import SimClock
from testbed.kaltura_sim.errors import ApiError
from testbed.kaltura_sim.state import CallContext, SimState

NOW = 1_700_000_000
PID = 1000
CTX = CallContext(PID, "admin", "http://sim.test")


def flavor(
    fid: str, params_id: int = 0, size: int = 5000, *, status: int = 2, version: str = "1"
) -> CatalogFlavor:
    return CatalogFlavor(
        fid, params_id, params_id == 0, status, size, -(-size // 1024), size, version, "mp4", NOW
    )


def entry(
    eid: str,
    created_at: int,
    *,
    status: str = "2",
    tags: str = "",
    categories: tuple[int, ...] = (),
    plays: int = 0,
    last_played_at: int | None = None,
    media_type: int = 1,
    name: str | None = None,
    flavors: tuple[CatalogFlavor, ...] | None = None,
) -> CatalogEntry:
    if flavors is None:
        flavors = (flavor(f"{eid}s", 0, 5000), flavor(f"{eid}d", 487, 800))
    return CatalogEntry(
        eid,
        name or f"Entry {eid}",
        "user0001",
        tags,
        categories,
        status,
        media_type,
        created_at,
        created_at,
        plays,
        plays,
        last_played_at,
        60,
        flavors,
    )


def make_state(entries: list[CatalogEntry]) -> SimState:
    catalog = Catalog(PID, 0, NOW, sorted(entries, key=lambda e: (e.created_at, e.id)), build_categories())
    return SimState(catalog, partner_id=PID, clock=SimClock(NOW, running=False))


def call(state: SimState, service: str, action: str, **params: Any) -> Any:
    handler = state.handler(service, action)
    assert handler is not None, f"{service}.{action} missing"
    return handler(params, CTX)


def error_code(state: SimState, service: str, action: str, **params: Any) -> str:
    try:
        call(state, service, action, **params)
    except ApiError as exc:
        return exc.code
    raise AssertionError(f"{service}.{action} did not fail")


def listed(state: SimState, service: str = "media", **flt: Any) -> list[str]:
    pager = flt.pop("pager", {"pageSize": "500"})
    result = call(
        state, service, "list", filter={"objectType": "KalturaMediaEntryFilter", **flt}, pager=pager
    )
    return [o["id"] for o in result["objects"]]
