"""restore_from_s3's decision, pure: only a replaced entry whose object proves its own record is restored;
a restored one is a no-op, an original back without its untag is finished, everything else refused."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.kaltura.wire import FlavorAsset, MediaEntry, parse_flavor_asset, parse_media_entry
from adapters.s3 import ObjectHead, S3Checksum, to_metadata
from adapters.s3.proof import to_restored_tags, to_tags
from jobs.lifecycle import Placeholder, expected_record
from jobs.restore_from_s3.plan import Kind, Rules, plan

PARTNER = 1000
SIZE = 3_000_000
CHECKSUM = S3Checksum("CRC32C", "AAAAAA==", 1, composite=True)
RULES = Rules(PARTNER, Placeholder(300_000, "cd" * 32))
REPLACED = "archived_to_s3,flavors_deleted"


def entry(tags: str = REPLACED, **more: Any) -> MediaEntry:
    return parse_media_entry({"id": "0_entry", "createdAt": 1, "status": "2", "tags": tags, **more})


def source(size: int = SIZE, version: int = 1, flavor_id: str = "0_orig", status: int = 2) -> FlavorAsset:
    return parse_flavor_asset(
        {"id": flavor_id, "entryId": "0_entry", "isOriginal": True, "flavorParamsId": 0, "status": status,
         "sizeInBytes": size, "size": -(-size // 1024), "version": version}
    )  # fmt: skip


PLACEHOLDER = source(size=300_000, version=2)


def ours(*, size: int = SIZE, extra: dict[str, str] | None = None, recorded: bool = True) -> ObjectHead:
    metadata = to_metadata(expected_record(PARTNER, "0_entry", source(size=SIZE, version=1)))
    tags = {**(to_tags("ab" * 32, CHECKSUM) if recorded else {}), **(extra or {})}
    return ObjectHead("0_entry", size, "etag", CHECKSUM, metadata, tags=tags)


def test_a_replaced_entry_with_a_proven_object_is_restored_against_its_record() -> None:
    action = plan(entry(), [PLACEHOLDER], ours(), RULES)
    assert action.kind == Kind.RESTORE
    assert action.mutates
    assert action.record is not None
    assert (action.record.sha256, action.record.source_bytes) == ("ab" * 32, SIZE)


def test_restored_before_is_a_no_op_and_an_original_back_without_its_untag_is_finished() -> None:
    restored = source(version=3)
    done = plan(entry("archived_to_s3"), [restored], ours(extra=to_restored_tags("3")), RULES)
    assert (done.kind, done.reason) == (Kind.NOTHING, "restored before")
    finishing = plan(entry(), [restored], ours(), RULES)
    assert finishing.kind == Kind.FINISH


@pytest.mark.parametrize(
    ("e", "flavors", "head", "words"),
    [
        (entry(), [PLACEHOLDER], None, "no S3 object"),
        (entry(), [PLACEHOLDER], ObjectHead("0_entry", SIZE, "etag", None, {}, tags={}), "old tool's object"),
        (entry(), [PLACEHOLDER], ours(size=SIZE - 1), "does not match its record"),
        (entry(), [PLACEHOLDER], ours(recorded=False), "does not match its record"),
        (entry("flavors_deleted"), [PLACEHOLDER], ours(), "without archived_to_s3"),
        (entry(status="1"), [PLACEHOLDER], ours(), "not READY"),
        (entry(replacementStatus="1", replacingEntryId="0_t"), [PLACEHOLDER], ours(), "in progress"),
        (entry(replacementStatus="4", replacingEntryId="0_t"), [PLACEHOLDER], ours(), "FAILED"),
        (entry(), [source(size=300_000, flavor_id="0_new")], ours(), "not the archived one"),
        (entry(), [source(size=1234, version=2)], ours(), "neither the placeholder nor the original"),
        (entry("archived_to_s3"), [source()], ours(), "not replaced"),
        (entry(""), [source()], None, "not replaced"),
    ],
)  # fmt: skip
def test_every_other_state_is_refused_with_its_reason(
    e: MediaEntry, flavors: list[FlavorAsset], head: ObjectHead | None, words: str
) -> None:
    action = plan(e, flavors, head, RULES)
    assert action.kind == Kind.REFUSE
    assert words in action.reason
    assert not action.mutates
