"""The LDAP adapter: people by uid (name, org unit, active or not) for the reports on owners.

`LdapDirectory` (the one module that imports ldap3) loads on first use: the settings check LDAP filters and
DNs with the pure parts here on every run, which must not cost the SDK's import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.ldap.config import MAX_UIDS_PER_SEARCH, TLS_MODES, DirectoryConfig
from adapters.ldap.errors import (
    DirectoryBindError,
    DirectorySearchError,
    DirectoryTlsError,
    DirectoryUnreachableError,
)
from adapters.ldap.filters import (
    ActiveFilter,
    FilterProblem,
    bind_dn,
    dn_problem,
    escape_dn_value,
    escape_filter_value,
    template_problem,
)
from adapters.ldap.interfaces import Directory, DirectoryStats
from adapters.ldap.wire import Person, uid_key

if TYPE_CHECKING:
    from adapters.ldap.client import LdapDirectory


def __getattr__(name: str) -> Any:
    if name == "LdapDirectory":
        from adapters.ldap.client import LdapDirectory

        return LdapDirectory
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MAX_UIDS_PER_SEARCH",
    "TLS_MODES",
    "ActiveFilter",
    "Directory",
    "DirectoryBindError",
    "DirectoryConfig",
    "DirectorySearchError",
    "DirectoryStats",
    "DirectoryTlsError",
    "DirectoryUnreachableError",
    "FilterProblem",
    "LdapDirectory",
    "Person",
    "bind_dn",
    "dn_problem",
    "escape_dn_value",
    "escape_filter_value",
    "template_problem",
    "uid_key",
]
