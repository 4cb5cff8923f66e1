"""The simulator model's listing, lookups, updates and flavor actions (no HTTP)."""

from __future__ import annotations

import resource
import time
from typing import Any

import pytest
from KalturaClient.Plugins import Core

from testbed.catalog import generate
from testbed.kaltura_sim.content import generated_body
from testbed.kaltura_sim.errors import ApiError
from testbed.kaltura_sim.state import SimState
from tests.unit.sim_model_helpers import CTX, NOW, PID, call, entry, error_code, flavor, listed, make_state

T0 = NOW - 100_000


@pytest.fixture
def state() -> SimState:
    return make_state(
        [
            entry("0_ready001", T0 + 10, tags="foo", plays=5, last_played_at=T0 + 500, categories=(104,)),
            entry("0_ready002", T0 + 20, tags="football, lecture", plays=0, categories=(101,)),
            entry("0_ready003", T0 + 20, tags="foo bar", plays=9, last_played_at=T0 + 900, name="alpha"),
            entry("0_ready004", T0 + 30, tags="the foo bar show", plays=1, last_played_at=T0 + 100),
            entry("0_error005", T0 + 40, status="-1", tags="foo"),
            entry("0_nocont06", T0 + 50, status="7", flavors=()),
            entry("0_audio007", T0 + 60, media_type=5, tags="math", categories=(112,)),
        ]
    )


def test_list_defaults_to_ready_entries_newest_first(state: SimState) -> None:
    assert listed(state) == ["0_audio007", "0_ready004", "0_ready003", "0_ready002", "0_ready001"]
    assert call(state, "media", "count") == 5


def test_status_filters_lift_the_ready_default(state: SimState) -> None:
    assert listed(state, statusIn="-1,7", orderBy="+createdAt") == ["0_error005", "0_nocont06"]
    assert listed(state, statusEqual="-1") == ["0_error005"]


def test_id_equal_lifts_the_ready_default_but_id_in_does_not(state: SimState) -> None:
    assert listed(state, idEqual="0_error005") == ["0_error005"]
    assert listed(state, idIn="0_error005,0_ready001") == ["0_ready001"]
    assert listed(state, idIn="0_error005,0_ready001", statusIn="-1,2") == ["0_error005", "0_ready001"]


def test_an_invalid_status_enum_is_refused(state: SimState) -> None:
    assert error_code(state, "media", "list", filter={"statusEqual": "9x"}) == "INVALID_ENUM_VALUE"


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("foo", {"0_ready001", "0_ready003", "0_ready004"}),
        ("foo bar", {"0_ready003", "0_ready004"}),
        ("football", {"0_ready002"}),
        ("FOO", {"0_ready001", "0_ready003", "0_ready004"}),
        ("bar show", {"0_ready004"}),
        ("fo", set()),
        ("math,lecture", {"0_audio007", "0_ready002"}),
    ],
)
def test_tags_multi_like_or_matches_whole_words_of_one_tag(
    state: SimState, term: str, expected: set[str]
) -> None:
    assert set(listed(state, tagsMultiLikeOr=term)) == expected


def test_tags_multi_like_and_needs_every_term(state: SimState) -> None:
    assert listed(state, tagsMultiLikeAnd="football,lecture") == ["0_ready002"]
    assert listed(state, tagsMultiLikeAnd="foo,lecture") == []


def test_created_at_bounds_are_inclusive(state: SimState) -> None:
    got = listed(state, createdAtGreaterThanOrEqual=str(T0 + 20), createdAtLessThanOrEqual=str(T0 + 30))
    assert got == ["0_ready004", "0_ready003", "0_ready002"]


def test_last_played_filters_and_the_or_null_variant(state: SimState) -> None:
    assert set(listed(state, lastPlayedAtGreaterThanOrEqual=str(T0 + 500))) == {"0_ready001", "0_ready003"}
    assert set(listed(state, lastPlayedAtLessThanOrEqual=str(T0 + 500))) == {"0_ready001", "0_ready004"}
    assert set(listed(state, lastPlayedAtLessThanOrEqualOrNull=str(T0 + 500))) == {
        "0_ready001",
        "0_ready004",
        "0_ready002",
        "0_audio007",
    }


