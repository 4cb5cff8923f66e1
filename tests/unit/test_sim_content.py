"""Generated and stored flavor bodies: deterministic, range-exact, hashable, fast."""

from __future__ import annotations

import hashlib
import time

import pytest

from testbed.kaltura_sim.content import BLOCK, StoredBody, generated_body


def test_same_triple_and_size_give_the_same_bytes() -> None:
    a = generated_body("0_aaaaaaaa", "0_ffffffff", "1", 3 * BLOCK + 17)
    b = generated_body("0_aaaaaaaa", "0_ffffffff", "1", 3 * BLOCK + 17)
    assert a.read() == b.read()
    assert a.sha256() == b.sha256()


@pytest.mark.parametrize(
    "other",
    [("0_aaaaaaab", "0_ffffffff", "1"), ("0_aaaaaaaa", "0_fffffffe", "1"), ("0_aaaaaaaa", "0_ffffffff", "2")],
)
def test_a_different_triple_gives_different_bytes(other: tuple[str, str, str]) -> None:
    base = generated_body("0_aaaaaaaa", "0_ffffffff", "1", 4096)
    assert generated_body(*other, 4096).read() != base.read()


def test_blocks_of_one_body_differ() -> None:
    body = generated_body("0_aaaaaaaa", "0_ffffffff", "1", 3 * BLOCK)
    blocks = [body.read(k * BLOCK, (k + 1) * BLOCK) for k in range(3)]
    assert len(set(blocks)) == 3


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, 0),
        (0, 1),
        (5, 6),
        (BLOCK - 3, BLOCK + 3),
        (1, 2 * BLOCK + 11),
        (2 * BLOCK, 2 * BLOCK + 100),
        (7, 3 * BLOCK + 5),
    ],
)
def test_any_range_equals_the_same_slice_of_the_whole_body(start: int, end: int) -> None:
    body = generated_body("0_range000", "0_range001", "3", 3 * BLOCK + 5)
    whole = body.read()
    assert body.read(start, end) == whole[start:end]
    assert b"".join(body.iter_range(start, end, chunk=4099)) == whole[start:end]


def test_chunks_never_exceed_the_requested_size() -> None:
    body = generated_body("0_a", "0_b", "1", 2 * BLOCK)
    sizes = [len(piece) for piece in body.iter_range(10, 2 * BLOCK, chunk=300_000)]
    assert max(sizes) <= 300_000
    assert sum(sizes) == 2 * BLOCK - 10


def test_sha256_is_the_hash_of_the_whole_range() -> None:
    body = generated_body("0_hash0000", "0_hash0001", "1", 2 * BLOCK + 999)
    digest = hashlib.sha256()
    for piece in body.iter_range(0, body.size):
        digest.update(piece)
    assert body.sha256() == digest.hexdigest()


def test_a_range_outside_the_body_is_refused() -> None:
    body = generated_body("0_a", "0_b", "1", 100)
    with pytest.raises(ValueError, match="outside"):
        list(body.iter_range(50, 101))


def test_an_empty_body_has_the_empty_hash() -> None:
    assert generated_body("0_a", "0_b", "1", 0).sha256() == hashlib.sha256(b"").hexdigest()


def test_stored_body_serves_its_bytes_and_ranges() -> None:
    data = bytes(range(256)) * 50
    body = StoredBody(data)
    assert body.size == len(data)
    assert body.sha256() == hashlib.sha256(data).hexdigest()
    assert b"".join(body.iter_range(100, 9000, chunk=1000)) == data[100:9000]


def test_generation_throughput() -> None:
    """Prints the rate at which a 512 MiB body is produced and copied out (no assertion on time)."""
    body = generated_body("0_speed000", "0_speed001", "1", 512 * BLOCK)
    started = time.perf_counter()
    produced = sum(len(bytes(piece)) for piece in body.iter_range(0, body.size))
    elapsed = time.perf_counter() - started
    assert produced == body.size
    print(f"generated {produced / 1e6:.0f} MB at {produced / elapsed / 1e9:.1f} GB/s")
