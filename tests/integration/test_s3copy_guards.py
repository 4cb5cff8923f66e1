"""s3copy's guards against a world that moves or holds state (docs/lifecycle.md, safety rules 1, 3 and 4).

- The finalizer re-reads the entry just before tagging: an original replaced (`media.updateContent`) while
  its copy was streaming is a conflict, never tagged, and the copy already in S3 is left where it is.
- An upload aborted under a transfer (another run's sweep of stale uploads) is sent again as a new upload,
  within the transfer's budget; then the entry fails with the reason, with no object and no upload left.
- The sweep of stale uploads aborts only the upload ids listed at the run's start, never one begun since.
- A dry run facing existing state (an open multipart upload, a proven copy without its tag, a copy that lost
  its proof record) plans the right action for each and writes nothing to S3 or Kaltura.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from aiohttp import web

from adapters.kaltura import MediaEntry
from adapters.s3 import S3Store, StoreConfig
from adapters.s3.wire import parse_head, parse_tags
from jobs.common.archive import TRANSFER_POLICY
from jobs.common.gate import Gate
from testbed.kaltura_sim import SimProcess
from testbed.kaltura_sim.content import generated_body
from testbed.s3 import S3Server
from testbed.s3_faults import S3FaultProxy, operation_of
from tests.integration.s3copy_harness import (
    archivable,
    objects,
    open_uploads,
    original,
    point_aws_at,
    run_s3copy,
    s3_client,
    sim_entries,
    sim_env,
)
from tests.integration.simapi import update_content

ARCHIVED_TAG = "archived_to_s3"
# every S3 request that writes, deletes or starts something
S3_WRITES = frozenset(
    {
        "PutObject",
        "CopyObject",
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPartCopy",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
        "PutObjectTagging",
        "DeleteObjectTagging",
        "DeleteObject",
        "DeleteObjects",
        "RestoreObject",
    }
)
UPLOADS = frozenset({"PutObject", "UploadPart"})


class UploadHookProxy(S3FaultProxy):
    """The S3 fault proxy, holding the first upload request (a part or a single PUT) of one key until
    `hook` has run: whatever `hook` does happens while that object's transfer is in progress, strictly
    before its upload can complete (no guess of timing)."""

    def __init__(self, upstream: str, *, bucket: str, key: str, hook: Callable[[], Awaitable[None]]) -> None:
        super().__init__(upstream)
        self.path = f"/{bucket}/{key}"
        self.hook = hook
        self.fired = False

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        operation = operation_of(request.method, request.path, request.query, request.headers)
        if not self.fired and request.path == self.path and operation in UPLOADS:
            self.fired = True
            await self.hook()
        return await super()._handle(request)


async def test_an_original_replaced_during_its_transfer_is_a_conflict_and_never_tagged(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 12 MB originals: a multipart upload of 5 MiB parts; downloads at 48 Mbit/s (about 2 s per entry)
    sim = kaltura_sim_factory(entries=6, seed=3, size_mb=12)
    sim.control.set_faults({"conversion": {"delay_s": 0}, "download": {"mbps": 48}})
    victim = sorted(archivable(sim))[0]
    before = original(sim_entries(sim)[victim])
    assert before["sizeInBytes"] > 6 << 20
    seen: dict[str, Any] = {}

    async def replace_source() -> None:
        await update_content(sim, victim)  # media.updateContent; the swap is immediate (delay 0)
        (entry,) = [e for e in await sim.control.aget_entries() if e["id"] == victim]
        seen["source"] = original(entry)

    proxy = UploadHookProxy(s3_server.endpoint_url, bucket=s3_bucket, key=victim, hook=replace_source)
    async with proxy:
        point_aws_at(monkeypatch, proxy.endpoint_url)
        sim.control.reset_counters()
        run = await run_s3copy(sim_env(sim, s3_bucket), "--execute", "--id", victim)
        requests = proxy.counters()["requests"]

    # the source did change mid-transfer (before the object was complete): same flavor id, new version
    assert proxy.fired
    assert seen["source"]["id"] == before["id"]
    assert seen["source"]["version"] != before["version"]

    assert run.code == 1, run.stderr[-2000:]
    assert run.outcomes() == {victim: "conflict"}
    (row,) = run.rows
    assert "the original changed while it was archived" in row["reason"]
    assert f"v{before['version']}" in row["reason"]
    assert f"v{seen['source']['version']}" in row["reason"]
    assert [e["entry_id"] for e in run.entry_events("entry.conflict")] == [victim]
    assert run.entry_events("entry.archived") == []

    # not tagged: no tag write at all, and the entry carries no archived_to_s3
    assert "media.update" not in sim.control.counters()["calls"]
    assert ARCHIVED_TAG not in sim_entries(sim)[victim]["tags"]

    # the copy of the old original stays (we delete nothing), complete, holding exactly the old bytes
    assert not {"DeleteObject", "DeleteObjects", "AbortMultipartUpload"} & set(requests)
    assert set(objects(s3_server, s3_bucket)) == {victim}
    assert open_uploads(s3_server, s3_bucket) == []
    client = s3_client(s3_server)
    head = parse_head(
        victim,
        client.head_object(Bucket=s3_bucket, Key=victim, ChecksumMode="ENABLED"),
        parse_tags(client.get_object_tagging(Bucket=s3_bucket, Key=victim)),
    )
    assert head.metadata["ka-version"] == str(before["version"])
    assert head.size == before["sizeInBytes"]
    old_sha = generated_body(victim, before["id"], str(before["version"]), before["sizeInBytes"]).sha256()
    assert head.tags is not None
    assert head.tags["ka-sha256"] == old_sha


def s3_state(server: S3Server, bucket: str) -> dict[str, Any]:
    """Everything about `bucket` a write could change: each object's ETag, size, metadata, storage class
    and tag set; each open multipart upload and its parts."""
    client = s3_client(server)
    state: dict[str, Any] = {"objects": {}, "uploads": {}}
    for key in objects(server, bucket):
        head = client.head_object(Bucket=bucket, Key=key)
        tags = client.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        state["objects"][key] = {
            "etag": head["ETag"],
            "size": head["ContentLength"],
            "modified": head["LastModified"],
            "metadata": head.get("Metadata", {}),
            "class": head.get("StorageClass"),
            "tags": sorted((t["Key"], t["Value"]) for t in tags),
        }
    for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        parts = client.list_parts(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        state["uploads"][(upload["Key"], upload["UploadId"])] = [
            (p["PartNumber"], p["ETag"], p["Size"]) for p in parts.get("Parts", [])
        ]
    return state


def kaltura_state(sim: SimProcess) -> dict[str, Any]:
    """Each entry's tags, status and flavors (ids, versions, sizes)."""
    return {
        e["id"]: {"tags": sorted(e["tags"]), "status": e["status"], "flavors": e["flavors"]}
        for e in sim.control.get_entries()
    }


