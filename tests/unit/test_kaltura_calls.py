"""The adapter's per-entry calls (getUrl, re-read, tag write) are the official client's, on the wire as
Kaltura documents them."""

from __future__ import annotations

import pytest
from KalturaClient.Plugins import Core

from adapters.kaltura import wire
from adapters.kaltura.batches import (
    REREAD_CHUNK,
    Job,
    Reread,
    flavor_list_call,
    get_url_call,
    join_tags,
    max_jobs,
    media_list_ids_call,
    media_update_tags_call,
    send_jobs,
    sub_calls,
    update_content_job,
)
from adapters.kaltura.errors import KalturaItemError
from adapters.kaltura.wire import ApiCall, ApiFault, FlavorAsset
from engine.errors import ArchiverError, ItemFailedError


def test_get_url_is_the_official_clients_call() -> None:
    assert get_url_call("0_f") == wire.capture(lambda s: s.flavorAsset.getUrl("0_f"))
    assert get_url_call("0_f") == ApiCall("flavorasset", "getUrl", {"id": "0_f", "forceProxy": "False"})


def test_reread_lists_the_entries_by_id_with_every_status() -> None:
    call = media_list_ids_call(["0_a", "0_b"])
    assert (call.service, call.action) == ("media", "list")
    assert call.params["filter"]["idIn"] == "0_a,0_b"
    assert call.params["filter"]["statusIn"] == "-2,-1,0,1,2,4,5,6,7"  # a non-READY entry is still seen
    assert "orderBy" not in call.params["filter"]


def test_rereads_of_a_batch_share_sub_calls_and_singles_count_one_each() -> None:
    max_calls = 50
    rereads = [Reread(f"0_{i}") for i in range(REREAD_CHUNK)]
    urls = [Job((get_url_call(str(i)),), lambda slots: slots[0]) for i in range(max_calls - 2)]
    assert sub_calls(rereads) == 2
    assert sub_calls([*rereads, Reread("0_more")]) == 4
    assert sub_calls([*urls, *rereads]) == max_calls
    assert len([*urls, *rereads]) == max_jobs(max_calls)


def test_tag_update_is_a_partial_update_of_the_tags_only() -> None:
    entry = Core.KalturaMediaEntry()
    entry.tags = "lecture, archived_to_s3"
    official = wire.capture(lambda s: s.media.update("0_e", entry))
    expected = ApiCall(
        "media",
        "update",
        {
            "entryId": "0_e",
            "mediaEntry": {"objectType": "KalturaMediaEntry", "tags": "lecture, archived_to_s3"},
        },
    )
    assert media_update_tags_call("0_e", "lecture, archived_to_s3") == official == expected


def test_flavor_list_selects_entries_by_id_in_pages_of_500() -> None:
    expected = ApiCall(
        "flavorasset",
        "list",
        {
            "filter": {"objectType": "KalturaFlavorAssetFilter", "entryIdIn": "0_a,0_b"},
            "pager": {"objectType": "KalturaFilterPager", "pageSize": "500", "pageIndex": "2"},
        },
    )
    assert flavor_list_call(["0_a", "0_b"], 2) == expected


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["archived_to_s3"], "archived_to_s3"),
        (["lecture", "math", "archived_to_s3"], "lecture, math, archived_to_s3"),
        (["Archived_To_S3", "archived_to_s3"], "Archived_To_S3"),
        ([" a ", "", "b"], "a, b"),
    ],
)
def test_tags_are_joined_once_each_without_case(tags: list[str], expected: str) -> None:
    assert join_tags(tags) == expected


