"""The simulator's model behind the HTTP transport: one partner's entries, flavors and jobs, no I/O.

The transport calls ``handler(service, action)`` and renders what it returns; ``open_flavor`` gives it the
bytes of a download. State machines (conversion, replacement) advance lazily: every handler call first
completes the jobs whose due time has passed on the simulator clock. The transport gives the model its URL
fetcher (`set_fetcher`): the one piece of I/O a conversion needs, done outside the model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from testbed.catalog import Catalog, normalise_tags
from testbed.kaltura_sim import model_assets, model_media, model_upload
from testbed.kaltura_sim.clock import SimClock
from testbed.kaltura_sim.content import FlavorBody
from testbed.kaltura_sim.errors import ApiError, entry_not_found, flavor_not_found, flavor_not_ready
from testbed.kaltura_sim.model_list import ENTRY_STATUSES
from testbed.kaltura_sim.model_params import CallContext, Handler, Params, Result, UploadedFile
from testbed.kaltura_sim.model_store import Fetcher, Store
from testbed.kaltura_sim.objects import ENTRY_DELETED, FLAVOR_READY, Entry

__all__ = ["CallContext", "Handler", "Params", "Result", "SimState", "UploadedFile"]

_Action = Callable[[Store, Params, CallContext], Result]
_ACTIONS: dict[str, dict[str, _Action]] = {
    "media": {
        "list": model_media.media_list,
        "count": model_media.count,
        "get": model_media.get,
        "add": model_media.add,
        "addcontent": model_media.add_content,
        "update": model_media.update,
        "updatecontent": model_media.update_content,
        "cancelreplace": model_media.cancel_replace,
        "delete": model_media.delete,
    },
    "baseentry": {"get": model_media.get, "list": model_media.base_list},
    "flavorasset": {
        "list": model_assets.flavor_list,
        "getbyentryid": model_assets.flavor_by_entry,
        "get": model_assets.flavor_get,
        "geturl": model_assets.flavor_url,
        "delete": model_assets.flavor_delete,
    },
    "uploadtoken": {
        "add": model_upload.add,
        "get": model_upload.get,
        "upload": model_upload.upload,
        "delete": model_upload.delete,
    },
    "thumbasset": {
        "addfromimage": model_assets.thumb_add_from_image,
        "setasdefault": model_assets.thumb_set_default,
        "list": model_assets.thumb_list,
    },
}
_PATCHABLE = frozenset({"plays", "lastPlayedAt", "status", "tags"})


class SimState:
    """One partner's Kaltura, seeded from a catalog; the simulator clock starts at the catalog's ``now``."""

    def __init__(self, catalog: Catalog, *, partner_id: int, clock: SimClock | None = None) -> None:
        self.clock = clock if clock is not None else SimClock(catalog.now)
        self._store = Store(catalog, partner_id, self.clock)

    @property
    def partner_id(self) -> int:
        return self._store.partner_id

    def has_service(self, service: str) -> bool:
        return service in _ACTIONS

    def handler(self, service: str, action: str) -> Handler | None:
        """The handler of ``service.action`` (both lower-case), or None when there is no such action."""
        fn = _ACTIONS.get(service, {}).get(action)
        if fn is None:
            return None
        store = self._store

        def call(params: Params, ctx: CallContext) -> Result:
            store.run_due()
            return fn(store, params, ctx)

        return call

    def open_flavor(self, entry_id: str, flavor_id: str, version: str) -> FlavorBody:
        """The bytes a serveFlavor URL streams; the version must be the flavor's current one (or empty)."""
        self._store.run_due()
        f = self._store.flavors.get(flavor_id)
        if f is None or f.entry_id != entry_id:
            raise flavor_not_found(flavor_id)
        if f.status != FLAVOR_READY:
            raise flavor_not_ready(flavor_id)
        if version not in ("", f.version):
            raise ApiError("FILE_DOESNT_EXIST", "File doesnt exist")
        return f.body()

    def entries_snapshot(self) -> list[dict[str, Any]]:
        """Every entry (any status, deleted included; hidden temp entries excluded) by (createdAt, id)."""
        self._store.run_due()
        visible = sorted(
            (e for e in self._store.entries.values() if not e.hidden), key=lambda e: (e.created_at, e.id)
        )
        return [_snapshot(e) for e in visible]

    def patch_entry(self, entry_id: str, changes: dict[str, Any]) -> None:
        """Test control: set plays, lastPlayedAt (None = never), status or tags (str or list) directly."""
        unknown = set(changes) - _PATCHABLE
        if unknown:
            raise ValueError(f"cannot patch {sorted(unknown)}; allowed: {sorted(_PATCHABLE)}")
        store = self._store
        e = store.entries.get(entry_id)
        if e is None or e.hidden:
            raise entry_not_found(entry_id)
        if "plays" in changes:
            e.plays = int(changes["plays"])
            e.views = max(e.views, e.plays)
        if "lastPlayedAt" in changes:
            value = changes["lastPlayedAt"]
            e.last_played_at = None if value is None else int(value)
        if "tags" in changes:
            tags = changes["tags"]
            e.set_tags(normalise_tags(tags if isinstance(tags, str) else ",".join(tags)))
        if "status" in changes:
            status = str(changes["status"])
            if status not in ENTRY_STATUSES:
                raise ValueError(f"unknown entry status {status!r}")
            if e.status == ENTRY_DELETED and status != ENTRY_DELETED:
                raise ValueError("a deleted entry cannot be brought back")
            store.set_status(e, status)

    def set_fetcher(self, fetcher: Fetcher | None) -> None:
        """Who fetches the bytes of a KalturaUrlResource (the server's `UrlFetcher`); None generates them."""
        self._store.fetcher = fetcher

    def set_conversion(
        self, *, delay_s: float | None = None, fail: bool | None = None, fail_rate: float | None = None
    ) -> None:
        """Conversion knobs for jobs started from now on: delay in simulator seconds, and failure (every
        conversion, or a seeded share of them)."""
        if delay_s is not None:
            if delay_s < 0:
                raise ValueError("delay_s must be >= 0")
            self._store.conversion_delay = float(delay_s)
        if fail is not None:
            self._store.conversion_fail = fail
        if fail_rate is not None:
            if not 0.0 <= fail_rate <= 1.0:
                raise ValueError("fail_rate must be in [0, 1]")
            self._store.conversion_fail_rate = float(fail_rate)


def _snapshot(e: Entry) -> dict[str, Any]:
    return {
        "id": e.id,
        "name": e.name,
        "createdAt": e.created_at,
        "status": e.status,
        "tags": [t.strip() for t in e.tags.split(",") if t.strip()],
        "categoriesIds": list(e.categories_ids),
        "plays": e.plays,
        "lastPlayedAt": e.last_played_at,
        "flavors": [
            {
                "id": f.id,
                "isOriginal": f.is_original,
                "flavorParamsId": f.flavor_params_id,
                "status": f.status,
                "size": f.size_kb,
                "sizeInBytes": f.size_in_bytes,
                "version": f.version,
            }
            for f in e.live_flavors()
        ],
    }
