"""A part buffer is re-sent as it is on every attempt: closing it (as aiohttp does) only rewinds it."""

from __future__ import annotations

import pytest

from adapters.s3.multipart import PartBuffer


def test_close_rewinds_so_a_retry_sends_the_same_bytes() -> None:
    buf = PartBuffer()
    buf.write(b"abc")
    buf.seek(0)
    assert buf.read() == b"abc"
    buf.close()  # what aiohttp does with a body it has sent
    assert not buf.closed
    assert buf.read() == b"abc"
    assert buf.size == 3


def test_release_frees_the_buffer() -> None:
    buf = PartBuffer()
    buf.write(b"abc")
    buf.release()
    assert buf.closed
    with pytest.raises(ValueError, match="closed"):
        buf.read()
