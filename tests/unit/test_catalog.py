"""The catalog generator: deterministic, realistic, with every named edge case."""

from __future__ import annotations

import resource
import time
from collections import Counter

from testbed.catalog import (
    BURST_SIZE,
    DEFAULT_NOW,
    TOO_BIG_KB,
    Catalog,
    build_categories,
    generate,
    normalise_tags,
)


def _small() -> Catalog:
    return generate(1200, seed=42)


def test_same_arguments_give_the_same_catalog() -> None:
    assert generate(300, seed=5) == generate(300, seed=5)


def test_a_different_seed_gives_a_different_catalog() -> None:
    assert [e.id for e in generate(100, seed=1).entries] != [e.id for e in generate(100, seed=2).entries]


def test_now_defaults_to_a_fixed_instant() -> None:
    assert generate(10, seed=1).now == DEFAULT_NOW


def test_ids_are_unique_and_shaped_like_kaltura_ids() -> None:
    cat = _small()
    ids = [e.id for e in cat.entries] + [f.id for e in cat.entries for f in e.flavors]
    assert len(ids) == len(set(ids))
    assert all(len(i) == 10 and i.startswith("0_") and i == i.lower() and i[2:].isalnum() for i in ids)


def test_entries_are_ordered_by_created_at_within_the_years_asked() -> None:
    cat = generate(500, seed=3, years=2)
    created = [e.created_at for e in cat.entries]
    assert created == sorted(created)
    assert min(created) >= DEFAULT_NOW - 2 * 365 * 86400
    assert max(created) <= DEFAULT_NOW


def test_plays_and_last_played_are_consistent() -> None:
    cat = _small()
    for e in cat.entries:
        if e.last_played_at is None:
            assert e.plays == 0
        else:
            assert e.created_at <= e.last_played_at <= cat.now
            assert e.plays > 0
    never = sum(1 for e in cat.entries if e.last_played_at is None)
    assert 0.2 * len(cat) < never < 0.8 * len(cat)


def test_statuses_are_mostly_ready_with_every_other_kind_present() -> None:
    counts = Counter(e.status for e in generate(3000, seed=9).entries)
    assert counts["2"] > 0.85 * 3000
    assert {"-1", "-2", "0", "1", "4", "7"} <= set(counts)


def test_tags_include_near_collisions_and_are_normalised() -> None:
    cat = _small()
    tags = {t for e in cat.entries for t in e.tags.split(", ") if t}
    assert {"foo", "football", "foo bar"} <= tags
    assert all(e.tags == normalise_tags(e.tags) for e in cat.entries)


def test_category_tree_is_at_least_three_deep_with_full_names() -> None:
    cats = build_categories()
    by_id = {c.id: c for c in cats}
    assert max(c.depth for c in cats) >= 3
    for c in cats:
        if c.parent_id is not None:
            assert c.full_name == f"{by_id[c.parent_id].full_name}>{c.name}"


def test_every_ready_video_has_one_source_and_smaller_derived_flavors() -> None:
    cat = _small()
    edge = {
        i for ids in cat.edge_cases.values() for i in ids if ids is not cat.edge_cases["same_second_burst"]
    }
    for e in cat.entries:
        if e.status != "2" or e.media_type != 1 or e.id in edge:
            continue
        sources = [f for f in e.flavors if f.is_original]
        derived = [f for f in e.flavors if not f.is_original]
        assert len(sources) == 1
        assert sources[0].flavor_params_id == 0
        assert 1 <= len(derived) <= 4
        assert all(f.content_size < sources[0].content_size for f in derived)


def test_source_sizes_are_long_tailed() -> None:
    sizes = [f.content_size for e in generate(3000, seed=4).entries for f in e.flavors if f.is_original]
    assert min(sizes) >= 20_000
    assert max(sizes) > 2_000_000_000
    assert sorted(sizes)[len(sizes) // 2] < 500_000_000


def test_size_mb_fixes_and_max_size_mb_caps_source_sizes() -> None:
    fixed = generate(200, seed=1, size_mb=2)
    too_big = set(fixed.edge_cases["original_too_big"])
    placeholder = set(fixed.edge_cases["legacy_placeholder"])
    for e in fixed.entries:
        for f in e.flavors:
            if f.is_original and e.media_type != 2 and e.id not in too_big | placeholder:
                assert f.content_size == 2_000_000
    capped = generate(200, seed=1, max_size_mb=1)
    too_big = set(capped.edge_cases["original_too_big"])
    assert all(f.content_size <= 1_000_000 for e in capped.entries if e.id not in too_big for f in e.flavors)


def test_edge_cases_are_present_and_disjoint() -> None:
    cat = _small()
    names = {
        "no_original",
        "original_not_ready",
        "original_too_big",
        "same_second_burst",
        "legacy_archived",
        "legacy_placeholder",
        "size_in_bytes_zero",
        "never_played",
    }
    assert set(cat.edge_cases) == names
    seen: set[str] = set()
    for ids in cat.edge_cases.values():
        assert ids
        assert not seen & set(ids)
        seen |= set(ids)


def test_edge_cases_have_their_defining_property() -> None:
    cat = _small()
    by_id = {e.id: e for e in cat.entries}

    def source(entry_id: str) -> list[object]:
        return [f for f in by_id[entry_id].flavors if f.is_original]

    assert all(source(i) == [] and by_id[i].flavors for i in cat.edge_cases["no_original"])
    for i in cat.edge_cases["original_not_ready"]:
        assert [f.status for f in by_id[i].flavors if f.is_original] != [2]
    for i in cat.edge_cases["original_too_big"]:
        assert [f.size_kb > TOO_BIG_KB for f in by_id[i].flavors if f.is_original] == [True]
    burst = cat.edge_cases["same_second_burst"]
    assert len(burst) == BURST_SIZE
    assert len({by_id[i].created_at for i in burst}) == 1
    assert all(by_id[i].status == "2" for i in burst)
    assert all("archived_to_s3" in by_id[i].tags.split(", ") for i in cat.edge_cases["legacy_archived"])
    for i in cat.edge_cases["legacy_placeholder"]:
        assert {"archived_to_s3", "flavors_deleted"} <= set(by_id[i].tags.split(", "))
    for i in cat.edge_cases["size_in_bytes_zero"]:
        assert all(f.size_in_bytes == 0 and f.size_kb > 0 for f in by_id[i].flavors)
    assert all(
        by_id[i].last_played_at is None and by_id[i].plays == 0 for i in cat.edge_cases["never_played"]
    )


def test_the_burst_needs_a_thousand_entries_and_edge_cases_fifty() -> None:
    assert "same_second_burst" not in generate(999, seed=1).edge_cases
    assert "no_original" in generate(50, seed=1).edge_cases
    assert generate(49, seed=1).edge_cases == {}


def test_summary_counts_add_up() -> None:
    cat = _small()
    summary = cat.summary()
    assert (
        summary["entries"]
        == len(cat)
        == sum(summary["by_status"].values())
        == sum(summary["by_year"].values())
    )
    assert summary["total_bytes"] > summary["source_bytes"] > 0
    assert summary["never_played"] == sum(1 for e in cat.entries if e.last_played_at is None)


def test_hundred_thousand_entries_generate_quickly_and_compactly() -> None:
    """Prints generation time and the process's peak RSS (no assertion on time)."""
    started = time.perf_counter()
    cat = generate(100_000, seed=1)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert len(cat) == 100_000
    assert len({e.id for e in cat.entries}) == 100_000
    print(f"100k catalog in {elapsed:.1f} s, peak RSS {peak_mb:.0f} MB")
