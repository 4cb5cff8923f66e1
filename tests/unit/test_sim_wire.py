"""Pure parts of the simulator's transport: key nesting, multirequest references, Range, KS, rendering."""

from __future__ import annotations

import pytest
from KalturaClient import KalturaClient

from testbed.kaltura_sim import ks, render, wire
from testbed.kaltura_sim.download import Unsatisfiable, parse_range
from testbed.kaltura_sim.errors import ApiError

SECRET = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("key", "parts"),
    [
        ("ks", ["ks"]),
        ("filter:objectType", ["filter", "objectType"]),
        ("a[b][c]", ["a", "b", "c"]),
        ("0:fileData", ["0", "fileData"]),
    ],
)
def test_split_key_nests_on_colons_and_brackets(key: str, parts: list[str]) -> None:
    assert wire.split_key(key) == parts


def test_path_pairs_are_key_value_segments() -> None:
    assert wire.path_pairs("/service/media/action/get/entryId/0_a/") == {
        "service": "media",
        "action": "get",
        "entryId": "0_a",
    }


def test_multirequest_split_orders_numerically_and_keeps_common() -> None:
    common, calls = wire.split_multirequest({"ks": "k", "10": {"action": "b"}, "2": {"action": "a"}})
    assert common == {"ks": "k"}
    assert [c["action"] for c in calls] == ["a", "b"]


def test_substitute_reads_paths_of_earlier_results() -> None:
    results = [{"objects": [{"id": "0_x", "ok": True}]}, ApiError("E", "m")]
    params = {
        "entryId": "{1:result:objects:0:id}",
        "flag": "{1:result:objects:0:ok}",
        "keep": "{2:result:id}",
        "nested": {"text": "id={1:result:objects:0:id}!"},
    }
    assert wire.substitute(params, results) == {
        "entryId": "0_x",
        "flag": "1",
        "keep": "{2:result:id}",
        "nested": {"text": "id=0_x!"},
    }


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 10)),
        ("bytes=5-", (5, 100)),
        ("bytes=-10", (90, 100)),
        ("bytes=90-500", (90, 100)),
        ("bytes=-500", (0, 100)),
        ("bytes=9-5", None),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
        ("bytes=x-y", None),
    ],
)
def test_parse_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=200-300", "bytes=-0"])
def test_parse_range_unsatisfiable(header: str) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, 100)


def test_generated_v2_ks_round_trips_with_privileges() -> None:
    token = ks.generate_v2(SECRET, partner_id=7, user_id="me", type_=2, valid_until=2_000, privileges="a:b,c")
    session = ks.validate(token, secret=SECRET, partner_id=7, now=1_999, revoked=set())
    assert (session.user_id, session.type, session.valid_until, session.privileges) == (
        "me",
        2,
        2_000,
        {"a": "b", "c": ""},
    )


@pytest.mark.parametrize(("now", "partner", "reason"), [(3e9, 7, "EXPIRED"), (0, 8, "INVALID_PARTNER")])
def test_validation_failures_name_the_reason(now: float, partner: int, reason: str) -> None:
    token = KalturaClient.generateSessionV2(SECRET, "u", 2, 7, 3600).decode()
    with pytest.raises(ApiError) as info:
        ks.validate(token, secret=SECRET, partner_id=partner, now=now, revoked=set())
    assert (info.value.code, info.value.message) == (
        "INVALID_KS",
        f'Invalid KS "{reason}", Error "-1,INVALID_STR"',
    )


def test_logged_out_ks_is_invalid() -> None:
    token = KalturaClient.generateSession(SECRET, "u", 2, 7, 3600).decode()
    with pytest.raises(ApiError, match="LOGOUT"):
        ks.validate(token, secret=SECRET, partner_id=7, now=0, revoked={token})


def test_xml_escapes_text_and_strips_invalid_characters() -> None:
    body = render.xml({"objectType": "T", "name": "a<b & c>\x01", "none": None, "flag": False}, 0.5)
    assert b"<name>a&lt;b &amp; c&gt;</name><none></none><flag>0</flag>" in body


def test_json_omits_nulls_at_every_depth() -> None:
    assert (
        render.json_body({"objectType": "T", "a": None, "b": {"c": None, "d": 1}})
        == b'{"objectType":"T","b":{"d":1}}'
    )
