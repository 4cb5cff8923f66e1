"""What the LDAP tests share: the adapter's config for a testbed slapd, and settings environments."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from adapters.ldap import ActiveFilter, DirectoryConfig
from engine.retry import RetryPolicy
from testbed.ldap import ACTIVE_FILTER, LdapServer

# a lost server is retried once, quickly: the tests see the end of the retries, not their pauses
QUICK_POLICY = RetryPolicy(attempts=2, base_s=0.01, max_s=0.01, budget_s=5.0)


def ldaps_config(server: LdapServer, **changes: Any) -> DirectoryConfig:
    """The adapter's config for `server` over LDAPS, verified with the testbed CA."""
    config = DirectoryConfig(
        host=server.host,
        port=server.ldaps_port,
        bind_dn=server.bind_dn,
        password=server.password,
        base_dn=server.base_dn,
        active=ActiveFilter.parse(ACTIVE_FILTER),
        tls="ldaps",
        ca_file=str(server.ca_file),
        timeout_s=10.0,
        policy=QUICK_POLICY,
    )
    return replace(config, **changes)


def ldap_env(server: LdapServer, **extra: str) -> dict[str, str]:
    """The environment of a run pointed at `server` (no Kaltura, AWS or other LDAP settings of the caller)."""
    own = ("KALTURA_", "ARCHIVER_", "LDAP_", "AWS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    env.update(server.client_env())
    env.update(extra)
    return env