async def test_a_dry_run_facing_existing_state_plans_each_case_and_writes_nothing(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 6 MB originals: multipart uploads (5 MiB parts), whose proof record lives in the object's tags
    sim = kaltura_sim_factory(entries=8, seed=12, size_mb=6)
    opened, untagged, unrecorded = sorted(archivable(sim))[:3]
    env = sim_env(sim, s3_bucket)

    # (b), (c): proven copies made by a real run
    point_aws_at(monkeypatch, s3_server.endpoint_url)
    first = await run_s3copy(env, "--execute", "--id", untagged, "--id", unrecorded)
    assert first.code == 0, first.stderr[-2000:]
    assert first.outcomes() == {untagged: "archived", unrecorded: "archived"}
    # (b): the Kaltura tag removed, so the plan is to add it (tag only)
    tags = sim_entries(sim)[untagged]["tags"]
    assert ARCHIVED_TAG in tags
    sim.control.patch_entry(untagged, tags=", ".join(t for t in tags if t != ARCHIVED_TAG))
    # (c): the proof record (the object's tags holding the SHA-256) deleted, so the plan is to re-prove
    client = s3_client(s3_server)
    client.delete_object_tagging(Bucket=s3_bucket, Key=unrecorded)
    # (a): an open multipart upload under the key of an entry not archived yet (a killed run's leftover)
    upload = client.create_multipart_upload(Bucket=s3_bucket, Key=opened)
    client.upload_part(
        Bucket=s3_bucket, Key=opened, UploadId=upload["UploadId"], PartNumber=1, Body=b"k" * 4096
    )

    s3_before = s3_state(s3_server, s3_bucket)
    kaltura_before = kaltura_state(sim)
    assert list(s3_before["uploads"]) == [(opened, upload["UploadId"])]
    assert s3_before["objects"][unrecorded]["tags"] == []
    assert ARCHIVED_TAG not in kaltura_before[untagged]["tags"]
    assert ARCHIVED_TAG in kaltura_before[unrecorded]["tags"]

    sim.control.reset_counters()
    async with S3FaultProxy(s3_server.endpoint_url) as proxy:
        point_aws_at(monkeypatch, proxy.endpoint_url)
        run = await run_s3copy(env)  # no --execute: a dry run over the whole default selection
        requests = proxy.counters()["requests"]

    assert run.code == 0, run.stderr[-2000:]
    rows = {row["entry_id"]: row for row in run.rows}
    assert (rows[opened]["action"], rows[opened]["outcome"]) == ("archive", "planned")
    assert (rows[untagged]["action"], rows[untagged]["outcome"]) == ("tag", "planned")
    assert (rows[unrecorded]["action"], rows[unrecorded]["outcome"]) == ("reprove", "planned")
    assert "proven copy without the tag" in rows[untagged]["reason"]
    assert "re-proving it from the source" in rows[unrecorded]["reason"]
    assert set(run.outcomes().values()) <= {"planned", "skipped"}
    # the open upload would be aborted by a real run: planned, and only planned
    stale = [e for e in run.entry_events("entry.planned") if e.get("operation") == "abort_stale_uploads"]
    assert [e["entry_id"] for e in stale] == [opened]
    assert run.entry_events("entry.stale_upload_aborted") == []
    assert all(e["dry_run"] is True for e in run.entry_events("entry.planned"))
    assert run.finished["dry_run"] is True

    # nothing written: not one S3 write request, the same S3 and Kaltura state
    assert requests.get("HeadObject", 0) > 0  # the run's S3 requests did go through the proxy
    assert requests.get("ListMultipartUploads", 0) > 0
    assert S3_WRITES.isdisjoint(requests), requests
    assert s3_state(s3_server, s3_bucket) == s3_before
    assert open_uploads(s3_server, s3_bucket) == [opened]
    assert kaltura_state(sim) == kaltura_before
    calls = sim.control.counters()["calls"]
    kaltura_writes = {"media.update", "media.updatecontent", "flavorasset.delete"}
    assert not {*kaltura_writes, "flavorasset.geturl"} & set(calls)


class AbortingProxy(S3FaultProxy):
    """The S3 fault proxy, aborting each multipart upload (on moto, as another run's sweep would) just before
    its first part goes through: every part then meets S3's NoSuchUpload."""

    def __init__(self, upstream: str, *, moto: Any) -> None:
        super().__init__(upstream)
        self.moto = moto
        self.aborted: list[str] = []

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        operation = operation_of(request.method, request.path, request.query, request.headers)
        upload_id = request.query.get("uploadId", "")
        if operation == "UploadPart" and upload_id not in self.aborted:
            bucket, key = request.path.lstrip("/").split("/", 1)
            abort = self.moto.abort_multipart_upload
            await asyncio.to_thread(abort, Bucket=bucket, Key=key, UploadId=upload_id)
            self.aborted.append(upload_id)
        return await super()._handle(request)


async def test_an_upload_aborted_under_every_attempt_fails_the_entry_with_nothing_left_behind(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = kaltura_sim_factory(entries=6, seed=3, size_mb=12)  # 3 parts of 5 MiB
    victim = sorted(archivable(sim))[0]
    async with AbortingProxy(s3_server.endpoint_url, moto=s3_client(s3_server)) as proxy:
        point_aws_at(monkeypatch, proxy.endpoint_url)
        run = await run_s3copy(sim_env(sim, s3_bucket), "--execute", "--id", victim)
        requests = proxy.counters()["requests"]

    # each attempt made a new upload, found it aborted, and the transfer tried again, up to its budget
    attempts = TRANSFER_POLICY.attempts
    assert len(run.entry_events("transfer.sending_again")) == attempts - 1
    assert requests["CreateMultipartUpload"] == attempts
    assert len(set(proxy.aborted)) == attempts
    assert run.code == 1
    assert run.outcomes() == {victim: "failed"}
    assert "NoSuchUpload" in run.rows[0]["reason"]
    assert "CompleteMultipartUpload" not in requests
    assert objects(s3_server, s3_bucket) == {}
    assert open_uploads(s3_server, s3_bucket) == []
    assert ARCHIVED_TAG not in sim_entries(sim)[victim]["tags"]


class NoTags:
    """A Kaltura side the test never reaches (the gate's tag writer)."""

    async def write_tags(self, entry_id: str, tags: Sequence[str]) -> MediaEntry:
        raise AssertionError("no tag write expected")


@pytest.mark.usefixtures("aws_env")
async def test_a_sweep_given_upload_ids_leaves_an_upload_begun_since_open(s3_bucket: str) -> None:
    async with S3Store(StoreConfig(bucket=s3_bucket)) as store:
        gate = Gate(dry_run=False, store=store, kaltura=NoTags())
        left = await store.create_upload("0_abc", {})  # a killed run's
        seen = {u.upload_id async for u in store.open_uploads()}
        begun = await store.create_upload("0_abc", {})  # another run's, begun after the listing
        assert await gate.abort_stale_uploads("0_abc", seen) == 1
        assert [u.upload_id async for u in store.open_uploads("0_abc")] == [begun]
        assert left in seen
        assert await gate.abort_stale_uploads("0_abc", seen) == 0  # gone already: nothing to do
