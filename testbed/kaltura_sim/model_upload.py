"""uploadToken.add/get/upload/delete, and turning resources (token or URL) into new content.

Chunks may arrive in any order: each is written at its ``resumeAt``. The final chunk fixes the expected
size (``resumeAt`` + its length); data past it fails with UPLOAD_TOKEN_CANNOT_MATCH_EXPECTED_SIZE. The token
is FULL_UPLOAD once every byte up to that size has arrived, so a final chunk that overtakes an earlier one
leaves the token PARTIAL_UPLOAD until the gap is filled.
"""

from __future__ import annotations

from typing import Any

from testbed.kaltura_sim.content import StoredBody
from testbed.kaltura_sim.errors import ApiError
from testbed.kaltura_sim.model_convert import URL_RESOURCE_DEFAULT_SIZE, NewContent
from testbed.kaltura_sim.model_params import (
    CallContext,
    Params,
    opt_bool,
    opt_int,
    opt_obj,
    opt_str,
    req_file,
    req_obj,
    req_str,
)
from testbed.kaltura_sim.model_store import Store
from testbed.kaltura_sim.objects import Entry, UploadToken, render_upload_token

PENDING, PARTIAL_UPLOAD, FULL_UPLOAD, CLOSED, TIMED_OUT, DELETED = 0, 1, 2, 3, 4, 5


def token_not_found() -> ApiError:
    return ApiError("UPLOAD_TOKEN_NOT_FOUND", "Upload token not found")


def size_mismatch() -> ApiError:
    return ApiError("UPLOAD_TOKEN_CANNOT_MATCH_EXPECTED_SIZE", "Failed to match expected file size")


def _token(store: Store, params: Params) -> UploadToken:
    token = store.tokens.get(req_str(params, "uploadTokenId"))
    if token is None:
        raise token_not_found()
    return token


def add(store: Store, params: Params, ctx: CallContext) -> dict[str, Any]:
    spec = opt_obj(params, "uploadToken") or {}
    size = opt_int(spec, "fileSize")
    now = store.now()
    token = UploadToken(
        id=store.new_token_id(),
        partner_id=store.partner_id,
        user_id=ctx.user_id,
        file_name=opt_str(spec, "fileName"),
        file_size=None if size is None else float(size),
        created_at=now,
        updated_at=now,
    )
    store.tokens[token.id] = token
    return render_upload_token(token)


def get(store: Store, params: Params, ctx: CallContext) -> dict[str, Any]:
    return render_upload_token(_token(store, params))


def delete(store: Store, params: Params, ctx: CallContext) -> None:
    token = _token(store, params)
    token.status = DELETED
    token.buffer = bytearray()
    token.updated_at = store.now()


def upload(store: Store, params: Params, ctx: CallContext) -> dict[str, Any]:
    token = _token(store, params)
    if token.status not in (PENDING, PARTIAL_UPLOAD):
        raise ApiError(
            "UPLOAD_TOKEN_INVALID_STATUS_FOR_UPLOAD",
            "Upload token is in an invalid status for uploading a file, maybe the file was already uploaded",
        )
    file = req_file(params, "fileData")
    resume = opt_bool(params, "resume", False)
    final = opt_bool(params, "finalChunk", True)
    resume_at = opt_int(params, "resumeAt")
    if not resume:
        token.buffer, token.written, token.expected_size = bytearray(), [], None
        at = 0
    else:
        at = len(token.buffer) if resume_at is None or resume_at < 0 else resume_at
    _write(token, at, file.data)
    if token.file_name is None:
        token.file_name = file.filename
    if final:
        token.expected_size = at + len(file.data)
    if token.expected_size is not None and len(token.buffer) > token.expected_size:
        raise size_mismatch()
    complete = token.expected_size is not None and token.written == [(0, token.expected_size)]
    token.status = FULL_UPLOAD if complete else PARTIAL_UPLOAD
    token.updated_at = store.now()
    return render_upload_token(token)


def _write(token: UploadToken, at: int, data: bytes) -> None:
    end = at + len(data)
    if end > len(token.buffer):
        token.buffer.extend(bytes(end - len(token.buffer)))
    token.buffer[at:end] = data
    if data:
        token.written = _merge([*token.written, (at, end)])


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def content_from_resource(store: Store, params: Params, name: str, entry: Entry) -> NewContent:
    """The content of a KalturaUploadedFileTokenResource (closes the token) or a KalturaUrlResource."""
    resource = req_obj(params, name)
    kind = resource.get("objectType", "")
    if kind == "KalturaUploadedFileTokenResource":
        token = store.tokens.get(req_str(resource, "token"))
        if token is None:
            raise token_not_found()
        if token.status != FULL_UPLOAD:
            raise ApiError(
                "UPLOAD_TOKEN_INVALID_STATUS_FOR_ADD_ENTRY",
                "Upload token is in an invalid status for adding entry, maybe the a file was not uploaded or "
                "the token was used",
            )
        data = bytes(token.buffer)
        token.status, token.buffer = CLOSED, bytearray()
        token.attached_object_id = entry.id
        token.updated_at = store.now()
        return NewContent(StoredBody(data), len(data))
    if kind == "KalturaUrlResource":
        url = req_str(resource, "url")
        source = entry.source()
        return NewContent(None, source.content_size if source else URL_RESOURCE_DEFAULT_SIZE, url)
    raise ApiError("RESOURCE_TYPE_NOT_SUPPORTED", f'Resource type "{kind}" not supported', {"RES_TYPE": kind})
