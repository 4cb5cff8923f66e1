"""Our client sends what the official KalturaApiClient sends for the same calls (a recording server tells)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio.to_thread
import pytest
from KalturaClient.Base import KalturaConfiguration
from KalturaClient.Client import KalturaClient as OfficialClient
from KalturaClient.Plugins import Core

from adapters.kaltura import ClientConfig, KalturaClient
from adapters.kaltura.batches import flavor_list_call
from adapters.kaltura.client import CLIENT_TAG
from adapters.kaltura.filters import FilterSpec, media_filter
from engine.pacer import Pacer
from engine.retry import RetryPolicy

SECRET = "0123456789abcdef0123456789abcdef"

ENTRY_JSON = {"objectType": "KalturaMediaEntry", "id": "0_abc", "createdAt": 5, "status": "2"}
ENTRY_XML = (
    "<objectType>KalturaMediaEntry</objectType><id>0_abc</id><createdAt>5</createdAt><status>2</status>"
)
LIST_JSON = {"objectType": "KalturaMediaListResponse", "totalCount": 0, "objects": []}
FLAVORS_JSON = {"objectType": "KalturaFlavorAssetListResponse", "totalCount": 0, "objects": []}
ANSWERS: dict[str, tuple[Any, str]] = {
    "media/action/list": (
        LIST_JSON,
        "<objectType>KalturaMediaListResponse</objectType><totalCount>0</totalCount>",
    ),
    "media/action/count": (7, "7"),
    "media/action/get": (ENTRY_JSON, ENTRY_XML),
    "flavorasset/action/list": (
        FLAVORS_JSON,
        "<objectType>KalturaFlavorAssetListResponse</objectType><totalCount>0</totalCount>",
    ),
    "flavorasset/action/getUrl": ("http://127.0.0.1/x.mp4", "http://127.0.0.1/x.mp4"),
}


class Recorded:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()


def _answer(path: str, body: dict[str, Any]) -> tuple[str, bytes]:
    tail = path.split("/api_v3/service/", 1)[1]
    xml = body.get("format") == "2"
    if tail == "multirequest":
        keys = sorted(k for k in body if k.isdigit())
        subs = [ANSWERS[f"{body[k]['service']}/action/{body[k]['action']}"] for k in keys]
        if xml:
            items = "".join(f"<item>{x}</item>" for _, x in subs)
            return "text/xml", f"<xml><result>{items}</result></xml>".encode()
        return "application/json", json.dumps([j for j, _ in subs]).encode()
    as_json, as_xml = ANSWERS[tail]
    if xml:
        return "text/xml", f"<xml><result>{as_xml}</result><executionTime>0</executionTime></xml>".encode()
    return "application/json", json.dumps(as_json).encode()


@pytest.fixture
def recorder() -> Iterator[tuple[str, Recorded]]:
    recorded = Recorded()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            with recorded.lock:
                recorded.requests.append(
                    {"path": self.path, "content_type": self.headers.get("Content-Type"), "body": body}
                )
            content_type, payload = _answer(self.path, body)
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorded
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _listing_filter() -> Core.KalturaMediaEntryFilter:
    spec = FilterSpec(tags=("lecture",), category="12", unplayed_for=3, played_within=None)
    return media_filter(spec, now=1_700_000_000, created_from=1_400_000_000, created_until=1_600_000_000)


def _flavor_filter(ids: str) -> Core.KalturaFlavorAssetFilter:
    f = Core.KalturaFlavorAssetFilter()
    f.entryIdIn = ids
    return f


def _official_calls(url: str) -> None:
    config = KalturaConfiguration(serviceUrl=url)
    client = OfficialClient(config)
    client.setKs("theirs")
    client.media.list(_listing_filter(), Core.KalturaFilterPager(pageSize=500, pageIndex=1))
    client.media.count(_listing_filter())
    client.media.get("0_abc")
    client.flavorAsset.list(_flavor_filter("0_a,0_b"), Core.KalturaFilterPager(pageSize=500, pageIndex=1))
    client.flavorAsset.getUrl("0_flv")
    client.startMultiRequest()
    client.flavorAsset.list(_flavor_filter("0_a"), Core.KalturaFilterPager(pageSize=500, pageIndex=1))
    client.flavorAsset.list(_flavor_filter("0_b"), Core.KalturaFilterPager(pageSize=500, pageIndex=1))
    client.doMultiRequest()


async def _our_calls(url: str) -> None:
    config = ClientConfig(partner_id=1000, admin_secret=SECRET, user_id="u", service_url=url)
    async with KalturaClient(config, pacer=Pacer(100), policy=RetryPolicy(attempts=1)) as client:
        await client.list_media(_listing_filter(), page_size=500, page_index=1)
        assert await client.count_media(_listing_filter()) == 7
        assert (await client.get_media("0_abc")).id == "0_abc"
        await client.flavors_of(["0_a", "0_b"])
        assert await client.flavor_url("0_flv") == "http://127.0.0.1/x.mp4"
        await client.multirequest([flavor_list_call(["0_a"], 1), flavor_list_call(["0_b"], 1)])


def _normalised(request: dict[str, Any], *, ours: bool) -> dict[str, Any]:
    """Drop what differs by design: the KS value, the response format, the client tag, the official kalsig."""
    body = dict(request["body"])
    assert body.pop("format") == ("1" if ours else "2")
    assert body.pop("clientTag") == (CLIENT_TAG if ours else body_tag(request))
    body.pop("kalsig", None)
    for key, value in list(body.items()):
        if key == "ks":
            body[key] = "<ks>"
        elif isinstance(value, dict) and "ks" in value:
            body[key] = {**value, "ks": "<ks>"}
    return {"path": request["path"], "content_type": request["content_type"], "body": body}


def body_tag(request: dict[str, Any]) -> str:
    tag = request["body"]["clientTag"]
    assert tag.startswith("python")
    return str(tag)


async def test_requests_match_the_official_client(recorder: tuple[str, Recorded]) -> None:
    """Same paths, same Content-Type, same parameters (names, encodings, defaults) for every call we make."""
    url, recorded = recorder
    await anyio.to_thread.run_sync(_official_calls, url)
    theirs = [_normalised(r, ours=False) for r in recorded.requests]
    recorded.requests.clear()
    await _our_calls(url)
    ours = [_normalised(r, ours=True) for r in recorded.requests]
    assert len(ours) == len(theirs) == 6
    for mine, official in zip(ours, theirs, strict=True):
        assert mine == official


async def test_our_body_is_json_with_string_scalars(recorder: tuple[str, Recorded]) -> None:
    """Every scalar goes as a string (docs/kaltura.md, Transport), nested objects carry objectType."""
    url, recorded = recorder
    await _our_calls(url)
    body = recorded.requests[0]["body"]
    assert body["filter"]["objectType"] == "KalturaMediaEntryFilter"
    assert body["pager"] == {"objectType": "KalturaFilterPager", "pageSize": "500", "pageIndex": "1"}
    assert body["filter"]["orderBy"] == "+createdAt"
    assert recorded.requests[0]["content_type"] == "application/json"
