"""The store's reading of restore state: the `x-amz-restore` header, the tier it asks for, Content-Range."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.s3.restores import content_range_start, parse_restore, restore_state, tier_for
from adapters.s3.wire import ObjectHead

RESTORED = 'ongoing-request="false", expiry-date="Fri, 23 Dec 2012 00:00:00 GMT"'


def head(storage_class: str, restore: str | None) -> ObjectHead:
    return ObjectHead("0_k", 10, "e", None, {}, storage_class=storage_class, restore=restore)


def test_restore_header_gives_ongoing_and_expiry() -> None:
    assert parse_restore(None) == (False, None)
    assert parse_restore('ongoing-request="true"') == (True, None)
    assert parse_restore(RESTORED) == (False, datetime(2012, 12, 23, tzinfo=UTC))
    assert parse_restore('ongoing-request="false", expiry-date="not a date"') == (False, None)


@pytest.mark.parametrize(
    ("storage_class", "header", "readable", "ongoing"),
    [
        ("STANDARD", None, True, False),
        ("GLACIER_IR", None, True, False),
        ("GLACIER", None, False, False),
        ("DEEP_ARCHIVE", 'ongoing-request="true"', False, True),
        ("GLACIER", RESTORED, True, False),
    ],
)
def test_an_object_is_readable_in_an_active_class_or_with_a_restored_copy(
    storage_class: str, header: str | None, readable: bool, ongoing: bool
) -> None:
    state = restore_state(head(storage_class, header))
    assert (state.readable, state.ongoing, state.archived) == (
        readable,
        ongoing,
        storage_class in ("GLACIER", "DEEP_ARCHIVE"),
    )


def test_expedited_is_never_asked_for_deep_archive() -> None:
    assert tier_for("DEEP_ARCHIVE", "Expedited") == "Standard"
    assert tier_for("GLACIER", "Expedited") == "Expedited"
    assert tier_for("DEEP_ARCHIVE", "Bulk") == "Bulk"
    with pytest.raises(ValueError, match="restore tier must be one of"):
        tier_for("GLACIER", "expedited")


def test_content_range_start() -> None:
    assert content_range_start("bytes 100-199/1000") == 100
    assert content_range_start("bytes 0-0/*") == 0
    assert content_range_start(None) is None
    assert content_range_start("items 1-2/3") is None
