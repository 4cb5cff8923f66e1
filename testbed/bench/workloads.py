"""The s3copy benchmark's workloads, the catalogs that give them, and which entries each run works on.

A workload is a number of entries of one size behind given simulator latencies. Its catalog is found by
generating candidate catalogs (`testbed.catalog.generate`, the simulator's own generator) until the
benchmark's selection, READY video entries not tagged `archived_to_s3` (`--status 2 --tag
'!archived_to_s3'`; video is the job's default media type, as it was the old tool's), holds exactly the
wanted number of entries the job will archive:

- small workloads (under `EDGE_MIN_N` entries, so without the catalog's edge cases) get a catalog where
  every selected entry has a READY original: exactly N entries of the size;
- larger ones keep the catalog's edge cases (no original, original not READY, too big: skipped by the job;
  legacy-tagged: outside the selection): the benchmark counts archived and skipped.

The selection is computed from the generated catalog (`catalog_snapshot`), which is what the simulator
serves when it starts; `/__sim/entries` has no media type. On a running simulator, `flavor_urls` gets the
entries' download URLs (for the anchors) and `restore_tags` undoes what a run tagged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Final

from KalturaClient import KalturaClient, KalturaConfiguration
from KalturaClient.Plugins.Core import KalturaSessionType

from testbed.catalog import EDGE_MIN_N, MEDIA_VIDEO, TOO_BIG_KB, CatalogEntry, generate
from testbed.kaltura_sim import SimProcess

ARCHIVED_TAG: Final = "archived_to_s3"
REPLACED_TAG: Final = "flavors_deleted"
READY: Final = "2"
FLAVOR_READY: Final = 2
GIB: Final = 1 << 30
SEED_SEARCH: Final = 5000


@dataclass(frozen=True)
class Workload:
    """What one workload is; `baseline_entries`/`anchor_entries` None means all of its entries."""

    name: str
    title: str
    entries: int
    size_mb: float  # decimal MB, as the simulator's --size-mb
    api_latency_ms: float = 0.0
    first_byte_ms: float = 0.0
    download_mbps: float = 0.0  # megabits/s per stream (0: uncapped)
    baseline_entries: int | None = None
    anchor_entries: int | None = None
    variants: tuple[str, ...] = ()  # diagnostic runs of our CLI: "NAME=VALUE ..." settings each
    rclone_multipart: bool = False  # also run rclone in multipart with our part size (like for like)
    rounds: int = 1  # rounds of the concurrent runs, interleaved (the machine is shared: noise)
    sequential_rounds: int = 1  # rounds (of the first `rounds`) that also run the sequential algorithm
    anchor_sequential_entries: int | None = None  # entries for the one-at-a-time anchor runs (None: all)
    # where the runs upload: "moto" (testbed.s3) or "sink" (testbed.s3_sink: checks and discards the bytes,
    # so the figures show the uploaders and not moto, which absorbs 60-140 MB/s)
    store: str = "moto"
    curl_ceiling: bool = False  # also a "curl" row: the same files downloaded in parallel to /dev/null


WORKLOADS: Final = {
    "W1": Workload(
        "W1",
        "latency-bound: 500 x 1 MB, 50 ms API and first-byte latency",
        500,
        1.0,
        api_latency_ms=50,
        first_byte_ms=50,
        baseline_entries=100,
        anchor_entries=40,  # aws-cli starts at ~0.7 CPU s a process: 100 would take minutes
        variants=("ARCHIVER_KALTURA_RPS=1000", "ARCHIVER_TRANSFERS=32"),
        # the CPU this machine lends varies by a third from minute to minute: both sides, best of five
        rounds=5,
        sequential_rounds=5,
    ),
    "W2": Workload(
        "W2",
        "bandwidth-bound: 16 x 100 MB, downloads capped at 25 MB/s per stream",
        16,
        100.0,
        download_mbps=200,
        rclone_multipart=True,
        # a round's wall time swings by a quarter for every tool (moto and the downloads share two cores):
        # five rounds a side give the best rounds that decide and medians to read them by
        rounds=5,
        anchor_sequential_entries=4,  # one stream at 25 MB/s: 4 entries show the rate in 16 s, not 64
    ),
    "W3": Workload("W3", "memory: 1 x 1 GiB", 1, GIB / 1e6),
    # W2's shape on the sink: 16 streams at 25 MB/s, so the source gives at most 400 MB/s in all
    "W2S": Workload(
        "W2S",
        "bandwidth-bound on the sink: 16 x 100 MB, downloads capped at 25 MB/s per stream",
        16,
        100.0,
        download_mbps=200,
        rclone_multipart=True,
        rounds=5,
        sequential_rounds=0,  # the old algorithm's figures are W2's: on the sink it would only repeat them
        anchor_sequential_entries=4,
        store="sink",
    ),
    # the uploaders' ceiling: no cap on the downloads, the sink absorbs what comes; curl's download-only
    # row is the loopback ceiling nothing that downloads and uploads can beat
    "W4": Workload(
        "W4",
        "throughput on the sink: 4 x 1 GiB, downloads uncapped (loopback)",
        4,
        GIB / 1e6,
        rclone_multipart=True,
        rounds=5,
        sequential_rounds=0,
        anchor_sequential_entries=1,
        store="sink",
        curl_ceiling=True,
    ),
    "W3S": Workload(
        "W3S",
        "memory on the sink: 1 x 1 GiB",
        1,
        GIB / 1e6,
        sequential_rounds=0,
        store="sink",
    ),
}

# --quick: the same shapes, a fraction of the bytes and entries (a smoke run of about a minute)
QUICK: Final = {
    "W1": replace(
        WORKLOADS["W1"],
        entries=60,
        baseline_entries=15,
        anchor_entries=8,
        variants=(),
        rounds=1,
        sequential_rounds=1,
        title="latency-bound (quick): 60 x 1 MB, 50 ms API and first-byte latency",
    ),
    "W2": replace(
        WORKLOADS["W2"],
        entries=4,
        size_mb=25.0,
        rounds=1,
        anchor_sequential_entries=2,
        title="bandwidth-bound (quick): 4 x 25 MB at 25 MB/s",
    ),
    "W3": replace(
        WORKLOADS["W3"], size_mb=(GIB // 4) / 1e6, variants=(), title="memory (quick): 1 x 256 MiB"
    ),
    "W2S": replace(
        WORKLOADS["W2S"],
        entries=4,
        size_mb=25.0,
        rounds=1,
        anchor_sequential_entries=2,
        title="bandwidth-bound on the sink (quick): 4 x 25 MB at 25 MB/s",
    ),
    "W4": replace(
        WORKLOADS["W4"],
        entries=2,
        size_mb=(GIB // 8) / 1e6,
        rounds=1,
        title="throughput on the sink (quick): 2 x 128 MiB, downloads uncapped",
    ),
    "W3S": replace(
        WORKLOADS["W3S"],
        size_mb=(GIB // 4) / 1e6,
        variants=(),
        title="memory on the sink (quick): 1 x 256 MiB",
    ),
}


def selected(entries: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The benchmark's selection from a `catalog_snapshot` (already in createdAt order)."""
    return [
        e
        for e in entries
        if e["status"] == READY and e["mediaType"] == MEDIA_VIDEO and ARCHIVED_TAG not in e["tags"]
    ]


