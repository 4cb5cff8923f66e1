"""Kaltura sessions (KS): parse and validate v1 and v2 strings, generate v2 for `session.start`.

Mirrors the real server: a KS that cannot be cracked (bad base64, wrong secret, bad hash) fails with
`INVALID_KS` naming the KS itself; a KS that cracks but fails validation (expired, wrong partner, logged
out) fails with `INVALID_KS` naming the reason (`Invalid KS "EXPIRED", Error "-1,INVALID_STR"`).
Only the admin secret signs: the simulator has no user secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import urllib.parse
from dataclasses import dataclass, field

from Crypto.Cipher import AES

from testbed.kaltura_sim.errors import ApiError

KS_TYPE_USER = 0
KS_TYPE_ADMIN = 2

_V2_PREFIX = b"v2|"
_HASH_LEN = 20  # SHA-1 digest
_RANDOM_LEN = 16


@dataclass(frozen=True)
class Session:
    """A cracked, valid KS."""

    partner_id: int
    user_id: str
    type: int
    valid_until: int
    privileges: dict[str, str] = field(default_factory=dict)
    version: int = 2


def invalid_ks(ksid: str) -> ApiError:
    """The real server's INVALID_KS error; `ksid` is the KS (crack failure) or the reason (validation)."""
    return ApiError(
        "INVALID_KS",
        f'Invalid KS "{ksid}", Error "-1,INVALID_STR"',
        {"KSID": ksid, "ERR_CODE": "-1", "ERR_DESC": "INVALID_STR"},
    )


def _sha1(data: bytes) -> bytes:
    return hashlib.sha1(data).digest()


def _aes(secret: str) -> object:
    return AES.new(_sha1(secret.encode())[:16], AES.MODE_CBC, b"\0" * 16)


def generate_v2(
    secret: str, *, partner_id: int, user_id: str, type_: int, valid_until: int, privileges: str = ""
) -> str:
    """Build a v2 KS exactly as the official client's `generateSessionV2` does, for a given expiry time."""
    fields: dict[str, str] = {}
    for raw in privileges.split(","):
        privilege = raw.strip()
        if not privilege:
            continue
        if privilege == "*":
            privilege = "all:*"
        name, _, value = privilege.partition(":")
        fields[name] = value
    fields["_e"] = str(valid_until)
    fields["_t"] = str(type_)
    fields["_u"] = user_id
    plain = os.urandom(_RANDOM_LEN) + urllib.parse.urlencode(fields).encode()
    plain = _sha1(plain) + plain
    plain += b"\0" * (-len(plain) % 16)
    cipher = _aes(secret)
    encrypted: bytes = cipher.encrypt(plain)  # type: ignore[attr-defined]
    return base64.urlsafe_b64encode(f"v2|{partner_id}|".encode() + encrypted).decode()


def _b64decode(ks: str) -> bytes:
    text = ks.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_ks(ks) from None


def _crack_v2(ks: str, raw: bytes, secret: str) -> Session:
    head, sep, encrypted = raw[len(_V2_PREFIX) :].partition(b"|")
    if not sep or not head.isdigit() or not encrypted or len(encrypted) % 16:
        raise invalid_ks(ks)
    plain: bytes = _aes(secret).decrypt(encrypted)  # type: ignore[attr-defined]
    plain = plain.rstrip(b"\0")
    digest, rest = plain[:_HASH_LEN], plain[_HASH_LEN:]
    if len(rest) < _RANDOM_LEN or _sha1(rest) != digest:
        raise invalid_ks(ks)
    try:
        pairs = urllib.parse.parse_qsl(rest[_RANDOM_LEN:].decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        raise invalid_ks(ks) from None
    fields = dict(pairs)
    try:
        valid_until = int(fields.pop("_e"))
        type_ = int(fields.pop("_t", "0"))
    except (KeyError, ValueError):
        raise invalid_ks(ks) from None
    user_id = fields.pop("_u", "")
    return Session(int(head), user_id, type_, valid_until, fields, version=2)


def _crack_v1(ks: str, raw: bytes, secret: str) -> Session:
    signature, sep, info = raw.partition(b"|")
    if not sep:
        raise invalid_ks(ks)
    expected = hashlib.sha1(secret.encode() + info).hexdigest().encode()
    if signature != expected:
        raise invalid_ks(ks)
    parts = info.decode(errors="replace").split(";", 6)
    if len(parts) < 6:
        raise invalid_ks(ks)
    try:
        partner_id, valid_until, type_ = int(parts[0]), int(parts[2]), int(parts[3])
    except ValueError:
        raise invalid_ks(ks) from None
    privileges: dict[str, str] = {}
    for raw_privilege in (parts[6] if len(parts) > 6 else "").split(","):
        name, _, value = raw_privilege.strip().partition(":")
        if name:
            privileges[name] = value
    return Session(partner_id, parts[5], type_, valid_until, privileges, version=1)


def crack(ks: str, secret: str) -> Session:
    """Decode and check the signature of a v1 or v2 KS; any failure is INVALID_KS naming the KS."""
    raw = _b64decode(ks)
    if raw.startswith(_V2_PREFIX):
        return _crack_v2(ks, raw, secret)
    return _crack_v1(ks, raw, secret)


def validate(
    ks: str, *, secret: str, partner_id: int, now: float, revoked: frozenset[str] | set[str]
) -> Session:
    """Crack `ks` and check it against this partner, the clock and the logged-out sessions."""
    session = crack(ks, secret)
    if session.partner_id != partner_id:
        raise invalid_ks("INVALID_PARTNER")
    if session.valid_until <= now:
        raise invalid_ks("EXPIRED")
    if ks in revoked:
        raise invalid_ks("LOGOUT")
    if session.type not in (KS_TYPE_USER, KS_TYPE_ADMIN):
        raise invalid_ks("INVALID_TYPE")
    return session
