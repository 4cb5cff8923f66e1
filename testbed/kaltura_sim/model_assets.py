"""flavorAsset.* and thumbAsset.* actions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from testbed.kaltura_sim.errors import ApiError, flavor_not_ready, query_exceeded
from testbed.kaltura_sim.model_list import MAX_MATCHES
from testbed.kaltura_sim.model_params import (
    CallContext,
    Pager,
    Params,
    csv_values,
    opt_obj,
    opt_str,
    read_pager,
    req_file,
    req_str,
)
from testbed.kaltura_sim.model_store import Store
from testbed.kaltura_sim.objects import (
    FLAVOR_READY,
    Entry,
    ThumbAsset,
    flavor_file_name,
    list_response,
    render_flavor,
    render_thumb,
)


def _filter_entries(store: Store, params: Params) -> Iterator[Entry]:
    """The entries a KalturaAssetFilter names (entryIdEqual / entryIdIn), else every listable entry."""
    flt = opt_obj(params, "filter") or {}
    equal = opt_str(flt, "entryIdEqual") or None
    ids = [equal] if equal is not None else csv_values(opt_str(flt, "entryIdIn")) or None
    if ids is None:
        yield from store.index.entries
        return
    for entry_id in ids:
        e = store.entries.get(entry_id)
        if e is not None:
            yield e


def _page(rows: list[Any], pager: Pager, object_type: str) -> dict[str, Any]:
    offset = pager.offset
    if offset >= MAX_MATCHES:
        raise query_exceeded()
    end = min(offset + pager.size, MAX_MATCHES)
    return list_response(object_type, rows[offset:end], len(rows))


def flavor_list(store: Store, params: Params, ctx: CallContext) -> dict[str, Any]:
    rows = [f for e in _filter_entries(store, params) for f in e.live_flavors()]
    page = _page(rows, read_pager(params), "KalturaFlavorAssetListResponse")
    page["objects"] = [render_flavor(f) for f in page["objects"]]
    return page


def flavor_by_entry(store: Store, params: Params, ctx: CallContext) -> list[dict[str, Any]]:
    e = store.entry(req_str(params, "entryId"))
    return [render_flavor(f) for f in e.live_flavors()]


def flavor_get(store: Store, params: Params, ctx: CallContext) -> dict[str, Any]:
    return render_flavor(store.flavor(req_str(params, "id")))


def flavor_url(store: Store, params: Params, ctx: CallContext) -> str:
    f = store.flavor(req_str(params, "id"))
    if f.status != FLAVOR_READY:
        raise flavor_not_ready(f.id)
    e = store.entry(f.entry_id)
    pid = f.partner_id
    return (
        f"{ctx.service_url}/p/{pid}/sp/{pid}00/serveFlavor/entryId/{e.id}/v/{f.version}/flavorId/{f.id}"
        f"/fileName/{flavor_file_name(e, f)}"
    )


def flavor_delete(store: Store, params: Params, ctx: CallContext) -> None:
    """Deletes any flavor, the source included (Kaltura does not protect it)."""
    store.delete_flavor(store.flavor(req_str(params, "id")))


def thumb_not_found(thumb_id: str) -> ApiError:
    return ApiError(
        "THUMB_ASSET_ID_NOT_FOUND", f'The Thumbnail asset id "{thumb_id}" not found', {"ID": thumb_id}
    )


def thumb_add_from_image(store: Store, params: Params, ctx: CallContext) -> dict[str, Any]:
    e = store.entry(req_str(params, "entryId"))
    image = req_file(params, "fileData")
    ext = image.filename.rsplit(".", 1)[-1].lower() if "." in image.filename else "jpg"
    now = store.now()
    thumb = ThumbAsset(
        id=store.new_id(),
        entry_id=e.id,
        partner_id=e.partner_id,
        data=image.data,
        file_ext=ext,
        created_at=now,
        updated_at=now,
    )
    store.thumbs[thumb.id] = thumb
    return render_thumb(thumb)


def thumb_set_default(store: Store, params: Params, ctx: CallContext) -> None:
    thumb_id = req_str(params, "thumbAssetId")
    thumb = store.thumbs.get(thumb_id)
    if thumb is None:
        raise thumb_not_found(thumb_id)
    for other in store.thumbs.values():
        if other.entry_id == thumb.entry_id:
            other.is_default = other is thumb
    e = store.entries.get(thumb.entry_id)
    if e is not None:
        e.thumb_version += 1  # the entry's thumbnailUrl changes
        e.updated_at = store.now()


def thumb_list(store: Store, params: Params, ctx: CallContext) -> dict[str, Any]:
    flt = opt_obj(params, "filter") or {}
    rows = list(store.thumbs.values())
    if opt_str(flt, "entryIdEqual") or opt_str(flt, "entryIdIn"):
        wanted = {e.id for e in _filter_entries(store, params)}
        rows = [t for t in rows if t.entry_id in wanted]
    page = _page(rows, read_pager(params), "KalturaThumbAssetListResponse")
    page["objects"] = [render_thumb(t) for t in page["objects"]]
    return page
