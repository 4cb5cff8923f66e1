"""The adapter's per-entry calls (getUrl, re-read, tag write) are the official client's, on the wire as
Kaltura documents them."""

from __future__ import annotations

import pytest
from KalturaClient.Plugins import Core

from adapters.kaltura import wire
from adapters.kaltura.batches import (
    Job,
    flavor_list_call,
    get_url_call,
    join_tags,
    media_get_call,
    media_update_tags_call,
    send_jobs,
)
from adapters.kaltura.errors import KalturaItemError
from adapters.kaltura.wire import ApiCall, ApiFault


def test_get_url_is_the_official_clients_call() -> None:
    assert get_url_call("0_f") == wire.capture(lambda s: s.flavorAsset.getUrl("0_f"))
    assert get_url_call("0_f") == ApiCall("flavorasset", "getUrl", {"id": "0_f", "forceProxy": "False"})


def test_media_get_reads_the_latest_version() -> None:
    assert media_get_call("0_e") == ApiCall("media", "get", {"entryId": "0_e", "version": "-1"})


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

    async def multirequest(calls: object) -> list[object]:
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
