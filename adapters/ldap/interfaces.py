"""The directory port: what jobs need of LDAP, importing no implementation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from adapters.ldap.wire import Person


@dataclass
class DirectoryStats:
    """What a run asked of the directory: `searches` sent, uids they carried, uids answered from the cache."""

    searches: int = 0
    uids_searched: int = 0
    cache_hits: int = 0


class Directory(Protocol):
    """People by uid."""

    @property
    def stats(self) -> DirectoryStats: ...

    def cached(self, uid: str) -> bool:
        """Whether `look_up` would answer for `uid` without a search."""
        ...

    async def look_up(self, uids: Iterable[str]) -> Mapping[str, Person | None]:
        """Each uid's person, None for one the directory does not know; keys are the uids as given."""
        ...
