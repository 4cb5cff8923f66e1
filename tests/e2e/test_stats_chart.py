"""stats' chart page in a real headless browser (Debian's chromium): it renders both charts from the page
alone, with the network cut off. Skipped, saying why, where no chromium is installed."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from jobs.stats.chart import page
from tests.fixtures.stats import CONTEXT, tally_of_fixture

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_DEADLINE_S = 120

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium installed (Debian: apt-get install chromium) to render the chart"
)


def browser(*args: str, cwd: Path) -> str:
    """Run headless chromium with no network at all (a page that fetched anything would show it broken)."""
    assert CHROMIUM is not None
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
        f"--user-data-dir={cwd / 'profile'}", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
        "--window-size=820,900", "--hide-scrollbars",
    ]  # fmt: skip
    done = subprocess.run(
        [CHROMIUM, *flags, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=BROWSER_DEADLINE_S,
        check=True,
    )
    return done.stdout


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_the_chart_renders_in_chromium_with_every_bar_and_no_request(tmp_path: Path) -> None:
    chart = tmp_path / "stats.html"
    chart.write_text(page(tally_of_fixture(), CONTEXT), encoding="utf-8")
    dom = browser("--dump-dom", chart.as_uri(), cwd=tmp_path)
    assert dom.count("<svg") == 2
    # 7 segments by year and state (2019: 2, 2020: 2, 2021: 1, 2024: 2) and 4 storage classes
    assert dom.count("<rect") == 11
    assert "1.00 TiB" in dom
    shot = tmp_path / "stats.png"
    browser(f"--screenshot={shot}", chart.as_uri(), cwd=tmp_path)
    assert png_size(shot) == (820, 900)
