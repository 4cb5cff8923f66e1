"""The placeholder files: the video that replaces an archived original in Kaltura and its thumbnail.

Read once at start; a file that cannot be read is a setting to fix (exit 2) before anything is done.
"""

from __future__ import annotations

import os

from engine.errors import ConfigError

MAX_BYTES = 64 << 20  # a placeholder is a few hundred KB; anything this large is the wrong file


def read_file(path: str, setting: str, why: str) -> bytes:
    """The bytes of the file a placeholder setting names; ConfigError naming the setting if unreadable."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(
            f"{setting}={path!r} cannot be read ({exc.strerror}): {why}; set {setting} to the file"
        ) from None
    if len(data) > MAX_BYTES:
        raise ConfigError(
            f"{setting}={path!r} is over {MAX_BYTES >> 20} MiB: not a placeholder; set {setting}"
        )
    if not data:
        raise ConfigError(f"{setting}={path!r} is empty; set {setting} to the placeholder file")
    return data


def read_video(path: str) -> bytes:
    """The placeholder video's bytes; ConfigError naming PLACEHOLDER_VIDEO if it is unreadable."""
    return read_file(path, "PLACEHOLDER_VIDEO", "a replaced entry is known by the placeholder's size")


def file_name(path: str) -> str:
    """The name a file is uploaded under (Kaltura keeps it with the upload)."""
    return os.path.basename(path) or "placeholder"
