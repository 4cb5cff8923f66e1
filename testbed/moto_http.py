"""moto's S3 app served over plain HTTP with keep-alive connections, as real S3 serves them.

`python -m moto.server` runs on werkzeug's development server, which sends `Connection: close` on every
response: each request of a client then pays a new TCP connection, and moto a new thread. Real S3 keeps
connections open, and SDKs (botocore, rclone, aws-cli) reuse them, so a benchmark or a test against the
development server measures connection set-up that production never pays. This module serves the same moto
application (`DomainDispatcherApplication`, exactly what `moto.server` serves) with waitress, a threaded
HTTP/1.1 server that keeps connections alive, on a listening socket inherited from the parent.

It is used for HTTP only: HTTPS (verified, with the throw-away CA) stays on `moto.server`, which does TLS.

Usage (by `testbed.s3.S3Server`): `python -m testbed.moto_http --fd N [--threads T] [--check-signing]`.

moto checks no signature. `--check-signing` restores the checks of S3 that a client's own signing code
fails first: a SigV4 `Authorization` header must name the testbed's access key id, or the answer is S3's
`403 InvalidAccessKeyId`, and carry the signature of the request as it arrived (the path and query as sent,
the signed headers, the testbed's secret key), or the answer is S3's `403 SignatureDoesNotMatch`; and a
body whose `x-amz-content-sha256` is a SHA-256 (not `UNSIGNED-PAYLOAD`) must hash to it, or the answer is
`400 XAmzContentSHA256Mismatch`. Requests without SigV4 header authentication (moto's control API) pass as
before. With it, a body must also match its `x-amz-checksum-*` header (`400 BadDigest`, see
`testbed.moto_faithful`).
Always, as S3 does: an answer to a HEAD carries no body (waitress sends what the app gives, and an error's
XML would be read as the start of the next answer on the connection); and moto reads a key from the path as
sent (`RAW_URI`, which werkzeug's server gives and waitress does not), so a key's `%3F` stays in the key
instead of starting a query.
Two differences from werkzeug, one undone here: waitress writes response header names capitalized
(`X-Amz-Meta-Ka-Bytes`), and S3 sends metadata names as stored, lower case, which clients hand on as the
metadata's keys: `_Task` writes `x-amz-meta-*` names in lower case again. Waitress also drops request
headers whose names hold an underscore (so that `X_Foo` cannot spoof `X-Foo`): S3 metadata names with
underscores do not reach moto. Ours use dashes.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import io
import signal
import socket
import string
import sys
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any, Final

ACCESS_KEY_ID: Final = "testing"  # testbed.s3's fixed key id: any other is unknown, as to S3
SECRET_ACCESS_KEY: Final = "testing"  # testbed.s3's fixed key (moto's documented dummy)
DEFAULT_THREADS: Final = 48  # requests served at once: our pools (transfers + checkers) plus room
BODY_IN_MEMORY: Final = 64 << 20  # request bodies up to this size stay in memory, not a temporary file
RECV_BYTES: Final = 1 << 20  # read bodies in large pieces (waitress's default, 8 KiB, is 128 reads a MB)
MAX_BODY: Final = 5 << 30  # S3's own limit for one PUT (waitress's default is 1 GiB)


_META: Final = b"x-amz-meta-"
_S3_SCOPE: Final = "/s3/aws4_request"  # in the Authorization header of every request signed for S3


def _lower_metadata_names(head: bytes) -> bytes:
    """A response head with every `x-amz-meta-*` header name in lower case, as S3 writes them."""
    lines = head.split(b"\r\n")
    for i, line in enumerate(lines):
        name, colon, value = line.partition(b":")
        if colon and name.lower().startswith(_META):
            lines[i] = name.lower() + colon + value
    return b"\r\n".join(lines)


_SIGV4: Final = "AWS4-HMAC-SHA256 "
_MISMATCH: Final = (
    "400 Bad Request",
    "XAmzContentSHA256Mismatch",
    "The provided 'x-amz-content-sha256' header does not match what was computed.",
)
_BAD_SIGNATURE: Final = (
    "403 Forbidden",
    "SignatureDoesNotMatch",
    "The request signature we calculated does not match the signature you provided.",
)
_UNKNOWN_KEY: Final = (
    "403 Forbidden",
    "InvalidAccessKeyId",
    "The AWS Access Key Id you provided does not exist in our records.",
)


def _refuse(
    start_response: Any, answer: tuple[str, str, str], detail: str = "", *, element: str = "Detail"
) -> list[bytes]:
    status, code, message = answer
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
    body += f"<{element}>{escape(detail)}</{element}></Error>" if detail else "</Error>"
    start_response(status, [("Content-Type", "application/xml")])
    return [body.encode()]


def access_key_of(environ: Mapping[str, Any]) -> str | None:
    """The access key id a SigV4 `Authorization` header names; None without one (or when unreadable)."""
    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    if not authorization.startswith(_SIGV4):
        return None
    for part in authorization[len(_SIGV4) :].split(","):
        name, _, value = part.strip().partition("=")
        if name == "Credential":
            return value.split("/", 1)[0]
    return None


def _drain(environ: Mapping[str, Any]) -> None:
    """Read the request's body to its end, as S3 does before an error answer: a server that answers and
    closes (werkzeug's) while a client still sends would reset an upload the client should see refused."""
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):  # a chunked body (botocore's aws-chunked over HTTPS), de-chunked
        while stream.read(RECV_BYTES):
            pass
        return
    left = int(environ.get("CONTENT_LENGTH") or 0)
    while left > 0:
        chunk = stream.read(min(left, RECV_BYTES))
        if not chunk:
            return
        left -= len(chunk)