async def test_each_job_reads_its_own_slots_and_a_fault_fails_only_its_job() -> None:
    sent: list[list[ApiCall]] = []

    async def multirequest(calls: object, resend: bool = True) -> list[object]:
        assert isinstance(calls, list)
        sent.append(calls)
        return ["a", ApiFault("ENTRY_ID_NOT_FOUND", "no such entry", {}), "c", "d"]

    one = Job((get_url_call("1"),), lambda slots: slots[0])
    two = Job((get_url_call("2"), get_url_call("3")), lambda slots: slots)

    def fault(slots: object) -> object:
        raise KalturaItemError("flavorasset.getUrl", "0_x", "ENTRY_ID_NOT_FOUND", "no such entry")

    three = Job((get_url_call("4"),), fault)
    answers = await send_jobs(multirequest, [one, two, three])
    assert len(sent) == 1
    assert len(sent[0]) == 4
    assert answers[0] == "a"
    assert answers[1] == [ApiFault("ENTRY_ID_NOT_FOUND", "no such entry", {}), "c"]
    assert isinstance(answers[2], KalturaItemError)


def _entry(entry_id: str) -> dict[str, object]:
    return {"objectType": "KalturaMediaEntry", "id": entry_id, "tags": "a", "status": 2}


def _flavor(entry_id: str) -> dict[str, object]:
    return {
        "objectType": "KalturaFlavorAsset",
        "id": f"f_{entry_id}",
        "entryId": entry_id,
        "isOriginal": True,
        "status": 2,
        "version": "1",
        "size": 1,
        "sizeInBytes": 1000,
    }


async def test_rereads_share_one_media_list_and_one_flavor_list() -> None:
    sent: list[list[ApiCall]] = []

    async def multirequest(calls: object, resend: bool = True) -> list[object]:
        assert isinstance(calls, list)
        sent.append(calls)
        entries = {"objects": [_entry("0_a"), _entry("0_b")], "totalCount": 2}
        flavors = {"objects": [_flavor("0_a"), _flavor("0_b")], "totalCount": 2}
        return ["url", entries, flavors]

    url = Job((get_url_call("1"),), lambda slots: slots[0])
    answers = await send_jobs(multirequest, [Reread("0_a"), url, Reread("0_b"), Reread("0_gone")])
    assert [(c.service, c.action) for c in sent[0]] == [
        ("flavorasset", "getUrl"),
        ("media", "list"),
        ("flavorasset", "list"),
    ]
    assert answers[1] == "url"
    assert answers[0].entry.id == "0_a"
    assert [f.id for f in answers[0].flavors] == ["f_0_a"]
    assert answers[2].entry.id == "0_b"
    assert [f.id for f in answers[2].flavors] == ["f_0_b"]
    assert isinstance(answers[3], ItemFailedError)  # not listed: deleted, never taken as unchanged


async def test_rereads_whose_flavors_overflow_a_page_fetch_them_all() -> None:
    async def multirequest(calls: object, resend: bool = True) -> list[object]:
        entries = {"objects": [_entry("0_a")], "totalCount": 1}
        return [entries, {"objects": [], "totalCount": 900}]

    async def more_flavors(ids: object) -> dict[str, list[FlavorAsset]]:
        return {"0_a": [wire.parse_flavor_asset(_flavor("0_a"))]}

    (fresh,) = await send_jobs(multirequest, [Reread("0_a")], more_flavors)
    assert [f.id for f in fresh.flavors] == ["f_0_a"]


async def test_a_failed_media_list_fails_every_reread_of_its_chunk() -> None:
    async def multirequest(calls: object, resend: bool = True) -> list[object]:
        return [ApiFault("INTERNAL_SERVERL_ERROR", "boom", {}), {"objects": [], "totalCount": 0}]

    answers = await send_jobs(multirequest, [Reread("0_a"), Reread("0_b")])
    assert all(isinstance(a, ArchiverError) for a in answers)


async def test_a_batch_holding_a_call_that_must_not_run_twice_is_not_resent_whole() -> None:
    """A batch with `media.updateContent` in it is sent with resend False; others with resend True."""
    seen: list[bool] = []

    async def multirequest(calls: object, resend: bool = True) -> list[object]:
        assert isinstance(calls, list)
        seen.append(resend)
        return [{"id": "0_e", "createdAt": 1, "status": "2"} for _ in calls]

    await send_jobs(multirequest, [update_content_job("0_e", "tok"), Job((get_url_call("1"),), lambda s: s)])
    await send_jobs(multirequest, [Job((get_url_call("1"),), lambda s: s)])
    assert seen == [False, True]
