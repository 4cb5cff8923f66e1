"""Answers of moto's S3 made what S3 answers, for what s3copy decides on them.

- A part or a completion for an upload that is gone (aborted, or completed already): S3 answers `404
  NoSuchUpload`; moto 5 looks the upload up without a check and answers `500 InternalError`, which a client
  rightly retries as a server fault. Concurrent runs and a second sweep of stale uploads meet this case.
- ListMultipartUploads: S3 gives each upload's initiation time, and at most 1,000 uploads a page (in key
  order, then by initiation time) with `NextKeyMarker`/`NextUploadIdMarker` to go on from; moto gives every
  upload the same fixed date in 2010 and every upload on one page. A bucket the old tool used may hold
  thousands of uploads it left open, which a sweep of stale uploads must page through.
- HeadObject with `x-amz-checksum-mode: ENABLED` on a multipart object: S3 gives its composite checksum with
  the part count (`xxx-3`), as a GET does; moto 5's HEAD leaves `-3` out, so the part count our proof
  compares was never in a test's answer.
- GetObjectTagging on an object in GLACIER or DEEP_ARCHIVE: S3 answers (tags are not the archived data);
  moto 5 refuses it with `403 InvalidObjectState`, as for a GET of the data, so a multipart copy in those
  classes (its proof record is in its tags) could not be proven in a test.
- CompleteMultipartUpload: S3's answer carries the object's checksum (`<ChecksumCRC32C>xxx-3`, with its
  `ChecksumType`); moto 5's carries none, so a client's comparison of it with its own was never tested.
- A PutObject or UploadPart whose `x-amz-checksum-*` header does not match its body: S3 refuses it with `400
  BadDigest`; moto stores the body and reports the claimed checksum as the object's, so a wrong checksum of
  ours would pass every test and fail every write on S3.
- A key over 1,024 bytes (UTF-8): S3 answers `400 KeyTooLongError`; moto stores it, so a prefix that makes
  keys too long would pass every test and fail every entry on S3.
- A conditional write (`If-None-Match: *` on PutObject or CompleteMultipartUpload): S3 decides "no object
  yet" and stores the object as one step, so of two concurrent writes of a key one gets `412
  PreconditionFailed`; moto checks, then assembles and stores, so both may pass the check and the second
  replace the first, tags and all. Conditional writes of one key are serialized here.
- Restores of archived objects (RestoreObject, `x-amz-restore`, a GET with no restored copy): S3 takes hours,
  refuses a second request while one is in progress, refuses Expedited for DEEP_ARCHIVE and expires the copy;
  moto 5 does none of it. `testbed.s3_restore` keeps a restore model per object, driven by a test through
  its control surface under `/__restore` (complete, expire, transition to another class, refuse Expedited).

`apply()` patches moto's S3 backend and response in the process that serves it: `testbed.moto_http` calls it
(HTTP), and `python -m testbed.moto_faithful -H HOST -p PORT -c CERT -k KEY` serves moto's app with it as
`moto.server` does (HTTPS), behind the checks of `testbed.moto_http` that need no signature: an unknown
access key id, a HEAD answered without a body. It changes nothing else and can be called more than once.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import sys
import threading
import zlib
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import crc32c

MAX_UPLOADS = 1000  # S3's page size for ListMultipartUploads (and the most `max-uploads` may ask)
MAX_KEY_BYTES = 1024  # S3's longest object key, in UTF-8 bytes
# moto's threads check a conditional write's condition and store its object in two steps: one at a time per
# key (a lock per stripe of keys: writes of other keys, as on S3, go on side by side)
_STRIPES: Final = tuple(threading.Lock() for _ in range(64))


_DIGESTS: dict[str, Callable[[bytes], bytes]] = {
    "x-amz-checksum-crc32c": lambda body: crc32c.crc32c(body).to_bytes(4, "big"),
    "x-amz-checksum-crc32": lambda body: zlib.crc32(body).to_bytes(4, "big"),
    "x-amz-checksum-sha256": lambda body: hashlib.sha256(body).digest(),
    "x-amz-checksum-sha1": lambda body: hashlib.sha1(body).digest(),  # S3's algorithm
}


def checksum_mismatch(headers: Any, body: bytes) -> str | None:
    """The `x-amz-checksum-*` header that `body` does not match, if any (an aws-chunked body carries its
    checksum in a trailer, which moto reads itself: not checked here)."""
    if "aws-chunked" in str(headers.get("Content-Encoding") or ""):
        return None
    for name, digest in _DIGESTS.items():
        claimed = headers.get(name)
        if claimed is not None and base64.b64encode(digest(body)).decode() != claimed:
            return name
    return None


def qualified_checksum(key: Any) -> str | None:
    """The checksum of moto's object `key` as S3 writes it (a composite one with its part count: `xxx-3`);
    None when it has none."""
    value = getattr(key, "checksum_value", None)
    if not getattr(key, "checksum_algorithm", None) or not value:
        return None
    if key.checksum_type == "COMPOSITE" and key.checksum_parts:
        return f"{value}-{key.checksum_parts}"
    return str(value)


def with_checksum(body: str | bytes, key: Any) -> str | bytes:
    """A CompleteMultipartUpload answer `body` with the checksum of the object `key` it made, as S3 gives it;
    unchanged when the object has no checksum or the answer already has one."""
    value = qualified_checksum(key)
    if value is None:
        return body
    text = body.decode() if isinstance(body, bytes) else body
    kind = key.checksum_type or "COMPOSITE"
    name = f"Checksum{key.checksum_algorithm.upper()}"
    end = "</CompleteMultipartUploadResult>"
    if end not in text or f"<{name}>" in text:
        return body
    return text.replace(end, f"<{name}>{value}</{name}><ChecksumType>{kind}</ChecksumType>{end}")


def _conditional(headers: Any) -> bool:
    """The request writes only if no object has the key (`If-None-Match: *`)."""
    return str(headers.get("If-None-Match", "")).strip() == "*"


def _stripe(bucket: str, key: str) -> threading.Lock:
    """The lock of a key's conditional writes."""
    return _STRIPES[zlib.crc32(f"{bucket}/{key}".encode()) % len(_STRIPES)]


