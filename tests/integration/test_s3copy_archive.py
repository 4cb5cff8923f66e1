"""s3copy against the simulator and moto: archive, prove, tag; converge; never overwrite; report changes."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.s3.wire import parse_tags
from testbed.s3 import S3Server
from testbed.s3_faults import S3FaultProxy
from tests.integration.s3copy_harness import (
    archivable,
    assert_proven_copy,
    objects,
    open_uploads,
    original,
    point_aws_at,
    run_s3copy,
    s3_client,
    served_sizes,
    sim_entries,
    sim_env,
)
from tests.integration.simapi import update_content

WRITES = ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "PutObjectTagging")


def writes(proxy: S3FaultProxy) -> int:
    requests = proxy.counters()["requests"]
    return sum(requests.get(op, 0) for op in WRITES)


async def test_execute_archives_proven_copies_then_a_second_run_writes_nothing(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = kaltura_sim_factory(entries=60, seed=5, size_mb=6)
    async with S3FaultProxy(s3_server.endpoint_url) as proxy:
        point_aws_at(monkeypatch, proxy.endpoint_url)
        env = sim_env(sim, s3_bucket)
        first = await run_s3copy(env, "--execute", "--all")
        assert first.code == 0, first.stderr[-2000:]
        expected = archivable(sim)
        assert set(first.by_outcome("archived")) == expected
        entries = sim_entries(sim)
        for entry_id in expected:
            assert "archived_to_s3" in entries[entry_id]["tags"]
            assert_proven_copy(s3_server, s3_bucket, entries[entry_id], sim.partner_id, served_sizes(sim))
        assert set(objects(s3_server, s3_bucket)) == expected
        assert open_uploads(s3_server, s3_bucket) == []
        assert first.finished["counts"]["archived"] == len(expected)
        sizes = served_sizes(sim)
        assert first.finished["bytes"] == sum(sizes[original(entries[e])["id"]] for e in expected)
        assert len(first.entry_events("entry.uploaded")) == len(expected)

        before = objects(s3_server, s3_bucket)
        writes_before = writes(proxy)
        sim.control.reset_counters()
        second = await run_s3copy(env, "--execute", "--all")
        assert second.code == 0
        assert set(second.by_outcome("unchanged")) == expected
        assert writes(proxy) == writes_before  # no PUT, part, completion or tag write in S3
        assert "media.update" not in sim.control.counters()["calls"]
        assert objects(s3_server, s3_bucket) == before


@pytest.mark.parametrize(("part_size", "parts"), [("5MiB", 2), ("8MiB", 0)])
async def test_each_new_object_records_its_entrys_total_flavor_bytes(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, aws_env: None, part_size: str, parts: int
) -> None:
    """ka-total-bytes: every live flavor's sizeInBytes (its KB figure times 1024 when that is 0), multipart
    or one PUT alike."""
    sim = kaltura_sim_factory(entries=12, seed=5, size_mb=6)
    run = await run_s3copy(sim_env(sim, s3_bucket, ARCHIVER_PART_SIZE=part_size), "--execute", "--all")
    assert run.code == 0, run.stderr[-2000:]
    entries, client = sim_entries(sim), s3_client(s3_server)
    archived = run.by_outcome("archived")
    assert archived
    for entry_id in archived:
        head = client.head_object(Bucket=s3_bucket, Key=entry_id, ChecksumMode="ENABLED")
        assert str(head.get("ChecksumCRC32C", "")).endswith(f"-{parts}") == (parts > 0)
        flavors = [f for f in entries[entry_id]["flavors"] if f["status"] != 3]  # DELETED ones count nothing
        total = sum(f["sizeInBytes"] or f["size"] * 1024 for f in flavors)
        assert head["Metadata"]["ka-total-bytes"] == str(total), entry_id


async def test_kaltura_requests_per_archived_entry_stay_at_two_or_fewer(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = kaltura_sim_factory(entries=150, seed=8, size_mb=0.2)
    point_aws_at(monkeypatch, s3_server.endpoint_url)
    sim.control.reset_counters()
    run = await run_s3copy(sim_env(sim, s3_bucket, ARCHIVER_TRANSFERS="8"), "--execute", "--all")
    assert run.code == 0
    archived = len(run.by_outcome("archived"))
    assert archived > 100
    assert run.finished["kaltura_requests"] <= 2 * archived
    assert sim.control.counters()["requests"] <= 2 * archived + 5  # the simulator counts the same


async def test_an_original_replaced_after_archiving_is_a_conflict_never_overwritten(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = kaltura_sim_factory(entries=20, seed=3, size_mb=1)
    sim.control.set_faults({"conversion": {"delay_s": 0}})
    point_aws_at(monkeypatch, s3_server.endpoint_url)
    env = sim_env(sim, s3_bucket)
    first = await run_s3copy(env, "--execute", "--all")
    victim = first.by_outcome("archived")[0]
    old = objects(s3_server, s3_bucket)[victim]
    await update_content(sim, victim)
    source = original(sim_entries(sim)[victim])
    assert source["version"] != "1"  # same flavor id, new content

    second = await run_s3copy(env, "--execute", "--all")
    assert second.code == 1
    assert second.outcomes()[victim] == "conflict"
    (row,) = [r for r in second.rows if r["entry_id"] == victim]
    assert "changed since it was archived" in row["reason"]
    (event,) = [e for e in second.entry_events("entry.conflict") if e["entry_id"] == victim]
    assert event["from_state"] == "mismatch"
    assert objects(s3_server, s3_bucket)[victim] == old  # the old copy stays, untouched


async def test_archiving_over_https_proves_every_copy(
    kaltura_sim_factory: Any, s3_server_https: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole job over verified HTTPS, as against real S3: every part and small object goes as a plain body
    with the CRC32C we computed in a header (tests/integration/test_s3_https.py shows the wire)."""
    s3_server_https.reset()
    s3_server_https.create_bucket("https-archive")
    sim = kaltura_sim_factory(entries=8, seed=4, size_mb=11)
    point_aws_at(monkeypatch, s3_server_https.endpoint_url, s3_server_https.verify)
    run = await run_s3copy(sim_env(sim, "https-archive"), "--execute", "--all")
    assert run.code == 0, run.stderr[-2000:]
    entries = sim_entries(sim)
    archived = run.by_outcome("archived")
    assert archived == sorted(archivable(sim)), run.rows
    for entry_id in archived:
        assert_proven_copy(
            s3_server_https, "https-archive", entries[entry_id], sim.partner_id, served_sizes(sim)
        )


