"""Directory entries as the jobs see them: a person's name, org unit and whether the account is active."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from adapters.ldap.filters import ActiveFilter

# what each search asks for besides the active filter's own attributes
PERSON_ATTRIBUTES: Final = ("displayName", "cn", "ou")


def uid_key(uid: str) -> str:
    """The key a uid is matched and cached by: LDAP compares uids ignoring case."""
    return uid.casefold()


@dataclass(frozen=True)
class Person:
    """One directory entry found by uid: `name` is displayName, else cn; `org_unit` the first ou."""

    uid: str
    name: str | None
    org_unit: str | None
    active: bool


def _text(value: Any) -> str:
    if isinstance(value, bytes):  # an attribute the client could not decode: show it, never fail on it
        return value.decode("utf-8", "replace")
    return str(value)


def attribute_values(raw: Mapping[str, Any]) -> dict[str, list[str]]:
    """An entry's attributes as lists of text, keys folded to lower case (LDAP names ignore case)."""
    values: dict[str, list[str]] = {}
    for name, value in raw.items():
        items: Sequence[Any] = value if isinstance(value, list | tuple) else [value]
        values.setdefault(name.split(";")[0].casefold(), []).extend(_text(v) for v in items)
    return values


def _first(values: Mapping[str, Sequence[str]], name: str) -> str | None:
    found = [v for v in values.get(name.casefold(), ()) if v.strip()]
    return found[0] if found else None


def person_of(raw: Mapping[str, Any], uid_attribute: str, active: ActiveFilter) -> list[tuple[str, Person]]:
    """Every (uid as stored, Person) an entry answers for (an entry may carry several uids)."""
    values = attribute_values(raw)
    is_active = active.matches(values)
    name = _first(values, "displayName") or _first(values, "cn")
    org_unit = _first(values, "ou")
    return [
        (uid, Person(uid=uid, name=name, org_unit=org_unit, active=is_active))
        for uid in values.get(uid_attribute.casefold(), ())
    ]
