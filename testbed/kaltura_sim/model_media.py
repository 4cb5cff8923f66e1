"""media.* and baseEntry.* actions: list, count, get, add, addContent, update, updateContent, cancelReplace,
delete."""

from __future__ import annotations

from typing import Any

from testbed.catalog import normalise_tags
from testbed.kaltura_sim.errors import ApiError, missing_parameter
from testbed.kaltura_sim.model_convert import cancel_replacement, start_conversion, start_replacement
from testbed.kaltura_sim.model_list import (
    MEDIA_TYPES,
    count_entries,
    list_entries,
    parse_entry_filter,
)
from testbed.kaltura_sim.model_params import (
    CallContext,
    Params,
    enum_value,
    is_nulled,
    opt_obj,
    opt_str,
    read_pager,
    req_obj,
    req_str,
)
from testbed.kaltura_sim.model_store import Store
from testbed.kaltura_sim.model_upload import content_from_resource
from testbed.kaltura_sim.objects import Entry, list_response, render_entry

ENTRY_NO_CONTENT = "7"


def _render(store: Store, e: Entry, ctx: CallContext) -> dict[str, Any]:
    return render_entry(e, ctx.service_url, store.category_names)


def list_(store: Store, params: Params, ctx: CallContext, response_type: str) -> dict[str, Any]:
    query = parse_entry_filter(opt_obj(params, "filter") or {}, store.descendants)
    rows, total = list_entries(store.index, store.entries, query, read_pager(params))
    return list_response(response_type, [_render(store, e, ctx) for e in rows], total)


def media_list(store: Store, params: Params, ctx: CallContext) -> dict[str, Any]:
    return list_(store, params, ctx, "KalturaMediaListResponse")


def base_list(store: Store, params: Params, ctx: CallContext) -> dict[str, Any]:
    return list_(store, params, ctx, "KalturaBaseEntryListResponse")


def count(store: Store, params: Params, ctx: CallContext) -> int:
    query = parse_entry_filter(opt_obj(params, "filter") or {}, store.descendants)
    return count_entries(store.index, store.entries, query)


def get(store: Store, params: Params, ctx: CallContext) -> dict[str, Any]:
    return _render(store, store.entry(req_str(params, "entryId")), ctx)


def add(store: Store, params: Params, ctx: CallContext) -> dict[str, Any]:
    spec = req_obj(params, "entry")
    media = enum_value(opt_str(spec, "mediaType"), MEDIA_TYPES, "mediaType", "KalturaMediaType")
    if media is None:
        raise ApiError(
            "PROPERTY_VALIDATION_CANNOT_BE_NULL",
            'The property "mediaType" cannot be null',
            {"PROP_NAME": "mediaType"},
        )
    now = store.now()
    e = Entry(
        id=store.new_id(),
        name=opt_str(spec, "name") or "",
        partner_id=store.partner_id,
        user_id=opt_str(spec, "userId") or ctx.user_id,
        tags=normalise_tags(opt_str(spec, "tags") or ""),
        categories_ids=_category_ids(opt_str(spec, "categoriesIds")),
        status=ENTRY_NO_CONTENT,
        media_type=int(media),
        created_at=now,
        updated_at=now,
        description=opt_str(spec, "description") or "",
    )
    store.add_entry(e)
    return _render(store, e, ctx)


def _category_ids(value: str | None) -> tuple[int, ...]:
    if not value:
        return ()
    return tuple(dict.fromkeys(int(v) for v in value.split(",") if v.strip().lstrip("-").isdigit()))


def add_content(store: Store, params: Params, ctx: CallContext) -> dict[str, Any]:
    e = store.entry(req_str(params, "entryId"))
    if e.status != ENTRY_NO_CONTENT:
        raise ApiError("ENTRY_ALREADY_WITH_CONTENT", "Entry already associated with content")
    start_conversion(store, e, content_from_resource(store, params, "resource", e))
    store.run_due()
    return _render(store, e, ctx)


def update(store: Store, params: Params, ctx: CallContext) -> dict[str, Any]:
    e = store.entry(req_str(params, "entryId"))
    spec = opt_obj(params, "mediaEntry")
    if spec is None:
        raise missing_parameter("mediaEntry")
    if "name" in spec or is_nulled(spec, "name"):
        e.name = opt_str(spec, "name") or ""
    if "description" in spec or is_nulled(spec, "description"):
        e.description = opt_str(spec, "description") or ""
    if "tags" in spec or is_nulled(spec, "tags"):
        e.set_tags(normalise_tags(opt_str(spec, "tags") or ""))
    if "categoriesIds" in spec or is_nulled(spec, "categoriesIds"):
        e.categories_ids = _category_ids(opt_str(spec, "categoriesIds"))
    e.updated_at = store.now()
    return _render(store, e, ctx)


def update_content(store: Store, params: Params, ctx: CallContext) -> dict[str, Any]:
    e = store.entry(req_str(params, "entryId"))
    if e.hidden:
        raise ApiError("ENTRY_REPLACEMENT_ALREADY_EXISTS", "Entry already in replacement")
    if e.replacing_entry_id is not None:  # before the token is consumed
        raise ApiError("ENTRY_REPLACEMENT_ALREADY_EXISTS", "Entry already in replacement")
    content = content_from_resource(store, params, "resource", e)
    if e.status == ENTRY_NO_CONTENT:  # nothing to replace: the content is simply added
        start_conversion(store, e, content)
    else:
        start_replacement(store, e, content)
    store.run_due()
    return _render(store, e, ctx)


def cancel_replace(store: Store, params: Params, ctx: CallContext) -> dict[str, Any]:
    e = store.entry(req_str(params, "entryId"))
    return _render(store, cancel_replacement(store, e), ctx)


def delete(store: Store, params: Params, ctx: CallContext) -> None:
    e = store.entry(req_str(params, "entryId"))
    cancel_replacement(store, e)
    store.drop_entry(e)
