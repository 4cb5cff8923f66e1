"""Kaltura API v3 on the wire: request parameters from the official package, JSON results into frozen types.

Requests: the official `KalturaApiClient` service classes are driven against a recorder instead of their
HTTP client, so every call's service id, action name and parameters (names, defaults, string encodings,
`objectType`, `__null`) are exactly what the official client would send (docs/kaltura.md, Transport).
Responses: we ask for JSON (`format` 1) and parse results into small frozen dataclasses; an API error is
an `ApiFault` value, which errors.py maps to the engine's error classes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from KalturaClient.Plugins import Core

API_VERSION: str = Core.API_VERSION
FORMAT_JSON = "1"

FLAVOR_READY = 2

ENTRY_STATUS_NAMES: dict[int, str] = {
    -2: "ERROR_IMPORTING", -1: "ERROR_CONVERTING", 0: "IMPORT", 1: "PRECONVERT", 2: "READY", 3: "DELETED",
    4: "PENDING", 5: "MODERATE", 6: "BLOCKED", 7: "NO_CONTENT",
}  # fmt: skip
FLAVOR_STATUS_NAMES: dict[int, str] = {
    -1: "ERROR", 0: "QUEUED", 1: "CONVERTING", 2: "READY", 3: "DELETED", 4: "NOT_APPLICABLE", 5: "TEMP",
    6: "WAIT_FOR_CONVERT", 7: "IMPORTING", 8: "VALIDATING", 9: "EXPORTING",
}  # fmt: skip

Params = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True)
class UrlResource:
    """New content that Kaltura fetches itself from `url` (a KalturaUrlResource). The URL may be a secret (a
    presigned S3 URL): it is never in the repr."""

    url: str = field(repr=False)


@dataclass(frozen=True)
class ApiCall:
    """One service action with its parameters, as the official client would put them in the body."""

    service: str
    action: str
    params: Params
    files: tuple[str, ...] = ()  # the names of its file fields (sent as multipart/form-data)

    @property
    def name(self) -> str:
        return f"{self.service}.{self.action}"


class _Recorder:
    """Stands in for the official client's HTTP client: keeps the queued call, sends nothing."""

    def __init__(self) -> None:
        self.calls: list[ApiCall] = []

    def queueServiceActionCall(  # the official client's method names, called by its services
        self, service: str, action: str, return_type: object, params: Any = None, files: Any = None
    ) -> None:
        # a file field is recorded by name only: the bytes go in the multipart body the session builds
        names = tuple(files) if files else ()
        self.calls.append(ApiCall(service, action, dict(params.get()) if params is not None else {}, names))

    def isMultiRequest(self) -> bool:
        return True

    def getMultiRequestResult(self) -> None:
        return None


class Services:
    """The official service objects, bound to a recorder: `capture(lambda s: s.media.list(f, p))`."""

    def __init__(self, recorder: _Recorder) -> None:
        self.media = Core.KalturaMediaService(recorder)
        self.baseEntry = Core.KalturaBaseEntryService(recorder)
        self.flavorAsset = Core.KalturaFlavorAssetService(recorder)
        self.session = Core.KalturaSessionService(recorder)
        self.uploadToken = Core.KalturaUploadTokenService(recorder)
        self.thumbAsset = Core.KalturaThumbAssetService(recorder)


def capture(build: Callable[[Services], object]) -> ApiCall:
    """Record the one call `build` makes on the official services."""
    recorder = _Recorder()
    build(Services(recorder))
    if len(recorder.calls) != 1:
        raise ValueError(f"expected one call, recorded {len(recorder.calls)}")
    return recorder.calls[0]


def request_body(call: ApiCall, *, ks: str, client_tag: str) -> Params:
    """The JSON body of a single call: the action's parameters plus ks, format, clientTag, apiVersion."""
    body: Params = {"clientTag": client_tag, "apiVersion": API_VERSION, "format": FORMAT_JSON}
    body.update(call.params)
    body["ks"] = ks
    return body


def multirequest_body(calls: Sequence[ApiCall], *, ks: str, client_tag: str) -> Params:
    """A multirequest body: keys "0", "1", … each with service, action, params and (as the official client
    does) the KS inside every sub-call."""
    body: Params = {"clientTag": client_tag, "apiVersion": API_VERSION, "format": FORMAT_JSON}
    for index, call in enumerate(calls):
        sub: Params = dict(call.params)
        sub["ks"] = ks
        sub["service"] = call.service
        sub["action"] = call.action
        body[str(index)] = sub
    return body


# ---------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ApiFault:
    """A KalturaAPIException answered in place of a result."""

    code: str
    message: str
    args: Mapping[str, str]


