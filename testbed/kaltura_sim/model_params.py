"""Request parameters as the model receives them, and how it reads them (as the Kaltura server would)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from testbed.kaltura_sim.errors import ApiError, missing_parameter

# Nested dicts; every leaf is a str as Kaltura receives it ("500", "True", "+createdAt"); nested objects are
# dicts carrying "objectType"; an uploaded file is an UploadedFile; ``prop__null: ""`` sets prop to null.
Params = dict[str, Any]
Result = dict[str, Any] | list[Any] | str | int | float | bool | None


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    data: bytes


@dataclass(frozen=True)
class CallContext:
    partner_id: int
    user_id: str  # from the KS
    service_url: str  # e.g. "http://127.0.0.1:41234": the base of download URLs


Handler = Callable[[Params, CallContext], Result]

_LEADING_INT = re.compile(r"\s*([+-]?\d+)")


def opt_str(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is None or isinstance(value, dict | UploadedFile):
        return None
    return str(value)


def req_str(params: Params, name: str) -> str:
    value = opt_str(params, name)
    if value is None or value == "":
        raise missing_parameter(name)
    return value


def php_int(value: str) -> int:
    """PHP's (int) cast: the leading integer of the string, else 0."""
    match = _LEADING_INT.match(value)
    return int(match.group(1)) if match else 0


def opt_int(params: Params, name: str) -> int | None:
    value = opt_str(params, name)
    if value is None or value.strip() == "":
        return None
    return php_int(value)


def opt_bool(params: Params, name: str, default: bool) -> bool:
    """ "false" in any case is false; otherwise PHP truthiness ("" and "0" are false)."""
    value = opt_str(params, name)
    if value is None:
        return default
    return value.strip().lower() != "false" and value not in ("", "0")


def opt_obj(params: Params, name: str) -> dict[str, Any] | None:
    value = params.get(name)
    return value if isinstance(value, dict) else None


def req_obj(params: Params, name: str) -> dict[str, Any]:
    value = opt_obj(params, name)
    if value is None:
        raise missing_parameter(name)
    return value


def req_file(params: Params, name: str) -> UploadedFile:
    value = params.get(name)
    if not isinstance(value, UploadedFile):
        raise missing_parameter(name)
    return value


def is_nulled(obj: dict[str, Any], prop: str) -> bool:
    """True when the caller asked to set ``prop`` to null (``prop__null``)."""
    return f"{prop}__null" in obj


def csv_values(value: str | None) -> list[str]:
    """The non-empty, trimmed items of a comma-separated parameter, in order, without duplicates."""
    if not value:
        return []
    return list(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))


def enum_value(value: str | None, allowed: tuple[str, ...], param: str, enum_type: str) -> str | None:
    if value is None or value == "":
        return None
    if value not in allowed:
        raise ApiError(
            "INVALID_ENUM_VALUE",
            f'Invalid enumeration value "{value}" for parameter "{param}", expecting enumeration type '
            f'"{enum_type}"',
            {"ENUM_VAL": value, "PARAM_NAME": param, "ENUM_TYPE": enum_type},
        )
    return value


@dataclass(frozen=True)
class Pager:
    size: int
    index: int

    @property
    def offset(self) -> int:
        return (self.index - 1) * self.size


MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 30


def read_pager(params: Params) -> Pager:
    """pageSize default 30, values <= 0 mean 30, silently clamped to 500; pageIndex 1-based, default 1."""
    pager = opt_obj(params, "pager") or {}
    size = opt_int(pager, "pageSize")
    index = opt_int(pager, "pageIndex")
    size = DEFAULT_PAGE_SIZE if size is None or size <= 0 else min(size, MAX_PAGE_SIZE)
    index = 1 if index is None or index <= 0 else index
    return Pager(size, index)
