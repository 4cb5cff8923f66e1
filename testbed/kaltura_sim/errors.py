"""Kaltura API errors as the simulator raises them (code, message, args), with the real server's texts."""

from __future__ import annotations


class ApiError(Exception):
    """A Kaltura API error: answered with HTTP 200 and a KalturaAPIException body."""

    def __init__(self, code: str, message: str, args: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.error_args: dict[str, str] = dict(args or {})


def entry_not_found(entry_id: str) -> ApiError:
    return ApiError("ENTRY_ID_NOT_FOUND", f'Entry id "{entry_id}" not found', {"ENTRY_ID": entry_id})


def flavor_not_found(flavor_id: str) -> ApiError:
    message = f'Flavor asset id "{flavor_id}" not found'
    return ApiError("FLAVOR_ASSET_ID_NOT_FOUND", message, {"ID": flavor_id})


def flavor_not_ready(flavor_id: str) -> ApiError:
    message = f'Flavor asset "{flavor_id}" is not ready'
    return ApiError("FLAVOR_ASSET_IS_NOT_READY", message, {"ID": flavor_id})


def missing_parameter(name: str) -> ApiError:
    return ApiError("MISSING_MANDATORY_PARAMETER", f'Missing parameter "{name}"', {"PARAM_NAME": name})


def query_exceeded() -> ApiError:
    return ApiError(
        "QUERY_EXCEEDED_MAX_MATCHES_ALLOWED", "Unable to generate list. max matches value was reached"
    )