def test_category_match_is_exact_and_ancestor_includes_descendants(state: SimState) -> None:
    assert listed(state, categoriesIdsMatchOr="101") == ["0_ready002"]
    # 101 is the root "MediaSpace": 104 and 112 lie under it.
    assert set(listed(state, categoryAncestorIdIn="101")) == {"0_ready001", "0_ready002", "0_audio007"}


def test_media_type_filter(state: SimState) -> None:
    assert listed(state, mediaTypeEqual="5") == ["0_audio007"]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("+createdAt", ["0_ready001", "0_ready002", "0_ready003", "0_ready004", "0_audio007"]),
        ("-createdAt", ["0_audio007", "0_ready004", "0_ready003", "0_ready002", "0_ready001"]),
        ("+plays", ["0_audio007", "0_ready002", "0_ready004", "0_ready001", "0_ready003"]),
        ("-plays", ["0_ready003", "0_ready001", "0_ready004", "0_ready002", "0_audio007"]),
        ("+name", ["0_ready003", "0_audio007", "0_ready001", "0_ready002", "0_ready004"]),
        ("+bogus", ["0_audio007", "0_ready004", "0_ready003", "0_ready002", "0_ready001"]),
    ],
)
def test_order_by_with_ties_broken_by_id(state: SimState, order: str, expected: list[str]) -> None:
    assert listed(state, orderBy=order) == expected


def test_deleted_entries_never_appear(state: SimState) -> None:
    call(state, "media", "delete", entryId="0_ready001")
    assert "0_ready001" not in listed(state, statusIn="2,3")
    assert listed(state, idEqual="0_ready001") == []
    assert error_code(state, "media", "get", entryId="0_ready001") == "ENTRY_ID_NOT_FOUND"
    assert [e["status"] for e in state.entries_snapshot() if e["id"] == "0_ready001"] == ["3"]


