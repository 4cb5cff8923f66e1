"""Responses as the Kaltura API v3 serializers write them: XML (format 2, the default) and JSON (format 1).

XML: `<xml><result>…</result><executionTime>…</executionTime></xml>`; an object is its `<objectType>` then
one element per property (null = empty element), booleans `1`/`0`, arrays are `<item>` children, an error is
`<error><code/><message/><objectType>KalturaAPIException</objectType><args>…</args></error>`.
JSON: the bare result, nulls omitted, errors as `{"code", "message", "objectType", "args"}`, void = `null`.
A multirequest result is an array of per-call results (errors in their slots).
"""

from __future__ import annotations

import json
import re
from typing import Any

from testbed.kaltura_sim.errors import ApiError

FORMAT_JSON = "1"
FORMAT_XML = "2"

XML_CONTENT_TYPE = "text/xml"
JSON_CONTENT_TYPE = "application/json"

_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# Characters XML 1.0 cannot carry at all; the real server strips them too.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_XML_SPECIAL = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: str) -> str:
    if not _XML_SPECIAL.search(value):  # the common case: nothing to escape
        return value
    return _XML_INVALID.sub("", value).translate(_XML_ESCAPES)


def _scalar(value: Any) -> str | None:
    """The text of a scalar, or None when `value` is a container (written by `_xml_value`)."""
    kind = type(value)
    if kind is str:
        return _text(value)
    if kind is int:
        return str(value)
    if kind is bool:
        return "1" if value else "0"
    if kind is float:
        return repr(value)
    return None


def _xml_value(value: Any, out: list[str]) -> None:
    """Append the content (not the enclosing element) of `value`."""
    if value is None:
        return
    text = _scalar(value)
    if text is not None:
        out.append(text)
    elif isinstance(value, ApiError):
        _xml_error(value, out)
    elif isinstance(value, dict):
        object_type = value.get("objectType")
        if object_type is not None:
            out.append(f"<objectType>{_text(str(object_type))}</objectType>")
        for key, item in value.items():
            if key == "objectType":
                continue
            text = "" if item is None else _scalar(item)
            if text is not None:  # properties are mostly scalars: one append each
                out.append(f"<{key}>{text}</{key}>")
            else:
                out.append(f"<{key}>")
                _xml_value(item, out)
                out.append(f"</{key}>")
    elif isinstance(value, list | tuple):
        for item in value:
            out.append("<item>")
            _xml_value(item, out)
            out.append("</item>")
    else:
        out.append(_text(str(value)))


def _xml_error(error: ApiError, out: list[str]) -> None:
    out.append(f"<error><code>{_text(error.code)}</code><message>{_text(error.message)}</message>")
    out.append("<objectType>KalturaAPIException</objectType><args>")
    for name, value in error.error_args.items():
        out.append(
            "<item><objectType>KalturaApiExceptionArg</objectType>"
            f"<name>{_text(name)}</name><value>{_text(str(value))}</value></item>"
        )
    out.append("</args></error>")


def xml(result: Any, execution_time: float) -> bytes:
    """The whole XML document for one call's result (or error) or a multirequest's list of them."""
    out = ['<?xml version="1.0" encoding="utf-8"?><xml><result>']
    _xml_value(result, out)
    out.append(f"</result><executionTime>{execution_time:.6f}</executionTime></xml>")
    return "".join(out).encode("utf-8", errors="replace")


def _json_ready(value: Any) -> Any:
    if isinstance(value, ApiError):
        return {
            "code": value.code,
            "message": value.message,
            "objectType": "KalturaAPIException",
            "args": dict(value.error_args),
        }
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if item is None:
                continue
            kind = type(item)
            # Recurse only into containers: properties are mostly scalars.
            out[key] = (
                _json_ready(item)
                if kind is dict or kind is list or kind is tuple or kind is ApiError
                else item
            )
        return out
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    return value


def json_body(result: Any) -> bytes:
    """The JSON body for one call's result (or error) or a multirequest's list of them."""
    # ASCII escapes, as PHP's json_encode writes them (and faster than ensure_ascii=False).
    return json.dumps(_json_ready(result), separators=(",", ":")).encode("ascii")


def render(result: Any, fmt: str, execution_time: float) -> tuple[bytes, str]:
    """Body and content type for the requested `format` (anything but "1" is XML)."""
    if fmt == FORMAT_JSON:
        return json_body(result), JSON_CONTENT_TYPE
    return xml(result, execution_time), XML_CONTENT_TYPE