def as_fault(result: object) -> ApiFault | None:
    """The error in a JSON result, if it is one."""
    if isinstance(result, dict) and result.get("objectType") == "KalturaAPIException":
        args = result.get("args") or {}
        return ApiFault(
            str(result.get("code", "")),
            str(result.get("message", "")),
            {str(k): str(v) for k, v in args.items()} if isinstance(args, dict) else {},
        )
    return None


def split_tags(raw: object) -> tuple[str, ...]:
    """Kaltura's comma-joined tag string as a tuple of trimmed tags (empty ones dropped)."""
    if not raw:
        return ()
    return tuple(tag for tag in (part.strip() for part in str(raw).split(",")) if tag)


def _int(value: object, default: int = 0) -> int:
    if value is None or value == "":
        return default
    return int(str(value))


def _opt_int(value: object) -> int | None:
    if value is None or value == "":
        return None
    return int(str(value))


def _bool(value: object) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true")
    return bool(value)


@dataclass(frozen=True, slots=True)
class MediaEntry:
    """The fields of a KalturaMediaEntry the archiver reads. Times are Unix seconds."""

    id: str
    name: str
    created_at: int
    updated_at: int | None
    status: int
    media_type: int | None
    tags: tuple[str, ...]
    categories: str
    categories_ids: tuple[str, ...]
    plays: int
    views: int
    last_played_at: int | None
    creator_id: str
    user_id: str
    duration: int | None
    replacing_entry_id: str | None
    replacement_status: int

    def has_tag(self, tag: str) -> bool:
        """Exact tag membership (Kaltura lower-cases tags, so compare without case)."""
        wanted = tag.strip().lower()
        return any(t.lower() == wanted for t in self.tags)


def parse_media_entry(data: Mapping[str, Any]) -> MediaEntry:
    """A KalturaMediaEntry JSON object (nulls omitted) as a MediaEntry."""
    return MediaEntry(
        id=str(data["id"]),
        name=str(data.get("name", "")),
        created_at=_int(data.get("createdAt")),
        updated_at=_opt_int(data.get("updatedAt")),
        status=_int(data.get("status"), -99),
        media_type=_opt_int(data.get("mediaType")),
        tags=split_tags(data.get("tags")),
        categories=str(data.get("categories", "")),
        categories_ids=split_tags(data.get("categoriesIds")),
        plays=_int(data.get("plays")),
        views=_int(data.get("views")),
        last_played_at=_opt_int(data.get("lastPlayedAt")),
        creator_id=str(data.get("creatorId", "")),
        user_id=str(data.get("userId", "")),
        duration=_opt_int(data.get("duration")),
        replacing_entry_id=str(data["replacingEntryId"]) if data.get("replacingEntryId") else None,
        replacement_status=_int(data.get("replacementStatus")),
    )


@dataclass(frozen=True, slots=True)
class FlavorAsset:
    """The fields of a KalturaFlavorAsset the archiver reads. `size_kb` is Kaltura's rounded KB figure;
    `size_bytes` may be 0 on old assets."""

    id: str
    entry_id: str
    is_original: bool
    flavor_params_id: int
    tags: tuple[str, ...]
    size_kb: int
    size_bytes: int
    status: int
    version: int
    file_ext: str
    created_at: int
    updated_at: int | None
    deleted_at: int | None

    @property
    def ready(self) -> bool:
        return self.status == FLAVOR_READY


def parse_flavor_asset(data: Mapping[str, Any]) -> FlavorAsset:
    """A KalturaFlavorAsset JSON object as a FlavorAsset."""
    return FlavorAsset(
        id=str(data["id"]),
        entry_id=str(data.get("entryId", "")),
        is_original=_bool(data.get("isOriginal", False)),
        flavor_params_id=_int(data.get("flavorParamsId"), -1),
        tags=split_tags(data.get("tags")),
        size_kb=_int(data.get("size")),
        size_bytes=_int(data.get("sizeInBytes")),
        status=_int(data.get("status"), -99),
        version=_int(data.get("version")),
        file_ext=str(data.get("fileExt", "")),
        created_at=_int(data.get("createdAt")),
        updated_at=_opt_int(data.get("updatedAt")),
        deleted_at=_opt_int(data.get("deletedAt")),
    )


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list response: its objects and the server's totalCount."""

    objects: tuple[T, ...]
    total_count: int


def parse_page(data: Mapping[str, Any], parse: Callable[[Mapping[str, Any]], T]) -> Page[T]:
    """A Kaltura*ListResponse as a Page of parsed objects."""
    objects = data.get("objects") or []
    return Page(tuple(parse(obj) for obj in objects), _int(data.get("totalCount")))
