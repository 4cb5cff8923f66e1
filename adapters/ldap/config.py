"""How to reach and read the directory: server, TLS, bind, search base, the "active" filter, deadlines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from adapters.ldap.filters import ActiveFilter
from engine.retry import RetryPolicy

TLS_MODES: Final = ("ldaps", "starttls", "plain")
MAX_UIDS_PER_SEARCH: Final = 100  # a filter of 100 escaped uids stays a few KB, well under servers' limits
DEFAULT_CACHE_SIZE: Final = 100_000  # people remembered per run (a few hundred bytes each)
# a search that fails on a dropped connection is tried again on a new one, briefly: then the run stops
DEFAULT_POLICY: Final = RetryPolicy(attempts=3, base_s=0.5, max_s=2.0, budget_s=15.0)


@dataclass(frozen=True)
class DirectoryConfig:
    """One directory: `tls` is one of TLS_MODES; `ca_file` None trusts the system's CAs."""

    host: str
    port: int
    bind_dn: str
    password: str = field(repr=False)
    base_dn: str
    active: ActiveFilter
    tls: str = "ldaps"
    ca_file: str | None = None
    timeout_s: float = 30.0
    uid_attribute: str = "uid"
    uids_per_search: int = MAX_UIDS_PER_SEARCH
    cache_size: int = DEFAULT_CACHE_SIZE
    policy: RetryPolicy = DEFAULT_POLICY

    def __post_init__(self) -> None:
        if self.tls not in TLS_MODES:
            raise ValueError(f"tls {self.tls!r} is not one of {', '.join(TLS_MODES)}")
        if not 1 <= self.uids_per_search <= MAX_UIDS_PER_SEARCH:
            raise ValueError(f"uids_per_search must be 1 to {MAX_UIDS_PER_SEARCH}")

    @property
    def url(self) -> str:
        """The server as a person reads it: `ldaps://host:636` (`ldap://` for STARTTLS and plain)."""
        scheme = "ldaps" if self.tls == "ldaps" else "ldap"
        return f"{scheme}://{self.host}:{self.port}"