def one_conditional_at_a_time(method: Any) -> Any:
    """`method` (a PutObject's answer), made atomic for a conditional write: check and store as one step."""

    @functools.wraps(method)
    def serialized(self: Any) -> Any:
        if not _conditional(self.headers):
            return method(self)
        with _stripe(self.bucket_name, self.parse_key_name()):
            return method(self)

    return serialized


def s3_time(moment: datetime) -> str:
    """`2026-12-04T06:30:00.123Z`, as S3 writes times in XML."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def upload_page(
    uploads: Iterable[Any], *, prefix: str, key_marker: str, upload_id_marker: str, max_uploads: int
) -> tuple[list[Any], bool]:
    """One page of `uploads` (objects with `key_name`, `id`, `initiated`) as S3 pages them: under `prefix`,
    in key order then initiation order, after the markers; and whether more follow."""
    ordered = sorted(
        (u for u in uploads if u.key_name.startswith(prefix)), key=lambda u: (u.key_name, u.initiated, u.id)
    )
    if key_marker:  # after the marked upload; or, with no such upload, after the marked key
        marked = [u.key_name == key_marker and u.id == upload_id_marker for u in ordered]
        if any(marked):
            ordered = ordered[marked.index(True) + 1 :]
        else:
            ordered = [u for u in ordered if u.key_name > key_marker]
    size = max(1, min(max_uploads, MAX_UPLOADS))
    return ordered[:size], len(ordered) > size


def apply(*, check_bodies: bool = True) -> None:
    """Patch moto; `check_bodies` adds the checksum check of bodies (off in `bin/bench`, which measures)."""
    from moto.core import responses as core_responses
    from moto.s3 import exceptions, models, responses

    from testbed import s3_restore

    s3_restore.apply()
    multipart: Any = models.FakeMultipart
    if getattr(multipart, "_faithful", False):
        return
    multipart._faithful = True

    created = multipart.__init__

    @functools.wraps(created)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        created(self, *args, **kwargs)
        self.initiated = datetime.now(UTC)

    multipart.__init__ = init

    backend: Any = models.S3Backend

    def upload_must_exist(method: Any) -> Any:
        @functools.wraps(method)
        def checked(self: Any, bucket_name: str, multipart_id: str, *args: Any, **kwargs: Any) -> Any:
            if multipart_id not in self.get_bucket(bucket_name).multiparts:
                raise exceptions.NoSuchUpload(upload_id=multipart_id)
            return method(self, bucket_name, multipart_id, *args, **kwargs)

        return checked

    backend.upload_part = upload_must_exist(backend.upload_part)
    backend.complete_multipart_upload = upload_must_exist(backend.complete_multipart_upload)

    response: Any = responses.S3Response

    class BadDigest(exceptions.S3ClientError):
        code = "BadDigest"

    class KeyTooLong(exceptions.S3ClientError):
        code = "KeyTooLongError"

    keyed = response._key_response

    @functools.wraps(keyed)
    def key_response(self: Any, request: Any, full_url: str) -> Any:
        if len(self.parse_key_name().encode()) > MAX_KEY_BYTES:
            raise KeyTooLong("KeyTooLongError", "Your key is too long")
        return keyed(self, request, full_url)

    response._key_response = key_response

    def body_checked(method: Any) -> Any:
        @functools.wraps(method)
        def checked(self: Any) -> Any:
            wrong = checksum_mismatch(self.headers, bytes(self.body or b""))
            if wrong is not None:
                why = f"The {wrong} you specified did not match the calculated checksum."
                raise BadDigest("BadDigest", why)
            return method(self)

        return checked

    headed = response.head_object

    @functools.wraps(headed)
    def head_object(self: Any, bucket_name: str, query: Any, key_name: str, headers: Any) -> Any:
        status, out, body = headed(self, bucket_name, query, key_name, headers)
        if status == 200 and not query.get("partNumber") and headers.get("x-amz-checksum-mode") == "ENABLED":
            key = self.backend.get_object(bucket_name, key_name)
            value = qualified_checksum(key)
            name = f"x-amz-checksum-{key.checksum_algorithm.lower()}" if value is not None else ""
            if name in out:
                out[name] = value
        return status, out, body

    response.head_object = head_object

    posted = response._key_response_post

    @functools.wraps(posted)
    def key_response_post(
        self: Any, request: Any, body: bytes, bucket_name: str, query: Any, key_name: str
    ) -> Any:
        if _conditional(self.headers):
            with _stripe(bucket_name, key_name):
                status, out, text = posted(self, request, body, bucket_name, query, key_name)
        else:
            status, out, text = posted(self, request, body, bucket_name, query, key_name)
        if status == 200 and "uploadId" in query and "uploads" not in query:
            text = with_checksum(text, self.backend.get_object(bucket_name, key_name))
        return status, out, text

    response._key_response_post = key_response_post

    tagging = response.get_object_tagging

    @functools.wraps(tagging)
    def get_object_tagging(self: Any) -> Any:
        find = self._get_key  # a new S3Response answers each request: this changes only this answer
        self._get_key = lambda validate_storage_class=True: find(validate_storage_class=False)
        return tagging(self)

    response.get_object_tagging = get_object_tagging

    if check_bodies:
        response.put_object = body_checked(response.put_object)
        response.upload_part = body_checked(response.upload_part)
    response.put_object = one_conditional_at_a_time(response.put_object)

    def list_uploads(self: Any) -> Any:
        query = self.querystring

        def first(name: str, default: str = "") -> str:
            values = query.get(name) or [default]
            value = values[0]
            return value.decode() if isinstance(value, bytes) else str(value)

        max_uploads = int(first("max-uploads", str(MAX_UPLOADS)))
        page, truncated = upload_page(
            self.backend.list_multipart_uploads(self.bucket_name).values(),
            prefix=first("prefix"),
            key_marker=first("key-marker"),
            upload_id_marker=first("upload-id-marker"),
            max_uploads=max_uploads,
        )
        result: dict[str, Any] = {
            "Bucket": self.bucket_name,
            "KeyMarker": first("key-marker"),
            "UploadIdMarker": first("upload-id-marker"),
            "MaxUploads": max_uploads,
            "IsTruncated": truncated,
            "Uploads": [
                {
                    "Key": u.key_name,
                    "UploadId": u.id,
                    "StorageClass": u.storage or "STANDARD",
                    "Initiated": s3_time(u.initiated),
                    "ChecksumAlgorithm": u.metadata.get("x-amz-checksum-algorithm"),
                    "ChecksumType": u.metadata.get("x-amz-checksum-type"),
                }
                for u in page
            ],
        }
        if first("prefix"):
            result["Prefix"] = first("prefix")
        if truncated:
            result["NextKeyMarker"], result["NextUploadIdMarker"] = page[-1].key_name, page[-1].id
        self.data["Action"] = "ListMultipartUploads"
        return self.serialized(core_responses.ActionResult(result))

    response.list_multipart_uploads = list_uploads


def main(argv: Sequence[str] | None = None) -> int:
    """`moto.server -H HOST -p PORT -c CERT -k KEY` (HTTPS) with the answers above, its app behind the
    checks of `testbed.moto_http` that need no body: an unknown access key id is refused, a HEAD answered
    without a body; and the restore control surface (`testbed.s3_restore`). (moto.server's own `main`
    builds the same app but takes no WSGI wrapper.)"""
    import signal

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    from testbed.moto_http import ACCESS_KEY_ID, access_key_checked, bodiless_head
    from testbed.s3_restore import restore_controlled

    parser = argparse.ArgumentParser(
        prog="python -m testbed.moto_faithful", description=__doc__.splitlines()[0]
    )
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("-c", "--ssl-cert", required=True)
    parser.add_argument("-k", "--ssl-key", required=True)
    args = parser.parse_args(argv)

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    apply()
    app: Any = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # as moto.server sets it
    run_simple(
        args.host,
        args.port,
        bodiless_head(access_key_checked(restore_controlled(app), ACCESS_KEY_ID)),
        threaded=True,
        ssl_context=(args.ssl_cert, args.ssl_key),
        request_handler=MotoRequestHandler,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