async def test_an_object_whose_record_was_lost_is_reproved_from_the_source_not_uploaded_again(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed between an upload's completion and its record: the next run re-proves the object."""
    sim = kaltura_sim_factory(entries=12, seed=6, size_mb=7)
    async with S3FaultProxy(s3_server.endpoint_url) as proxy:
        point_aws_at(monkeypatch, proxy.endpoint_url)
        env = sim_env(sim, s3_bucket)
        first = await run_s3copy(env, "--execute", "--all")
        victim, other = first.by_outcome("archived")[:2]
        client = s3_client(s3_server)
        # as if killed before the record, and since then the bucket's own rules tagged the object
        client.put_object_tagging(
            Bucket=s3_bucket, Key=victim, Tagging={"TagSet": [{"Key": "lifecycle", "Value": "keep"}]}
        )
        sim.control.patch_entry(victim, tags="lecture")  # ... and before the Kaltura tag
        # another object of ours for the right source, but with other bytes and no record: never trusted
        body = client.get_object(Bucket=s3_bucket, Key=other)
        meta = body["Metadata"]
        client.delete_object(Bucket=s3_bucket, Key=other)
        client.put_object(Bucket=s3_bucket, Key=other, Body=b"x" * len(body["Body"].read()), Metadata=meta)
        sim.control.patch_entry(other, tags="lecture")
        uploads_before = writes(proxy) - proxy.counters()["requests"].get("PutObjectTagging", 0)

        second = await run_s3copy(env, "--execute", "--all")
        assert second.outcomes()[victim] == "archived"
        assert second.outcomes()[other] == "conflict"
        assert second.code == 1
        assert writes(proxy) - proxy.counters()["requests"].get("PutObjectTagging", 0) == uploads_before
    entries = sim_entries(sim)
    assert_proven_copy(s3_server, s3_bucket, entries[victim], sim.partner_id, served_sizes(sim))
    assert "archived_to_s3" in entries[victim]["tags"]
    assert parse_tags(client.get_object_tagging(Bucket=s3_bucket, Key=victim))["lifecycle"] == "keep"
    assert "archived_to_s3" not in entries[other]["tags"]
    (row,) = [r for r in second.rows if r["entry_id"] == other]
    assert "is not the original" in row["reason"]


async def test_a_lost_record_is_re_proven_in_the_objects_own_part_size_after_the_setting_changed(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, aws_env: None
) -> None:
    """The operator raised ARCHIVER_PART_SIZE between the run that lost a record and the next one: the object
    is digested as it was uploaded (S3 tells part 1's size), not as today's setting would cut it."""
    sim = kaltura_sim_factory(entries=12, seed=6, size_mb=14)
    first = await run_s3copy(sim_env(sim, s3_bucket, ARCHIVER_PART_SIZE="5MiB"), "--execute", "--all")
    client = s3_client(s3_server)
    archived = first.by_outcome("archived")
    sizes = {e: client.head_object(Bucket=s3_bucket, Key=e)["ContentLength"] for e in archived}
    victim = next(e for e, size in sizes.items() if size > 6 << 20)  # 6 MiB parts would cut it elsewhere
    client.delete_object_tagging(Bucket=s3_bucket, Key=victim)  # as if killed before the record
    sim.control.patch_entry(victim, tags="lecture")  # ... and before the Kaltura tag

    second = await run_s3copy(sim_env(sim, s3_bucket, ARCHIVER_PART_SIZE="6MiB"), "--execute", "--all")
    assert second.outcomes()[victim] == "archived", second.rows
    assert second.code == 0
    entries = sim_entries(sim)
    assert "archived_to_s3" in entries[victim]["tags"]
    assert_proven_copy(s3_server, s3_bucket, entries[victim], sim.partner_id, served_sizes(sim))


@pytest.mark.parametrize("storage_class", ["GLACIER", "DEEP_ARCHIVE"])
async def test_copies_in_an_archive_class_are_proven_and_a_second_run_changes_nothing(
    kaltura_sim_factory: Any,
    s3_server: S3Server,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    storage_class: str,
) -> None:
    # multipart copies keep their proof record in tags, which S3 reads on archived objects too
    sim = kaltura_sim_factory(entries=6, seed=6, size_mb=7)
    expected = archivable(sim)
    point_aws_at(monkeypatch, s3_server.endpoint_url)
    env = sim_env(sim, s3_bucket, ARCHIVER_STORAGE_CLASS=storage_class)
    first = await run_s3copy(env, "--execute", "--all")
    assert first.code == 0, first.rows
    assert set(first.by_outcome("archived")) == expected
    client = s3_client(s3_server)
    entries = sim_entries(sim)
    for entry_id in expected:
        assert client.head_object(Bucket=s3_bucket, Key=entry_id)["StorageClass"] == storage_class
        assert_proven_copy(s3_server, s3_bucket, entries[entry_id], sim.partner_id, served_sizes(sim))
    second = await run_s3copy(env, "--execute", "--all")
    assert second.code == 0, second.rows
    assert set(second.by_outcome("unchanged")) == expected
    assert not second.entry_events("s3.tags_unreadable")
