"""The demo's closing table: states from tags and objects, bytes in Kaltura, S3 by class."""

from __future__ import annotations

from typing import Any

from testbed.demo_tally import closing, state_of, table_lines


def entry(eid: str, tags: list[str], flavors: list[tuple[int, int]], status: str = "2") -> dict[str, Any]:
    """An entry as the simulator's control surface gives it; flavors as (bytes, KB), the first the source."""
    return {
        "id": eid, "status": status, "tags": tags,
        "flavors": [{"isOriginal": n == 0, "status": 2, "sizeInBytes": b, "size": kb}
                    for n, (b, kb) in enumerate(flavors)],
    }  # fmt: skip


BOTH = ["archived_to_s3", "flavors_deleted"]


def test_a_state_is_read_from_the_tags_and_the_object_under_the_key() -> None:
    plain = entry("0_a", [], [(5000, 5)])
    assert state_of(plain, None) == "initial"
    assert state_of(plain, 5000) == "other"  # an object without the tag
    archived = entry("0_b", ["archived_to_s3"], [(5000, 5)])
    assert state_of(archived, 5000) == "archived"
    assert state_of(archived, None) == "other"
    assert state_of(archived, 4000) == "other"  # an object of another size
    known_in_kb = entry("0_c", ["archived_to_s3"], [(0, 5)])  # Kaltura gives only the KB figure
    assert state_of(known_in_kb, 4500) == "archived"
    assert state_of(entry("0_d", BOTH, [(24, 1)]), 5000) == "place_holder"
    assert state_of(entry("0_e", BOTH, [(24, 1)]), None) == "other"
    assert state_of(entry("0_f", ["flavors_deleted"], [(24, 1)]), 5000) == "other"


def test_the_closing_figures_count_live_entries_their_flavors_and_the_bucket_by_class() -> None:
    before = [
        entry("0_a", [], [(5000, 5), (2000, 2)]),
        entry("0_b", [], [(7000, 7)]),
        entry("0_c", [], [(0, 3)]),  # no byte count: 3 KB
        entry("0_x", [], [(9000, 9)], status="3"),  # deleted: left out
    ]
    after = [
        entry("0_a", BOTH, [(24, 1)]),
        entry("0_b", ["archived_to_s3"], [(7000, 7)]),
        entry("0_c", [], [(0, 3)]),
        entry("0_x", [], [(9000, 9)], status="3"),
    ]
    objects = [("0_a", 5000, "GLACIER"), ("0_b", 7000, "GLACIER"), ("notes.txt", 10, "STANDARD")]
    figures = closing(before, after, objects)
    assert figures.states == {"initial": 1, "archived": 1, "place_holder": 1, "other": 0}
    assert figures.kaltura_bytes_before == 5000 + 2000 + 7000 + 3072
    assert figures.kaltura_bytes_after == 24 + 7000 + 3072
    s3 = {"GLACIER": {"objects": 2, "bytes": 12000}, "STANDARD": {"objects": 1, "bytes": 10}}
    assert figures.as_json()["s3"] == s3
    lines = table_lines(figures)
    assert "freed\t6976\t(7.0 KB)" in lines
    assert "GLACIER\t2\t12000\t(12.0 KB)" in lines
