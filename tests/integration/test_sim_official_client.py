"""The official KalturaApiClient (sync, XML) works unchanged on the simulator; results match its catalog."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from KalturaClient import KalturaClient, KalturaConfiguration
from KalturaClient.Base import KalturaParams
from KalturaClient.exceptions import KalturaException
from KalturaClient.Plugins.Core import (
    KalturaFilterPager,
    KalturaFlavorAssetFilter,
    KalturaMediaEntry,
    KalturaMediaEntryFilter,
    KalturaSessionType,
    KalturaThumbAssetFilter,
    KalturaUploadedFileTokenResource,
    KalturaUploadToken,
)

from testbed.kaltura_sim import SimProcess

ADMIN = KalturaSessionType.ADMIN


def client(sim: SimProcess, ks: str | bytes | None = None) -> KalturaClient:
    """An official client on the simulator with a locally generated v2 admin KS (or the given one)."""
    c = KalturaClient(KalturaConfiguration(sim.service_url))
    if ks is None:
        ks = KalturaClient.generateSessionV2(sim.admin_secret, sim.user_id, ADMIN, sim.partner_id, 3600)
    c.setKs(ks)
    return c


def pager(size: int, index: int = 1) -> KalturaFilterPager:
    p = KalturaFilterPager()
    p.pageSize, p.pageIndex = size, index
    return p


def ready(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["status"] == "2"]


def plain_entry(sim: SimProcess) -> dict[str, Any]:
    """A READY entry with a READY source and no edge case (sizes reported, nothing legacy)."""
    special = {i for ids in sim.control.catalog()["edge_cases"].values() for i in ids}
    return next(
        e
        for e in ready(sim.control.get_entries())
        if e["id"] not in special and any(f["isOriginal"] and f["status"] == 2 for f in e["flavors"])
    )


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as resp:
        return resp.status, dict(resp.headers), resp.read()


def error_of(call: Any, *args: Any) -> KalturaException:
    with pytest.raises(KalturaException) as info:
        call(*args)
    return info.value


# --- listing (shared read-only simulator) -----------------------------------------------------------------


def test_media_list_orders_by_created_at_and_returns_only_ready_by_default(kaltura_sim: SimProcess) -> None:
    entries = kaltura_sim.control.get_entries()
    flt = KalturaMediaEntryFilter()
    flt.orderBy = "+createdAt"
    page = client(kaltura_sim).media.list(flt, pager(500))
    expected = sorted(ready(entries), key=lambda e: (e["createdAt"], e["id"]))
    assert page.totalCount == len(expected)
    assert [e.id for e in page.objects] == [e["id"] for e in expected[:500]]
    assert all(e.status.getValue() == "2" for e in page.objects)


def test_media_list_status_in_lifts_the_ready_default(kaltura_sim: SimProcess) -> None:
    entries = kaltura_sim.control.get_entries()
    flt = KalturaMediaEntryFilter()
    flt.statusIn = "-1,-2,0,1,2,7,4"
    result = client(kaltura_sim).media.list(flt, pager(1))
    assert result.totalCount == sum(
        1 for e in entries if e["status"] in {"-1", "-2", "0", "1", "2", "7", "4"}
    )
    assert result.totalCount > len(ready(entries))


def test_media_list_created_window_descending(kaltura_sim: SimProcess) -> None:
    entries = ready(kaltura_sim.control.get_entries())
    times = sorted(e["createdAt"] for e in entries)
    low, high = times[len(times) // 4], times[len(times) // 2]
    flt = KalturaMediaEntryFilter()
    flt.createdAtGreaterThanOrEqual, flt.createdAtLessThanOrEqual, flt.orderBy = low, high, "-createdAt"
    page = client(kaltura_sim).media.list(flt, pager(500))
    expected = [e for e in entries if low <= e["createdAt"] <= high]
    assert page.totalCount == len(expected)
    assert {e.id for e in page.objects} == {e["id"] for e in expected}
    created = [e.createdAt for e in page.objects]
    assert created == sorted(created, reverse=True)


def test_tag_filter_matches_whole_words_not_prefixes(kaltura_sim: SimProcess) -> None:
    entries = ready(kaltura_sim.control.get_entries())
    flt = KalturaMediaEntryFilter()
    flt.tagsMultiLikeOr = "foo"
    page = client(kaltura_sim).media.list(flt, pager(500))
    expected = {e["id"] for e in entries if any("foo" in re.findall(r"\w+", t) for t in e["tags"])}
    assert expected, "the catalog has entries tagged foo"
    assert {e.id for e in page.objects} == expected
    assert not any("football" in e.tags.split(", ") and "foo" not in e.tags for e in page.objects)


def test_page_past_the_cap_fails_with_query_exceeded(kaltura_sim: SimProcess) -> None:
    exc = error_of(client(kaltura_sim).media.list, KalturaMediaEntryFilter(), pager(500, 21))
    assert exc.code == "QUERY_EXCEEDED_MAX_MATCHES_ALLOWED"
    assert exc.message == "Unable to generate list. max matches value was reached"


# --- flavors and downloads ------------------------------------------------------------------------------


def _small_ready_source(entries: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    candidates = [
        (f["sizeInBytes"], e["id"], f)
        for e in ready(entries)
        for f in e["flavors"]
        if f["isOriginal"] and f["status"] == 2 and 0 < f["sizeInBytes"] < 50_000_000
    ]
    _, entry_id, flavor = min(candidates, key=lambda c: c[0])
    return entry_id, flavor


def test_flavor_list_geturl_and_download_match_size_in_bytes(kaltura_sim: SimProcess) -> None:
    entry_id, source = _small_ready_source(kaltura_sim.control.get_entries())
    c = client(kaltura_sim)
    flt = KalturaFlavorAssetFilter()
    flt.entryIdEqual = entry_id
    listed = c.flavorAsset.list(flt)
    assert source["id"] in {f.id for f in listed.objects}
    flavor = next(f for f in listed.objects if f.id == source["id"])
    assert flavor.isOriginal is True
    assert flavor.flavorParamsId == 0
    assert flavor.sizeInBytes == source["sizeInBytes"]
    url = c.flavorAsset.getUrl(flavor.id)
    assert f"/serveFlavor/entryId/{entry_id}/v/{flavor.version}/flavorId/{flavor.id}/" in url
    status, headers, body = fetch(url)
    assert (status, len(body), headers["Accept-Ranges"]) == (200, flavor.sizeInBytes, "bytes")
    status, headers, part = fetch(url, {"Range": "bytes=100-199"})
    assert (status, part, headers["Content-Range"]) == (206, body[100:200], f"bytes 100-199/{len(body)}")


def test_get_by_entry_id_lists_every_live_flavor(kaltura_sim: SimProcess) -> None:
    entry = next(e for e in ready(kaltura_sim.control.get_entries()) if len(e["flavors"]) > 2)
    flavors = client(kaltura_sim).flavorAsset.getByEntryId(entry["id"])
    assert {f.id for f in flavors} == {f["id"] for f in entry["flavors"]}
    assert {f.status.getValue() for f in flavors} == {f["status"] for f in entry["flavors"]}


# --- multirequest, sessions and errors -----------------------------------------------------------------


def test_multirequest_substitutes_earlier_results_and_keeps_errors_in_place(kaltura_sim: SimProcess) -> None:
    c = client(kaltura_sim)
    c.startMultiRequest()
    listed = c.media.list(KalturaMediaEntryFilter(), pager(1))
    c.media.get(listed.objects[0].id)
    c.media.get("0_missing")
    first, entry, missing = c.doMultiRequest()
    assert entry.id == first.objects[0].id
    assert isinstance(missing, KalturaException)
    assert missing.code == "ENTRY_ID_NOT_FOUND"


def test_session_start_returns_a_working_ks_and_refuses_a_wrong_secret(kaltura_sim: SimProcess) -> None:
    c = client(kaltura_sim, ks="")
    ks = c.session.start(kaltura_sim.admin_secret, kaltura_sim.user_id, ADMIN, kaltura_sim.partner_id, 600)
    assert client(kaltura_sim, ks).media.count(KalturaMediaEntryFilter()) > 0
    exc = error_of(c.session.start, "not-the-secret", kaltura_sim.user_id, ADMIN, kaltura_sim.partner_id)
    assert exc.code == "START_SESSION_ERROR"


def test_v1_ks_from_the_official_client_is_accepted(kaltura_sim: SimProcess) -> None:
    ks = KalturaClient.generateSession(
        kaltura_sim.admin_secret, "someone", ADMIN, kaltura_sim.partner_id, 600
    )
    assert client(kaltura_sim, ks).media.count(KalturaMediaEntryFilter()) > 0


@pytest.mark.parametrize("generate", [KalturaClient.generateSession, KalturaClient.generateSessionV2])
def test_ks_signed_with_another_secret_is_invalid(kaltura_sim: SimProcess, generate: Any) -> None:
    ks = generate("0123456789abcdef0123456789abcdef", "u", ADMIN, kaltura_sim.partner_id, 600)
    exc = error_of(client(kaltura_sim, ks).media.list)
    assert exc.code == "INVALID_KS"
    assert exc.message == f'Invalid KS "{ks.decode()}", Error "-1,INVALID_STR"'


def test_expired_ks_is_invalid_with_the_expired_text(kaltura_sim: SimProcess) -> None:
    ks = KalturaClient.generateSessionV2(kaltura_sim.admin_secret, "u", ADMIN, kaltura_sim.partner_id, -60)
    exc = error_of(client(kaltura_sim, ks).media.list)
    assert (exc.code, exc.message) == ("INVALID_KS", 'Invalid KS "EXPIRED", Error "-1,INVALID_STR"')


def test_missing_ks_is_service_forbidden(kaltura_sim: SimProcess) -> None:
    exc = error_of(client(kaltura_sim, ks="").media.list)
    assert (exc.code, exc.message) == (
        "SERVICE_FORBIDDEN",
        "The access to service [media->list] is forbidden",
    )


def test_unknown_service_and_action_use_the_real_codes(kaltura_sim: SimProcess) -> None:
    c = client(kaltura_sim)
    c.queueServiceActionCall("nosuchservice", "list", "None", KalturaParams())
    exc = error_of(c.doQueue)
    assert (exc.code, exc.message) == ("SERVICE_DOES_NOT_EXISTS", 'Service "nosuchservice" does not exists')
    c.queueServiceActionCall("media", "explode", "None", KalturaParams())
    exc = error_of(c.doQueue)
    assert exc.code == "ACTION_DOES_NOT_EXISTS"
    assert exc.message == 'Action "explode" does not exists for service "media"'


# --- mutations (private simulators) --------------------------------------------------------------------


def test_ks_expires_when_the_simulator_clock_moves_past_it(kaltura_sim_factory: Any) -> None:
    sim = kaltura_sim_factory(entries=60)
    c = client(sim)  # valid for an hour
    assert c.media.count(KalturaMediaEntryFilter()) > 0
    sim.control.advance_clock(2 * 3600)
    exc = error_of(c.media.count, KalturaMediaEntryFilter())
    assert (exc.code, exc.message) == ("INVALID_KS", 'Invalid KS "EXPIRED", Error "-1,INVALID_STR"')


def test_session_end_invalidates_the_ks(kaltura_sim_factory: Any) -> None:
    sim = kaltura_sim_factory(entries=60)
    c = client(sim)
    c.session.end()
    assert error_of(c.media.count, KalturaMediaEntryFilter()).code == "INVALID_KS"


def test_update_normalises_tags(kaltura_sim_factory: Any) -> None:
    sim = kaltura_sim_factory(entries=60)
    entry_id = plain_entry(sim)["id"]
    change = KalturaMediaEntry()
    change.tags = " Foo,BAR , a, foo,  Lecture Capture ,bar"
    updated = client(sim).media.update(entry_id, change)
    assert updated.tags == "foo, bar, lecture capture"
    snapshot = next(e for e in sim.control.get_entries() if e["id"] == entry_id)
    assert snapshot["tags"] == ["foo", "bar", "lecture capture"]


def test_flavor_delete_removes_even_the_source(kaltura_sim_factory: Any) -> None:
    sim = kaltura_sim_factory(entries=60, size_mb=0.1)
    entry = plain_entry(sim)
    source = next(f for f in entry["flavors"] if f["isOriginal"])
    c = client(sim)
    c.flavorAsset.delete(source["id"])
    assert source["id"] not in {f.id for f in c.flavorAsset.getByEntryId(entry["id"])}
    assert error_of(c.flavorAsset.delete, source["id"]).code == "FLAVOR_ASSET_ID_NOT_FOUND"
    after = next(e for e in sim.control.get_entries() if e["id"] == entry["id"])
    assert not any(f["isOriginal"] for f in after["flavors"])


def _upload_in_chunks(c: KalturaClient, data: bytes, tmp_path: Path) -> str:
    token = c.uploadToken.add(KalturaUploadToken())
    assert token.status.getValue() == 0  # PENDING
    cut = [0, len(data) // 3, 2 * len(data) // 3, len(data)]
    for k in range(3):
        part = tmp_path / f"part{k}.bin"
        part.write_bytes(data[cut[k] : cut[k + 1]])
        with part.open("rb") as handle:
            token = c.uploadToken.upload(token.id, handle, k > 0, k == 2, cut[k] if k else -1)
    assert token.status.getValue() == 2  # FULL_UPLOAD
    assert token.uploadedFileSize == len(data)
    return str(token.id)


def test_update_content_from_chunked_upload_keeps_ids_and_bumps_version(
    kaltura_sim_factory: Any, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=60, size_mb=0.2)
    sim.control.set_faults({"conversion": {"delay_s": 600}})
    entry = plain_entry(sim)
    before = {f["flavorParamsId"]: f for f in entry["flavors"]}
    c = client(sim)
    data = bytes(range(256)) * 1500
    resource = KalturaUploadedFileTokenResource()
    resource.token = _upload_in_chunks(c, data, tmp_path)
    pending = c.media.updateContent(entry["id"], resource)
    assert pending.replacementStatus.getValue() == "1"  # APPROVED_BUT_NOT_READY
    assert pending.status.getValue() == "2"
    old_url = c.flavorAsset.getUrl(before[0]["id"])
    assert len(fetch(old_url)[2]) == before[0]["sizeInBytes"]  # the original still serves its old bytes
    sim.control.advance_clock(601)
    done = c.media.get(entry["id"])
    assert done.replacementStatus.getValue() == "0"
    after = {f.flavorParamsId: f for f in c.flavorAsset.getByEntryId(entry["id"])}
    assert after[0].id == before[0]["id"]
    assert int(after[0].version) == int(before[0]["version"]) + 1
    assert after[0].sizeInBytes == len(data)
    assert fetch(c.flavorAsset.getUrl(after[0].id))[2] == data
    for params_id in set(after) & set(before):
        assert after[params_id].id == before[params_id]["id"]


def test_thumbnail_add_from_image_and_set_default(kaltura_sim_factory: Any, tmp_path: Path) -> None:
    sim = kaltura_sim_factory(entries=60)
    entry_id = plain_entry(sim)["id"]
    image = tmp_path / "placeholder.jpg"
    image.write_bytes(b"\xff\xd8\xff\xe0" + bytes(2000))
    c = client(sim)
    with image.open("rb") as handle:
        thumb = c.thumbAsset.addFromImage(entry_id, handle)
    assert thumb.status.getValue() == 2
    assert thumb.sizeInBytes == image.stat().st_size
    c.thumbAsset.setAsDefault(thumb.id)
    flt = KalturaThumbAssetFilter()
    flt.entryIdEqual = entry_id
    listed = {t.id: t for t in c.thumbAsset.list(flt).objects}
    assert "default_thumb" in listed[thumb.id].tags
