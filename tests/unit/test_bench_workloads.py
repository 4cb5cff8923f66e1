"""The benchmark's catalogs hold exactly the entries a workload asks for; runs take the first N of them."""

from __future__ import annotations

import pytest

from testbed.bench.workloads import (
    QUICK,
    WORKLOADS,
    Workload,
    archivable,
    catalog_snapshot,
    find_catalog,
    first_archivable,
    selected,
)


@pytest.mark.parametrize("workload", [*WORKLOADS.values(), *QUICK.values()], ids=lambda w: w.title)
def test_found_catalog_holds_exactly_the_workloads_archivable_entries(workload: Workload) -> None:
    n, seed = find_catalog(workload)
    chosen = [e for e in selected(catalog_snapshot(n, seed, workload.size_mb)) if archivable(e)]
    assert len(chosen) == workload.entries
    sizes = {next(f["sizeInBytes"] for f in e["flavors"] if f["isOriginal"]) for e in chosen}
    assert sizes - {0} == {int(workload.size_mb * 1_000_000)}  # 0: an old asset that does not say


def test_a_small_workload_selects_nothing_it_would_not_archive() -> None:
    workload = WORKLOADS["W2"]
    n, seed = find_catalog(workload)
    assert all(archivable(e) for e in selected(catalog_snapshot(n, seed, workload.size_mb)))


def test_selection_is_ready_video_without_the_archived_tag() -> None:
    snapshot = catalog_snapshot(300, 3, 1.0)
    chosen = selected(snapshot)
    assert chosen
    assert all(e["status"] == "2" for e in chosen)
    assert all(e["mediaType"] == 1 for e in chosen)
    assert not any("archived_to_s3" in e["tags"] for e in chosen)
    legacy = [e for e in snapshot if "archived_to_s3" in e["tags"] and e["status"] == "2"]
    assert legacy  # the catalog's legacy edge cases exist and are left out


def test_first_archivable_counts_the_leading_entries_that_hold_them() -> None:
    selection = selected(catalog_snapshot(300, 3, 1.0))
    position, ids = first_archivable(selection, 20)
    assert len(ids) == 20
    assert ids == [e["id"] for e in selection[:position] if archivable(e)]
    assert selection[position - 1]["id"] == ids[-1]
    everything = first_archivable(selection, None)
    assert everything == (len(selection), [e["id"] for e in selection if archivable(e)])
