"""A benchmark-only S3 server that checks every request and keeps no bytes: a target faster than moto.

NOT for tests of correctness: it answers only what an upload job needs (buckets, PUT object, multipart
uploads, HEAD, tags, listings), and a GET of an object's bytes answers `501 NotImplemented`, because the bytes
are discarded as they arrive: it keeps per object only its size, ETag, checksums, part sizes, metadata and
tags. That is what makes it a bench target: moto copies an object about five times on
CompleteMultipartUpload and absorbs 60-140 MB/s on one core, so no moto figure shows an uploader's ceiling.

What it checks as S3 does, on every request:
- SigV4 (header `Authorization`, or a presigned query string): an access key id other than the testbed's is
  `403 InvalidAccessKeyId`, a wrong signature `403 SignatureDoesNotMatch`;
- the payload: a hex `x-amz-content-sha256` must be the body's SHA-256 (`400 XAmzContentSHA256Mismatch`);
  `UNSIGNED-PAYLOAD` passes. Over plain HTTP (all the sink serves) botocore and aws-cli v2 sign the body's
  SHA-256, rclone signs it for parts and sends `UNSIGNED-PAYLOAD` for a single PUT, our store sends
  `UNSIGNED-PAYLOAD`: none sends an `aws-chunked` body, so one is refused (`501 NotImplemented`);
- every checksum sent (`x-amz-checksum-crc32/crc32c/sha1/sha256`, `Content-MD5`): a mismatch is
  `400 BadDigest`, a malformed value `400 InvalidRequest`/`InvalidDigest`;
- CompleteMultipartUpload: the parts listed exist with those ETags and checksums, in ascending order, all
  but the last at least 5 MiB; it answers the multipart ETag and the COMPOSITE checksum (`...-N`);
- `If-None-Match: *` on PUT and CompleteMultipartUpload: `412 PreconditionFailed` when the key exists;
- `Expect: 100-continue` (botocore's PUTs of bodies): `100 Continue` once the signature is right.

Run: `python -m testbed.s3_sink --port 0` prints one JSON line (`endpoint_url`, `region`) once it answers.
`SinkServer` runs it as a subprocess, with the same interface as `testbed.s3.S3Server` for `bin/bench`.
Control surface (no signature, like moto's `/moto-api/`): `POST /__sink/reset`, `PUT /__sink/bucket/NAME`,
`GET /__sink/bucket/NAME` (`{"objects": n, "last_written": epoch seconds of the newest object, or null}`: a
benchmark's end of transfer), `GET /__sink/health`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import quote, unquote

import crc32c
from aiohttp import web

from testbed.process import ServerProcess, serve_until_signal, spawn
from testbed.s3 import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, sdk_env, sdk_kwargs

CONTROL: Final = "/__sink"
MIN_PART: Final = 5 << 20  # S3's smallest part but the last
READ_BYTES: Final = 1 << 20  # at most this much a read (the socket's buffer decides)
BATCH_BYTES: Final = 1 << 20  # hashed in one thread hop (measured: 64 KiB to 4 MiB cost the same CPU)
MAX_KEYS: Final = 1000
EMPTY_SHA256: Final = hashlib.sha256(b"").hexdigest()
UNSIGNED: Final = "UNSIGNED-PAYLOAD"
_SIGV4: Final = "AWS4-HMAC-SHA256"
_XMLNS: Final = "http://s3.amazonaws.com/doc/2006-03-01/"
_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_SPACES: Final = re.compile(r"\s+")
_META: Final = "x-amz-meta-"
# S3's answers, as (status, code, message)
_PRECONDITION: Final = (
    412,
    "PreconditionFailed",
    "At least one of the pre-conditions you specified did not hold",
)
_INVALID_PART: Final = (
    400,
    "InvalidPart",
    "One or more of the specified parts could not be found. The part may not have been uploaded, or the"
    " specified entity tag may not have matched the part's entity tag.",
)
_TOO_SMALL: Final = (400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")
_SHORT_BODY: Final = (
    400,
    "IncompleteBody",
    "You did not provide the number of bytes specified by the Content-Length HTTP header.",
)
_UNKNOWN_KEY: Final = (
    403,
    "InvalidAccessKeyId",
    "The AWS Access Key Id you provided does not exist in our records.",
)
_NO_SHA256: Final = (400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
_SHA256_MISMATCH: Final = (
    400,
    "XAmzContentSHA256Mismatch",
    "The provided 'x-amz-content-sha256' header does not match what was computed.",
)
_TRACED: Final = (
    "x-amz-content",
    "x-amz-checksum",
    "x-amz-sdk",
    "x-amz-trailer",
    "x-amz-decoded",
    "content-",
    "expect",
)


# -- checksums -------------------------------------------------------------------------------------------


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


class _Crc:
    """A CRC (zlib's CRC32 or CRC32C) with hashlib's update/digest."""

    def __init__(self, fn: Callable[[bytes, int], int]) -> None:
        self._fn = fn
        self._value = 0

    def update(self, data: bytes, /) -> None:
        self._value = self._fn(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(4, "big")


_NEW: Final[dict[str, Callable[[], Hasher]]] = {
    "CRC32": lambda: _Crc(zlib.crc32),
    "CRC32C": lambda: _Crc(crc32c.crc32c),
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
}
_DIGEST_BYTES: Final = {"CRC32": 4, "CRC32C": 4, "SHA1": 20, "SHA256": 32}


def digest_of(algorithm: str, data: bytes) -> bytes:
    """The raw digest of `data` by `algorithm` (one of `_NEW`)."""
    hasher = _NEW[algorithm]()
    hasher.update(data)
    return hasher.digest()


class S3Error(Exception):
    """An S3 error answer: status, code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def _bad_signature(detail: str = "") -> S3Error:
    message = "The request signature we calculated does not match the signature you provided."
    return S3Error(403, "SignatureDoesNotMatch", message + (f" {detail}" if detail else ""))


def _decoded_checksum(algorithm: str, value: str) -> bytes:
    """The raw digest a base64 `x-amz-checksum-*` value stands for; 400 InvalidRequest if it is not one."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != _DIGEST_BYTES[algorithm]:
        raise S3Error(
            400, "InvalidRequest", f"Value for x-amz-checksum-{algorithm.lower()} header is invalid."
        )
    return raw


# -- what is kept ----------------------------------------------------------------------------------------


@dataclass
class Stored:
    """One object: everything but its bytes."""

    size: int
    etag: str  # without quotes
    checksum: tuple[str, str] | None  # (algorithm, base64 value as S3 reports it, "-N" for composite)
    checksum_type: str  # FULL_OBJECT or COMPOSITE
    metadata: dict[str, str]
    tags: dict[str, str]
    storage_class: str
    part_sizes: list[int]  # empty for a single PUT
    modified: float = field(default_factory=time.time)


@dataclass
class Part:
    size: int
    md5: bytes
    checksums: dict[str, bytes]  # algorithm -> raw digest of the part


@dataclass
class Upload:
    key: str
    upload_id: str
    algorithm: str | None
    metadata: dict[str, str]
    tags: dict[str, str]
    storage_class: str
    initiated: float = field(default_factory=time.time)
    parts: dict[int, Part] = field(default_factory=dict)


@dataclass
class Bucket:
    objects: dict[str, Stored] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)


# -- SigV4 -----------------------------------------------------------------------------------------------


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """SigV4's derived key for one day, region and service."""
    return _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode(), date), region), service), "aws4_request")


