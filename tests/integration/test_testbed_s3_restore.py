"""Restores of archived objects on the S3 testbed answer as S3 does (moto 5 alone: at once, 200 to every
request, any tier, never expired), over HTTP (waitress) and HTTPS (moto's werkzeug server). Each restore is
moved on by the test through the testbed's control surface, never by waiting."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3  # type: ignore[import-untyped]  # boto3 ships no type hints
import crc32c
import pytest
from botocore.config import Config

from testbed.s3 import S3Server
from testbed.s3_restore import expiry_date

NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})  # an S3 refusal is the answer
BODY = b"the archived bytes"
# S3's own example: ongoing-request="false", expiry-date="Fri, 23 Dec 2012 00:00:00 GMT"
RESTORED = re.compile(r'^ongoing-request="false", expiry-date="(\w{3}, \d{2} \w{3} \d{4} 00:00:00 GMT)"$')


class Bed:
    """A boto3 client and a new bucket on the S3 testbed over HTTP or HTTPS, and the testbed itself."""

    def __init__(self, server: S3Server, bucket: str) -> None:
        self.server = server
        self.bucket = bucket
        self.client: Any = boto3.client("s3", config=NO_RETRIES, **server.client_kwargs())

    def put(self, key: str, storage_class: str = "GLACIER") -> None:
        checksum = base64.b64encode(crc32c.crc32c(BODY).to_bytes(4, "big")).decode()
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=BODY,
            StorageClass=storage_class,
            Metadata={"ka-entry": "0_abc"},
            Tagging="archived_to_s3=yes",
            ChecksumAlgorithm="CRC32C",
            ChecksumCRC32C=checksum,
        )

    def restore(self, key: str, tier: str = "Standard", days: int = 2) -> int:
        """The HTTP status of a RestoreObject; its error code is asserted by the caller via `refused`."""
        request = {"Days": days, "GlacierJobParameters": {"Tier": tier}}
        answer = self.client.restore_object(Bucket=self.bucket, Key=key, RestoreRequest=request)
        return int(answer["ResponseMetadata"]["HTTPStatusCode"])

    def refused(self, key: str, tier: str = "Standard", days: int = 2) -> tuple[int, str]:
        """The status and code of a RestoreObject S3 refuses."""
        with pytest.raises(self.client.exceptions.ClientError) as refused:
            self.restore(key, tier, days)
        response = refused.value.response
        return int(response["ResponseMetadata"]["HTTPStatusCode"]), str(response["Error"]["Code"])

    def head_restore(self, key: str) -> str | None:
        restore: str | None = self.client.head_object(Bucket=self.bucket, Key=key).get("Restore")
        return restore

    def get_refusal(self, key: str) -> tuple[int, str]:
        with pytest.raises(self.client.exceptions.ClientError) as refused:
            self.client.get_object(Bucket=self.bucket, Key=key)
        response = refused.value.response
        return int(response["ResponseMetadata"]["HTTPStatusCode"]), str(response["Error"]["Code"])

    def read(self, key: str) -> bytes:
        data: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return data


@pytest.fixture(params=["http", "https"])
def bed(request: pytest.FixtureRequest) -> Bed:
    server: S3Server = request.getfixturevalue("s3_server" if request.param == "http" else "s3_server_https")
    server.reset()
    bucket = f"restore-{request.param}"
    server.create_bucket(bucket)
    return Bed(server, bucket)


def expiry_of(header: str | None) -> datetime:
    match = RESTORED.match(header or "")
    assert match is not None, header
    return datetime.strptime(match.group(1), "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)


def test_a_new_restore_request_is_accepted_202_and_shown_ongoing(bed: Bed) -> None:
    bed.put("cold")
    assert bed.head_restore("cold") is None  # no header before any request
    assert bed.restore("cold") == 202
    assert bed.head_restore("cold") == 'ongoing-request="true"'
    assert bed.server.restore_state(bed.bucket, "cold")["restore"]["tier"] == "Standard"


def test_a_second_request_while_one_is_in_progress_is_409_restore_already_in_progress(bed: Bed) -> None:
    bed.put("cold")
    assert bed.restore("cold", "Bulk") == 202
    assert bed.refused("cold", "Standard") == (409, "RestoreAlreadyInProgress")
    assert bed.refused("cold", "Bulk", days=9) == (409, "RestoreAlreadyInProgress")
    assert bed.head_restore("cold") == 'ongoing-request="true"'
    assert bed.server.restore_state(bed.bucket, "cold")["restore"] | {"expiry": None} == {
        "tier": "Bulk",
        "days": 2,
        "expiry": None,
        "ongoing": True,
    }


@pytest.mark.parametrize("storage_class", ["GLACIER", "DEEP_ARCHIVE"])
def test_a_completed_restore_is_readable_until_midnight_utc_after_its_days(
    bed: Bed, storage_class: str
) -> None:
    bed.put("cold", storage_class)
    assert bed.restore("cold", days=3) == 202
    before = datetime.now(UTC)
    bed.server.complete_restore(bed.bucket, "cold")
    after = datetime.now(UTC)
    expiry = expiry_of(bed.head_restore("cold"))
    assert expiry in {expiry_date(before, 3), expiry_date(after, 3)}
    assert expiry - before > timedelta(days=3)
    assert bed.read("cold") == BODY
    head = bed.client.head_object(Bucket=bed.bucket, Key="cold")
    assert head["StorageClass"] == storage_class  # a restored copy leaves the object in its class


def test_a_request_for_a_restored_object_is_200_and_extends_its_days_from_now(bed: Bed) -> None:
    bed.put("cold")
    bed.restore("cold", days=1)
    bed.server.complete_restore(bed.bucket, "cold")
    first = expiry_of(bed.head_restore("cold"))
    now = datetime.now(UTC)
    assert bed.restore("cold", days=10) == 200
    later = expiry_of(bed.head_restore("cold"))
    assert later - first >= timedelta(days=8)
    assert later in {expiry_date(now, 10), expiry_date(datetime.now(UTC), 10)}
    assert bed.read("cold") == BODY


def test_expedited_is_503_glacier_expedited_retrieval_not_available_when_s3_has_no_capacity(bed: Bed) -> None:
    bed.put("cold")
    bed.server.refuse_expedited(1)
    assert bed.refused("cold", "Expedited") == (503, "GlacierExpeditedRetrievalNotAvailable")
    assert bed.head_restore("cold") is None  # nothing started
    assert bed.restore("cold", "Expedited") == 202  # capacity is back
    assert [(a["tier"], a["status"]) for a in bed.server.restore_answers()] == [
        ("Expedited", 503),
        ("Expedited", 202),
    ]


def test_expedited_is_refused_for_deep_archive_and_standard_is_accepted(bed: Bed) -> None:
    bed.put("deep", "DEEP_ARCHIVE")
    status, code = bed.refused("deep", "Expedited")
    assert (status, code) == (400, "InvalidArgument")
    assert bed.head_restore("deep") is None
    assert bed.restore("deep", "Standard") == 202


@pytest.mark.parametrize("storage_class", ["STANDARD", "GLACIER_IR"])
def test_an_object_in_an_active_tier_is_403_object_already_in_active_tier(
    bed: Bed, storage_class: str
) -> None:
    bed.put("warm", storage_class)
    assert bed.refused("warm") == (403, "ObjectAlreadyInActiveTierError")
    assert bed.head_restore("warm") is None
    assert bed.read("warm") == BODY


@pytest.mark.parametrize("storage_class", ["GLACIER", "DEEP_ARCHIVE"])
def test_a_get_of_an_archived_object_without_a_readable_copy_is_403_invalid_object_state(
    bed: Bed, storage_class: str
) -> None:
    bed.put("cold", storage_class)
    assert bed.get_refusal("cold") == (403, "InvalidObjectState")  # never restored
    bed.restore("cold")
    assert bed.get_refusal("cold") == (403, "InvalidObjectState")  # in progress
    bed.server.complete_restore(bed.bucket, "cold")
    assert bed.read("cold") == BODY
    bed.server.expire_restore(bed.bucket, "cold")
    assert bed.get_refusal("cold") == (403, "InvalidObjectState")  # expired
    assert bed.head_restore("cold") is None  # and the header is gone with the copy


def test_an_expired_copy_is_restored_again_with_a_new_202(bed: Bed) -> None:
    bed.put("cold")
    bed.restore("cold")
    bed.server.complete_restore(bed.bucket, "cold")
    bed.server.expire_restore(bed.bucket, "cold")
    assert bed.restore("cold") == 202
    assert bed.head_restore("cold") == 'ongoing-request="true"'


def test_a_transition_keeps_bytes_etag_checksum_metadata_tags_and_date(bed: Bed) -> None:
    bed.put("aging", "STANDARD")
    before = bed.client.head_object(Bucket=bed.bucket, Key="aging", ChecksumMode="ENABLED")
    state = bed.server.transition(bed.bucket, "aging", "DEEP_ARCHIVE")
    assert state == {"storage_class": "DEEP_ARCHIVE", "restore": None, "header": None}
    after = bed.client.head_object(Bucket=bed.bucket, Key="aging", ChecksumMode="ENABLED")
    assert after["StorageClass"] == "DEEP_ARCHIVE"
    for field in ("ETag", "ChecksumCRC32C", "Metadata", "LastModified", "ContentLength", "TagCount"):
        assert after[field] == before[field], field
    tags = bed.client.get_object_tagging(Bucket=bed.bucket, Key="aging")["TagSet"]
    assert tags == [{"Key": "archived_to_s3", "Value": "yes"}]
    assert bed.get_refusal("aging") == (403, "InvalidObjectState")
    bed.restore("aging")
    bed.server.complete_restore(bed.bucket, "aging")
    got = bed.client.get_object(Bucket=bed.bucket, Key="aging", ChecksumMode="ENABLED")
    assert got["Body"].read() == BODY
    assert got["ChecksumCRC32C"] == before["ChecksumCRC32C"]


def test_control_refuses_to_complete_what_is_not_in_progress_or_expire_what_is_not_restored(bed: Bed) -> None:
    bed.put("cold")
    with pytest.raises(RuntimeError, match="409"):
        bed.server.complete_restore(bed.bucket, "cold")
    with pytest.raises(RuntimeError, match="409"):
        bed.server.expire_restore(bed.bucket, "cold")
    with pytest.raises(RuntimeError, match="404"):
        bed.server.complete_restore(bed.bucket, "no-such-key")


def test_a_reset_forgets_the_plan_and_the_answers(bed: Bed) -> None:
    bed.put("cold")
    bed.server.refuse_expedited(5)
    bed.refused("cold", "Expedited")
    bed.server.reset()
    bed.server.create_bucket(bed.bucket)
    bed.put("cold")
    assert bed.server.restore_answers() == []
    assert bed.restore("cold", "Expedited") == 202
