"""S3 stand-in: moto's server as a subprocess on 127.0.0.1, over HTTP or verified HTTPS.

Run it by hand with `python -m testbed.s3 --port 0 [--https]`: it prints one JSON line
(`endpoint_url`, `region`, and for HTTPS `ca_bundle`) once moto answers, and serves until SIGTERM or SIGINT.

The listening socket is bound here and handed to the server as an inherited file descriptor, so `port=0` gives
a free port with no race. Over HTTP the server is waitress with keep-alive connections, as real S3 keeps them
(`testbed.moto_http`); over HTTPS it is moto's own werkzeug server, which does TLS but closes every
connection. Both answer as S3 does where moto 5 does not and s3copy decides on it (`testbed.moto_faithful`).
moto checks no signatures; over HTTP the testbed checks them, and that a signed body hashes to its
`x-amz-content-sha256`, as S3 does (see `testbed.moto_http`); over HTTP and HTTPS it refuses an access key id
other than `ACCESS_KEY_ID` (`403 InvalidAccessKeyId`), and answers a HEAD without a body. Restores of
archived objects follow a per-object model that tests drive (`complete_restore`, `expire_restore`,
`transition`, `refuse_expedited`; see `testbed.s3_restore`). moto is started with
every `AWS_*`/`MOTO_*` variable of the caller removed, so a user's AWS profile, region or endpoint cannot
reach it. Clients use the fixed keys `testing`/`testing`.

HTTPS uses a throw-away CA (see `testbed.tls`): pass `verify=server.verify` to boto3/aioboto3 clients, or let
`client_env()` set `AWS_CA_BUNDLE` for a child process. When botocore computes a body's checksum itself, it
sends it over HTTPS in an `aws-chunked` trailer, over HTTP as a header; moto takes both. (Our store computes
each checksum before sending and always sends it as a header.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from testbed.process import ServerProcess, serve_until_signal, spawn
from testbed.s3_restore import CONTROL
from testbed.tls import TlsFiles, make_tls_files

REGION: Final = "us-east-1"
ACCESS_KEY_ID: Final = "testing"
SECRET_ACCESS_KEY: Final = "testing"  # moto's documented dummy key, not a secret


def sdk_kwargs(endpoint_url: str) -> dict[str, Any]:
    """`boto3.client("s3", **kw)` keywords for a testbed S3 server at `endpoint_url` (its test key)."""
    return {
        "endpoint_url": endpoint_url,
        "region_name": REGION,
        "aws_access_key_id": ACCESS_KEY_ID,
        "aws_secret_access_key": SECRET_ACCESS_KEY,
    }


def sdk_env(endpoint_url: str) -> dict[str, str]:
    """Environment variables that point a child process's AWS SDK at a testbed S3 server."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        # loopback must not go through a proxy the user may have configured
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


_REQUEST_TIMEOUT_S: Final = 2.0
KEY_BUFFER_BYTES: Final = 256 << 20
# environment of the caller that must not reach moto (its settings are all read from the environment)
_SCRUBBED_PREFIXES: Final = ("AWS_", "MOTO_", "WERKZEUG_", "S3_", "TEST_", "BOTO_")


