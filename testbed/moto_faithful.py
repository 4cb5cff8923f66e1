"""Two answers of moto's S3 made what S3 answers, for what s3copy decides on them.

- A part or a completion for an upload that is gone (aborted, or completed already): S3 answers `404
  NoSuchUpload`; moto 5 looks the upload up without a check and answers `500 InternalError`, which a client
  rightly retries as a server fault. Concurrent runs and a second sweep of stale uploads meet this case.
- ListMultipartUploads: S3 gives each upload's initiation time; moto gives every upload the same fixed date in
  2010, so "started before this run" (what a sweep of stale uploads aborts) would hold for every upload.

`apply()` patches moto's S3 backend and response in the process that serves it: `testbed.moto_http` calls it
(HTTP), and `python -m testbed.moto_faithful ARGS` runs `moto.server ARGS` with it (HTTPS). It changes
nothing else and can be called more than once.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

_FIXED_INITIATED = "2010-11-10T20:48:33.000Z"  # what moto 5 writes for every upload
_UPLOAD = re.compile(r"<Upload>.*?</Upload>", re.S)
_UPLOAD_ID = re.compile(r"<UploadId>([^<]*)</UploadId>")


def s3_time(moment: datetime) -> str:
    """`2026-12-04T06:30:00.123Z`, as S3 writes times in XML."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def with_initiated(body: str, initiated: dict[str, str]) -> str:
    """The ListMultipartUploads XML `body` with each upload's fixed date replaced by its time in
    `initiated` (upload id -> S3 time); uploads not in it keep what they had."""

    def one(match: re.Match[str]) -> str:
        upload = match.group(0)
        found = _UPLOAD_ID.search(upload)
        when = initiated.get(found.group(1)) if found else None
        return upload.replace(_FIXED_INITIATED, when) if when else upload

    return _UPLOAD.sub(one, body)


def apply() -> None:
    from moto.s3 import exceptions, models, responses

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
    listed = response.list_multipart_uploads

    @functools.wraps(listed)
    def list_uploads(self: Any) -> Any:
        status, headers, body = listed(self)
        uploads = self.backend.list_multipart_uploads(self.bucket_name)
        initiated = {upload_id: s3_time(u.initiated) for upload_id, u in uploads.items()}
        text = body.decode() if isinstance(body, bytes) else body
        return status, headers, with_initiated(text, initiated)

    response.list_multipart_uploads = list_uploads


def main(argv: Sequence[str] | None = None) -> int:
    """`moto.server` with the answers above."""
    from moto import server

    apply()
    server.main(list(sys.argv[1:] if argv is None else argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
