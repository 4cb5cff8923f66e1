"""A minimal JSON-format (format=1) caller for simulator tests, built on plain aiohttp."""

from __future__ import annotations

import io
import json
from typing import Any, Protocol

import aiohttp
from KalturaClient import KalturaClient

from adapters.kaltura import ClientConfig
from adapters.kaltura import KalturaClient as ArchiverClient
from engine.pacer import Pacer
from engine.retry import RetryPolicy
from testbed.kaltura_sim import SimControl
from testbed.kaltura_sim.content import generated_body

ADMIN = 2


class SimProcess(Protocol):
    """What tests need of a simulator: `SimProcess` and `KalturaSim` both have it."""

    service_url: str

    @property
    def partner_id(self) -> int: ...
    @property
    def admin_secret(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def control(self) -> SimControl: ...


def client_config(sim: SimProcess, **overrides: Any) -> ClientConfig:
    """Our Kaltura client's configuration for `sim` (fields in `overrides` replace the simulator's)."""
    fields: dict[str, Any] = {
        "partner_id": sim.partner_id,
        "admin_secret": sim.admin_secret,
        "user_id": sim.user_id,
        "service_url": sim.service_url,
    }
    return ClientConfig(**{**fields, **overrides})


def client_for(sim: SimProcess) -> ArchiverClient:
    """Our Kaltura client for `sim`: 100 requests/s, four quick attempts."""
    config = client_config(sim)
    return ArchiverClient(config, pacer=Pacer(100), policy=RetryPolicy(attempts=4, base_s=0.05, max_s=0.2))


def admin_ks(sim: SimProcess, expiry: int = 3600) -> str:
    ks: bytes = KalturaClient.generateSessionV2(sim.admin_secret, sim.user_id, ADMIN, sim.partner_id, expiry)
    return ks.decode()


def action_url(sim: SimProcess, service: str, action: str) -> str:
    return f"{sim.service_url}/api_v3/service/{service}/action/{action}"


async def call(
    http: aiohttp.ClientSession, sim: SimProcess, service: str, action: str, ks: str | None, **params: Any
) -> Any:
    """POST `application/json` with format=1; returns the decoded result (errors are returned, not raised)."""
    body = {"format": "1", **({"ks": ks} if ks is not None else {}), **params}
    async with http.post(action_url(sim, service, action), json=body) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.content_type == "application/json"
        return await resp.json()


def is_error(result: Any, code: str | None = None) -> bool:
    return (
        isinstance(result, dict)
        and result.get("objectType") == "KalturaAPIException"
        and (code is None or result.get("code") == code)
    )


def pager(size: int, index: int = 1) -> dict[str, str]:
    return {"objectType": "KalturaFilterPager", "pageSize": str(size), "pageIndex": str(index)}


async def plain_entry(sim: SimProcess) -> dict[str, Any]:
    """A READY entry with a READY source and no edge case."""
    special = {i for ids in (await sim.control.acatalog())["edge_cases"].values() for i in ids}
    return next(
        e
        for e in await sim.control.aget_entries()
        if e["status"] == "2"
        and e["id"] not in special
        and any(f["isOriginal"] and f["status"] == 2 for f in e["flavors"])
    )


async def update_content(sim: SimProcess, entry_id: str) -> None:
    """Replace the entry's content through the API as a user's upload would (`media.updateContent`), with
    new bytes as large as its source: those the simulator generates for the source's next version, so its
    original keeps its id, size and generated body and, with the default conversion delay of 0, gets
    version + 1 at once."""
    entry = next(e for e in await sim.control.aget_entries() if e["id"] == entry_id)
    source = next((f for f in entry["flavors"] if f["isOriginal"]), None)
    if source is None:
        data = generated_body(entry_id, "none", "1", 100_000).read()
    else:
        size = int(source["sizeInBytes"]) or await served_size(sim, source["id"])
        data = generated_body(entry_id, source["id"], str(int(source["version"]) + 1), size).read()
    await upload_content(sim, entry_id, data)


async def served_size(sim: SimProcess, flavor_id: str) -> int:
    """How many bytes the simulator serves for the flavor (its sizeInBytes may say 0)."""
    size = 0
    async with client_for(sim) as client:
        async for chunk in client.download(await client.flavor_url(flavor_id)):
            size += len(chunk)
    return size


async def upload_content(sim: SimProcess, entry_id: str, data: bytes) -> None:
    """Replace the entry's content with `data` as a person (or replace_video) would: an upload token, then
    `media.updateContent` with it. With a conversion delay of 0 the original gets `data` at once."""
    ks = admin_ks(sim)
    async with aiohttp.ClientSession() as http:
        new_token = {"objectType": "KalturaUploadToken"}
        token = await call(http, sim, "uploadtoken", "add", ks, uploadToken=new_token)
        form = aiohttp.FormData()
        params = {"format": "1", "ks": ks, "uploadTokenId": token["id"], "resume": "False",
                  "finalChunk": "True", "resumeAt": "-1"}  # fmt: skip
        form.add_field("json", json.dumps(params))
        body = io.BytesIO(data)
        form.add_field("fileData", body, filename="placeholder.mp4", content_type="application/octet-stream")
        async with http.post(action_url(sim, "uploadtoken", "upload"), data=form) as resp:
            assert (await resp.json())["status"] == 2
        resource = {"objectType": "KalturaUploadedFileTokenResource", "token": token["id"]}
        result = await call(http, sim, "media", "updateContent", ks, entryId=entry_id, resource=resource)
        assert not is_error(result), result
