"""The LDAP testbed (slapd in a subprocess): admin bind, seed users as ldap3 reads them, life cycle, CLI."""

from __future__ import annotations

import os
import signal
import ssl
from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest

from testbed.ldap import LdapServer, SlapdNotInstalled, load_users
from tests.fixtures.servers import children_of, running_cli, wait_gone

ATTRIBUTES = ["uid", "cn", "displayName", "ou", "employeeType"]


@pytest.fixture
def admin(ldap_server: LdapServer) -> Iterator[ldap3.Connection]:
    server = ldap3.Server(ldap_server.host, port=ldap_server.port)
    connection = ldap3.Connection(server, user=ldap_server.bind_dn, password=ldap_server.password)
    assert connection.bind()
    yield connection
    connection.unbind()


def find(connection: ldap3.Connection, base_dn: str, search_filter: str) -> list[ldap3.Entry]:
    assert (
        connection.search(base_dn, search_filter, attributes=ATTRIBUTES) or connection.result["result"] == 0
    )
    entries: list[ldap3.Entry] = connection.entries
    return entries


def one(entry: ldap3.Entry, attribute: str) -> str | None:
    values = entry.entry_attributes_as_dict.get(attribute, [])
    assert len(values) <= 1
    return values[0] if values else None


def test_seed_file_has_every_account_status() -> None:
    users = load_users()
    assert len(users) == 10
    assert {user.status for user in users} == {"active", "inactive", "locked", None}
    assert any(not user.cn.isascii() for user in users)


def test_search_by_uid_returns_name_org_unit_and_status(
    ldap_server: LdapServer, admin: ldap3.Connection
) -> None:
    [entry] = find(admin, ldap_server.base_dn, "(uid=dkim)")
    assert entry.entry_dn == f"uid=dkim,ou=people,{ldap_server.base_dn}"
    assert one(entry, "displayName") == "David Kim"
    assert one(entry, "ou") == "Computer Science"
    assert one(entry, "employeeType") == "locked"


def test_every_seed_user_reads_back_as_seeded(ldap_server: LdapServer, admin: ldap3.Connection) -> None:
    entries = find(admin, ldap_server.people_dn, "(objectClass=inetOrgPerson)")
    read = {
        one(e, "uid"): (one(e, "cn"), one(e, "displayName"), one(e, "ou"), one(e, "employeeType"))
        for e in entries
    }
    seeded = {user.uid: (user.cn, user.display_name, user.ou, user.status) for user in ldap_server.users}
    assert read == seeded


def test_non_ascii_names_round_trip(ldap_server: LdapServer, admin: ldap3.Connection) -> None:
    [entry] = find(admin, ldap_server.base_dn, "(cn=Zoë Müller-Ångström)")
    assert one(entry, "uid") == "zmuller"
    assert one(entry, "displayName") == "Zoë Müller-Ångström"
    assert one(entry, "ou") == "Études Françaises"
    [entry] = find(admin, ldap_server.base_dn, "(uid=hli)")
    assert one(entry, "cn") == "李华"


def test_unknown_uid_finds_nothing(ldap_server: LdapServer, admin: ldap3.Connection) -> None:
    assert find(admin, ldap_server.base_dn, "(uid=nobody-here)") == []


def test_wrong_password_fails_to_bind(ldap_server: LdapServer) -> None:
    server = ldap3.Server(ldap_server.host, port=ldap_server.port)
    connection = ldap3.Connection(server, user=ldap_server.bind_dn, password="not-" + ldap_server.password)
    try:
        assert not connection.bind()
        assert connection.result["description"] == "invalidCredentials"
    finally:
        connection.unbind()


def ldaps_server(ldap_server: LdapServer, context: ssl.SSLContext) -> ldap3.Server:
    """ldap3 over LDAPS, TLS through `context` (the hostname checked by it, not by ldap3)."""

    class ContextTls(ldap3.Tls):  # type: ignore[misc]  # ldap3 has no type hints
        def wrap_socket(self, connection: ldap3.Connection, do_handshake: bool = False) -> None:
            connection.socket = context.wrap_socket(
                connection.socket, do_handshake_on_connect=do_handshake, server_hostname=ldap_server.host
            )

    return ldap3.Server(ldap_server.host, port=ldap_server.ldaps_port, use_ssl=True, tls=ContextTls())


