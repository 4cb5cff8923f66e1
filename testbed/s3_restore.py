"""Restores of archived objects (GLACIER, DEEP_ARCHIVE) as S3 does them, in moto, driven by a test.

moto 5 restores at once, answers `200` to a second request while one is in progress, accepts Expedited for
DEEP_ARCHIVE, ignores the tier and never expires a restored copy: a restore job tested on that proves
nothing. Here each object has a restore model (`Restore`: tier, days, ongoing or done, expiry) that S3's
answers are computed from (`decide`), and nothing moves unless a test moves it:

- RestoreObject: `202` for a new request; `409 RestoreAlreadyInProgress` while one is in progress (whatever
  its tier: a faster tier's upgrade of a restore in progress is not modelled); `200` once restored, the copy
  then kept `Days` from now (S3 counts from the current time); `503 GlacierExpeditedRetrievalNotAvailable`
  for Expedited when the plan says so; Expedited for DEEP_ARCHIVE refused (`400 InvalidArgument`, "Retrieval
  option is not supported by this storage class"); an object in an active class (STANDARD, GLACIER_IR)
  `403 ObjectAlreadyInActiveTierError`.
- HEAD and GET give `x-amz-restore` as S3 writes it: `ongoing-request="true"` while in progress, then
  `ongoing-request="false", expiry-date="Fri, 23 Dec 2012 00:00:00 GMT"` (the day the restore completed,
  plus `Days`, rounded up to midnight UTC); no header before a request and after expiry. A GET of an archived
  object with no readable copy (never restored, in progress, expired) is `403 InvalidObjectState` (moto's own
  check, which reads the header written here).

Control, under `/__restore` (no bucket name can start with `_`), in JSON, from `testbed.s3.S3Server`'s
methods: `POST /__restore/complete {"bucket", "key"}` completes a restore in progress;
`POST /__restore/expire {"bucket", "key"}` expires a restored copy; `POST /__restore/transition {"bucket",
"key", "storage_class"}` moves the object to another class as a bucket lifecycle rule does (same bytes,
ETag, checksum, metadata, tags, Last-Modified; any restore forgotten); `POST /__restore/plan
{"expedited_unavailable_next": N}` refuses the next N Expedited requests with `503`; `GET
/__restore/state?bucket=B&key=K` shows the object's class, restore and header; `GET /__restore/answers`
lists every RestoreObject answered (bucket, key, tier, days, status, code). `POST /moto-api/reset` also
forgets the plan and the answers.
"""

from __future__ import annotations

import functools
import json
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from typing import Any, Final
from urllib.parse import parse_qs

ARCHIVED: Final = frozenset({"GLACIER", "DEEP_ARCHIVE"})
TIERS: Final = ("Expedited", "Standard", "Bulk")
CONTROL: Final = "/__restore"
_STATE_ATTRIBUTE: Final = "_testbed_restore"  # where a moto key keeps its `Restore`

IN_PROGRESS: Final = (409, "RestoreAlreadyInProgress", "Object restore is already in progress")
EXPEDITED_UNAVAILABLE: Final = (
    503,
    "GlacierExpeditedRetrievalNotAvailable",
    "Glacier expedited retrievals are currently not available, please try again later",
)
TIER_NOT_SUPPORTED: Final = (
    400,
    "InvalidArgument",
    "Retrieval option is not supported by this storage class",
)
ACTIVE_TIER: Final = (
    403,
    "ObjectAlreadyInActiveTierError",
    "This action is not allowed against this storage tier.",
)


class Refused(Exception):
    """S3's refusal of a request: status, code and message of its error answer."""

    def __init__(self, answer: tuple[int, str, str]) -> None:
        self.status, self.code, self.message = answer
        super().__init__(f"{self.status} {self.code}: {self.message}")


@dataclass(frozen=True)
class Restore:
    """One object's restore: requested at `tier` for `days`; `expiry` is None while it is in progress."""

    tier: str
    days: int
    expiry: datetime | None = None

    @property
    def ongoing(self) -> bool:
        return self.expiry is None

    def readable(self, now: datetime) -> bool:
        """Whether the restored copy can be read at `now` (done and not expired)."""
        return self.expiry is not None and now < self.expiry


def expiry_date(done: datetime, days: int) -> datetime:
    """When a copy restored at `done` for `days` days is deleted, as S3 computes it: `days` later, rounded up
    to the next midnight UTC."""
    end = done.astimezone(UTC) + timedelta(days=days)
    midnight = end.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == end else midnight + timedelta(days=1)


def restore_header(restore: Restore | None, now: datetime) -> str | None:
    """The `x-amz-restore` header S3 gives an archived object with this restore (None: no header)."""
    if restore is None:
        return None
    if restore.ongoing:
        return 'ongoing-request="true"'
    if not restore.readable(now) or restore.expiry is None:
        return None
    return f'ongoing-request="false", expiry-date="{format_datetime(restore.expiry, usegmt=True)}"'


