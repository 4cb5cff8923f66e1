"""The LDAP adapter against slapd over LDAPS: hostile and odd uids, batching and the cache, TLS, refusals."""

from __future__ import annotations

import ssl

import pytest

from adapters.ldap import (
    DirectoryBindError,
    DirectorySearchError,
    DirectoryTlsError,
    DirectoryUnreachableError,
    LdapDirectory,
    Person,
)
from adapters.ldap.client import tls_context
from testbed.ldap import LdapServer
from tests.integration.ldap_harness import ldaps_config

HOSTILE = [
    "*)(uid=*", "admin)(|(uid=*", "*", "jdoe)(uid=*", "back\\slash", "nul\x00byte", "x" * 300, "é(", ")",
]  # fmt: skip


async def test_hostile_uids_find_nobody_and_break_nothing(ldap_server: LdapServer) -> None:
    async with LdapDirectory(ldaps_config(ldap_server)) as people:
        found = await people.look_up([*HOSTILE, "jdoe"])
    assert {uid: found[uid] for uid in HOSTILE} == dict.fromkeys(HOSTILE)
    assert found["jdoe"] == Person("jdoe", "John Doe", "Media Services", active=True)
    assert people.stats.searches == 1


async def test_status_name_and_org_unit_as_the_directory_has_them(ldap_server: LdapServer) -> None:
    async with LdapDirectory(ldaps_config(ldap_server)) as people:
        found = await people.look_up(["zmuller", "hli", "fnguyen", "iwalker", "dkim", "nobody", "DKim"])
    assert found["zmuller"] == Person("zmuller", "Zoë Müller-Ångström", "Études Françaises", active=True)
    assert found["hli"] == Person("hli", "李华 (Li Hua)", "East Asian Studies", active=False)
    assert found["fnguyen"] == Person("fnguyen", "Fiona Nguyen", "Law", active=True)  # no displayName: cn
    assert found["iwalker"] == Person("iwalker", "Ian Walker", None, active=False)  # no ou, no status
    assert found["dkim"] == found["DKim"] == Person("dkim", "David Kim", "Computer Science", active=False)
    assert found["nobody"] is None


async def test_1000_uids_take_10_searches_and_a_second_look_none(ldap_server: LdapServer) -> None:
    uids = [f"user{k:04d}" for k in range(990)] + [u.uid for u in ldap_server.users]
    async with LdapDirectory(ldaps_config(ldap_server)) as people:
        first = await people.look_up(uids)
        again = await people.look_up(["JDOE", "User0001", "hli"])
    assert people.stats.searches == 10
    assert people.stats.uids_searched == 1000
    assert people.stats.cache_hits == 3
    assert sum(p is not None for p in first.values()) == len(ldap_server.users)
    assert again["JDOE"] == first["jdoe"]


async def test_a_cache_smaller_than_the_owners_forgets_the_oldest(ldap_server: LdapServer) -> None:
    async with LdapDirectory(ldaps_config(ldap_server, cache_size=2)) as people:
        await people.look_up(["jdoe", "asmith", "bwong"])
        assert not people.cached("jdoe")
        assert people.cached("bwong")
        await people.look_up(["jdoe"])
    assert people.stats.searches == 2


async def test_plain_ldap_and_starttls_work_too(ldap_server: LdapServer) -> None:
    for tls in ("plain", "starttls"):
        async with LdapDirectory(ldaps_config(ldap_server, tls=tls, port=ldap_server.port)) as people:
            assert (await people.look_up(["jdoe"]))["jdoe"] is not None


async def test_a_certificate_from_an_unknown_ca_is_refused(ldap_server: LdapServer) -> None:
    with pytest.raises(DirectoryTlsError, match=r"TLS failed \(self-signed certificate in certificate chain"):
        async with LdapDirectory(ldaps_config(ldap_server, ca_file=None)):
            pass


def test_tls_checks_the_chain_and_the_host_name() -> None:
    context = tls_context(None)
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)


async def test_a_wrong_password_is_refused_without_showing_it(ldap_server: LdapServer) -> None:
    password = "wrong-" + ldap_server.password
    with pytest.raises(DirectoryBindError) as caught:
        async with LdapDirectory(ldaps_config(ldap_server, password=password)):
            pass
    assert caught.value.reason == "invalidCredentials"
    assert password not in str(caught.value)
    assert password not in repr(ldaps_config(ldap_server, password=password))


async def test_a_wrong_base_dn_is_a_refused_search(ldap_server: LdapServer) -> None:
    async with LdapDirectory(ldaps_config(ldap_server, base_dn="dc=elsewhere,dc=example")) as people:
        with pytest.raises(DirectorySearchError) as caught:
            await people.look_up(["jdoe"])
    assert caught.value.reason == "noSuchObject"


async def test_no_server_is_unreachable() -> None:
    with LdapServer() as server:
        config = ldaps_config(server)
    with pytest.raises(DirectoryUnreachableError, match="does not answer"):
        async with LdapDirectory(config):
            pass


async def test_a_server_lost_mid_run_fails_the_next_search_after_retries() -> None:
    with LdapServer() as server:
        people = LdapDirectory(ldaps_config(server))
        await people.connect()
        assert (await people.look_up(["jdoe"]))["jdoe"] is not None
    try:
        with pytest.raises(DirectoryUnreachableError):
            await people.look_up(["asmith"])
        assert (await people.look_up(["jdoe"]))["jdoe"] is not None  # still cached
    finally:
        await people.aclose()