def canonical_query(raw_query: str, *, drop: str = "") -> str:
    """SigV4's canonical query string of a query as sent: each name and value URI-encoded, sorted."""
    pairs = []
    for item in raw_query.split("&") if raw_query else []:
        name, _, value = item.partition("=")
        name, value = unquote(name), unquote(value)
        if name != drop:
            pairs.append((quote(name, safe="-_.~"), quote(value, safe="-_.~")))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


@dataclass(frozen=True)
class Signed:
    """What a request's accepted SigV4 signature says of its body."""

    payload: str  # the payload hash signed: hex SHA-256, UNSIGNED-PAYLOAD (or a STREAMING-* marker)


def verify_signature(request: web.BaseRequest) -> Signed:
    """Check the request's SigV4 signature (header or presigned query); S3Error as S3 answers."""
    path, _, raw_query = request.raw_path.partition("?")
    query = request.query
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith(_SIGV4 + " "):
        fields = dict(p.strip().partition("=")[::2] for p in authorization[len(_SIGV4) + 1 :].split(","))
        credential, signed_names = fields.get("Credential", ""), fields.get("SignedHeaders", "")
        given, drop = fields.get("Signature", ""), ""
        amz_date = request.headers.get("x-amz-date", "")
        payload = request.headers.get("x-amz-content-sha256", "")
        if not payload:
            raise S3Error(*_NO_SHA256)
    elif query.get("X-Amz-Algorithm") == _SIGV4:
        credential, signed_names = query.get("X-Amz-Credential", ""), query.get("X-Amz-SignedHeaders", "")
        given, drop = query.get("X-Amz-Signature", ""), "X-Amz-Signature"
        amz_date = query.get("X-Amz-Date", "")
        payload = request.headers.get("x-amz-content-sha256", UNSIGNED)
    else:
        raise S3Error(403, "AccessDenied", "Access Denied (this server takes only SigV4 signed requests)")
    try:
        access_key, date, region, service, terminal = credential.split("/")
    except ValueError:
        raise S3Error(400, "AuthorizationHeaderMalformed", "The authorization header is malformed.") from None
    if access_key != ACCESS_KEY_ID:
        raise S3Error(*_UNKNOWN_KEY)
    names = signed_names.split(";")
    if "host" not in names:
        raise _bad_signature("host is not signed")
    headers = []
    for name in names:
        values = request.headers.getall(name, None)
        if values is None:
            raise _bad_signature(f"signed header {name} was not received")
        headers.append(f"{name}:{','.join(_SPACES.sub(' ', v.strip()) for v in values)}\n")
    canonical = "\n".join(
        [request.method, path, canonical_query(raw_query, drop=drop), "".join(headers), signed_names, payload]
    )
    scope = f"{date}/{region}/{service}/{terminal}"
    to_sign = f"{_SIGV4}\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = signing_key(SECRET_ACCESS_KEY, date, region, service)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise _bad_signature()
    return Signed(payload)