def decide(
    storage_class: str,
    current: Restore | None,
    *,
    tier: str,
    days: int,
    now: datetime,
    expedited_available: bool = True,
) -> tuple[int, Restore]:
    """S3's answer to RestoreObject(`tier`, `days`) on an object of `storage_class` whose restore is
    `current`: the status (202 new, 200 already restored) and its restore from then on; else `Refused`."""
    if storage_class not in ARCHIVED:
        raise Refused(ACTIVE_TIER)
    if tier == "Expedited" and storage_class == "DEEP_ARCHIVE":
        raise Refused(TIER_NOT_SUPPORTED)
    if current is not None and current.ongoing:
        raise Refused(IN_PROGRESS)
    if current is not None and current.readable(now):
        return 200, replace(current, days=days, expiry=expiry_date(now, days))
    if tier == "Expedited" and not expedited_available:
        raise Refused(EXPEDITED_UNAVAILABLE)
    return 202, Restore(tier=tier, days=days)


def parse_request(body: bytes) -> tuple[str, int]:
    """Tier (Standard when not given, as S3 takes it) and days of a `<RestoreRequest>` body; `Refused` (400)
    when it is not one we model."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise Refused((400, "MalformedXML", "The XML you provided was not well-formed")) from None
    found = {element.tag.rpartition("}")[2]: (element.text or "").strip() for element in root.iter()}
    tier = found.get("Tier") or "Standard"
    if tier not in TIERS:
        raise Refused((400, "MalformedXML", "The XML you provided was not well-formed"))
    try:
        days = int(found.get("Days", ""))
    except ValueError:
        why = "Days is required for a restore of an archived object"
        raise Refused((400, "InvalidArgument", why)) from None
    if days < 1:
        raise Refused((400, "InvalidArgument", "Days must be at least 1"))
    return tier, days


def error_body(code: str, message: str) -> str:
    """An S3 error answer's XML."""
    rid = uuid.uuid4().hex[:16].upper()
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message><RequestId>{rid}</RequestId><HostId>testbed</HostId></Error>"
    )


# -- the models of one moto process ---------------------------------------------------------------------


@dataclass
class _Plan:
    expedited_unavailable_next: int = 0


_lock = threading.Lock()  # waitress serves requests on many threads
_plan = _Plan()
_answers: list[dict[str, Any]] = []


def _now() -> datetime:
    return datetime.now(UTC)


def restore_of(key: Any) -> Restore | None:
    """The restore of moto's object `key` (None: never requested, expired, or forgotten)."""
    restore: Restore | None = getattr(key, _STATE_ATTRIBUTE, None)
    if restore is not None and not restore.ongoing and not restore.readable(_now()):
        return None  # expired: the copy is gone, as if never restored
    return restore


def _set_restore(key: Any, restore: Restore | None) -> None:
    setattr(key, _STATE_ATTRIBUTE, restore)


def restore_object(key: Any, bucket: str, body: bytes) -> tuple[int, dict[str, str], str]:
    """The answer to a RestoreObject request on moto's object `key`: status, headers, body."""
    answer: dict[str, Any] = {"bucket": bucket, "key": key.name, "tier": None, "days": None}
    try:
        tier, days = parse_request(body)
        answer.update(tier=tier, days=days)
        with _lock:
            status = _decide_and_keep(key, tier, days)
            _answers.append({**answer, "status": status, "code": None})
        return status, {}, ""
    except Refused as refused:
        with _lock:
            _answers.append({**answer, "status": refused.status, "code": refused.code})
        return refused.status, {"Content-Type": "application/xml"}, error_body(refused.code, refused.message)


def _decide_and_keep(key: Any, tier: str, days: int) -> int:
    """`decide` on moto's object `key`, its new restore kept (under the lock); the plan's next refusal of
    an Expedited request used up when it is the answer."""
    storage_class = str(key.storage_class or "STANDARD")
    available = _plan.expedited_unavailable_next <= 0
    try:
        status, restore = decide(
            storage_class, restore_of(key), tier=tier, days=days, now=_now(), expedited_available=available
        )
    except Refused as refused:
        if refused.code == EXPEDITED_UNAVAILABLE[1]:
            _plan.expedited_unavailable_next -= 1
        raise
    _set_restore(key, restore)
    return status


def with_restore_header(headers: dict[str, Any], key: Any) -> dict[str, Any]:
    """`headers` of moto's object `key` with the `x-amz-restore` of its restore model, and nothing else's."""
    headers.pop("x-amz-restore", None)
    if str(key.storage_class or "STANDARD") in ARCHIVED:
        header = restore_header(restore_of(key), _now())
        if header is not None:
            headers["x-amz-restore"] = header
    return headers


def forget() -> None:
    """Forget the plan and the answers (objects' restores go with their objects)."""
    with _lock:
        _plan.expedited_unavailable_next = 0
        _answers.clear()


# -- control ---------------------------------------------------------------------------------------------


