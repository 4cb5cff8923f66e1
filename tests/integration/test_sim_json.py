"""The simulator in JSON format (format=1) through plain aiohttp, and the transport's parameter rules."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from testbed.kaltura_sim import SimProcess
from tests.integration.simapi import action_url, admin_ks, call, is_error, pager, plain_entry


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def media_filter(**fields: str) -> dict[str, str]:
    return {"objectType": "KalturaMediaEntryFilter", **fields}


# --- listing ---------------------------------------------------------------------------------------------


async def test_json_list_is_the_bare_result_with_nulls_omitted(kaltura_sim: SimProcess, http: Any) -> None:
    entries = await kaltura_sim.control.aget_entries()
    never_played = {e["id"] for e in entries if e["status"] == "2" and e["lastPlayedAt"] is None}
    result = await call(
        http,
        kaltura_sim,
        "media",
        "list",
        admin_ks(kaltura_sim),
        filter=media_filter(orderBy="+createdAt"),
        pager=pager(500),
    )
    assert result["objectType"] == "KalturaMediaListResponse"
    assert result["totalCount"] == sum(1 for e in entries if e["status"] == "2")
    rows = result["objects"]
    assert [r["createdAt"] for r in rows] == sorted(r["createdAt"] for r in rows)
    assert all(None not in r.values() for r in rows)
    assert all("lastPlayedAt" not in r for r in rows if r["id"] in never_played)
    assert any(r["id"] in never_played for r in rows)


async def test_json_last_played_or_null_filter_matches_the_catalog(
    kaltura_sim: SimProcess, http: Any
) -> None:
    entries = [e for e in await kaltura_sim.control.aget_entries() if e["status"] == "2"]
    cut = sorted(e["lastPlayedAt"] for e in entries if e["lastPlayedAt"])[len(entries) // 4]
    result = await call(
        http,
        kaltura_sim,
        "media",
        "count",
        admin_ks(kaltura_sim),
        filter=media_filter(lastPlayedAtLessThanOrEqualOrNull=str(cut)),
    )
    assert result == sum(1 for e in entries if e["lastPlayedAt"] is None or e["lastPlayedAt"] <= cut)


async def test_json_page_past_the_cap_is_an_error_object(kaltura_sim: SimProcess, http: Any) -> None:
    result = await call(http, kaltura_sim, "media", "list", admin_ks(kaltura_sim), pager=pager(500, 21))
    assert result == {
        "code": "QUERY_EXCEEDED_MAX_MATCHES_ALLOWED",
        "message": "Unable to generate list. max matches value was reached",
        "objectType": "KalturaAPIException",
        "args": {},
    }


async def test_json_multirequest_is_an_array_with_substitution(kaltura_sim: SimProcess, http: Any) -> None:
    body = {
        "format": "1",
        "ks": admin_ks(kaltura_sim),
        "0": {"service": "media", "action": "list", "pager": pager(2)},
        "1": {"service": "media", "action": "get", "entryId": "{1:result:objects:1:id}"},
        "2": {"service": "media", "action": "nosuchaction"},
        "3": {"service": "flavorasset", "action": "getByEntryId", "entryId": "{2:result:id}"},
    }
    async with http.post(f"{kaltura_sim.service_url}/api_v3/service/multirequest", json=body) as resp:
        listed, entry, missing, flavors = await resp.json()
    assert entry["id"] == listed["objects"][1]["id"]
    assert is_error(missing, "ACTION_DOES_NOT_EXISTS")
    assert isinstance(flavors, list)
    assert all(f["entryId"] == entry["id"] for f in flavors)


# --- parameter sources -----------------------------------------------------------------------------------


async def test_json_body_with_charset_is_ignored_so_the_call_is_forbidden(
    kaltura_sim: SimProcess, http: Any
) -> None:
    body = json.dumps({"ks": admin_ks(kaltura_sim), "format": "1"})
    headers = {"Content-Type": "application/json; charset=utf-8"}
    async with http.post(action_url(kaltura_sim, "media", "list"), data=body, headers=headers) as resp:
        text = await resp.text()
    assert resp.status == 200
    assert text.startswith(
        '<?xml version="1.0" encoding="utf-8"?><xml><result><error>'
    )  # format was lost too
    assert "<code>SERVICE_FORBIDDEN</code>" in text


async def test_form_fields_nest_on_colons(kaltura_sim: SimProcess, http: Any) -> None:
    target = (await plain_entry(kaltura_sim))["id"]
    form = {
        "ks": admin_ks(kaltura_sim),
        "format": "1",
        "filter:objectType": "KalturaMediaEntryFilter",
        "filter:idEqual": target,
        "pager:pageSize": "5",
    }
    async with http.post(action_url(kaltura_sim, "media", "list"), data=form) as resp:
        result = await resp.json()
    assert [e["id"] for e in result["objects"]] == [target]


async def test_path_beats_query_beats_body(kaltura_sim: SimProcess, http: Any) -> None:
    a, b, c = [e["id"] for e in (await kaltura_sim.control.aget_entries())[:3]]
    ks = admin_ks(kaltura_sim)
    url = f"{action_url(kaltura_sim, 'media', 'get')}/entryId/{a}"
    async with http.post(url, params={"entryId": b}, json={"ks": ks, "format": "1", "entryId": c}) as resp:
        assert (await resp.json())["id"] == a
    async with http.post(
        action_url(kaltura_sim, "media", "get"),
        params={"entryId": b},
        json={"ks": ks, "format": "1", "entryId": c},
    ) as resp:
        assert (await resp.json())["id"] == b


async def test_get_with_query_parameters_and_case_insensitive_names(
    kaltura_sim: SimProcess, http: Any
) -> None:
    entry = await plain_entry(kaltura_sim)
    url = f"{kaltura_sim.service_url}/api_v3/service/MEDIA/action/GET"
    params = {"ks": admin_ks(kaltura_sim), "format": "1", "entryId": entry["id"]}
    async with http.get(url, params=params) as resp:
        assert (await resp.json())["id"] == entry["id"]


async def test_xml_is_the_default_format(kaltura_sim: SimProcess, http: Any) -> None:
    async with http.post(
        action_url(kaltura_sim, "media", "count"), json={"ks": admin_ks(kaltura_sim)}
    ) as resp:
        text = await resp.text()
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?><xml><result>')
    assert "<executionTime>" in text


# --- sessions -------------------------------------------------------------------------------------------


async def test_json_ks_errors(kaltura_sim: SimProcess, http: Any) -> None:
    expired = admin_ks(kaltura_sim, expiry=-10)
    assert await call(http, kaltura_sim, "media", "count", expired) == {
        "code": "INVALID_KS",
        "message": 'Invalid KS "EXPIRED", Error "-1,INVALID_STR"',
        "objectType": "KalturaAPIException",
        "args": {"KSID": "EXPIRED", "ERR_CODE": "-1", "ERR_DESC": "INVALID_STR"},
    }
    garbage = await call(http, kaltura_sim, "media", "count", "not-a-ks")
    assert is_error(garbage, "INVALID_KS")
    assert garbage["message"] == 'Invalid KS "not-a-ks", Error "-1,INVALID_STR"'
    assert is_error(await call(http, kaltura_sim, "media", "count", None), "SERVICE_FORBIDDEN")


async def test_json_session_start_and_end_is_void(kaltura_sim_factory: Any, http: Any) -> None:
    sim = kaltura_sim_factory(entries=60)
    ks = await call(
        http,
        sim,
        "session",
        "start",
        None,
        secret=sim.admin_secret,
        userId=sim.user_id,
        type="2",
        partnerId=str(sim.partner_id),
    )
    assert isinstance(ks, str)
    assert isinstance(await call(http, sim, "media", "count", ks), int)
    assert await call(http, sim, "session", "end", ks) is None
    assert is_error(await call(http, sim, "media", "count", ks), "INVALID_KS")


# --- mutations -------------------------------------------------------------------------------------------


async def test_json_update_normalises_tags(kaltura_sim_factory: Any, http: Any) -> None:
    sim = kaltura_sim_factory(entries=60)
    entry = await plain_entry(sim)
    result = await call(
        http,
        sim,
        "media",
        "update",
        admin_ks(sim),
        entryId=entry["id"],
        mediaEntry={"objectType": "KalturaMediaEntry", "tags": "Bb,a ,Archived_To_S3,bb"},
    )
    assert result["tags"] == "bb, archived_to_s3"


async def test_json_flavor_delete_is_void_and_source_goes(kaltura_sim_factory: Any, http: Any) -> None:
    sim = kaltura_sim_factory(entries=60, size_mb=0.1)
    entry = await plain_entry(sim)
    source = next(f for f in entry["flavors"] if f["isOriginal"])
    ks = admin_ks(sim)
    assert await call(http, sim, "flavorasset", "delete", ks, id=source["id"]) is None
    assert is_error(
        await call(http, sim, "flavorasset", "get", ks, id=source["id"]), "FLAVOR_ASSET_ID_NOT_FOUND"
    )


async def _multipart(
    http: Any, sim: SimProcess, service: str, action: str, params: dict[str, Any], data: bytes, filename: str
) -> Any:
    form = aiohttp.FormData()
    form.add_field("json", json.dumps({"format": "1", **params}))
    form.add_field("fileData", data, filename=filename, content_type="application/octet-stream")
    async with http.post(action_url(sim, service, action), data=form) as resp:
        return await resp.json()


async def test_json_upload_and_update_content_serves_new_bytes(kaltura_sim_factory: Any, http: Any) -> None:
    sim = kaltura_sim_factory(entries=60, size_mb=0.2)
    await sim.control.aset_faults({"conversion": {"delay_s": 30}})
    entry = await plain_entry(sim)
    source = next(f for f in entry["flavors"] if f["isOriginal"])
    ks = admin_ks(sim)
    token = await call(http, sim, "uploadtoken", "add", ks, uploadToken={"objectType": "KalturaUploadToken"})
    data = b"placeholder video " * 4000
    half = len(data) // 2
    first = {
        "ks": ks,
        "uploadTokenId": token["id"],
        "resume": "False",
        "finalChunk": "False",
        "resumeAt": "-1",
    }
    await _multipart(http, sim, "uploadtoken", "upload", first, data[:half], "p.mp4")
    final = {**first, "resume": "True", "finalChunk": "True", "resumeAt": str(half)}
    uploaded = await _multipart(http, sim, "uploadtoken", "upload", final, data[half:], "p.mp4")
    assert (uploaded["status"], uploaded["uploadedFileSize"]) == (2, len(data))
    resource = {"objectType": "KalturaUploadedFileTokenResource", "token": token["id"]}
    pending = await call(http, sim, "media", "updateContent", ks, entryId=entry["id"], resource=resource)
    assert pending["replacementStatus"] == "1"
    again = await call(http, sim, "media", "updateContent", ks, entryId=entry["id"], resource=resource)
    assert is_error(again, "ENTRY_REPLACEMENT_ALREADY_EXISTS")
    await sim.control.aadvance_clock(31)
    flavor = await call(http, sim, "flavorasset", "get", ks, id=source["id"])
    assert (flavor["version"], flavor["sizeInBytes"]) == (str(int(source["version"]) + 1), len(data))
    url = await call(http, sim, "flavorasset", "getUrl", ks, id=source["id"])
    async with http.get(url) as resp:
        assert await resp.read() == data
    async with http.get(url, headers={"Range": f"bytes=-{half}"}) as resp:
        assert (resp.status, await resp.read()) == (206, data[-half:])
    async with http.get(url, headers={"Range": f"bytes={len(data)}-"}) as resp:
        assert (resp.status, resp.headers["Content-Range"]) == (416, f"bytes */{len(data)}")


async def test_json_thumbnail_from_multipart_and_default(kaltura_sim_factory: Any, http: Any) -> None:
    sim = kaltura_sim_factory(entries=60)
    entry = await plain_entry(sim)
    ks = admin_ks(sim)
    thumb = await _multipart(
        http,
        sim,
        "thumbasset",
        "addFromImage",
        {"ks": ks, "entryId": entry["id"]},
        b"\x89PNG" + bytes(500),
        "thumb.png",
    )
    assert (thumb["objectType"], thumb["status"], thumb["fileExt"]) == ("KalturaThumbAsset", 2, "png")
    assert await call(http, sim, "thumbasset", "setAsDefault", ks, thumbAssetId=thumb["id"]) is None
    listed = await call(
        http,
        sim,
        "thumbasset",
        "list",
        ks,
        filter={"objectType": "KalturaThumbAssetFilter", "entryIdEqual": entry["id"]},
    )
    assert [t["id"] for t in listed["objects"] if "default_thumb" in t["tags"]] == [thumb["id"]]
