"""restore_from_s3 against the simulator and moto's S3 with the testbed's restore model: a dry run writes
nothing; objects in STANDARD come back byte for byte; GLACIER and DEEP_ARCHIVE get one restore request and a
`waiting` row, then come back once the testbed completes the restore; a restored entry is archived for
s3copy, health and a later replace_video; an object whose bytes differ from its record never goes back."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest

from engine.pipeline import Finish
from jobs import health, s3copy
from jobs.common.candidates import Candidate
from jobs.common.stages import Work
from testbed.kaltura_sim.content import generated_body
from testbed.s3 import S3Server
from tests.fixtures.waits import until
from tests.integration.replace_harness import (
    archive_all,
    mutating_calls,
    replace_all,
    replace_env,
    restore_stages_for,
    run_replace,
    run_restore,
    sources,
)
from tests.integration.s3copy_harness import objects, point_aws_at, run_job, s3_client
from tests.integration.simapi import client_for, update_content


@pytest.fixture
def aws(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    point_aws_at(monkeypatch, s3_server.endpoint_url)


async def served(sim: Any, flavor_id: str) -> str:
    """SHA-256 of what Kaltura serves for `flavor_id` now."""
    digest = hashlib.sha256()
    async with client_for(sim) as client:
        async for chunk in client.download(await client.flavor_url(flavor_id)):
            digest.update(chunk)
    return digest.hexdigest()


async def test_dry_run_writes_nothing_then_originals_come_back_byte_for_byte_and_count_as_archived(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path, aws: None
) -> None:
    sim = kaltura_sim_factory(entries=30, seed=51, max_size_mb=0.3)
    env = replace_env(sim, s3_bucket, tmp_path)
    archived_sources = {e: s for e, s in sources(sim).items()}
    await archive_all(env)
    replaced = await replace_all(env)
    stored = objects(s3_server, s3_bucket)
    sim.control.reset_counters()

    plan = await run_restore(env, "--all")
    assert plan.code == 0, plan.stderr[-3000:]
    assert plan.by_outcome("planned") == replaced
    assert mutating_calls(sim) == {}
    assert s3_server.restore_answers() == []

    run = await run_restore(env, "--execute", "--all")
    assert run.code == 0, run.stderr[-3000:]
    assert run.by_outcome("restored") == replaced
    now = sources(sim)
    entries = {e["id"]: e for e in sim.control.get_entries()}
    for entry_id in replaced:
        original = archived_sources[entry_id]
        assert now[entry_id]["id"] == original["id"]
        assert int(now[entry_id]["version"]) == int(original["version"]) + 2  # replaced, then restored
        body = generated_body(entry_id, original["id"], str(original["version"]), original["sizeInBytes"])
        assert await served(sim, original["id"]) == body.sha256()
        assert "flavors_deleted" not in entries[entry_id]["tags"]
        assert "archived_to_s3" in entries[entry_id]["tags"]
        tags = s3_client(s3_server).get_object_tagging(Bucket=s3_bucket, Key=entry_id)["TagSet"]
        assert {"Key": "ka-restored-version", "Value": str(now[entry_id]["version"])} in tags
    assert {k: v["etag"] for k, v in objects(s3_server, s3_bucket).items()} == {
        k: v["etag"] for k, v in stored.items()
    }  # the objects' bytes are untouched (only a tag was added)

    # a restored entry is archived for every command
    again = await run_restore(env, "--execute", "--all")
    assert again.by_outcome("unchanged") == replaced
    copy = await run_job(s3copy, env, "--execute", "--all")
    assert set(replaced) <= set(copy.by_outcome("unchanged"))
    verdicts = await run_job(health, env, "--id", replaced[0], "--id", replaced[-1])
    assert {row["verdict"] for row in verdicts.rows} == {"HEALTHY"}
    twice = await run_replace(env, "--execute", "--id", replaced[0])
    assert twice.by_outcome("replaced") == [replaced[0]]
    back = await run_restore(env, "--execute", "--id", replaced[0])
    assert back.by_outcome("restored") == [replaced[0]]


async def test_glacier_objects_get_one_restore_request_then_come_back_once_restored(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path, aws: None
) -> None:
    sim = kaltura_sim_factory(entries=30, seed=52, max_size_mb=0.3)
    env = replace_env(sim, s3_bucket, tmp_path, ARCHIVER_RESTORE_TIER="Expedited")
    await archive_all(env)
    replaced = await replace_all(env)
    glacier, deep = replaced[:4], replaced[4:7]
    for key in glacier:
        s3_server.transition(s3_bucket, key, "GLACIER")
    for key in deep:
        s3_server.transition(s3_bucket, key, "DEEP_ARCHIVE")
    s3_server.refuse_expedited(1)  # no Expedited capacity for the first request: it goes as Standard

    first = await run_restore(env, "--execute", "--all")
    assert first.code == 0, first.stderr[-3000:]
    assert first.by_outcome("waiting") == sorted(glacier + deep)
    assert first.finished["counts"]["restored"] == len(replaced) - 7
    answers = s3_server.restore_answers()
    sent = {(a["key"], a["tier"]) for a in answers if a["status"] == 202}
    assert {key for key, _ in sent} == set(glacier + deep)
    assert all(tier == "Standard" for key, tier in sent if key in deep)  # never Expedited for Deep Archive
    assert any(a["code"] == "GlacierExpeditedRetrievalNotAvailable" for a in answers)

    again = await run_restore(env, "--execute", "--all")  # still restoring: no second request
    assert again.by_outcome("waiting") == sorted(glacier + deep)
    assert len([a for a in s3_server.restore_answers() if a["status"] == 202]) == len(sent)

    for key in glacier + deep:
        s3_server.complete_restore(s3_bucket, key)
    last = await run_restore(env, "--execute", "--all")
    assert last.code == 0, last.stderr[-3000:]
    assert last.by_outcome("restored") == sorted(glacier + deep)
    lines = [line for line in last.stderr.splitlines() if "WAIT_GLACIER" in line]
    assert lines == []  # counters are in the TSV summary only


async def test_an_object_whose_bytes_differ_from_its_record_never_goes_back(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path, aws: None
) -> None:
    """Replaced by hand with other bytes of the same size: refused when S3's checksum gives it away, failed
    by the streamed SHA-256 when someone also rewrote the checksum tag; the placeholder stays either way."""
    sim = kaltura_sim_factory(entries=20, seed=53, max_size_mb=0.3)
    env = replace_env(sim, s3_bucket, tmp_path)
    await archive_all(env)
    replaced = await replace_all(env)
    client = s3_client(s3_server)
    crude, careful = replaced[0], replaced[1]
    for key in (crude, careful):
        head = client.head_object(Bucket=s3_bucket, Key=key)
        tags = client.get_object_tagging(Bucket=s3_bucket, Key=key)["TagSet"]
        other, metadata = bytes(head["ContentLength"]), dict(head["Metadata"])  # same size, other bytes
        put = client.put_object(
            Bucket=s3_bucket, Key=key, Body=other, Metadata=metadata, ChecksumAlgorithm="SHA256"
        )
        if key == careful:  # its checksum record made to agree with the new bytes; the SHA-256 left as it was
            agreeing = f"sha256:{put['ChecksumSHA256']}"
            tags = [{**t, "Value": agreeing} if t["Key"] == "ka-checksum" else t for t in tags]
            if "ka-checksum" in metadata:
                metadata["ka-checksum"] = agreeing
            client.put_object(
                Bucket=s3_bucket, Key=key, Body=other, Metadata=metadata, ChecksumAlgorithm="SHA256"
            )
        if tags:
            client.put_object_tagging(Bucket=s3_bucket, Key=key, Tagging={"TagSet": tags})
    before = sources(sim)
    run = await run_restore(env, "--execute", "--id", crude, "--id", careful)
    outcomes = {row["entry_id"]: row for row in run.rows}
    assert outcomes[crude]["outcome"] == "refused"
    assert "does not match its record" in outcomes[crude]["reason"]
    assert outcomes[careful]["outcome"] == "failed", outcomes[careful]
    assert "differ from its record" in outcomes[careful]["reason"]
    assert sources(sim)[crude] == before[crude]
    assert sources(sim)[careful] == before[careful]  # still the placeholder: nothing went to Kaltura
    assert sim.control.counters()["calls"].get("media.updatecontent", 0) == len(replaced)  # replace's only


async def test_a_users_upload_while_the_original_streams_back_is_never_overwritten(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path, aws: None
) -> None:
    """The entry is looked at again once the token holds the original, immediately before updateContent: a
    user's new content that arrived while the bytes streamed is left alone, no updateContent is sent."""
    sim = kaltura_sim_factory(entries=12, seed=54, max_size_mb=0.3)
    env = replace_env(sim, s3_bucket, tmp_path)
    await archive_all(env)
    victim = (await replace_all(env))[0]
    sim.control.reset_counters()
    sim.control.set_faults({"actions": {"uploadtoken.upload": {"hold": {"next": 1}}}})
    async with restore_stages_for(sim, s3_bucket, env) as run:
        fresh = await run.client.reread(victim)
        work = await run.stages.check(Candidate(fresh.entry, fresh.flavors))
        assert isinstance(work, Work), work
        ours = asyncio.ensure_future(run.stages.act(work))
        await until(lambda: ours.done() or sim.control.set_faults({})["held"] == 1, "our first chunk held")
        assert not ours.done(), ours.result()
        await update_content(sim, victim)  # the user's new video, converted at once
        users = sources(sim)[victim]
        sim.control.set_faults({"release": True})
        result = await ours
    assert isinstance(result, Finish), result
    assert result.value.outcome == "refused", result.value
    assert "changed" in result.value.reason
    assert sources(sim)[victim] == users  # the user's content, not the archived original
    assert sim.control.counters()["calls"]["media.updatecontent"] == 1  # the user's only


