"""A part buffer is re-sent as it is on every attempt: closing it (as aiohttp does) only rewinds it."""

from __future__ import annotations

import os

import pytest

from adapters.s3.multipart import PartBuffer


def test_close_rewinds_so_a_retry_sends_the_same_bytes() -> None:
    buf = PartBuffer(3)
    buf.write(b"abc")
    buf.seek(0)
    assert buf.read() == b"abc"
    buf.close()  # what aiohttp does with a body it has sent
    assert not buf.closed
    assert buf.read() == b"abc"
    assert buf.size == 3


def test_release_frees_the_buffer() -> None:
    buf = PartBuffer(3)
    buf.write(b"abc")
    buf.release()
    assert buf.closed
    with pytest.raises(ValueError, match="closed"):
        buf.read()


def test_release_leaves_bytes_still_queued_for_a_socket_to_their_last_holder() -> None:
    buf = PartBuffer(10)
    buf.write(b"0123456789")
    with buf.getbuffer() as view:
        queued = view[2:5]  # as asyncio (Python >= 3.12) keeps what a socket did not take yet
    buf.release()  # neither raises nor frees what is still queued
    assert bytes(queued) == b"234"
    del queued


def test_buffer_has_its_final_size_before_it_is_filled() -> None:
    buf = PartBuffer(8)
    assert buf.size == 8
    assert buf.filled == 0


def test_filling_in_chunks_writes_in_place_without_growing() -> None:
    buf = PartBuffer(6)
    buf.write(b"ab")
    buf.write(memoryview(b"cdef"))
    assert buf.filled == 6
    assert buf.size == 6
    with buf.getbuffer() as view:
        assert bytes(view) == b"abcdef"


def test_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        PartBuffer(-1)


def _rss() -> int:
    """This process's resident bytes now (Linux)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


MIB = 1 << 20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux's /proc")
def test_pages_are_resident_only_once_filled_and_returned_at_release() -> None:
    # several in a row: after the first large block it frees, glibc keeps the next ones in its heap
    chunk = b"x" * MIB
    # 16 MiB, below glibc's largest mmap threshold (32 MiB): a `bytes` of it can land in the heap
    for _ in range(3):
        before = _rss()
        buf = PartBuffer(16 * MIB)
        assert _rss() - before < 2 * MIB  # nothing resident before it is written
        for _ in range(4):
            buf.write(chunk)
        assert 3 * MIB < _rss() - before < 7 * MIB  # the filled quarter only
        buf.release()
        assert _rss() - before < 2 * MIB  # all of it back to the system
