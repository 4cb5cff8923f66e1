"""replace_video's decision, pure: only a proven copy of the *current* source is replaced; every other state
is a no-op, a finish or a refusal with its reason."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.kaltura.wire import FlavorAsset, MediaEntry, parse_flavor_asset, parse_media_entry
from adapters.s3 import ObjectHead, S3Checksum, to_metadata
from adapters.s3.proof import to_restored_tags, to_tags
from jobs.lifecycle import Placeholder, State, expected_record
from jobs.replace_video.plan import Kind, Rules, plan

PARTNER = 1000
SIZE = 3_000_000
CHECKSUM = S3Checksum("CRC32C", "AAAAAA==", 1, composite=True)
PLACEHOLDER = Placeholder(300_000, "cd" * 32)
RULES = Rules(PARTNER, PLACEHOLDER, max_size_kb=10_000)
ARCHIVED = "archived_to_s3"
REPLACED = "archived_to_s3,flavors_deleted"


def entry(tags: str = "", **more: Any) -> MediaEntry:
    return parse_media_entry({"id": "0_entry", "createdAt": 1, "status": "2", "tags": tags, **more})


def source(size: int = SIZE, version: int = 1, status: int = 2, flavor_id: str = "0_orig") -> FlavorAsset:
    return parse_flavor_asset(
        {"id": flavor_id, "entryId": "0_entry", "isOriginal": True, "flavorParamsId": 0, "status": status,
         "sizeInBytes": size, "size": -(-size // 1024), "version": version}
    )  # fmt: skip


def derived(size: int = 1_000_000) -> FlavorAsset:
    return parse_flavor_asset(
        {"id": "0_small", "entryId": "0_entry", "isOriginal": False, "flavorParamsId": 487, "status": 2,
         "sizeInBytes": size, "size": size // 1024, "version": 1}
    )  # fmt: skip


def ours(flavor: FlavorAsset, *, recorded: bool = True, extra: dict[str, str] | None = None) -> ObjectHead:
    metadata = to_metadata(expected_record(PARTNER, "0_entry", flavor))
    tags = {**(to_tags("ab" * 32, CHECKSUM) if recorded else {}), **(extra or {})}
    return ObjectHead("0_entry", flavor.size_bytes, "etag", CHECKSUM, metadata, tags=tags)


def legacy(size: int = SIZE) -> ObjectHead:
    return ObjectHead("0_entry", size, "etag", None, {}, tags={})


def decide(e: MediaEntry, flavors: list[FlavorAsset], head: ObjectHead | None, rules: Rules = RULES) -> Any:
    return plan(e, flavors, head, rules)


def test_a_proven_copy_of_the_current_source_is_replaced_and_counts_the_bytes_it_frees() -> None:
    action = decide(entry(ARCHIVED), [source(), derived()], ours(source()))
    assert action.kind == Kind.REPLACE
    assert action.mutates
    assert (action.from_state, action.to_state) == (State.ARCHIVED, State.PLACE_HOLDER)
    assert action.freed_bytes == SIZE + 1_000_000


def test_a_restored_entry_is_archived_again_and_replaceable() -> None:
    """restore_from_s3 bumped the version; the object records the restored version (ka-restored-version)."""
    restored = source(version=2)
    head = ours(source(version=1), extra=to_restored_tags("2"))
    assert decide(entry(ARCHIVED), [restored], head).kind == Kind.REPLACE
    # without that record, version 2 is a changed original: refused, never replaced
    refused = decide(entry(ARCHIVED), [restored], ours(source(version=1)))
    assert refused.kind == Kind.REFUSE
    assert "version" in refused.reason


@pytest.mark.parametrize(
    ("changed", "why"),
    [
        (source(version=2), "version"),  # replaced by a user after archival
        (source(size=SIZE + 1), "size"),
        (source(flavor_id="0_other"), "flavor"),
    ],
)
def test_a_source_changed_since_archival_is_refused(changed: FlavorAsset, why: str) -> None:
    action = decide(entry(ARCHIVED), [changed], ours(source()))
    assert action.kind == Kind.REFUSE
    assert why in action.reason
    assert not action.mutates


def test_an_object_without_its_checksum_record_is_refused_with_the_fix() -> None:
    action = decide(entry(ARCHIVED), [source()], ours(source(), recorded=False))
    assert action.kind == Kind.REFUSE
    assert "s3copy" in action.reason


def test_an_old_tools_object_needs_trust_legacy_size_match() -> None:
    refused = decide(entry(ARCHIVED), [source()], legacy())
    assert refused.kind == Kind.REFUSE
    assert "--trust-legacy-size-match" in refused.reason
    trusting = Rules(PARTNER, PLACEHOLDER, 10_000, trust_legacy=True)
    assert decide(entry(ARCHIVED), [source()], legacy(int(SIZE * 1.02)), trusting).kind == Kind.REPLACE
    # off by more than 3 %: refused even when trusted
    assert decide(entry(ARCHIVED), [source()], legacy(int(SIZE * 1.05)), trusting).kind == Kind.REFUSE
    # an old tool's object but no tag: refused
    assert decide(entry(), [source()], legacy(), trusting).kind == Kind.REFUSE


def test_replaced_earlier_is_a_no_op_and_a_wrong_source_is_refused() -> None:
    placeholder = source(size=300_000, version=2)
    earlier = decide(entry(REPLACED), [placeholder], ours(source()))
    assert (earlier.kind, earlier.reason) == (Kind.NOTHING, "replaced earlier")
    assert not earlier.mutates
    wrong = decide(entry(REPLACED), [source()], ours(source()))
    assert wrong.kind == Kind.REFUSE
    assert "not the placeholder" in wrong.reason


def test_the_placeholder_in_place_without_flavors_deleted_is_finished() -> None:
    """A run that stopped after Kaltura converted the placeholder (killed, or its wait ran out)."""
    placeholder = source(size=300_000, version=2)
    action = decide(entry(ARCHIVED), [placeholder], ours(source()))
    assert action.kind == Kind.FINISH
    assert action.mutates
    # the placeholder's size on another flavor id: not our replacement, refused
    other = decide(entry(ARCHIVED), [source(size=300_000, flavor_id="0_new")], ours(source()))
    assert other.kind == Kind.REFUSE
    # an object that does not prove its own record: refused
    assert decide(entry(ARCHIVED), [placeholder], ours(source(), recorded=False)).kind == Kind.REFUSE


@pytest.mark.parametrize(
    ("e", "flavors", "head", "words"),
    [
        (entry(), [source()], None, "run s3copy first"),
        (entry(ARCHIVED), [source()], None, "no S3 object"),
        (entry(), [source()], ours(source()), "without archived_to_s3"),
        (entry(ARCHIVED, status="1"), [source()], ours(source()), "not READY"),
        (entry(ARCHIVED), [source(status=1)], ours(source()), "not READY"),
        (entry(ARCHIVED), [], ours(source()), "no original"),
        (entry(ARCHIVED, replacementStatus="1", replacingEntryId="0_tmp"), [source()], ours(source()),
         "in progress"),
        (entry(ARCHIVED, replacementStatus="4", replacingEntryId="0_tmp"), [source()], ours(source()),
         "FAILED"),
    ],
)  # fmt: skip
def test_every_other_state_is_refused_with_its_reason(
    e: MediaEntry, flavors: list[FlavorAsset], head: ObjectHead | None, words: str
) -> None:
    action = decide(e, flavors, head)
    assert action.kind == Kind.REFUSE
    assert words in action.reason
    assert not action.mutates


def test_an_unarchived_original_over_max_size_is_the_old_tools_big_file_skip() -> None:
    big = source(size=20_000_000)
    action = decide(entry(), [big], None)
    assert action.kind == Kind.SKIP
    assert "--max-size" in action.reason
    # archived anyway (by hand, or with a larger limit then): replaced like any other
    assert decide(entry(ARCHIVED), [big], ours(big)).kind == Kind.REPLACE
