"""Request parameters as the Kaltura API v3 front controller reads them, and multirequest handling.

Sources, lowest precedence first: the body (a JSON object only when `Content-Type` is exactly
`application/json`; otherwise form fields, or multipart fields where a `json` field holds the parameter JSON
and file fields become `UploadedFile`), then query parameters, then `/key/value` pairs in the path.
Form and query keys nest on `:` (`filter:objectType`) and on PHP brackets (`filter[objectType]`).
Every scalar leaf ends up a string, as PHP sees it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import BodyPartReader, web

from testbed.kaltura_sim.state import Params, Result, UploadedFile

_BRACKETS = re.compile(r"\[([^\]]*)\]")
_REFERENCE = re.compile(r"\{(\d+):result((?::[^:{}]+)*)\}")


class BadRequest(Exception):
    """The request body could not be read as the declared content type."""


def split_key(key: str) -> list[str]:
    """`filter:objectType` and `filter[objectType]` both become `["filter", "objectType"]`."""
    if "[" in key:
        head, _, _ = key.partition("[")
        parts = [head, *_BRACKETS.findall(key[len(head) :])]
    else:
        parts = [key]
    out: list[str] = []
    for part in parts:
        out.extend(part.split(":"))
    return out


def _scalar(value: Any) -> Any:
    """A JSON leaf as PHP would string it; objects and lists keep their shape."""
    if isinstance(value, dict):
        return {str(k): _scalar(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scalar(v) for v in value]
    if isinstance(value, bool):
        return "1" if value else "0"
    if value is None or isinstance(value, str | UploadedFile):
        return value
    return str(value)


def merge(base: Params, overlay: Mapping[str, Any]) -> Params:
    """Deep-merge `overlay` over `base` (in place) and return `base`."""
    for key, value in overlay.items():
        current = base.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            merge(current, value)
        else:
            base[key] = dict(value) if isinstance(value, Mapping) else value
    return base


def nest(pairs: Iterable[tuple[str, Any]]) -> Params:
    """Turn flat `a:b:c = v` pairs into nested dicts; a later pair wins."""
    out: Params = {}
    for key, value in pairs:
        parts = split_key(key)
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return out


def path_pairs(tail: str) -> Params:
    """`/service/media/action/list/ks/abc` → `{"service": "media", "action": "list", "ks": "abc"}`."""
    parts = [p for p in tail.split("/") if p]
    return nest(zip(parts[0::2], parts[1::2], strict=False))


def _json_object(raw: bytes | str) -> Params:
    try:
        value = json.loads(raw or "{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"invalid JSON body: {exc}") from None
    if not isinstance(value, dict):
        return {}
    result: Params = _scalar(value)
    return result


async def _multipart(request: web.Request) -> Params:
    reader = await request.multipart()
    base: Params = {}
    fields: list[tuple[str, Any]] = []
    async for part in reader:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        if part.filename is not None:
            fields.append((part.name, UploadedFile(part.filename, bytes(await part.read()))))
        elif part.name == "json":
            base = merge(base, _json_object(await part.read()))
        else:
            fields.append((part.name, await part.text()))
    return merge(base, nest(fields))


async def body_params(request: web.Request) -> Params:
    """Parameters carried by the request body, honouring the exact-`application/json` rule."""
    if request.method not in ("POST", "PUT"):
        return {}
    content_type = request.headers.get("Content-Type", "").strip().lower()
    if content_type == "application/json":
        return _json_object(await request.read())
    if content_type.startswith("multipart/form-data"):
        return await _multipart(request)
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = await request.post()
        return nest((k, v) for k, v in form.items() if isinstance(v, str))
    # Anything else (including `application/json; charset=utf-8`) is ignored, as the real server does.
    await request.read()
    return {}


async def request_params(request: web.Request, tail: str) -> Params:
    """All parameters of an API request: body < query < path."""
    params = await body_params(request)
    merge(params, nest(request.query.items()))
    return merge(params, path_pairs(tail))


# --- multirequest -------------------------------------------------------------------------------------------


def split_multirequest(params: Params) -> tuple[Params, list[Params]]:
    """Common parameters and the sub-requests (numeric keys, in numeric order)."""
    common: Params = {}
    calls: list[tuple[int, Params]] = []
    for key, value in params.items():
        if key.isdigit():
            calls.append((int(key), value if isinstance(value, dict) else {}))
        elif key not in ("service", "action"):
            common[key] = value
    calls.sort(key=lambda item: item[0])
    return common, [call for _, call in calls]


def _lookup(result: Result, path: list[str]) -> Any:
    node: Any = result
    for step in path:
        if isinstance(node, dict):
            node = node.get(step)
        elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            return None
    return node


def _as_param(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return "" if value is None else str(value)


def substitute(params: Any, results: list[Any]) -> Any:
    """Replace `{N:result:path}` by values of the N-th (1-based) earlier result; errors stay unreplaced."""
    if isinstance(params, dict):
        return {key: substitute(value, results) for key, value in params.items()}
    if isinstance(params, list):
        return [substitute(value, results) for value in params]
    if not isinstance(params, str) or "{" not in params:
        return params

    def replace(match: re.Match[str]) -> str:
        index = int(match.group(1)) - 1
        if not 0 <= index < len(results) or isinstance(results[index], Exception):
            return match.group(0)
        path = [step for step in match.group(2).split(":") if step]
        return _as_param(_lookup(results[index], path))

    return _REFERENCE.sub(replace, params)
