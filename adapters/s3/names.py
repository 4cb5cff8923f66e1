"""Bucket names and key prefixes S3 accepts and that reach S3 unchanged.

Checked when the settings are read (so every command refuses them before it starts) and again by
`StoreConfig`. Bucket names follow S3's general-purpose naming rules; the legacy names some old us-east-1
buckets still have (upper case, underscores) are refused too: virtual-host addressing cannot reach them, and
URL libraries lower-case the host. A prefix must not hold `.`/`..` segments or `//` (URL normalisation, yarl
included, rewrites those paths, so an object would land under another key), nor control characters, and
must leave room for the entry id within S3's 1,024-byte key limit.
"""

from __future__ import annotations

import re

MAX_KEY_BYTES = 1024
ENTRY_ID_ROOM = 64  # bytes kept free after the prefix for the entry id (ids are about 10)
MAX_PREFIX_BYTES = MAX_KEY_BYTES - ENTRY_ID_ROOM

_BUCKET_FIX = (
    "use 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit"
)
_LEGACY = re.compile(r"[A-Za-z0-9._-]+")
_IP_ADDRESS = re.compile(r"\d+\.\d+\.\d+\.\d+")
_RESERVED_STARTS = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_ENDS = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_problem(name: str) -> str | None:
    """Why S3 (or virtual-host addressing) would refuse the bucket `name`, as "is not ... (<why>): <fix>"
    (it completes "AWS_BUCKET='name' ..."); None if fine."""
    why = _bucket_why(name)
    return None if why is None else f"is not a usable S3 bucket name ({why}): {_BUCKET_FIX}"


def _bucket_why(name: str) -> str | None:
    if not 3 <= len(name) <= 63:
        return f"{len(name)} characters, S3 allows 3 to 63"
    if _LEGACY.fullmatch(name) and any(c.isupper() or c == "_" for c in name):
        return (
            "upper-case letters or underscores, which only old us-east-1 buckets may have and "
            "virtual-host addressing cannot reach"
        )
    bad = sorted({c for c in name if not (c.isascii() and (c.isdigit() or c.islower() or c in ".-"))})
    if bad:
        return " ".join(repr(c) for c in bad) + " not allowed"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "it starts or ends with a dot or hyphen"
    if ".." in name or ".-" in name or "-." in name:  # a DNS label is never empty nor ends in a hyphen
        return "a dot next to a dot or hyphen"
    if _IP_ADDRESS.fullmatch(name):
        return "it is an IP address"
    if name.startswith(_RESERVED_STARTS) or name.endswith(_RESERVED_ENDS):
        return "S3 reserves its start or end (xn--, sthree-, -s3alias, --ol-s3 ...)"
    return None


def prefix_problem(prefix: str) -> str | None:
    """Why object keys under `prefix` would be refused or rewritten on their way to S3, as "<why>: <fix>";
    None if fine ("" is: the bucket root)."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in prefix):
        return "holds a control character: use printable characters, e.g. archive/"
    if prefix.startswith("/"):
        return "starts with '/', which makes an empty first key segment: drop the leading '/', e.g. archive/"
    if "//" in prefix:
        return "has an empty segment ('//'), which URL normalisation may collapse: use single slashes"
    if any(segment in (".", "..") for segment in prefix.split("/")):
        return "has a '.' or '..' segment, which URLs rewrite (objects would land under another key): drop it"
    try:
        size = len(prefix.encode("utf-8"))
    except UnicodeEncodeError:
        return "is not valid UTF-8 text: use a prefix of plain characters, e.g. archive/"
    if size > MAX_PREFIX_BYTES:
        return (
            f"is {size} bytes long: S3 keys (prefix + entry id) end at {MAX_KEY_BYTES} bytes, "
            f"so give at most {MAX_PREFIX_BYTES}"
        )
    return None
