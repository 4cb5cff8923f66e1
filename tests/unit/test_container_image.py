"""The container image as the Dockerfile builds it: sources that exist, no testbed, a non-root user, an
exec-form entry point, the placeholder files at the default paths, dependencies pinned at the tested
versions, and placeholder files that are a small real MP4 and JPEG (made again the same way where ffmpeg
is installed)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path, PurePosixPath

import pytest

from jobs.common.settings import SETTINGS
from jobs.config import check_file
from testbed import lockfile
from tests.fixtures.dockerfile import ROOT, Instruction, context_copies, exec_form, stages

PLACEHOLDERS = ROOT / "placeholders"
VIDEO, IMAGE = PLACEHOLDERS / "placeholder_video.mp4", PLACEHOLDERS / "placeholder_image.jpeg"
RUNBOOKS = ("archive.rc", "restore.rc", "health.rc")
MAX_VIDEO_BYTES = 300_000
MAX_IMAGE_BYTES = 200_000


def final_stage() -> list[Instruction]:
    return stages()[-1]


def last(keyword: str) -> Instruction:
    (*_, found) = [i for i in final_stage() if i.keyword == keyword]
    return found


def default_of(name: str) -> str:
    (setting,) = [s for s in SETTINGS if s.name == name]
    assert setting.default is not None
    return setting.default


def test_every_copy_source_of_the_dockerfile_exists_in_the_repository() -> None:
    copies = [copy for stage in stages() for copy in context_copies(stage)]
    assert copies
    for copy in copies:
        for source in copy.sources:
            assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is not in the repository"


def test_the_image_copies_neither_the_testbed_nor_the_tests() -> None:
    sources = [PurePosixPath(s) for stage in stages() for c in context_copies(stage) for s in c.sources]
    assert all(source.parts[0] not in ("testbed", "tests", ".") for source in sources), sources


def test_the_image_runs_as_a_numeric_non_root_user_in_its_own_writable_home() -> None:
    user = last("USER").arguments.split(":")[0]
    assert user.isdigit()
    assert int(user) != 0
    useradd = [i.arguments for i in final_stage() if i.keyword == "RUN" and "useradd" in i.arguments]
    assert len(useradd) == 1
    assert f"--uid {user}" in useradd[0]
    assert "--create-home" in useradd[0]
    home = useradd[0].split("--home-dir ", 1)[1].split()[0]
    assert last("WORKDIR").arguments == home


def test_the_entrypoint_is_exec_form_and_is_the_entry_script() -> None:
    entrypoint = exec_form(last("ENTRYPOINT"))
    assert entrypoint == ["/opt/kaltura-archiver/entrypoint"], last("ENTRYPOINT").arguments
    assert exec_form(last("CMD")) is not None
    copied = {
        f"{c.destination.rstrip('/')}/{PurePosixPath(s).name}": s
        for c in context_copies(final_stage())
        for s in c.sources
    }
    for name in ("entrypoint", "steps.sh", *RUNBOOKS):
        source = copied[f"/opt/kaltura-archiver/{name}"]
        if name != "steps.sh":  # sourced, not run
            assert os.access(ROOT / source, os.X_OK), f"{source} is not executable"


def test_the_image_puts_the_placeholder_files_at_the_default_paths() -> None:
    copied = {
        f"{c.destination.rstrip('/')}/{PurePosixPath(s).name}": ROOT / s
        for c in context_copies(final_stage())
        for s in c.sources
    }
    assert copied[default_of("placeholder_video")] == VIDEO
    assert copied[default_of("placeholder_image")] == IMAGE


def test_the_image_installs_with_the_lock_file_as_constraints() -> None:
    build = stages()[0]
    (install,) = [i.arguments for i in build if i.keyword == "RUN" and "pip install" in i.arguments]
    lock = lockfile.LOCK.relative_to(ROOT).as_posix()
    assert f"-c {lock}" in install
    assert any(lock in copy.sources for copy in context_copies(build))


def test_the_lock_pins_every_runtime_dependency_at_the_tested_version() -> None:
    """Regenerate with `python -m testbed.lockfile` after an upgrade passed the tests."""
    assert lockfile.differences(lockfile.read(), lockfile.runtime_pins()) == []


def test_the_lock_check_names_a_dependency_at_another_version() -> None:
    assert lockfile.differences({"aiohttp": "1.0", "gone": "2"}, {"aiohttp": "3.9", "new": "1"}) == [
        "aiohttp: locked 1.0, installed 3.9",
        "gone: locked 2, installed (not needed)",
        "new: locked (missing), installed 1",
    ]


def mp4_boxes(data: bytes) -> dict[str, bytes]:
    """The top-level boxes of an ISO base media file: type -> body (it must parse to its last byte)."""
    boxes, offset = {}, 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        assert 8 <= size <= len(data) - offset, f"a broken box at {offset}"
        boxes[kind.decode("ascii")] = data[offset + 8 : offset + size]
        offset += size
    return boxes


def test_the_placeholder_video_is_a_small_h264_aac_mp4() -> None:
    data = VIDEO.read_bytes()
    assert len(data) < MAX_VIDEO_BYTES
    boxes = mp4_boxes(data)
    assert list(boxes)[:2] == ["ftyp", "moov"]  # faststart: a player starts before the whole file is there
    assert {"ftyp", "moov", "mdat"} <= set(boxes)
    assert b"avc1" in boxes["moov"]
    assert b"mp4a" in boxes["moov"]


def test_the_placeholder_image_is_a_small_jpeg_of_the_video_size() -> None:
    data = IMAGE.read_bytes()
    assert len(data) < MAX_IMAGE_BYTES
    assert data[:3] == b"\xff\xd8\xff"
    assert data[-2:] == b"\xff\xd9"
    sof = data.index(b"\xff\xc0")  # baseline frame header: precision, height, width
    _, height, width = struct.unpack(">BHH", data[sof + 4 : sof + 9])
    assert (width, height) == (1280, 720)


async def test_config_accepts_the_committed_placeholder_files() -> None:
    assert (await check_file("placeholder_video", str(VIDEO))).startswith(str(VIDEO))
    assert (await check_file("placeholder_image", str(IMAGE))).startswith(str(IMAGE))


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed (apt-get install ffmpeg)")
@pytest.mark.skipif(
    not Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").exists(),
    reason="the DejaVu font is not installed (apt-get install fonts-dejavu-core)",
)
def test_generate_sh_makes_the_committed_placeholders_again(tmp_path: Path) -> None:
    """Same bytes with the ffmpeg that made them; with another ffmpeg, a video of the same kind."""
    done = subprocess.run(
        [PLACEHOLDERS / "generate.sh", tmp_path], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    video, image = tmp_path / VIDEO.name, tmp_path / IMAGE.name
    if (tmp_path / "generated-with.txt").read_text() == (PLACEHOLDERS / "generated-with.txt").read_text():
        assert video.read_bytes() == VIDEO.read_bytes()
        assert image.read_bytes() == IMAGE.read_bytes()
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name:format=duration", "-of", "csv=p=0",
         video], capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    lines = probe.stdout.split()
    assert lines[:2] == ["h264", "aac"]
    assert 3 <= float(lines[2]) <= 10
    assert len(video.read_bytes()) < MAX_VIDEO_BYTES