def _many(n: int) -> SimState:
    return make_state([entry(f"0_m{i:07d}", T0 + i // 3, flavors=()) for i in range(n)])


def test_pager_defaults_to_30_and_clamps_to_500() -> None:
    state = _many(700)
    assert len(listed(state, pager={})) == 30
    assert len(listed(state, pager={"pageSize": "0"})) == 30
    page = call(state, "media", "list", pager={"pageSize": "1000"})
    assert (len(page["objects"]), page["totalCount"]) == (500, 700)
    assert listed(state, pager={"pageSize": "5", "pageIndex": "2"}, orderBy="+createdAt") == [
        f"0_m{i:07d}" for i in range(5, 10)
    ]


def test_the_ten_thousand_cap_cuts_rows_and_refuses_deeper_pages() -> None:
    state = _many(10_400)
    full = call(
        state, "media", "list", filter={"orderBy": "+createdAt"}, pager={"pageSize": "500", "pageIndex": "20"}
    )
    assert (len(full["objects"]), full["totalCount"]) == (500, 10_400)
    cut = call(
        state, "media", "list", filter={"orderBy": "+createdAt"}, pager={"pageSize": "300", "pageIndex": "34"}
    )
    assert len(cut["objects"]) == 100  # positions 9,900..9,999
    assert cut["objects"][-1]["id"] == "0_m0009999"
    with pytest.raises(ApiError) as exc:
        call(state, "media", "list", pager={"pageSize": "500", "pageIndex": "21"})
    assert exc.value.code == "QUERY_EXCEEDED_MAX_MATCHES_ALLOWED"
    assert exc.value.message == "Unable to generate list. max matches value was reached"
    assert call(state, "media", "count") == 10_400


def test_update_is_partial_and_normalises_tags(state: SimState) -> None:
    got = call(
        state,
        "media",
        "update",
        entryId="0_ready001",
        mediaEntry={"objectType": "KalturaMediaEntry", "tags": " Foo ,x, foo,Archived_To_S3 ,, b2 "},
    )
    assert got["tags"] == "foo, archived_to_s3, b2"
    assert got["name"] == "Entry 0_ready001"
    renamed = call(state, "media", "update", entryId="0_ready001", mediaEntry={"name": "new"})
    assert (renamed["name"], renamed["tags"]) == ("new", "foo, archived_to_s3, b2")
    cleared = call(state, "media", "update", entryId="0_ready001", mediaEntry={"tags__null": ""})
    assert cleared["tags"] == ""
    assert listed(state, tagsMultiLikeOr="archived_to_s3") == []


def test_flavor_list_excludes_deleted_and_pages_by_30() -> None:
    entries = [
        entry(f"0_f{i:07d}", T0 + i, flavors=tuple(flavor(f"0_g{i}_{k}", 487 + k) for k in range(4)))
        for i in range(10)
    ]
    state = make_state(entries)
    ids = ",".join(e.id for e in entries)
    page = call(state, "flavorasset", "list", filter={"objectType": "KalturaAssetFilter", "entryIdIn": ids})
    assert (len(page["objects"]), page["totalCount"]) == (30, 40)
    call(state, "flavorasset", "delete", id="0_g0_0")
    page = call(state, "flavorasset", "list", filter={"entryIdEqual": "0_f0000000"})
    assert [f["id"] for f in page["objects"]] == ["0_g0_1", "0_g0_2", "0_g0_3"]


def test_the_source_flavor_can_be_deleted_once(state: SimState) -> None:
    assert call(state, "flavorasset", "delete", id="0_ready001s") is None
    assert error_code(state, "flavorasset", "delete", id="0_ready001s") == "FLAVOR_ASSET_ID_NOT_FOUND"
    assert error_code(state, "flavorasset", "get", id="0_ready001s") == "FLAVOR_ASSET_ID_NOT_FOUND"
    assert [f["id"] for f in call(state, "flavorasset", "getbyentryid", entryId="0_ready001")] == [
        "0_ready001d"
    ]


def test_get_url_points_at_serve_flavor_and_needs_a_ready_flavor() -> None:
    state = make_state(
        [
            entry(
                "0_urls0001", T0, name="My talk", flavors=(flavor("0_src", 0), flavor("0_bad", 487, status=1))
            )
        ]
    )
    url = call(state, "flavorasset", "geturl", id="0_src")
    path = "serveFlavor/entryId/0_urls0001/v/1/flavorId/0_src/fileName/My_talk.mp4"
    assert url == f"{CTX.service_url}/p/{PID}/sp/{PID}00/{path}"
    assert error_code(state, "flavorasset", "geturl", id="0_bad") == "FLAVOR_ASSET_IS_NOT_READY"


def test_open_flavor_serves_the_generated_body(state: SimState) -> None:
    body = state.open_flavor("0_ready001", "0_ready001s", "1")
    assert body.size == 5000
    assert body.sha256() == generated_body("0_ready001", "0_ready001s", "1", 5000).sha256()
    for args, code in [
        (("0_ready002", "0_ready001s", "1"), "FLAVOR_ASSET_ID_NOT_FOUND"),
        (("0_ready001", "0_ready001s", "7"), "FILE_DOESNT_EXIST"),
    ]:
        with pytest.raises(ApiError) as exc:
            state.open_flavor(*args)
        assert exc.value.code == code


def test_unknown_actions_have_no_handler(state: SimState) -> None:
    assert state.handler("media", "approvereplace") is None
    assert state.has_service("flavorasset")
    assert not state.has_service("playlist")


def test_patch_entry_changes_what_lists_see(state: SimState) -> None:
    state.patch_entry("0_ready002", {"plays": 3, "lastPlayedAt": T0 + 700, "tags": ["Archived_to_s3", "foo"]})
    state.patch_entry("0_error005", {"status": "2"})
    assert "0_error005" in listed(state)
    assert call(state, "media", "count") == 6
    got = call(state, "media", "get", entryId="0_ready002")
    assert (got["plays"], got["lastPlayedAt"], got["tags"]) == (3, T0 + 700, "archived_to_s3, foo")
    state.patch_entry("0_ready002", {"lastPlayedAt": None})
    assert call(state, "media", "get", entryId="0_ready002")["lastPlayedAt"] is None
    with pytest.raises(ValueError, match="cannot patch"):
        state.patch_entry("0_ready002", {"name": "x"})


def test_snapshot_lists_every_entry_with_its_live_flavors(state: SimState) -> None:
    snap = {e["id"]: e for e in state.entries_snapshot()}
    assert set(snap) == {
        "0_ready001",
        "0_ready002",
        "0_ready003",
        "0_ready004",
        "0_error005",
        "0_nocont06",
        "0_audio007",
    }
    first = snap["0_ready001"]
    assert first["tags"] == ["foo"]
    assert first["categoriesIds"] == [104]
    assert first["lastPlayedAt"] == T0 + 500
    assert first["flavors"][0] == {
        "id": "0_ready001s",
        "isOriginal": True,
        "flavorParamsId": 0,
        "status": 2,
        "size": 5,
        "sizeInBytes": 5000,
        "version": "1",
    }


def _declared(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        names |= set(getattr(klass, "PROPERTY_LOADERS", {}))
    return names


def test_rendered_objects_only_carry_properties_the_official_client_declares(state: SimState) -> None:
    media = call(state, "media", "get", entryId="0_ready001")
    fl = call(state, "flavorasset", "get", id="0_ready001s")
    token = call(state, "uploadtoken", "add")
    for obj, cls in [
        (media, Core.KalturaMediaEntry),
        (fl, Core.KalturaFlavorAsset),
        (token, Core.KalturaUploadToken),
    ]:
        assert obj["objectType"] == cls.__name__
        assert set(obj) - {"objectType"} <= _declared(cls)
    assert isinstance(media["status"], str)
    assert isinstance(fl["status"], int)
    assert isinstance(fl["version"], str)


def test_cursor_paging_over_100k_entries_is_fast_and_complete() -> None:
    """Cursor paging sees each READY entry once; prints build time, peak RSS and pages per second."""
    started = time.perf_counter()
    catalog = generate(100_000, seed=11)
    sim = SimState(catalog, partner_id=PID)
    built = time.perf_counter() - started
    handler = sim.handler("media", "list")
    assert handler is not None
    seen: set[str] = set()
    at_cursor: set[str] = set()  # ids already seen at the cursor second, excluded with idNotIn
    cursor, pages = 0, 0
    started = time.perf_counter()
    while True:
        flt: dict[str, Any] = {
            "orderBy": "+createdAt",
            "createdAtGreaterThanOrEqual": str(cursor),
            "statusIn": "2",
        }
        if at_cursor:
            flt["idNotIn"] = ",".join(sorted(at_cursor))
        page = handler({"filter": flt, "pager": {"pageSize": "500"}}, CTX)
        assert isinstance(page, dict)
        pages += 1
        rows = page["objects"]
        if not rows:
            break
        assert not seen & {o["id"] for o in rows}
        seen.update(o["id"] for o in rows)
        last = rows[-1]["createdAt"]
        at_cursor = (at_cursor if last == cursor else set()) | {
            o["id"] for o in rows if o["createdAt"] == last
        }
        cursor = int(last)
    elapsed = time.perf_counter() - started
    ready = sum(1 for e in catalog.entries if e.status == "2")
    assert len(seen) == ready
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = pages / elapsed
    print(f"100k sim built in {built:.1f} s, peak RSS {rss_mb:.0f} MB; {pages} cursor pages at {rate:.0f}/s")