async def test_a_large_original_comes_back_in_parallel_chunks_byte_for_byte(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path, aws: None
) -> None:
    """12 MB originals in 5 MiB chunks: the first alone, the middle ones in parallel, the last one held
    until the proof and sent as the final one (no empty chunk); Kaltura serves the original's bytes."""
    sim = kaltura_sim_factory(entries=6, seed=54, size_mb=12, max_size_mb=13)
    env = replace_env(sim, s3_bucket, tmp_path, ARCHIVER_TRANSFERS="2", ARCHIVER_MEMORY_BUDGET="20MiB")
    originals = dict(sources(sim))
    await archive_all(env)
    replaced = await replace_all(env)
    sim.control.reset_counters()
    run = await run_restore(env, "--execute", "--all")
    assert run.code == 0, run.stderr[-3000:]
    assert run.by_outcome("restored") == replaced
    for entry_id in replaced:
        old = originals[entry_id]
        truth = generated_body(entry_id, old["id"], str(old["version"]), old["sizeInBytes"]).sha256()
        assert await served(sim, old["id"]) == truth
    chunks = -(-max(originals[e]["sizeInBytes"] for e in replaced) // (5 << 20))
    assert chunks >= 3
    assert sim.control.counters()["calls"]["uploadtoken.upload"] == sum(
        -(-originals[e]["sizeInBytes"] // (5 << 20)) for e in replaced
    )


@pytest.mark.parametrize(
    ("part", "budget", "chunks"),
    [("5MiB", "16MiB", 3), ("16MiB", "32MiB", 1)],
    ids=["three-chunks", "one-chunk"],
)
async def test_with_one_chunk_in_flight_the_held_last_chunk_still_goes_up_as_the_final_one(
    kaltura_sim_factory: Any,
    s3_server: S3Server,
    s3_bucket: str,
    tmp_path: Path,
    aws: None,
    part: str,
    budget: str,
    chunks: int,
) -> None:
    """A memory budget that holds one chunk per entry: the last chunk keeps its slot until the proof, and
    nothing waits for a second slot (an original in one chunk goes up in one upload)."""
    sim = kaltura_sim_factory(entries=4, seed=55, size_mb=12, max_size_mb=13)
    env = replace_env(sim, s3_bucket, tmp_path, ARCHIVER_TRANSFERS="2", ARCHIVER_PART_SIZE=part,
                      ARCHIVER_MEMORY_BUDGET=budget)  # fmt: skip
    originals = dict(sources(sim))
    await archive_all(env)
    replaced = await replace_all(env)
    sim.control.reset_counters()
    run = await run_restore(env, "--execute", "--all")
    assert run.code == 0, run.stderr[-3000:]
    assert run.by_outcome("restored") == replaced
    for entry_id in replaced:
        old = originals[entry_id]
        truth = generated_body(entry_id, old["id"], str(old["version"]), old["sizeInBytes"]).sha256()
        assert await served(sim, old["id"]) == truth
    assert sim.control.counters()["calls"]["uploadtoken.upload"] == chunks * len(replaced)