class ControlError(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


def _backend() -> Any:
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    return s3_backends[DEFAULT_ACCOUNT_ID]["aws"]


def _key(body: dict[str, Any]) -> Any:
    bucket, name = str(body.get("bucket", "")), str(body.get("key", ""))
    try:
        key = _backend().get_object(bucket, name)
    except Exception:  # moto's NoSuchBucket
        key = None
    if key is None:
        raise ControlError("404 Not Found", f"no object {bucket}/{name}")
    return key


def state_of(key: Any) -> dict[str, Any]:
    """What a test sees of an object's restore: its class, its restore model and its header."""
    restore = restore_of(key)
    shown = None
    if restore is not None:
        shown = {**asdict(restore), "ongoing": restore.ongoing}
        shown["expiry"] = restore.expiry.isoformat() if restore.expiry is not None else None
    headers = with_restore_header({}, key)
    storage_class = key.storage_class or "STANDARD"
    return {"storage_class": storage_class, "restore": shown, "header": headers.get("x-amz-restore")}


def _complete(body: dict[str, Any]) -> dict[str, Any]:
    key = _key(body)
    with _lock:
        restore = restore_of(key)
        if restore is None or not restore.ongoing:
            raise ControlError("409 Conflict", "no restore in progress for this object")
        _set_restore(key, replace(restore, expiry=expiry_date(_now(), restore.days)))
    return state_of(key)


def _expire(body: dict[str, Any]) -> dict[str, Any]:
    key = _key(body)
    with _lock:
        restore = restore_of(key)
        if restore is None or restore.ongoing:
            raise ControlError("409 Conflict", "no restored copy of this object")
        _set_restore(key, None)
    return state_of(key)


def _transition(body: dict[str, Any]) -> dict[str, Any]:
    from moto.s3.utils import STORAGE_CLASS

    key = _key(body)
    storage_class = str(body.get("storage_class", ""))
    if storage_class not in STORAGE_CLASS:
        raise ControlError("400 Bad Request", f"unknown storage class {storage_class!r}")
    with _lock:
        key.set_storage_class(storage_class)  # in place: bytes, ETag, checksum, metadata, tags, dates stay
        _set_restore(key, None)
    return state_of(key)


def _set_plan(body: dict[str, Any]) -> dict[str, Any]:
    try:
        count = int(body.get("expedited_unavailable_next", 0))
    except (TypeError, ValueError):
        raise ControlError("400 Bad Request", "expedited_unavailable_next must be a whole number") from None
    with _lock:
        _plan.expedited_unavailable_next = max(0, count)
        return asdict(_plan)


_POSTS: Final[dict[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "/complete": _complete,
    "/expire": _expire,
    "/transition": _transition,
    "/plan": _set_plan,
}


def _control(environ: dict[str, Any]) -> Any:
    """The JSON answer to a control request."""
    path, method = environ.get("PATH_INFO", "")[len(CONTROL) :], environ["REQUEST_METHOD"]
    if method == "POST" and path in _POSTS:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise ControlError("400 Bad Request", "the body is not JSON") from None
        if not isinstance(body, dict):
            raise ControlError("400 Bad Request", "the body is not a JSON object")
        return _POSTS[path](body)
    if method == "GET" and path == "/state":
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        return state_of(_key(query))
    if method == "GET" and path == "/answers":
        with _lock:
            return {"answers": list(_answers), "plan": asdict(_plan)}
    raise ControlError("404 Not Found", "unknown control request")


def restore_controlled(app: Any) -> Any:
    """`app` with the control surface under `/__restore`; a moto reset also forgets the plan and answers."""

    def served(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if path == CONTROL or path.startswith(CONTROL + "/"):
            try:
                status, answer = "200 OK", _control(environ)
            except ControlError as exc:
                status, answer = exc.status, {"error": str(exc)}
            data = json.dumps(answer).encode()
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
            return [data]
        if path == "/moto-api/reset" and environ["REQUEST_METHOD"] == "POST":
            forget()
        return app(environ, start_response)  # type: ignore[no-any-return]

    return served


# -- moto --------------------------------------------------------------------------------------------------


def apply() -> None:
    """Patch moto's S3 in this process: RestoreObject and `x-amz-restore` from the restore model."""
    from moto.s3 import models, responses

    fake_key: Any = models.FakeKey
    if getattr(fake_key, "_restore_modelled", False):
        return
    fake_key._restore_modelled = True

    described = fake_key.response_dict.fget

    @functools.wraps(described)
    def response_dict(self: Any) -> dict[str, Any]:
        return with_restore_header(described(self), self)

    fake_key.response_dict = property(response_dict)

    response: Any = responses.S3Response
    posted = response._key_response_post

    @functools.wraps(posted)
    def key_response_post(
        self: Any, request: Any, body: bytes, bucket_name: str, query: Any, key_name: str
    ) -> Any:
        if "restore" not in query or "uploads" in query or "uploadId" in query:
            return posted(self, request, body, bucket_name, query, key_name)
        self._set_action("KEY", "POST", query)
        key = self.backend.get_object(bucket_name, key_name)
        if key is None:
            from moto.s3.exceptions import MissingKey

            raise MissingKey(key=key_name)
        return restore_object(key, bucket_name, bytes(body or b""))

    response._key_response_post = key_response_post
