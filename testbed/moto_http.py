"""moto's S3 app served over plain HTTP with keep-alive connections, as real S3 serves them.

`python -m moto.server` runs on werkzeug's development server, which sends `Connection: close` on every
response: each request of a client then pays a new TCP connection, and moto a new thread. Real S3 keeps
connections open, and SDKs (botocore, rclone, aws-cli) reuse them, so a benchmark or a test against the
development server measures connection set-up that production never pays. This module serves the same moto
application (`DomainDispatcherApplication`, exactly what `moto.server` serves) with waitress, a threaded
HTTP/1.1 server that keeps connections alive, on a listening socket inherited from the parent.

It is used for HTTP only: HTTPS (verified, with the throw-away CA) stays on `moto.server`, which does TLS.

Usage (by `testbed.s3.S3Server`): `python -m testbed.moto_http --fd N [--threads T] [--check-payload-hash]`.

moto checks no signature. `--check-payload-hash` restores the one check a client's own signing code gets
wrong most easily: a body whose `x-amz-content-sha256` is a SHA-256 (not `UNSIGNED-PAYLOAD`) must hash to
it, or the answer is S3's `400 XAmzContentSHA256Mismatch`.
Two differences from werkzeug, one undone here: waitress writes response header names capitalized
(`X-Amz-Meta-Ka-Bytes`), and S3 sends metadata names as stored, lower case, which clients hand on as the
metadata's keys: `_Task` writes `x-amz-meta-*` names in lower case again. Waitress also drops request
headers whose names hold an underscore (so that `X_Foo` cannot spoof `X-Foo`): S3 metadata names with
underscores do not reach moto. Ours use dashes.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import signal
import socket
import string
import sys
from collections.abc import Sequence
from typing import Any, Final

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


_MISMATCH: Final = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>XAmzContentSHA256Mismatch</Code>'
    b"<Message>The provided 'x-amz-content-sha256' header does not match what was computed.</Message>"
    b"</Error>"
)


def payload_hash_checked(app: Any) -> Any:
    """`app` behind S3's check of a signed payload: a body that does not hash to the SHA-256 its request
    claims is refused before it reaches `app`."""

    def checked(environ: dict[str, Any], start_response: Any) -> Any:
        claimed = str(environ.get("HTTP_X_AMZ_CONTENT_SHA256", "")).lower()
        if len(claimed) == 64 and all(c in string.hexdigits for c in claimed):
            body = environ["wsgi.input"].read()
            if hashlib.sha256(body).hexdigest() != claimed:
                start_response("400 Bad Request", [("Content-Type", "application/xml")])
                return [_MISMATCH]
            environ["wsgi.input"] = io.BytesIO(body)
        return app(environ, start_response)

    return checked


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.moto_http", description=__doc__.splitlines()[0])
    parser.add_argument("--fd", type=int, required=True, help="an inherited listening socket")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="worker threads")
    parser.add_argument("--check-payload-hash", action="store_true", help="refuse bodies unlike their hash")
    args = parser.parse_args(argv)

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from waitress.channel import HTTPChannel
    from waitress.server import create_server
    from waitress.task import WSGITask

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
    app: Any = _Dispatcher(create_backend_app)
    server = create_server(
        payload_hash_checked(app) if args.check_payload_hash else app,
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