class S3Server(ServerProcess):
    """moto's S3 on 127.0.0.1: a sync and async context manager (`with S3Server() as s3:`)."""

    name = "s3"
    region: Final = REGION

    def __init__(self, *, https: bool = False, port: int = 0, check_signing: bool = True) -> None:
        """`check_signing` (HTTP only): refuse a request whose SigV4 signature is wrong, or whose body does
        not hash to the SHA-256 it claims, as S3 does (moto checks neither); `bin/bench` turns it off."""
        super().__init__()
        self.https: Final = https
        self.check_signing: Final = check_signing
        self._requested_port = port
        self._port: int | None = None
        self._tls: TlsFiles | None = None

    # -- what clients need -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port moto listens on."""
        if self._port is None:
            raise RuntimeError("s3 server is not started")
        return self._port

    @property
    def endpoint_url(self) -> str:
        """`http://127.0.0.1:<port>` or `https://127.0.0.1:<port>`."""
        return f"{'https' if self.https else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_bundle(self) -> Path | None:
        """The CA certificate (PEM) that signed moto's certificate; None over HTTP."""
        return self._tls.ca_cert if self._tls is not None and self.https else None

    @property
    def verify(self) -> str | None:
        """What to pass as `verify=` to boto3/aioboto3: the CA bundle's path over HTTPS, else None."""
        return str(self.ca_bundle) if self.ca_bundle is not None else None

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `boto3.client("s3", **kw)` / `aioboto3.Session().client("s3", **kw)`."""
        return {**sdk_kwargs(self.endpoint_url), "verify": self.verify}

    def client_env(self) -> dict[str, str]:
        """Environment variables that point a child process's AWS SDK at this server."""
        env = sdk_env(self.endpoint_url)
        if self.ca_bundle is not None:
            env["AWS_CA_BUNDLE"] = str(self.ca_bundle)
        return env

    def describe(self) -> dict[str, str]:
        """What `python -m testbed.s3` prints."""
        line = {"endpoint_url": self.endpoint_url, "region": REGION}
        if self.ca_bundle is not None:
            line["ca_bundle"] = str(self.ca_bundle)
        return line

    # -- moto's control API ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every bucket and object (`POST /moto-api/reset`)."""
        self._request("POST", "/moto-api/reset")

    async def areset(self) -> None:
        """`reset` without blocking the event loop."""
        await asyncio.to_thread(self.reset)

    def create_bucket(self, bucket: str) -> None:
        """Create `bucket` (moto checks no signature, so a plain PUT does it without an SDK)."""
        self._request("PUT", f"/{bucket}")

    async def acreate_bucket(self, bucket: str) -> None:
        """`create_bucket` without blocking the event loop."""
        await asyncio.to_thread(self.create_bucket, bucket)

    # -- restores of archived objects (`testbed.s3_restore`) ----------------------------------------------

    def complete_restore(self, bucket: str, key: str) -> dict[str, Any]:
        """Complete the restore in progress of `key`: its copy is readable until midnight UTC after its
        days; the object's restore state (`restore_state`)."""
        return self._control("POST", "/complete", {"bucket": bucket, "key": key})

    def expire_restore(self, bucket: str, key: str) -> dict[str, Any]:
        """Delete the restored copy of `key`, as S3 does at its expiry date; its restore state."""
        return self._control("POST", "/expire", {"bucket": bucket, "key": key})

    def transition(self, bucket: str, key: str, storage_class: str) -> dict[str, Any]:
        """Move `key` to `storage_class` as a bucket lifecycle rule does: bytes, ETag, checksum, metadata,
        tags and Last-Modified stay; any restore is forgotten. Its restore state."""
        body = {"bucket": bucket, "key": key, "storage_class": storage_class}
        return self._control("POST", "/transition", body)

    def refuse_expedited(self, count: int) -> dict[str, Any]:
        """Answer the next `count` Expedited restore requests `503 GlacierExpeditedRetrievalNotAvailable`."""
        return self._control("POST", "/plan", {"expedited_unavailable_next": count})

    def restore_state(self, bucket: str, key: str) -> dict[str, Any]:
        """`{"storage_class", "restore": {"tier", "days", "expiry", "ongoing"} | None, "header"}` of `key`."""
        return self._control("GET", "/state?" + urllib.parse.urlencode({"bucket": bucket, "key": key}))

    def restore_answers(self) -> list[dict[str, Any]]:
        """Every RestoreObject answered since the last reset: bucket, key, tier, days, status, code."""
        answers: list[dict[str, Any]] = self._control("GET", "/answers")["answers"]
        return answers

    async def acomplete_restore(self, bucket: str, key: str) -> dict[str, Any]:
        """`complete_restore` without blocking the event loop."""
        return await asyncio.to_thread(self.complete_restore, bucket, key)

    async def aexpire_restore(self, bucket: str, key: str) -> dict[str, Any]:
        """`expire_restore` without blocking the event loop."""
        return await asyncio.to_thread(self.expire_restore, bucket, key)

    async def atransition(self, bucket: str, key: str, storage_class: str) -> dict[str, Any]:
        """`transition` without blocking the event loop."""
        return await asyncio.to_thread(self.transition, bucket, key, storage_class)

    async def arefuse_expedited(self, count: int) -> dict[str, Any]:
        """`refuse_expedited` without blocking the event loop."""
        return await asyncio.to_thread(self.refuse_expedited, count)

    async def arestore_state(self, bucket: str, key: str) -> dict[str, Any]:
        """`restore_state` without blocking the event loop."""
        return await asyncio.to_thread(self.restore_state, bucket, key)

    async def arestore_answers(self) -> list[dict[str, Any]]:
        """`restore_answers` without blocking the event loop."""
        return await asyncio.to_thread(self.restore_answers)

    def _control(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """A request to the restore control surface; its JSON answer (RuntimeError with its error)."""
        data = json.dumps(body).encode() if body is not None else None
        try:
            with self._open(method, CONTROL + path, data=data) as response:
                answer: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"restore control {path}: {exc.code} {exc.read().decode()}") from None
        return answer

    def _request(self, method: str, path: str, *, timeout: float = 10.0) -> int:
        with self._open(method, path, timeout=timeout) as response:
            response.read()
            status: int = response.status
            return status

    def _open(self, method: str, path: str, *, data: bytes | None = None, timeout: float = 10.0) -> Any:
        handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
        if self.https:
            context = ssl.create_default_context(cafile=self.verify)
            handlers.append(urllib.request.HTTPSHandler(context=context))
        opener = urllib.request.build_opener(*handlers)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        request = urllib.request.Request(self.endpoint_url + path, data=data, method=method, headers=headers)
        return opener.open(request, timeout=timeout)

    # -- life cycle --------------------------------------------------------------------------------------

    def _prepare(self, workdir: Path) -> None:
        self._tls = make_tls_files(workdir) if self.https else None

    def _spawn(self, workdir: Path, log: Path) -> subprocess.Popen[bytes]:
        listener = socket.create_server(("127.0.0.1", self._requested_port), backlog=128)
        with listener:
            self._port = listener.getsockname()[1]
            fd = str(listener.fileno())
            env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
            env["MOTO_PORT"] = str(self._port)
            # moto keeps a value over this size in a temporary file, written and read back on every use: its
            # default (5 MiB) sends every part and object through the disk; 256 MiB keeps parts and objects of
            # our workloads in memory (a 1 GiB object still goes to disk)
            env["MOTO_S3_DEFAULT_KEY_BUFFER_SIZE"] = str(KEY_BUFFER_BYTES)
            if self._tls is None:  # moto's app on a keep-alive server, see testbed.moto_http
                argv = [sys.executable, "-m", "testbed.moto_http", "--fd", fd]
                argv += ["--check-signing"] if self.check_signing else []
            else:  # moto's app on werkzeug's server, which does TLS, on this inherited socket
                argv = [sys.executable, "-m", "testbed.moto_faithful"]  # as moto.server, see there
                argv += ["-H", "127.0.0.1", "-p", str(self._port)]
                argv += ["-c", str(self._tls.server_cert), "-k", str(self._tls.server_key)]
                env.update(WERKZEUG_RUN_MAIN="true", WERKZEUG_SERVER_FD=fd)
            listener.set_inheritable(True)
            return spawn(argv, env=env, log=log, pass_fds=[listener.fileno()])

    def _probe(self) -> bool:
        try:
            return self._request("GET", "/moto-api/config", timeout=_REQUEST_TIMEOUT_S) < 300
        except (OSError, urllib.error.URLError):
            return False

    def stop(self) -> None:
        """Stop moto and remove its directory (certificates, log)."""
        super().stop()
        self._tls = None

    async def astop(self) -> None:
        """`stop` without blocking the event loop."""
        await super().astop()
        self._tls = None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.s3", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: a free one)")
    parser.add_argument("--https", action="store_true", help="serve HTTPS with a throw-away CA")
    args = parser.parse_args(argv)
    server = S3Server(https=args.https, port=args.port)
    return serve_until_signal(server, server.describe)


if __name__ == "__main__":
    sys.exit(main())