def access_key_checked(app: Any, access_key_id: str) -> Any:
    """`app` behind S3's first check of a signed request: an access key id S3 does not know is `403
    InvalidAccessKeyId` (with the id in `AWSAccessKeyId`, as S3 gives it), before any signature check."""

    def checked(environ: dict[str, Any], start_response: Any) -> Any:
        given = access_key_of(environ)
        if given is not None and given != access_key_id:
            _drain(environ)
            return _refuse(start_response, _UNKNOWN_KEY, given, element="AWSAccessKeyId")
        return app(environ, start_response)

    return checked


def bodiless_head(app: Any) -> Any:
    """`app` whose answers to HEAD carry no body, as HTTP requires: an error answer's XML is dropped, and its
    length stated as `Content-Length`. waitress sends what the app gives, and the bytes of a body after a HEAD
    answer would be read as the start of the next answer on a kept-alive connection."""

    def served(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] != "HEAD":
            return app(environ, start_response)
        started: list[tuple[str, list[tuple[str, str]], Any]] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started.append((status, headers, exc_info))
            return lambda data: None  # the app's `write`: nothing of it is sent

        chunks = app(environ, start)
        try:
            length = sum(len(chunk) for chunk in chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        status, headers, exc_info = started[-1]
        if not any(name.lower() == "content-length" for name, _ in headers):  # else waitress sends it chunked
            headers = [*headers, ("Content-Length", str(length))]
        start_response(status, headers, exc_info)
        return []

    return served


def raw_uri_kept(app: Any) -> Any:
    """`app` given the request's path as sent (`RAW_URI`, as werkzeug's server gives it): moto reads a key
    from it, and without it from the decoded path, where a key's `%3F` is a `?` that cuts it short."""

    def served(environ: dict[str, Any], start_response: Any) -> Any:
        environ.setdefault("RAW_URI", environ.get("REQUEST_URI", ""))
        return app(environ, start_response)

    return served


def signature_problem(environ: Mapping[str, Any], secret_key: str) -> str | None:
    """What is wrong with the SigV4 header signature of the request in `environ` (None: it is right), by
    botocore's own signer applied to the request as it arrived: method, raw path and query, signed headers."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    parts = str(environ["HTTP_AUTHORIZATION"])[len(_SIGV4) :].split(",")
    fields = dict(part.strip().partition("=")[::2] for part in parts)
    try:
        access_key, _date, region, service, _end = fields["Credential"].split("/")
        signed, given = fields["SignedHeaders"].split(";"), fields["Signature"]
    except (KeyError, ValueError):
        return "malformed Authorization header"
    headers: dict[str, str] = {}
    for name in signed:
        key = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}.get(name)
        value = environ.get(key or "HTTP_" + name.upper().replace("-", "_"))
        if value is None:
            return f"signed header {name} was not received"
        headers[name] = str(value)
    request = AWSRequest(
        method=environ["REQUEST_METHOD"], url=f"http://{headers.get('host', '')}{environ['REQUEST_URI']}"
    )
    for name, value in headers.items():
        request.headers[name] = value
    request.context["timestamp"] = headers.get("x-amz-date", "")
    if "x-amz-content-sha256" not in headers:
        return "x-amz-content-sha256 is not signed"
    signer = S3SigV4Auth(Credentials(access_key, secret_key), service, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    return None if hmac.compare_digest(expected, given) else f"canonical request:\n{canonical}"


def signing_checked(app: Any, secret_key: str) -> Any:
    """`app` behind S3's checks of a request's signature and of a signed payload's hash."""

    def checked(environ: dict[str, Any], start_response: Any) -> Any:
        if str(environ.get("HTTP_AUTHORIZATION", "")).startswith(_SIGV4):
            problem = signature_problem(environ, secret_key)
            if problem is not None:
                return _refuse(start_response, _BAD_SIGNATURE, problem)
        claimed = str(environ.get("HTTP_X_AMZ_CONTENT_SHA256", "")).lower()
        if len(claimed) == 64 and all(c in string.hexdigits for c in claimed):
            body = environ["wsgi.input"].read()
            if hashlib.sha256(body).hexdigest() != claimed:
                return _refuse(start_response, _MISMATCH)
            environ["wsgi.input"] = io.BytesIO(body)
        return app(environ, start_response)

    return checked


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.moto_http", description=__doc__.splitlines()[0])
    parser.add_argument("--fd", type=int, required=True, help="an inherited listening socket")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="worker threads")
    parser.add_argument("--check-signing", action="store_true", help="refuse what S3 refuses: bad signatures")
    args = parser.parse_args(argv)

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from waitress.channel import HTTPChannel
    from waitress.server import create_server
    from waitress.task import WSGITask

    from testbed import moto_faithful
    from testbed.s3_restore import restore_controlled

    moto_faithful.apply(check_bodies=args.check_signing)

    class _Task(WSGITask):  # type: ignore[misc]
        def build_response_header(self) -> bytes:
            return _lower_metadata_names(super().build_response_header())

    class _Channel(HTTPChannel):  # type: ignore[misc]
        task_class = _Task

    class _Dispatcher(DomainDispatcherApplication):
        """moto's dispatcher, with the S3 app kept once found: moto looks the service up for every request
        under one lock, listing its package directory each time, which serializes the worker threads."""

        s3: Any = None

        def get_application(self, environ: dict[str, Any]) -> Any:
            signed_for_s3 = _S3_SCOPE in environ.get("HTTP_AUTHORIZATION", "")
            if not signed_for_s3:
                return super().get_application(environ)
            if self.s3 is None:
                self.s3 = super().get_application(environ)
            return self.s3

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    listener = socket.socket(fileno=args.fd)
    app: Any = restore_controlled(_Dispatcher(create_backend_app))
    if args.check_signing:
        app = access_key_checked(signing_checked(app, SECRET_ACCESS_KEY), ACCESS_KEY_ID)
    server = create_server(
        bodiless_head(raw_uri_kept(app)),
        sockets=[listener],
        threads=args.threads,
        connection_limit=1000,
        inbuf_overflow=BODY_IN_MEMORY,
        recv_bytes=RECV_BYTES,
        max_request_body_size=MAX_BODY,
        channel_timeout=300,
    )
    server.channel_class = _Channel
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
