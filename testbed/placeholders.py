"""Stand-in placeholder files for tests and the demo: the smallest files `config` accepts as an MP4 video and
a JPEG image (an `ftyp` box; a JPEG start and end marker). They hold no picture: only the checks read them.
The real placeholder files, which the container image ships, are in the repository's placeholders/."""

from __future__ import annotations

from pathlib import Path

# an ISO base media file type box: size 24, "ftyp", major brand isom, minor version 512, compatible brands
MP4_HEADER = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
JPEG_MARKERS = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def write_placeholders(directory: Path) -> dict[str, str]:
    """Write both files into `directory`; the environment variables that point a run at them."""
    video, image = directory / "placeholder_video.mp4", directory / "placeholder_image.jpeg"
    video.write_bytes(MP4_HEADER)
    image.write_bytes(JPEG_MARKERS)
    return {"PLACEHOLDER_VIDEO": str(video), "PLACEHOLDER_IMAGE": str(image)}
