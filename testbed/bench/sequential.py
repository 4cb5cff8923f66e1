"""The old tool's s3copy algorithm, one entry at a time: the baseline of the s3copy benchmark (testbed only).

It follows `copy_to_s3` of the old Python 2 `kaltura_aws.py` step by step, with the official synchronous
`KalturaClient` and boto3 as the old tool used them (its code is not reused):

1. `session.start` once; then `media.list` pages (500 entries, `pageIndex` paging) of the selection (READY
   video entries: the old tool's default media type);
2. per entry: look up its flavors to find the original and check it is READY (the old tool did this through
   `flavorAsset.getFlavorAssetsWithParams`, which the simulator does not serve: `flavorAsset.getByEntryId`
   gives the same flavors in one call);
3. HEAD the key in S3 (an object there means "archived": nothing more);
4. skip an original over the size limit (10,000,000 KB);
5. look the flavors up a second time (the old `downloadOriginal` fetched the original again), get its URL
   with `flavorAsset.getUrl` and download it to a temporary file;
6. `upload_file` it to S3 (boto3's default transfer settings), add the tag with `media.update`, delete the
   file.

The one liberty taken: entries already tagged `archived_to_s3` are passed over, as the benchmark's
`--tag '!archived_to_s3'` does for our tool, so both work on the same entries.

`python -m testbed.bench.sequential --max-entries N [--tmp DIR]` reads the settings from the environment
(KALTURA_PARTNERID, KALTURA_SECRET, KALTURA_USERID, KALTURA_SERVICE_URL, AWS_BUCKET and the standard AWS
variables, `AWS_ENDPOINT_URL` included) and prints one JSON line: the counts, bytes and seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import boto3  # type: ignore[import-untyped]  # no stubs installed; only the client calls are used
from botocore.exceptions import ClientError
from KalturaClient import KalturaClient, KalturaConfiguration
from KalturaClient.Plugins.Core import (
    KalturaFilterPager,
    KalturaFlavorAssetStatus,
    KalturaMediaEntry,
    KalturaMediaEntryFilter,
    KalturaMediaType,
    KalturaSessionType,
)

ARCHIVED_TAG = "archived_to_s3"
SIZE_LIMIT_KB = 10_000_000
PAGE_SIZE = 500
DOWNLOAD_TIMEOUT_S = 600


@dataclass(frozen=True)
class SequentialConfig:
    """Where to read and write, and how many listed entries to work on (-1: all)."""

    service_url: str
    partner_id: int
    secret: str
    user_id: str
    bucket: str
    max_entries: int = -1
    statuses: str = "2"
    tmp_dir: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, max_entries: int, tmp_dir: str | None) -> SequentialConfig:
        return cls(
            service_url=env["KALTURA_SERVICE_URL"],
            partner_id=int(env["KALTURA_PARTNERID"]),
            secret=env["KALTURA_SECRET"],
            user_id=env["KALTURA_USERID"],
            bucket=env["AWS_BUCKET"],
            max_entries=max_entries,
            tmp_dir=tmp_dir,
        )


@dataclass
class SequentialResult:
    """What one run did: entries by outcome, bytes archived, and the archived entry ids in order."""

    archived: int = 0
    already: int = 0  # an object was in S3 already
    skipped: int = 0  # no original, original not READY, too big
    failed: int = 0
    bytes: int = 0
    seconds: float = 0.0
    archived_ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def kaltura_client(config: SequentialConfig) -> KalturaClient:
    """The official client with an admin KS from `session.start`, as the old tool opened it."""
    client = KalturaClient(KalturaConfiguration(config.service_url))
    ks = client.session.start(config.secret, config.user_id, KalturaSessionType.ADMIN, config.partner_id)
    client.setKs(ks)
    return client


def selected_entries(client: KalturaClient, config: SequentialConfig) -> Iterator[KalturaMediaEntry]:
    """The selection, oldest first, page by page; entries tagged `archived_to_s3` are passed over."""
    flt = KalturaMediaEntryFilter()
    flt.statusIn = config.statuses
    flt.mediaTypeEqual = KalturaMediaType.VIDEO  # the old tool's default --media_type
    flt.orderBy = "+createdAt"
    pager = KalturaFilterPager()
    pager.pageSize, pager.pageIndex = PAGE_SIZE, 1
    seen = 0
    while True:
        page = client.media.list(flt, pager)
        for entry in page.objects:
            if ARCHIVED_TAG in _tags(entry):
                continue
            if 0 <= config.max_entries <= seen:
                return
            seen += 1
            yield entry
        if len(page.objects) < PAGE_SIZE:
            return
        pager.pageIndex += 1


def _tags(entry: KalturaMediaEntry) -> list[str]:
    return [t.strip() for t in (entry.getTags() or "").split(",") if t.strip()]


def _original(client: KalturaClient, entry_id: str) -> Any:
    for flavor in client.flavorAsset.getByEntryId(entry_id):
        if flavor.getIsOriginal():
            return flavor
    return None


def _in_s3(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    return True


def _download(url: str, path: str) -> int:
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp, open(path, "wb") as out:
        shutil.copyfileobj(resp, out, 1 << 20)
        return out.tell()


def copy_one(
    client: KalturaClient, s3: Any, config: SequentialConfig, entry: Any, tmp: str
) -> tuple[str, int]:
    """The old per-entry steps for `entry`: ("archived", bytes), ("already", 0) or ("skipped", 0)."""
    entry_id = entry.getId()
    original = _original(client, entry_id)
    if original is None or original.getStatus().getValue() != KalturaFlavorAssetStatus.READY:
        return "skipped", 0
    if _in_s3(s3, config.bucket, entry_id):
        return "already", 0
    if original.getSize() > SIZE_LIMIT_KB:
        return "skipped", 0
    original = _original(client, entry_id)  # downloadOriginal looked it up again
    url = client.flavorAsset.getUrl(original.getId())
    path = os.path.join(tmp, f"{entry_id}.mp4")
    try:
        size = _download(url, path)
        s3.upload_file(path, config.bucket, entry_id)
    finally:
        if os.path.exists(path):
            os.remove(path)
    update = KalturaMediaEntry()
    update.tags = (entry.getTags() or "") + ", " + ARCHIVED_TAG
    client.media.update(entry_id, update)
    return "archived", size


def run_sequential(config: SequentialConfig, s3: Any) -> SequentialResult:
    """Work through the selection one entry at a time; one entry's failure does not stop the run."""
    result = SequentialResult()
    started = time.perf_counter()
    client = kaltura_client(config)
    with tempfile.TemporaryDirectory(dir=config.tmp_dir, prefix="bench-seq-") as tmp:
        for entry in selected_entries(client, config):
            try:
                outcome, size = copy_one(client, s3, config, entry, tmp)
            except Exception as exc:  # counted and reported, as the old tool logged and went on
                result.failed += 1
                result.errors.append(f"{entry.getId()}: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            if outcome == "archived":
                result.archived += 1
                result.bytes += size
                result.archived_ids.append(entry.getId())
            elif outcome == "already":
                result.already += 1
            else:
                result.skipped += 1
    result.seconds = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.bench.sequential", description=__doc__)
    parser.add_argument("--max-entries", type=int, default=-1, help="listed entries to work on (-1: all)")
    parser.add_argument("--tmp", default=None, help="directory for the temporary files")
    args = parser.parse_args(argv)
    config = SequentialConfig.from_env(os.environ, max_entries=args.max_entries, tmp_dir=args.tmp)
    s3 = boto3.client("s3")  # endpoint, keys and region from the standard AWS environment
    result = run_sequential(config, s3)
    document = asdict(result)
    document["archived_ids"] = len(result.archived_ids)  # the count is enough on the command line
    print(json.dumps(document))
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