def original(entry: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return next((f for f in entry["flavors"] if f["isOriginal"]), None)


def archivable(entry: Mapping[str, Any]) -> bool:
    """Whether s3copy archives this selected entry: a READY original within the size limit.

    (An original whose `sizeInBytes` is 0 is archived too: the job learns its size from the download.)
    """
    source = original(entry)
    return (
        REPLACED_TAG not in entry["tags"]
        and source is not None
        and source["status"] == FLAVOR_READY
        and source["size"] <= TOO_BIG_KB
    )


def first_archivable(selection: Sequence[Mapping[str, Any]], count: int | None) -> tuple[int, list[str]]:
    """How many leading selected entries hold the first `count` archivable ones (None: all), and their ids."""
    ids: list[str] = []
    for position, entry in enumerate(selection, start=1):
        if archivable(entry):
            ids.append(entry["id"])
            if count is not None and len(ids) == count:
                return position, ids
    return len(selection), ids


def catalog_snapshot(n: int, seed: int, size_mb: float) -> list[dict[str, Any]]:
    """The entries of the simulator's catalog for (n, seed, size_mb), as `/__sim/entries` gives them plus
    `mediaType`, in createdAt order."""
    return [_snapshot_of(e) for e in generate(n, seed, size_mb=size_mb).entries]


def _snapshot_of(entry: CatalogEntry) -> dict[str, Any]:
    """The fields `selected` and `archivable` read, named as `/__sim/entries` names them."""
    return {
        "id": entry.id,
        "status": entry.status,
        "tags": [t.strip() for t in entry.tags.split(",") if t.strip()],
        "mediaType": entry.media_type,
        "flavors": [
            {
                "id": f.id,
                "isOriginal": f.is_original,
                "status": f.status,
                "size": f.size_kb,
                "sizeInBytes": f.size_in_bytes,
            }
            for f in entry.flavors
        ],
    }


def find_catalog(workload: Workload) -> tuple[int, int]:
    """(entries, seed) of a catalog whose selection holds exactly `workload.entries` archivable entries."""
    want = workload.entries
    if want < EDGE_MIN_N:
        for seed in range(1, SEED_SEARCH):
            for n in range(want, want + 4):
                if n >= EDGE_MIN_N:
                    break
                chosen = selected(catalog_snapshot(n, seed, workload.size_mb))
                if len(chosen) == want and all(archivable(e) for e in chosen):
                    return n, seed
    else:
        for seed in range(1, 50):
            for n in range(want, want + want // 4 + 40):
                snap = catalog_snapshot(n, seed, workload.size_mb)
                if sum(1 for e in selected(snap) if archivable(e)) == want:
                    return n, seed
    raise LookupError(f"no catalog gives {want} archivable entries for {workload.name}")


def restore_tags(sim: SimProcess, tags: Mapping[str, list[str]]) -> None:
    """Put every selected entry's tags back as they were before a run (a run tags what it archives)."""
    now = {e["id"]: e["tags"] for e in sim.control.get_entries()}
    changed = [(i, t) for i, t in tags.items() if now.get(i) != t]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda item: sim.control.patch_entry(item[0], tags=item[1]), changed))


def flavor_urls(sim: SimProcess, entries: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(entry id, download URL of its original) for each entry, from `flavorAsset.getUrl` (not timed)."""
    ks = KalturaClient.generateSessionV2(
        sim.admin_secret, sim.user_id, KalturaSessionType.ADMIN, sim.partner_id, 86400
    )

    def url_of(entry: Mapping[str, Any]) -> tuple[str, str]:
        client = KalturaClient(KalturaConfiguration(sim.service_url))  # one per call: it is not thread-safe
        client.setKs(ks)
        source = original(entry)
        assert source is not None
        return entry["id"], str(client.flavorAsset.getUrl(source["id"]))

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(url_of, entries))
