"""Kaltura sessions (KS v2), generated locally from the admin secret and renewed by our own clock.

The KS is a bearer credential: it never appears in a log, an exception or a repr. Expiry is judged by the
client's clock (injectable, so tests can move it); a KS the server rejects anyway (`INVALID_KS`, e.g. its
clock runs ahead of ours) is regenerated once by the client and the call retried (see client.py).
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
import urllib.parse
from collections.abc import Callable

from Crypto.Cipher import AES

KS_TYPE_ADMIN = 2
PRIVILEGES = "disableentitlement"

_RANDOM_LEN = 16


def _sha1(data: bytes) -> bytes:
    return hashlib.sha1(data).digest()


def _privilege_fields(privileges: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for raw in privileges.split(","):
        privilege = raw.strip()
        if not privilege:
            continue
        if privilege == "*":
            privilege = "all:*"
        name, _, value = privilege.partition(":")
        fields[name] = value
    return fields


def generate_ks_v2(
    secret: str,
    *,
    partner_id: int,
    user_id: str,
    valid_until: int,
    ks_type: int = KS_TYPE_ADMIN,
    privileges: str = PRIVILEGES,
    random_bytes: bytes | None = None,
) -> str:
    """Build a v2 KS: `v2|pid|` + AES-128-CBC(SHA1(rand+fields) + rand + fields), url-safe base64.

    Same layout as the official client's `generateSessionV2`, but with an explicit expiry instant so the
    caller's clock decides it.
    """
    fields = _privilege_fields(privileges)
    fields["_e"] = str(valid_until)
    fields["_t"] = str(ks_type)
    fields["_u"] = user_id
    rand = os.urandom(_RANDOM_LEN) if random_bytes is None else random_bytes
    plain = rand + urllib.parse.urlencode(fields).encode("utf-8")
    plain = _sha1(plain) + plain
    plain += b"\0" * (-len(plain) % 16)
    cipher = AES.new(_sha1(secret.encode("utf-8"))[:16], AES.MODE_CBC, b"\0" * 16)
    encrypted: bytes = cipher.encrypt(plain)
    return base64.urlsafe_b64encode(f"v2|{partner_id}|".encode() + encrypted).decode("ascii")


def decode_ks_v2(ks: str, secret: str) -> dict[str, str]:
    """The fields of a v2 KS (for tests and `config`); raises ValueError when it does not decrypt."""
    raw = base64.urlsafe_b64decode(ks + "=" * (-len(ks) % 4))
    if not raw.startswith(b"v2|"):
        raise ValueError("not a v2 KS")
    _, _, encrypted = raw[3:].partition(b"|")
    cipher = AES.new(_sha1(secret.encode("utf-8"))[:16], AES.MODE_CBC, b"\0" * 16)
    plain = cipher.decrypt(encrypted).rstrip(b"\0")
    digest, rest = plain[:20], plain[20:]
    if _sha1(rest) != digest:
        raise ValueError("KS signature does not match the secret")
    return dict(urllib.parse.parse_qsl(rest[_RANDOM_LEN:].decode("utf-8"), keep_blank_values=True))


class SessionKeeper:
    """Holds the current KS and replaces it before it expires (by our clock) or when told it is invalid."""

    def __init__(
        self,
        *,
        secret: str,
        partner_id: int,
        user_id: str,
        ttl_s: int = 86_400,
        clock: Callable[[], float] = time.time,
        on_new_ks: Callable[[str], None] | None = None,
    ) -> None:
        if ttl_s < 60:
            raise ValueError("KS lifetime must be at least 60 s")
        self._secret = secret
        self._partner_id = partner_id
        self._user_id = user_id
        self._ttl_s = ttl_s
        # renew a tenth of the lifetime early (at most an hour): long calls never carry a dying KS
        self._margin_s = min(ttl_s / 10, 3600.0)
        self._clock = clock
        self._on_new_ks = on_new_ks
        self._ks: str | None = None
        self._expires_at = 0.0
        self.generated = 0  # KS made so far (the first one included)

    @property
    def expires_at(self) -> float:
        """Unix time (our clock) at which the current KS expires; 0 before the first one exists."""
        return self._expires_at

    def current(self) -> str:
        """The KS to send now: a fresh one if none exists or the current one is within the renewal margin."""
        now = self._clock()
        if self._ks is None or now >= self._expires_at - self._margin_s:
            self._renew(now)
        assert self._ks is not None
        return self._ks

    def invalidate(self, ks: str) -> None:
        """The server rejected `ks`: forget it so the next `current()` makes a new one (once per KS)."""
        if ks == self._ks:
            self._ks = None

    def _renew(self, now: float) -> None:
        valid_until = int(now) + self._ttl_s
        self._ks = generate_ks_v2(
            self._secret, partner_id=self._partner_id, user_id=self._user_id, valid_until=valid_until
        )
        if self._on_new_ks is not None:
            self._on_new_ks(self._ks)
        self._expires_at = float(valid_until)
        self.generated += 1

    def __repr__(self) -> str:
        return f"SessionKeeper(partner_id={self._partner_id}, expires_at={self._expires_at:.0f})"
