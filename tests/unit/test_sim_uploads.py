"""Upload tokens, conversion and replacement state machines, thumbnails (simulator model, no HTTP)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from testbed.kaltura_sim.content import generated_body
from testbed.kaltura_sim.state import SimState, UploadedFile
from tests.unit.sim_model_helpers import NOW, call, entry, error_code, flavor, listed, make_state

ORIGINAL = "0_orig0001"


@pytest.fixture
def state() -> SimState:
    old = (
        flavor("0_src00001", 0, 90_000, version="3"),
        flavor("0_d48700001", 487, 9000),
        flavor("0_d49200001", 492, 40_000),
    )
    return make_state([entry(ORIGINAL, NOW - 5000, tags="lecture", flavors=old)])


def _token(state: SimState, data: bytes, name: str = "placeholder.mp4") -> str:
    token = call(
        state, "uploadtoken", "add", uploadToken={"objectType": "KalturaUploadToken", "fileName": name}
    )
    call(state, "uploadtoken", "upload", uploadTokenId=token["id"], fileData=UploadedFile(name, data))
    return str(token["id"])


def _resource(token_id: str) -> dict[str, Any]:
    return {"objectType": "KalturaUploadedFileTokenResource", "token": token_id}


def _flavors(state: SimState, entry_id: str = ORIGINAL) -> dict[int, dict[str, Any]]:
    return {f["flavorParamsId"]: f for f in call(state, "flavorasset", "getbyentryid", entryId=entry_id)}


def _upload(state: SimState, token_id: str, data: bytes, **kw: str) -> dict[str, Any]:
    result = call(
        state, "uploadtoken", "upload", uploadTokenId=token_id, fileData=UploadedFile("f.bin", data), **kw
    )
    assert isinstance(result, dict)
    return result


def test_a_single_upload_fills_the_token() -> None:
    state = make_state([])
    token = call(state, "uploadtoken", "add")
    assert token["status"] == 0
    done = _upload(state, token["id"], b"x" * 1000)
    assert (done["status"], done["uploadedFileSize"], done["fileName"]) == (2, 1000.0, "f.bin")
    assert call(state, "uploadtoken", "get", uploadTokenId=token["id"])["status"] == 2


def test_chunks_may_arrive_out_of_order() -> None:
    state = make_state([])
    tid = call(state, "uploadtoken", "add")["id"]
    data = bytes(range(256)) * 40
    parts = [(0, data[:4000]), (4000, data[4000:8000]), (8000, data[8000:])]
    first = _upload(state, tid, parts[1][1], resume="True", resumeAt="4000", finalChunk="False")
    assert first["status"] == 1
    final = _upload(state, tid, parts[2][1], resume="True", resumeAt="8000", finalChunk="True")
    assert final["status"] == 1  # a gap remains before the final chunk
    last = _upload(state, tid, parts[0][1], resume="True", resumeAt="0", finalChunk="False")
    assert (last["status"], last["uploadedFileSize"]) == (2, float(len(data)))


def test_a_final_chunk_that_does_not_match_the_data_is_refused() -> None:
    state = make_state([])
    tid = call(state, "uploadtoken", "add")["id"]
    _upload(state, tid, b"a" * 100, resume="True", resumeAt="0", finalChunk="False")
    _upload(state, tid, b"b" * 100, resume="True", resumeAt="200", finalChunk="False")
    code = error_code(
        state,
        "uploadtoken",
        "upload",
        uploadTokenId=tid,
        fileData=UploadedFile("f", b"c" * 50),
        resume="True",
        resumeAt="100",
        finalChunk="True",
    )
    assert code == "UPLOAD_TOKEN_CANNOT_MATCH_EXPECTED_SIZE"


def test_resume_false_replaces_what_was_uploaded() -> None:
    state = make_state([])
    tid = call(state, "uploadtoken", "add")["id"]
    _upload(state, tid, b"a" * 500, finalChunk="False")
    assert _upload(state, tid, b"b" * 10)["uploadedFileSize"] == 10.0


def test_deleted_and_unknown_tokens() -> None:
    state = make_state([])
    tid = call(state, "uploadtoken", "add")["id"]
    assert call(state, "uploadtoken", "delete", uploadTokenId=tid) is None
    assert call(state, "uploadtoken", "get", uploadTokenId=tid)["status"] == 5
    assert error_code(
        state, "uploadtoken", "upload", uploadTokenId=tid, fileData=UploadedFile("f", b"x")
    ) == ("UPLOAD_TOKEN_INVALID_STATUS_FOR_UPLOAD")
    assert error_code(state, "uploadtoken", "get", uploadTokenId="0_nope") == "UPLOAD_TOKEN_NOT_FOUND"


def test_update_content_replaces_flavors_keeping_matching_ids(state: SimState) -> None:
    before = _flavors(state)
    new = b"placeholder video" * 1000
    token = _token(state, new)
    got = call(state, "media", "updatecontent", entryId=ORIGINAL, resource=_resource(token))
    assert (got["replacementStatus"], got["replacingEntryId"], got["version"]) == ("0", None, 2)
    after = _flavors(state)
    assert set(after) == {0, 487, 489, 491}
    assert after[0]["id"] == before[0]["id"]
    assert after[0]["version"] == "4"
    assert after[0]["sizeInBytes"] == len(new)
    assert after[487]["id"] == before[487]["id"]
    assert after[487]["version"] == "2"
    assert before[492]["id"] not in {f["id"] for f in after.values()}
    assert error_code(state, "flavorasset", "get", id=before[492]["id"]) == "FLAVOR_ASSET_ID_NOT_FOUND"
    body = state.open_flavor(ORIGINAL, after[0]["id"], "4")
    assert body.sha256() == hashlib.sha256(new).hexdigest()
    assert call(state, "uploadtoken", "get", uploadTokenId=token)["status"] == 3


def test_a_replacement_with_a_delay_keeps_serving_the_old_flavors(state: SimState) -> None:
    state.set_conversion(delay_s=30)
    old_source = generated_body(ORIGINAL, "0_src00001", "3", 90_000).sha256()
    got = call(
        state, "media", "updatecontent", entryId=ORIGINAL, resource=_resource(_token(state, b"n" * 2000))
    )
    temp = got["replacingEntryId"]
    assert (got["replacementStatus"], got["status"]) == ("1", "2")
    assert temp is not None
    assert call(state, "media", "get", entryId=temp)["replacedEntryId"] == ORIGINAL
    assert temp not in listed(state, statusIn="1,2,-1")
    assert temp not in {e["id"] for e in state.entries_snapshot()}
    assert state.open_flavor(ORIGINAL, "0_src00001", "3").sha256() == old_source
    state.clock.advance(29)
    assert call(state, "media", "get", entryId=ORIGINAL)["replacementStatus"] == "1"
    state.clock.advance(1)
    done = call(state, "media", "get", entryId=ORIGINAL)
    assert (done["replacementStatus"], done["replacingEntryId"]) == ("0", None)
    assert state.open_flavor(ORIGINAL, "0_src00001", "4").size == 2000
    assert error_code(state, "media", "get", entryId=temp) == "ENTRY_ID_NOT_FOUND"


def test_a_second_replacement_while_one_is_pending_is_refused(state: SimState) -> None:
    state.set_conversion(delay_s=60)
    call(state, "media", "updatecontent", entryId=ORIGINAL, resource=_resource(_token(state, b"1")))
    second = _token(state, b"2")
    assert error_code(state, "media", "updatecontent", entryId=ORIGINAL, resource=_resource(second)) == (
        "ENTRY_REPLACEMENT_ALREADY_EXISTS"
    )
    assert call(state, "uploadtoken", "get", uploadTokenId=second)["status"] == 2  # not consumed


def test_a_failed_replacement_stays_failed_until_cancelled(state: SimState) -> None:
    before = _flavors(state)
    state.set_conversion(fail=True)
    got = call(state, "media", "updatecontent", entryId=ORIGINAL, resource=_resource(_token(state, b"bad")))
    assert got["replacementStatus"] == "4"
    assert error_code(
        state, "media", "updatecontent", entryId=ORIGINAL, resource=_resource(_token(state, b"x"))
    ) == ("ENTRY_REPLACEMENT_ALREADY_EXISTS")
    cancelled = call(state, "media", "cancelreplace", entryId=ORIGINAL)
    assert (cancelled["replacementStatus"], cancelled["replacingEntryId"], cancelled["version"]) == (
        "0",
        None,
        1,
    )
    assert _flavors(state) == before
    state.set_conversion(fail=False)
    again = call(state, "media", "updatecontent", entryId=ORIGINAL, resource=_resource(_token(state, b"ok")))
    assert again["replacementStatus"] == "0"


def test_a_conversion_fail_rate_fails_a_seeded_share_of_replacements_the_same_each_time() -> None:
    """`fail_rate` fails about that share of the replacements, and the same ones for the same catalog."""

    def failed(rate: float) -> list[bool]:
        state = make_state([entry(ORIGINAL, NOW - 5000, flavors=(flavor("0_src00001", 0, 9000),))])
        state.set_conversion(fail_rate=rate)
        outcomes = []
        for _ in range(200):
            got = call(
                state, "media", "updatecontent", entryId=ORIGINAL, resource=_resource(_token(state, b"x"))
            )
            outcomes.append(got["replacementStatus"] == "4")
            if outcomes[-1]:
                call(state, "media", "cancelreplace", entryId=ORIGINAL)
        return outcomes

    first = failed(0.25)
    assert 30 <= sum(first) <= 70
    assert failed(0.25) == first
    assert not any(failed(0.0))
    with pytest.raises(ValueError, match="fail_rate"):
        make_state([]).set_conversion(fail_rate=1.5)


def test_a_url_resource_brings_generated_content_the_size_of_the_old_source(state: SimState) -> None:
    resource = {"objectType": "KalturaUrlResource", "url": "https://example.invalid/video.mp4"}
    call(state, "media", "updatecontent", entryId=ORIGINAL, resource=resource)
    source = _flavors(state)[0]
    assert (source["sizeInBytes"], source["version"]) == (90_000, "4")
    expected = generated_body(ORIGINAL, "0_src00001", "4", 90_000).sha256()
    assert state.open_flavor(ORIGINAL, "0_src00001", "4").sha256() == expected


def test_new_entry_converts_after_the_delay() -> None:
    state = make_state([])
    state.set_conversion(delay_s=10)
    new = call(
        state,
        "media",
        "add",
        entry={"objectType": "KalturaMediaEntry", "mediaType": "1", "name": "Talk", "tags": "A,b2"},
    )
    assert (new["status"], new["tags"], new["createdAt"]) == ("7", "b2", NOW)
    converting = call(
        state, "media", "addcontent", entryId=new["id"], resource=_resource(_token(state, b"v" * 5000))
    )
    assert converting["status"] == "1"
    assert listed(state) == []
    state.clock.advance(10)
    assert call(state, "media", "get", entryId=new["id"])["status"] == "2"
    assert listed(state) == [new["id"]]
    flavors = _flavors(state, new["id"])
    assert flavors[0]["isOriginal"] is True
    assert flavors[0]["sizeInBytes"] == 5000
    assert set(flavors) == {0, 487, 489, 491}


def test_a_failed_conversion_leaves_the_entry_in_error() -> None:
    state = make_state([])
    state.set_conversion(fail=True)
    new = call(state, "media", "add", entry={"objectType": "KalturaMediaEntry", "mediaType": "1"})
    got = call(state, "media", "addcontent", entryId=new["id"], resource=_resource(_token(state, b"v")))
    assert got["status"] == "-1"


def test_add_needs_a_media_type_and_content_needs_a_full_token() -> None:
    state = make_state([])
    assert error_code(state, "media", "add", entry={"objectType": "KalturaMediaEntry"}) == (
        "PROPERTY_VALIDATION_CANNOT_BE_NULL"
    )
    new = call(state, "media", "add", entry={"mediaType": "1"})
    empty = call(state, "uploadtoken", "add")["id"]
    assert error_code(state, "media", "addcontent", entryId=new["id"], resource=_resource(empty)) == (
        "UPLOAD_TOKEN_INVALID_STATUS_FOR_ADD_ENTRY"
    )
    assert error_code(state, "media", "addcontent", entryId=new["id"], resource=_resource("0_none")) == (
        "UPLOAD_TOKEN_NOT_FOUND"
    )
    assert error_code(state, "media", "updatecontent", entryId=new["id"]) == "MISSING_MANDATORY_PARAMETER"


def test_thumbnails_can_be_added_made_default_and_listed(state: SimState) -> None:
    thumb = call(
        state, "thumbasset", "addfromimage", entryId=ORIGINAL, fileData=UploadedFile("p.png", b"\x89PNG" * 10)
    )
    assert (thumb["status"], thumb["fileExt"], thumb["sizeInBytes"]) == (2, "png", 40)
    url_before = call(state, "media", "get", entryId=ORIGINAL)["thumbnailUrl"]
    assert call(state, "thumbasset", "setasdefault", thumbAssetId=thumb["id"]) is None
    assert call(state, "media", "get", entryId=ORIGINAL)["thumbnailUrl"] != url_before
    page = call(
        state, "thumbasset", "list", filter={"objectType": "KalturaAssetFilter", "entryIdEqual": ORIGINAL}
    )
    assert page["totalCount"] == 1
    assert page["objects"][0]["tags"] == "default_thumb"
    assert (
        error_code(state, "thumbasset", "setasdefault", thumbAssetId="0_none") == "THUMB_ASSET_ID_NOT_FOUND"
    )
