"""Wire: requests recorded from the official package, JSON results parsed into frozen types."""

from __future__ import annotations

import dataclasses

import pytest
from KalturaClient.Plugins import Core

from adapters.kaltura import wire
from adapters.kaltura.errors import (
    KalturaFatalError,
    KalturaHttpError,
    KalturaItemError,
    KalturaUnreachableError,
    from_connection_error,
    from_fault,
    from_http_status,
    item_failed,
    parse_retry_after,
)
from engine.errors import RetryableError


def test_capture_records_service_action_and_official_defaults() -> None:
    call = wire.capture(lambda s: s.flavorAsset.getUrl("0_f"))
    assert (call.service, call.action) == ("flavorasset", "getUrl")
    assert call.params == {"id": "0_f", "forceProxy": "False"}  # the official client's default, as a string


def test_capture_serialises_nested_objects_with_object_type() -> None:
    pager = Core.KalturaFilterPager(pageSize=500, pageIndex=2)
    call = wire.capture(lambda s: s.media.list(Core.KalturaMediaEntryFilter(idIn="0_a,0_b"), pager))
    assert call.params["filter"] == {"objectType": "KalturaMediaEntryFilter", "idIn": "0_a,0_b"}
    assert call.params["pager"] == {"objectType": "KalturaFilterPager", "pageSize": "500", "pageIndex": "2"}


def test_multirequest_body_numbers_calls_from_zero_with_ks_in_each() -> None:
    calls = [wire.capture(lambda s: s.media.get("0_a")), wire.capture(lambda s: s.media.get("0_b"))]
    body = wire.multirequest_body(calls, ks="K", client_tag="t")
    assert body["0"] == {"entryId": "0_a", "version": "-1", "ks": "K", "service": "media", "action": "get"}
    assert body["1"]["entryId"] == "0_b"
    assert body["format"] == "1"
    assert "ks" not in body


def test_media_entry_parses_strings_and_missing_fields() -> None:
    entry = wire.parse_media_entry(
        {"id": "0_a", "createdAt": 10, "status": "-1", "tags": "a,  b ,", "plays": 3, "mediaType": 1}
    )
    assert entry.status == -1
    assert entry.tags == ("a", "b")
    assert entry.last_played_at is None
    assert entry.has_tag("A")
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.plays = 4  # type: ignore[misc]


def test_flavor_asset_parses_booleans_and_sizes() -> None:
    flavor = wire.parse_flavor_asset(
        {"id": "f", "entryId": "e", "isOriginal": True, "size": 100, "sizeInBytes": 102400, "status": 2,
         "version": "3", "flavorParamsId": 0}
    )  # fmt: skip
    assert flavor.is_original
    assert flavor.ready
    assert (flavor.size_kb, flavor.size_bytes, flavor.version) == (100, 102400, 3)


def test_api_exception_is_a_fault_value() -> None:
    raw = {"objectType": "KalturaAPIException", "code": "X", "message": "m", "args": {"A": 1}}
    fault = wire.as_fault(raw)
    assert fault == wire.ApiFault("X", "m", {"A": "1"})
    assert wire.as_fault({"objectType": "KalturaMediaEntry"}) is None
    assert wire.as_fault(7) is None


@pytest.mark.parametrize(("code", "throttled"), [("ACTION_BLOCKED", True), ("INTERNAL_SERVERL_ERROR", False)])
def test_transient_codes_are_retryable(code: str, throttled: bool) -> None:
    error = from_fault(wire.ApiFault(code, "m", {}), operation="media.list")
    assert isinstance(error, RetryableError)
    assert error.throttled is throttled


def test_invalid_ks_is_fatal_and_never_quotes_the_server_text() -> None:
    ks = "djJ8MTAwMHxsecretpart"
    fault = wire.ApiFault("INVALID_KS", f'Invalid KS "{ks}"', {"KSID": ks})
    error = from_fault(fault, operation="media.list")
    assert isinstance(error, KalturaFatalError)
    assert "djJ8" not in str(error)
    assert "KALTURA_SECRET" in str(error)


def test_service_forbidden_is_fatal() -> None:
    error = from_fault(wire.ApiFault("SERVICE_FORBIDDEN", "m", {}), operation="x")
    assert isinstance(error, KalturaFatalError)


def test_unknown_entry_fails_only_that_item_and_keeps_the_code() -> None:
    error = from_fault(wire.ApiFault("ENTRY_ID_NOT_FOUND", "nope", {}), operation="media.get", entry_id="0_x")
    assert isinstance(error, KalturaItemError)
    assert (error.code, error.entry_id, error.operation) == ("ENTRY_ID_NOT_FOUND", "0_x", "media.get")


@pytest.mark.parametrize("entry_id", [None, ""])
def test_an_item_error_about_no_one_entry_shows_a_dash_for_it(entry_id: str | None) -> None:
    fault = from_fault(wire.ApiFault("FLAVOR_ASSET_IS_NOT_READY", "m", {}), operation="x", entry_id=entry_id)
    failed = item_failed("download", entry_id, "HTTP 404")
    assert (str(fault), str(failed)) == ("x -: FLAVOR_ASSET_IS_NOT_READY: m", "download -: HTTP 404")


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_overload_statuses_are_retryable_and_throttle(status: int) -> None:
    error = from_http_status(status, operation="media.list", retry_after="2")
    assert isinstance(error, RetryableError)
    assert error.throttled
    assert error.retry_after == 2.0


def test_other_statuses_stop_the_run() -> None:
    error = from_http_status(404, operation="media.list")
    assert isinstance(error, KalturaHttpError)
    assert error.status == 404


def test_connection_errors_are_retryable_and_recognisable() -> None:
    assert isinstance(from_connection_error(ConnectionResetError(), operation="x"), KalturaUnreachableError)
    assert from_connection_error(ConnectionResetError(), operation="x").throttled  # overloaded: slow down
    assert not from_connection_error(ConnectionRefusedError(), operation="x").throttled  # nobody listening


def test_retry_after_ignores_dates_and_junk() -> None:
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert parse_retry_after(None) is None
