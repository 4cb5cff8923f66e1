"""The testbed's restore model: S3's expiry date, `x-amz-restore` header and answers to RestoreObject."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from testbed.s3_restore import Refused, Restore, decide, expiry_date, parse_request, restore_header

NOW = datetime(2012, 12, 20, 15, 30, tzinfo=UTC)


def test_expiry_is_days_after_completion_rounded_up_to_midnight_utc() -> None:
    assert expiry_date(NOW, 2) == datetime(2012, 12, 23, tzinfo=UTC)
    assert expiry_date(datetime(2012, 12, 21, tzinfo=UTC), 2) == datetime(2012, 12, 23, tzinfo=UTC)


def test_header_is_written_as_s3_writes_it() -> None:
    assert restore_header(None, NOW) is None
    assert restore_header(Restore("Standard", 2), NOW) == 'ongoing-request="true"'
    done = Restore("Standard", 2, expiry_date(NOW, 2))
    assert restore_header(done, NOW) == 'ongoing-request="false", expiry-date="Sun, 23 Dec 2012 00:00:00 GMT"'
    assert restore_header(done, datetime(2012, 12, 23, tzinfo=UTC)) is None  # expired: no header


@pytest.mark.parametrize(
    ("storage_class", "current", "tier", "available", "code"),
    [
        ("STANDARD", None, "Standard", True, "ObjectAlreadyInActiveTierError"),
        ("GLACIER_IR", None, "Standard", True, "ObjectAlreadyInActiveTierError"),
        ("DEEP_ARCHIVE", None, "Expedited", True, "InvalidArgument"),
        ("GLACIER", Restore("Bulk", 1), "Standard", True, "RestoreAlreadyInProgress"),
        ("GLACIER", None, "Expedited", False, "GlacierExpeditedRetrievalNotAvailable"),
    ],
)
def test_refusals(storage_class: str, current: Restore | None, tier: str, available: bool, code: str) -> None:
    with pytest.raises(Refused) as refused:
        decide(storage_class, current, tier=tier, days=1, now=NOW, expedited_available=available)
    assert refused.value.code == code


def test_new_request_is_202_and_a_restored_copy_is_200_with_days_from_now() -> None:
    assert decide("GLACIER", None, tier="Bulk", days=4, now=NOW) == (202, Restore("Bulk", 4))
    done = Restore("Bulk", 1, expiry_date(NOW, 1))
    assert decide("GLACIER", done, tier="Standard", days=5, now=NOW) == (
        200,
        Restore("Bulk", 5, datetime(2012, 12, 26, tzinfo=UTC)),
    )


def test_request_body_gives_tier_and_days_standard_by_default() -> None:
    ns = ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
    body = f"<RestoreRequest{ns}><Days>3</Days><GlacierJobParameters><Tier>Bulk</Tier></GlacierJobParameters>"
    assert parse_request((body + "</RestoreRequest>").encode()) == ("Bulk", 3)
    assert parse_request(b"<RestoreRequest><Days>1</Days></RestoreRequest>") == ("Standard", 1)
    for bad in (b"<RestoreRequest/>", b"<RestoreRequest><Days>0</Days></RestoreRequest>", b"not xml"):
        with pytest.raises(Refused):
            parse_request(bad)
