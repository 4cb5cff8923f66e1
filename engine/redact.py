"""Redaction: keep secrets out of anything we log or print.

Three nets, applied to every string (recursively through dicts, lists and tuples, and the reprs of other
objects): registered secret values, values under secret-looking keys, and patterns that look like a Kaltura
KS, an AWS secret access key or the query of a presigned S3 URL (its signature, credential scope and maybe a
session token) whatever key carries them.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import threading
from collections.abc import Mapping
from typing import Any

REDACTED = "[REDACTED]"

# Shorter registered secrets are only redacted where a whole value equals them: replacing every occurrence
# of a 3-character string would shred ordinary text and hint at the secret besides.
MIN_SUBSTRING_LEN = 6

_SECRET_WORDS = frozenset({
    "secret", "password", "passwd", "pwd", "passphrase", "token", "ks", "authorization",
    "credentials", "cookie", "apikey", "privatekey",
})  # fmt: skip
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_WORD = re.compile(r"[a-z0-9]+")

# KS v2: url-safe base64 of "v2|<partnerId>|…" always starts with "djJ8"
_KS_V2 = re.compile(r"djJ8[A-Za-z0-9_\-+/]{16,}={0,2}")
# a KS in a URL path or query (/ks/<KS>/, ?ks=<KS>) or a JSON/form body ("ks": "<KS>")
_KS_FIELD = re.compile(r"""(\bks["']?\s*[=:/]\s*["']?)([A-Za-z0-9_\-+/=.%]{16,})""", re.IGNORECASE)
# AWS secret access keys are 40 characters of base64 after their well-known names
_AWS_SECRET = re.compile(r"""(secret_?access_?key["']?\s*[=:]\s*["']?)([A-Za-z0-9/+=]{40})""", re.IGNORECASE)
# KS v1: base64 of "<40 hex sha1>|<fields>"; candidates are long base64 runs, confirmed by decoding
_LONG_BASE64 = re.compile(r"[A-Za-z0-9+/_\-]{56,}={0,2}")
_KS_V1_PLAIN = re.compile(rb"[0-9a-f]{40}\|")
# a presigned URL's query (SigV4 `X-Amz-Signature`/`X-Amz-Credential`, SigV2 `Signature`): all of it goes
_PRESIGNED_QUERY = re.compile(
    r"""\?(?=[^\s"'<>]*?\b(?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature)=)[^\s"'<>]*""",
    re.IGNORECASE,
)
_SHORTEST_MATCH = 19  # "ks=" and 16 characters; every other pattern needs more

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()


def add_secret(value: str | None) -> None:
    """Register a secret value (admin secret, a renewed KS, a password) to be redacted from now on."""
    global _secrets
    if not value:
        return
    with _lock:
        if value not in _secrets:
            # longest first, so a secret containing another is replaced whole
            _secrets = tuple(sorted((*_secrets, value), key=len, reverse=True))


@functools.lru_cache(maxsize=4096)  # event keys come from a small vocabulary: every event asks again
def is_secret_key(key: str) -> bool:
    """Whether a dict key names a secret: `admin_secret`, `adminSecret`, `ks`, `X-Amz-Security-Token`, …"""
    words = _WORD.findall(_CAMEL.sub(r"\1_\2", key).lower())
    if any(word in _SECRET_WORDS for word in words):
        return True
    joined = "".join(words)
    return joined.endswith(("apikey", "privatekey", "secretaccesskey"))


def redact_text(text: str) -> str:
    """`text` with every registered secret and secret-looking token replaced by [REDACTED]."""
    for secret in _secrets:
        if text == secret:
            return REDACTED
        if len(secret) >= MIN_SUBSTRING_LEN and secret in text:
            text = text.replace(secret, REDACTED)
    if len(text) < _SHORTEST_MATCH:  # most report fields (ids, sizes, states): no pattern can match them
        return text
    text = _KS_V2.sub(REDACTED, text)
    text = _KS_FIELD.sub(lambda m: m.group(1) + REDACTED, text)
    text = _AWS_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
    text = _PRESIGNED_QUERY.sub("?" + REDACTED, text)
    return _LONG_BASE64.sub(_redact_ks_v1, text)


def _redact_ks_v1(match: re.Match[str]) -> str:
    run = match.group(0)
    if _is_ks_v1(run):
        return REDACTED
    # a URL path is one long "base64" run too: look at its segments
    pieces = run.split("/")
    return "/".join(REDACTED if len(p) >= 56 and _is_ks_v1(p) else p for p in pieces)


def _is_ks_v1(candidate: str) -> bool:
    try:
        head = base64.b64decode(candidate[:60], altchars=b"-_")
    except (binascii.Error, ValueError):
        return False
    return _KS_V1_PLAIN.match(head) is not None


def redact_value(value: Any, _depth: int = 0) -> Any:
    """`value` with secrets redacted, recursively; objects are kept unless their repr leaks a secret."""
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, int | float | bool):
        return value
    if _depth > 20:
        return "[…]"  # a cycle or absurd nesting: nothing worth logging below here
    if isinstance(value, dict):
        return {k: _redact_item(k, v, _depth) for k, v in value.items()}
    if type(value) in (list, tuple, set, frozenset):
        return type(value)(redact_value(v, _depth + 1) for v in value)
    shown = repr(value)
    cleaned = redact_text(shown)
    return value if cleaned == shown else cleaned


def _redact_item(key: Any, value: Any, depth: int) -> Any:
    if isinstance(key, str) and value is not None and is_secret_key(key):
        return REDACTED
    return redact_value(value, depth + 1)


def redact_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """A structlog event dict with every secret redacted (keys, values, nested values, exception text)."""
    return {k: _redact_item(k, v, 0) for k, v in event.items()}
