"""The directory of owners as jobs use it: a creator id's uid, its status, and the LDAP connection from the
settings with each failure turned into the one line that names the setting to fix.

A creator id is a uid, or an email address whose part before `@` is the uid (the old tool cut the domain
off too). Status words: `active` (the directory knows the uid and it passes LDAP_ACTIVE_FILTER), `inactive`
(known, does not pass), `unknown` (not in the directory, or no creator id at all).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from adapters.ldap import (
    ActiveFilter,
    Directory,
    DirectoryBindError,
    DirectoryConfig,
    DirectorySearchError,
    DirectoryTlsError,
    DirectoryUnreachableError,
    LdapDirectory,
    Person,
    bind_dn,
)
from engine.errors import ConfigError, FatalError
from jobs.common.settings import Settings

ACTIVE, INACTIVE, UNKNOWN = "active", "inactive", "unknown"
STATUSES: Final = (ACTIVE, INACTIVE, UNKNOWN)


def owner_uid(creator_id: str | None) -> str:
    """The uid of a creator id: surrounding blanks and an `@domain` cut off."""
    return (creator_id or "").strip().partition("@")[0].strip()


def status_of(person: Person | None) -> str:
    if person is None:
        return UNKNOWN
    return ACTIVE if person.active else INACTIVE


def require_ldap(settings: Settings) -> None:
    """ConfigError naming the first LDAP setting a run needs that is missing."""
    settings.require("ldap_server", "ldap_user", "ldap_password")


def directory_config(settings: Settings) -> DirectoryConfig:
    """The directory's config from the settings (all checked when they were read)."""
    require_ldap(settings)
    assert settings.ldap_server is not None
    assert settings.ldap_user is not None
    assert settings.ldap_password is not None
    return DirectoryConfig(
        host=settings.ldap_server,
        port=settings.ldap_port,
        bind_dn=bind_dn(settings.ldap_bind_dn, settings.ldap_user, settings.ldap_base_dn),
        password=settings.ldap_password,
        base_dn=settings.ldap_base_dn,
        active=ActiveFilter.parse(settings.ldap_active_filter),
        tls=settings.ldap_tls,
        ca_file=settings.ldap_ca_bundle,
        timeout_s=settings.ldap_timeout_s,
    )


@asynccontextmanager
async def directory(settings: Settings) -> AsyncIterator[Directory]:
    """The bound directory. A server that does not answer, or whose certificate is not trusted, is a setting
    to fix (exit 2); a refused bind is fatal (exit 3); so is a server lost mid-run (after retries)."""
    ldap = LdapDirectory(directory_config(settings))
    where = f"LDAP_SERVER={settings.ldap_server!r} LDAP_PORT={settings.ldap_port}"
    try:
        await ldap.connect()
    except DirectoryUnreachableError as exc:
        raise ConfigError(f"{where}: {exc}: check LDAP_SERVER, LDAP_PORT, LDAP_TLS and the network") from None
    except DirectoryTlsError as exc:
        raise ConfigError(
            f"{where}: {exc}: check LDAP_CA_BUNDLE (the CA that signed the server's certificate), "
            "LDAP_SERVER (a name the certificate carries) and LDAP_TLS"
        ) from None
    except DirectoryBindError as exc:
        raise FatalError(f"{exc}: check LDAP_USER, LDAP_BIND_DN and LDAP_PWD") from None
    try:
        yield ldap
    except DirectorySearchError as exc:
        if exc.reason == "noSuchObject":
            raise ConfigError(
                f"LDAP_BASE_DN={settings.ldap_base_dn!r} does not exist on the server: set the search base "
                "the people are under"
            ) from exc
        raise
    finally:
        await ldap.aclose()