# -- bodies ----------------------------------------------------------------------------------------------


@dataclass
class Body:
    """A request body read to its end and dropped: its size, MD5 and the digests asked for."""

    size: int = 0
    md5: bytes = b""
    digests: dict[str, bytes] = field(default_factory=dict)
    sha256_hex: str = ""


class _Digests:
    """Hashers fed with every body byte: MD5 (the ETag), the asked checksums, and SHA-256 if signed."""

    def __init__(self, algorithms: set[str], signed_sha256: bool) -> None:
        self.md5 = hashlib.md5()
        self.sums = {a: _NEW[a]() for a in algorithms}
        self.sha256 = hashlib.sha256() if signed_sha256 and "SHA256" not in algorithms else None
        self.size = 0

    def update(self, data: bytes) -> None:
        self.size += len(data)
        self.md5.update(data)
        for hasher in self.sums.values():
            hasher.update(data)
        if self.sha256 is not None:
            self.sha256.update(data)

    def update_all(self, pieces: list[bytes]) -> None:
        for piece in pieces:
            self.update(piece)

    def body(self) -> Body:
        digests = {a: h.digest() for a, h in self.sums.items()}
        sha = self.sha256.hexdigest() if self.sha256 is not None else digests.get("SHA256", b"").hex()
        return Body(self.size, self.md5.digest(), digests, sha)


async def _feed(stream: Any, digests: _Digests, length: int) -> None:
    """Hash `length` bytes of `stream`. Pieces are hashed in a thread a batch at a time: hashlib and crc32c
    let go of the GIL, so the event loop reads the next batch meanwhile (a thread hop per batch, not per
    piece the socket gave)."""
    left = length
    pending: asyncio.Future[None] | None = None
    loop = asyncio.get_running_loop()
    batch: list[bytes] = []
    batched = 0
    while left > 0:
        data = await stream.read(min(READ_BYTES, left))
        if not data:
            raise S3Error(*_SHORT_BODY)
        left -= len(data)
        batch.append(data)
        batched += len(data)
        if batched >= BATCH_BYTES or left == 0:
            if pending is not None:
                await pending
            pending = loop.run_in_executor(None, digests.update_all, batch)
            batch, batched = [], 0
    if pending is not None:
        await pending


