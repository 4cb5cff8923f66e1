"""KS v2 generation and renewal by our own clock."""

from __future__ import annotations

import base64

import pytest
from KalturaClient.Client import KalturaClient as OfficialClient

from adapters.kaltura.ks import SessionKeeper, decode_ks_v2, generate_ks_v2

SECRET = "0123456789abcdef0123456789abcdef"


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_ks_carries_expiry_type_user_and_disableentitlement() -> None:
    ks = generate_ks_v2(SECRET, partner_id=1000, user_id="admin@x", valid_until=1_700_086_400)
    fields = decode_ks_v2(ks, SECRET)
    assert fields == {"disableentitlement": "", "_e": "1700086400", "_t": "2", "_u": "admin@x"}
    assert base64.urlsafe_b64decode(ks).startswith(b"v2|1000|")


def test_ks_decodes_like_the_official_clients_ks() -> None:
    """Same layout as generateSessionV2: both decode with the same code to the same fields (expiry aside)."""
    official = OfficialClient.generateSessionV2(SECRET, "admin@x", 2, 1000, 86400, "disableentitlement")
    theirs = decode_ks_v2(official.decode(), SECRET)
    ours = decode_ks_v2(generate_ks_v2(SECRET, partner_id=1000, user_id="admin@x", valid_until=1), SECRET)
    assert theirs.keys() == ours.keys()
    assert {k: v for k, v in theirs.items() if k != "_e"} == {k: v for k, v in ours.items() if k != "_e"}


def test_ks_with_another_secret_does_not_decode() -> None:
    ks = generate_ks_v2(SECRET, partner_id=1000, user_id="u", valid_until=1)
    with pytest.raises(ValueError, match="signature"):
        decode_ks_v2(ks, "another-secret-entirely-000000000")


def test_keeper_reuses_ks_until_renewal_margin() -> None:
    clock = FakeClock()
    keeper = SessionKeeper(secret=SECRET, partner_id=1, user_id="u", ttl_s=3600, clock=clock)
    first = keeper.current()
    clock.now += 3000  # 600 s left, margin is 360 s
    assert keeper.current() == first
    assert keeper.generated == 1


def test_keeper_renews_before_expiry_by_its_own_clock() -> None:
    clock = FakeClock()
    keeper = SessionKeeper(secret=SECRET, partner_id=1, user_id="u", ttl_s=3600, clock=clock)
    first = keeper.current()
    clock.now += 3300  # inside the last tenth of the lifetime
    second = keeper.current()
    assert second != first
    assert keeper.expires_at == int(clock.now) + 3600
    assert keeper.generated == 2


def test_invalidate_forces_a_new_ks_once() -> None:
    keeper = SessionKeeper(secret=SECRET, partner_id=1, user_id="u", clock=FakeClock())
    first = keeper.current()
    keeper.invalidate(first)
    second = keeper.current()
    keeper.invalidate(first)  # a late report about the old KS does not throw away the new one
    assert keeper.current() == second != first


def test_new_ks_is_announced_for_redaction_and_repr_hides_it() -> None:
    announced: list[str] = []
    keeper = SessionKeeper(secret=SECRET, partner_id=1, user_id="u", on_new_ks=announced.append)
    ks = keeper.current()
    assert announced == [ks]
    assert ks not in repr(keeper)
    assert SECRET not in repr(keeper)