def test_ldaps_serves_a_certificate_the_testbed_ca_verifies(ldap_server: LdapServer) -> None:
    context = ssl.create_default_context(cafile=str(ldap_server.ca_file))
    server = ldaps_server(ldap_server, context)
    connection = ldap3.Connection(server, user=ldap_server.bind_dn, password=ldap_server.password)
    try:
        assert connection.bind()
        [entry] = find(connection, ldap_server.base_dn, "(uid=jdoe)")
        assert one(entry, "employeeType") == "active"
    finally:
        connection.unbind()


def test_ldaps_certificate_is_refused_without_the_testbed_ca(ldap_server: LdapServer) -> None:
    context = ssl.create_default_context(cafile=None)  # the system's CAs only
    connection = ldap3.Connection(ldaps_server(ldap_server, context), user=ldap_server.bind_dn,
                                  password=ldap_server.password)  # fmt: skip
    with pytest.raises(ldap3.core.exceptions.LDAPSocketOpenError, match="CERTIFICATE_VERIFY_FAILED"):
        connection.open()


def test_client_env_points_at_ldaps_with_the_ca(ldap_server: LdapServer) -> None:
    env = ldap_server.client_env()
    assert (env["LDAP_PORT"], env["LDAP_TLS"]) == (str(ldap_server.ldaps_port), "ldaps")
    assert Path(env["LDAP_CA_BUNDLE"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert env["LDAP_BIND_DN"].format(user=env["LDAP_USER"]) == ldap_server.bind_dn


def test_anonymous_users_cannot_read(ldap_server: LdapServer) -> None:
    connection = ldap3.Connection(ldap3.Server(ldap_server.host, port=ldap_server.port))
    try:
        assert connection.bind()
        assert not connection.search(ldap_server.base_dn, "(uid=jdoe)", attributes=ATTRIBUTES)
        assert connection.entries == []
    finally:
        connection.unbind()


def test_repr_hides_the_password(ldap_server: LdapServer) -> None:
    assert ldap_server.password not in repr(ldap_server)


def test_stop_ends_slapd_and_removes_its_directory() -> None:
    with LdapServer() as server:
        pid, workdir = server.pid, server.workdir
        assert pid is not None
        assert (workdir / "slapd.conf").is_file()
    assert wait_gone(pid)
    assert not workdir.exists()


async def test_async_context_manager_serves_custom_users_and_stops() -> None:
    users = load_users()[:2]
    async with LdapServer(users=users) as server:
        pid, workdir = server.pid, server.workdir
        connection = ldap3.Connection(
            ldap3.Server(server.host, port=server.port), user=server.bind_dn, password=server.password
        )
        assert connection.bind()
        uids = {one(e, "uid") for e in find(connection, server.base_dn, "(objectClass=inetOrgPerson)")}
        connection.unbind()
    assert uids == {user.uid for user in users}
    assert pid is not None
    assert wait_gone(pid)
    assert not workdir.exists()


def test_missing_slapd_names_the_debian_packages(tmp_path: Path) -> None:
    with pytest.raises(SlapdNotInstalled, match="slapd and ldap-utils"):
        LdapServer(programs_dir=tmp_path).start()
    assert list(tmp_path.iterdir()) == []


def test_cli_prints_credentials_and_stops_on_sigterm() -> None:
    with running_cli("testbed.ldap", "--port", "0") as (cli, line):
        assert line["url"].startswith("ldap://127.0.0.1:")
        assert line["ldaps_url"].startswith("ldaps://127.0.0.1:")
        assert Path(line["ca_file"]).is_file()
        assert line["base_dn"] == "dc=testbed,dc=example"
        port = int(line["url"].rsplit(":", 1)[1])
        connection = ldap3.Connection(
            ldap3.Server("127.0.0.1", port=port), user=line["bind_dn"], password=line["password"]
        )
        assert connection.bind()
        connection.unbind()
        [slapd] = children_of(cli.pid)
        workdir = Path(os.readlink(f"/proc/{slapd}/fd/1")).parent  # slapd's stdout is its log, in the workdir
        assert (workdir / "slapd.conf").is_file()
        cli.send_signal(signal.SIGTERM)
        assert cli.wait(15) == 0
    assert wait_gone(slapd)
    assert not workdir.exists()