async def read_body(request: web.BaseRequest, signed: Signed, algorithms: set[str]) -> Body:
    """Read the body to its end, hashing what must be checked; S3Error when the payload hash is wrong."""
    unknown = algorithms - set(_NEW)
    if unknown:
        raise S3Error(
            400, "InvalidRequest", f"Checksum algorithm {sorted(unknown)[0]} is not supported here."
        )
    hex_payload = bool(_HEX64.fullmatch(signed.payload))
    if signed.payload.startswith("STREAMING-") or "x-amz-trailer" in request.headers:
        # over HTTP neither botocore, aws-cli v2 (2.9) nor rclone (1.60) sends aws-chunked bodies
        raise S3Error(501, "NotImplemented", "The bench sink takes no aws-chunked bodies.")
    if request.content_length is None and request.body_exists:
        raise S3Error(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
    digests = _Digests(algorithms, hex_payload)
    await _feed(request.content, digests, request.content_length or 0)
    body = digests.body()
    if hex_payload and body.sha256_hex != signed.payload:
        raise S3Error(*_SHA256_MISMATCH)
    return body


def asked_algorithms(headers: Mapping[str, str]) -> set[str]:
    """The checksum algorithms whose value comes in a header (`x-amz-checksum-*`, not the mode/type)."""
    return {
        name.lower().removeprefix("x-amz-checksum-").upper()
        for name in headers
        if name.lower().startswith("x-amz-checksum-")
        and name.lower() not in ("x-amz-checksum-mode", "x-amz-checksum-type", "x-amz-checksum-algorithm")
    }


def checked_digests(headers: Mapping[str, str], body: Body) -> dict[str, bytes]:
    """Every checksum sent (`x-amz-checksum-*`, Content-MD5) against the body: the checksums it carries."""
    sent = {k.lower(): v for k, v in headers.items()}
    md5 = sent.get("content-md5")
    if md5 is not None:
        try:
            raw = base64.b64decode(md5, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 16:
            raise S3Error(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")
        if raw != body.md5:
            raise S3Error(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
    carried = {}
    for algorithm, digest in body.digests.items():
        value = sent.get(f"x-amz-checksum-{algorithm.lower()}")
        if value is None:
            raise S3Error(
                400, "InvalidRequest", f"x-amz-checksum-{algorithm.lower()} was announced, not sent."
            )
        if _decoded_checksum(algorithm, value) != digest:
            message = f"The {algorithm} you specified did not match the calculated checksum."
            raise S3Error(400, "BadDigest", message)
        carried[algorithm] = digest
    return carried


def operation_query(request: web.BaseRequest) -> dict[str, str]:
    """The query parameters that say the operation: a presigned URL's `X-Amz-*` signature ones left out."""
    return {k: v for k, v in request.query.items() if not k.startswith("X-Amz-")}


# -- answers ---------------------------------------------------------------------------------------------


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))


def _xml(root: str, body: str, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    text = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{_XMLNS}">{body}</{root}>'
    return web.Response(status=status, body=text.encode(), content_type="application/xml", headers=headers)


def _el(name: str, value: object) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


def error_response(error: S3Error, resource: str, head: bool) -> web.Response:
    request_id = uuid.uuid4().hex[:16].upper()
    headers = {"x-amz-request-id": request_id}
    if head:
        return web.Response(status=error.status, headers=headers)
    body = _el("Code", error.code) + _el("Message", error.message)
    body += _el("Resource", resource) + _el("RequestId", request_id)
    text = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{body}</Error>'
    return web.Response(
        status=error.status, body=text.encode(), content_type="application/xml", headers=headers
    )


def _checksum_headers(checksums: Mapping[str, bytes]) -> dict[str, str]:
    return {f"x-amz-checksum-{a.lower()}": base64.b64encode(d).decode() for a, d in checksums.items()}


def _tags_of(text: str) -> dict[str, str]:
    """Tags from an `x-amz-tagging` header (a URL query)."""
    pairs = [item.partition("=") for item in text.split("&") if item]
    return {unquote(k.replace("+", " ")): unquote(v.replace("+", " ")) for k, _, v in pairs}


def _metadata_of(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower()[len(_META) :]: v for k, v in headers.items() if k.lower().startswith(_META)}


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(element: ET.Element, name: str) -> Iterator[ET.Element]:
    return (child for child in element.iter() if _local(child.tag) == name)


def _text(element: ET.Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return child.text or ""
    return None


def _parse_xml(data: bytes) -> ET.Element:
    try:
        return ET.fromstring(data)
    except ET.ParseError:
        raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed.") from None


# -- the server ------------------------------------------------------------------------------------------


class Sink:
    """The buckets and the request handler."""

    def __init__(self, *, trace: bool = False) -> None:
        self.buckets: dict[str, Bucket] = {}
        self.trace = trace

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.raw_path.partition("?")[0]
        if path.startswith(CONTROL + "/"):
            return self.control(request, path[len(CONTROL) :])
        if self.trace:  # what each client sends: its signing mode, checksums and encodings
            shown = {k: v for k, v in request.headers.items() if k.lower().startswith(_TRACED)}
            print(request.method, request.raw_path[:120], json.dumps(shown), file=sys.stderr, flush=True)
        waiting = request.headers.get("Expect", "").lower() == "100-continue"
        try:
            signed = verify_signature(request)
            if waiting:  # botocore (aws-cli) waits a second for this before it sends a body anyway
                await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                waiting = False
            bucket_name, _, key = path.lstrip("/").partition("/")
            return await self.route(request, signed, unquote(bucket_name), unquote(key))
        except S3Error as error:
            response = error_response(error, path, request.method == "HEAD")
            if waiting:  # refused before "100 Continue": the body is not sent on this connection, close it
                response.force_close()
                return response
            with contextlib.suppress(Exception):  # as S3, read what the client sends before answering
                while await request.content.read(READ_BYTES):
                    pass
            return response

    def control(self, request: web.BaseRequest, path: str) -> web.Response:
        if path == "/reset" and request.method == "POST":
            self.buckets.clear()
        elif path.startswith("/bucket/") and request.method == "PUT":
            self.buckets.setdefault(path.removeprefix("/bucket/"), Bucket())
        elif path.startswith("/bucket/") and request.method == "GET":
            found = self.buckets.get(unquote(path.removeprefix("/bucket/")))
            if found is None:
                return web.json_response({"error": "no such bucket"}, status=404)
            objects = found.objects.values()
            last = max((o.modified for o in objects), default=None)
            return web.json_response({"objects": len(objects), "last_written": last})
        elif path != "/health":
            return web.json_response({"error": "unknown control call"}, status=404)
        return web.json_response({"ok": True})

    def bucket(self, name: str) -> Bucket:
        found = self.buckets.get(name)
        if found is None:
            raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist")
        return found

    async def route(self, request: web.BaseRequest, signed: Signed, bucket: str, key: str) -> web.Response:
        method, query = request.method, operation_query(request)
        if not key:
            return await self.bucket_call(request, signed, bucket)
        if method == "PUT" and "partNumber" in query and "uploadId" in query:
            return await self.upload_part(request, signed, bucket, key)
        if method == "PUT" and "tagging" in query:
            return await self.put_tagging(request, signed, bucket, key)
        if method == "PUT" and "x-amz-copy-source" not in request.headers and not query:
            return await self.put_object(request, signed, bucket, key)
        if method == "POST" and "uploads" in query:
            return await self.create_upload(request, signed, bucket, key)
        if method == "POST" and "uploadId" in query:
            return await self.complete_upload(request, signed, bucket, key)
        if method == "DELETE" and "uploadId" in query:
            return self.abort_upload(bucket, key, query["uploadId"])
        if method == "DELETE" and not query:
            self.bucket(bucket).objects.pop(key, None)
            return web.Response(status=204)
        if method == "HEAD" and set(query) <= {"partNumber", "versionId"}:
            return self.head_object(request, bucket, key)
        if method == "GET" and "tagging" in query:
            tags = self.stored(bucket, key).tags
            body = "<TagSet>" + "".join(
                f"<Tag>{_el('Key', k)}{_el('Value', v)}</Tag>" for k, v in tags.items()
            )
            return _xml("Tagging", body + "</TagSet>")
        if method == "GET" and not query:
            self.stored(bucket, key)
            raise S3Error(501, "NotImplemented", "This bench sink keeps no object bytes.")
        raise S3Error(
            501, "NotImplemented", f"{method} {request.raw_path} is not implemented by the bench sink."
        )

    def stored(self, bucket: str, key: str) -> Stored:
        found = self.bucket(bucket).objects.get(key)
        if found is None:
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.")
        return found

    async def small_body(self, request: web.BaseRequest, signed: Signed) -> bytes:
        """A small body (XML) whose payload hash is checked, kept in memory."""
        data = await request.content.read()
        if _HEX64.fullmatch(signed.payload) and hashlib.sha256(data).hexdigest() != signed.payload:
            raise S3Error(*_SHA256_MISMATCH)
        return bytes(data)

    # -- buckets

    async def bucket_call(self, request: web.BaseRequest, signed: Signed, name: str) -> web.Response:
        method, query = request.method, operation_query(request)
        if method == "PUT" and not query:
            await self.small_body(request, signed)
            self.buckets.setdefault(name, Bucket())
            return web.Response(headers={"Location": f"/{name}"})
        if method == "HEAD":
            self.bucket(name)
            return web.Response(headers={"x-amz-bucket-region": REGION})
        if method == "DELETE" and not query:
            if self.bucket(name).objects:
                raise S3Error(409, "BucketNotEmpty", "The bucket you tried to delete is not empty")
            del self.buckets[name]
            return web.Response(status=204)
        if method == "GET" and "uploads" in query:
            return self.list_uploads(name, query.get("prefix", ""))
        if method == "GET" and "location" in query:
            self.bucket(name)
            return _xml("LocationConstraint", "")
        if method == "GET" and not set(query) & {"versions", "tagging", "policy", "acl"}:
            return self.list_objects(name, query)
        raise S3Error(
            501, "NotImplemented", f"{method} {request.raw_path} is not implemented by the bench sink."
        )

    def list_objects(self, name: str, query: Mapping[str, str]) -> web.Response:
        """ListObjectsV2 (and V1 with `marker`): keys in order, `max-keys` a page."""
        objects = self.bucket(name).objects
        prefix = query.get("prefix", "")
        v2 = query.get("list-type") == "2"
        after = query.get("continuation-token") or query.get("start-after") or query.get("marker") or ""
        limit = min(int(query.get("max-keys", MAX_KEYS)), MAX_KEYS)
        keys = sorted(k for k in objects if k.startswith(prefix) and k > after)
        page, truncated = keys[:limit], len(keys) > limit
        body = _el("Name", name) + _el("Prefix", prefix) + _el("MaxKeys", limit)
        body += _el("IsTruncated", str(truncated).lower())
        if v2:
            body += _el("KeyCount", len(page))
            if truncated:
                body += _el("NextContinuationToken", page[-1])
        elif truncated:
            body += _el("NextMarker", page[-1])
        for key in page:
            o = objects[key]
            body += f"<Contents>{_el('Key', key)}{_el('LastModified', _iso(o.modified))}"
            body += f"{_el('ETag', chr(34) + o.etag + chr(34))}{_el('Size', o.size)}"
            body += f"{_el('StorageClass', o.storage_class)}</Contents>"
        return _xml("ListBucketResult", body)

    def list_uploads(self, name: str, prefix: str) -> web.Response:
        uploads = sorted(
            (u for u in self.bucket(name).uploads.values() if u.key.startswith(prefix)),
            key=lambda u: (u.key, u.initiated),
        )
        body = _el("Bucket", name) + _el("KeyMarker", "") + _el("UploadIdMarker", "") + _el("Prefix", prefix)
        body += _el("MaxUploads", MAX_KEYS) + _el("IsTruncated", "false")
        for u in uploads:
            body += f"<Upload>{_el('Key', u.key)}{_el('UploadId', u.upload_id)}"
            body += f"{_el('StorageClass', u.storage_class)}{_el('Initiated', _iso(u.initiated))}</Upload>"
        return _xml("ListMultipartUploadsResult", body)

    # -- objects

    async def put_object(
        self, request: web.BaseRequest, signed: Signed, bucket: str, key: str
    ) -> web.Response:
        objects = self.bucket(bucket).objects
        headers = request.headers
        if headers.get("If-None-Match") == "*" and key in objects:
            raise S3Error(*_PRECONDITION)
        body = await read_body(request, signed, asked_algorithms(headers))
        carried = checked_digests(headers, body)
        if headers.get("If-None-Match") == "*" and key in objects:  # another PUT finished meanwhile
            raise S3Error(*_PRECONDITION)
        checksum = next(iter(carried.items()), None)
        objects[key] = Stored(
            size=body.size,
            etag=body.md5.hex(),
            checksum=None if checksum is None else (checksum[0], base64.b64encode(checksum[1]).decode()),
            checksum_type="FULL_OBJECT",
            metadata=_metadata_of(headers),
            tags=_tags_of(headers.get("x-amz-tagging", "")),
            storage_class=headers.get("x-amz-storage-class", "STANDARD"),
            part_sizes=[],
        )
        answer = {"ETag": f'"{body.md5.hex()}"', **_checksum_headers(carried)}
        if carried:
            answer["x-amz-checksum-type"] = "FULL_OBJECT"
        return web.Response(headers=answer)

    def head_object(self, request: web.BaseRequest, bucket: str, key: str) -> web.Response:
        o = self.stored(bucket, key)
        size = o.size
        headers = {
            "ETag": f'"{o.etag}"',
            "Last-Modified": formatdate(o.modified, usegmt=True),
            "Content-Type": "binary/octet-stream",
            "Accept-Ranges": "bytes",
            **{f"{_META}{k}": v for k, v in o.metadata.items()},
        }
        number = request.query.get("partNumber")
        if number is not None and o.part_sizes:
            index = int(number) - 1
            if not 0 <= index < len(o.part_sizes):
                raise S3Error(416, "InvalidPartNumber", "The requested partnumber is not satisfiable")
            size = o.part_sizes[index]
            headers["x-amz-mp-parts-count"] = str(len(o.part_sizes))
        if o.storage_class != "STANDARD":
            headers["x-amz-storage-class"] = o.storage_class
        if o.tags:
            headers["x-amz-tagging-count"] = str(len(o.tags))
        if o.checksum is not None and request.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
            headers[f"x-amz-checksum-{o.checksum[0].lower()}"] = o.checksum[1]
            headers["x-amz-checksum-type"] = o.checksum_type
        headers["Content-Length"] = str(size)  # of the object: a HEAD answer has no body
        return web.Response(headers=headers)

    async def put_tagging(
        self, request: web.BaseRequest, signed: Signed, bucket: str, key: str
    ) -> web.Response:
        root = _parse_xml(await self.small_body(request, signed))
        tags = {}
        for tag in _children(root, "Tag"):
            tags[_text(tag, "Key") or ""] = _text(tag, "Value") or ""
        self.stored(bucket, key).tags = tags
        return web.Response()

    # -- multipart

    async def create_upload(
        self, request: web.BaseRequest, signed: Signed, bucket: str, key: str
    ) -> web.Response:
        await self.small_body(request, signed)
        headers = request.headers
        algorithm = headers.get("x-amz-checksum-algorithm")
        algorithm = algorithm.upper() if algorithm else None
        if algorithm is not None and algorithm not in _NEW:
            raise S3Error(400, "InvalidRequest", f"Checksum algorithm {algorithm} is not supported here.")
        if headers.get("x-amz-checksum-type", "COMPOSITE").upper() != "COMPOSITE":
            raise S3Error(501, "NotImplemented", "The bench sink keeps COMPOSITE multipart checksums only.")
        upload = Upload(
            key=key,
            upload_id=uuid.uuid4().hex,
            algorithm=algorithm,
            metadata=_metadata_of(headers),
            tags=_tags_of(headers.get("x-amz-tagging", "")),
            storage_class=headers.get("x-amz-storage-class", "STANDARD"),
        )
        self.bucket(bucket).uploads[upload.upload_id] = upload
        body = _el("Bucket", bucket) + _el("Key", key) + _el("UploadId", upload.upload_id)
        answer = {}
        if algorithm is not None:
            answer = {"x-amz-checksum-algorithm": algorithm, "x-amz-checksum-type": "COMPOSITE"}
        return _xml("InitiateMultipartUploadResult", body, headers=answer)

    def upload(self, bucket: str, upload_id: str) -> Upload:
        found = self.bucket(bucket).uploads.get(upload_id)
        if found is None:
            message = "The specified upload does not exist. The upload ID may be invalid, or the upload may"
            raise S3Error(404, "NoSuchUpload", message + " have been aborted or completed.")
        return found

    async def upload_part(
        self, request: web.BaseRequest, signed: Signed, bucket: str, key: str
    ) -> web.Response:
        upload = self.upload(bucket, request.query["uploadId"])
        number = int(request.query["partNumber"])
        if not 1 <= number <= 10000:
            raise S3Error(
                400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive"
            )
        algorithms = asked_algorithms(request.headers)
        if upload.algorithm is not None:
            algorithms.add(upload.algorithm)  # S3 keeps the upload's checksum of every part
        body = await read_body(request, signed, algorithms)
        carried = checked_digests(request.headers, body)
        upload.parts[number] = Part(body.size, body.md5, carried)
        return web.Response(headers={"ETag": f'"{body.md5.hex()}"', **_checksum_headers(carried)})

    async def complete_upload(
        self, request: web.BaseRequest, signed: Signed, bucket: str, key: str
    ) -> web.Response:
        root = _parse_xml(await self.small_body(request, signed))
        objects = self.bucket(bucket).objects
        upload = self.upload(bucket, request.query["uploadId"])
        if request.headers.get("If-None-Match") == "*" and key in objects:
            raise S3Error(*_PRECONDITION)
        listed = list(_children(root, "Part"))
        if not listed:
            raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed.")
        parts: list[Part] = []
        last = 0
        for element in listed:
            number = int(_text(element, "PartNumber") or 0)
            if number <= last:
                raise S3Error(400, "InvalidPartOrder", "The list of parts was not in ascending order.")
            last = number
            part = upload.parts.get(number)
            etag = (_text(element, "ETag") or "").strip('"')
            if part is None or etag != part.md5.hex() or not self._part_checksums_agree(element, part):
                raise S3Error(*_INVALID_PART)
            parts.append(part)
        if any(p.size < MIN_PART for p in parts[:-1]):
            raise S3Error(*_TOO_SMALL)
        etag = f"{hashlib.md5(b''.join(p.md5 for p in parts)).hexdigest()}-{len(parts)}"
        checksum = None
        if upload.algorithm is not None:
            composite = digest_of(upload.algorithm, b"".join(p.checksums[upload.algorithm] for p in parts))
            checksum = (upload.algorithm, f"{base64.b64encode(composite).decode()}-{len(parts)}")
        objects[key] = Stored(
            size=sum(p.size for p in parts),
            etag=etag,
            checksum=checksum,
            checksum_type="COMPOSITE",
            metadata=upload.metadata,
            tags=upload.tags,
            storage_class=upload.storage_class,
            part_sizes=[p.size for p in parts],
        )
        del self.bucket(bucket).uploads[upload.upload_id]
        body = _el("Location", f"/{bucket}/{key}") + _el("Bucket", bucket) + _el("Key", key)
        body += _el("ETag", f'"{etag}"')
        if checksum is not None:
            body += _el(f"Checksum{checksum[0]}", checksum[1]) + _el("ChecksumType", "COMPOSITE")
        return _xml("CompleteMultipartUploadResult", body)

    @staticmethod
    def _part_checksums_agree(element: ET.Element, part: Part) -> bool:
        for algorithm, digest in part.checksums.items():
            given = _text(element, f"Checksum{algorithm}")
            if given is not None and given != base64.b64encode(digest).decode():
                return False
        return True

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> web.Response:
        upload = self.upload(bucket, upload_id)
        if upload.key != key:
            self.upload(bucket, "")  # NoSuchUpload
        del self.bucket(bucket).uploads[upload_id]
        return web.Response(status=204)


async def serve(listener: socket.socket, *, trace: bool = False) -> None:
    """Serve the sink on `listener` until cancelled; `trace` prints each request's line to stderr."""
    sink = Sink(trace=trace)
    server = web.Server(sink.handle, access_log=None, handler_cancellation=False)
    runner = web.ServerRunner(server, handle_signals=False)
    await runner.setup()
    site = web.SockSite(runner, listener)
    await site.start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


# -- the subprocess ------------------------------------------------------------------------------------


class SinkServer(ServerProcess):
    """The sink on 127.0.0.1 in its own process: a sync context manager like `testbed.s3.S3Server`."""

    name = "s3-sink"
    region: Final = REGION

    def __init__(self, *, port: int = 0, trace: bool = False) -> None:
        """`trace`: the server's log (in `workdir`) gets a line per request with its signing and checksum
        headers (to find out what a client sends)."""
        super().__init__()
        self.trace = trace
        self._requested_port = port
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("s3 sink is not started")
        return self._port

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `boto3.client("s3", **kw)`."""
        return sdk_kwargs(self.endpoint_url)

    def client_env(self) -> dict[str, str]:
        """Environment variables that point a child process's AWS SDK at the sink."""
        return sdk_env(self.endpoint_url)

    def describe(self) -> dict[str, str]:
        return {"endpoint_url": self.endpoint_url, "region": REGION}

    def reset(self) -> None:
        """Forget every bucket, object and upload."""
        self._request("POST", f"{CONTROL}/reset")

    def create_bucket(self, bucket: str) -> None:
        """Create `bucket` through the control surface (no SDK needed)."""
        self._request("PUT", f"{CONTROL}/bucket/{quote(bucket)}")

    def last_written(self, bucket: str) -> float | None:
        """When the last object now in `bucket` was stored (epoch seconds), None if it holds none."""
        answer = json.loads(self._request("GET", f"{CONTROL}/bucket/{quote(bucket)}"))
        last: float | None = answer["last_written"]
        return last

    def _request(self, method: str, path: str, *, timeout: float = 10.0) -> bytes:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(self.endpoint_url + path, method=method)
        with opener.open(request, timeout=timeout) as response:
            body: bytes = response.read()
            return body

    def _prepare(self, workdir: Path) -> None:
        pass

    def _spawn(self, workdir: Path, log: Path) -> subprocess.Popen[bytes]:
        listener = socket.create_server(("127.0.0.1", self._requested_port), backlog=128)
        with listener:
            self._port = listener.getsockname()[1]
            listener.set_inheritable(True)
            argv = [sys.executable, "-m", "testbed.s3_sink", "--fd", str(listener.fileno())]
            argv += ["--trace"] if self.trace else []
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            return spawn(argv, env=env, log=log, pass_fds=[listener.fileno()])

    def _probe(self) -> bool:
        try:
            self._request("GET", f"{CONTROL}/health", timeout=2.0)  # an HTTP error status raises
            return True
        except (OSError, urllib.error.URLError):
            return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.s3_sink", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: a free one)")
    parser.add_argument("--fd", type=int, default=None, help="serve on this inherited listening socket")
    parser.add_argument("--trace", action="store_true", help="print each request's headers to stderr")
    args = parser.parse_args(argv)
    if args.fd is None:
        server = SinkServer(port=args.port)
        return serve_until_signal(server, server.describe)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(socket.socket(fileno=args.fd), trace=args.trace))
    return 0


if __name__ == "__main__":
    sys.exit(main())
