"""Changing an entry's content: upload tokens, `media.updateContent`, `media.cancelReplace` and thumbnails.

Files travel as multipart/form-data on the uploads' own connection pool (`ApiSession.upload`), paced by the
same request budget as every other call. A token carries one file to one entry: Kaltura closes it when an
entry takes its content, so a placeholder is uploaded once per entry it replaces.

`media.updateContent` is not retried on an ambiguous failure (a lost answer may mean the replacement began):
the caller re-reads the entry and decides (`ReplaceAnswerLost`). Only an API error such as `ACTION_BLOCKED`,
which Kaltura answers before acting, is retried here.
"""

from __future__ import annotations

from typing import Any

from KalturaClient.Plugins import Core

from adapters.kaltura import wire
from adapters.kaltura.errors import KalturaRetryableFault, item_failed
from adapters.kaltura.session import ApiSession
from adapters.kaltura.wire import MediaEntry
from engine.errors import RetryableError
from engine.retry import RetryPolicy, retry

ACTION_BLOCKED = "ACTION_BLOCKED"
TOKEN_FULL_UPLOAD = 2  # KalturaUploadTokenStatus
THUMB_READY = 2  # KalturaThumbAssetStatus
_THROTTLED_ONLY = RetryPolicy(attempts=6, base_s=0.5, max_s=10.0, budget_s=120.0)


class ReplaceAnswerLost(RetryableError):
    """`media.updateContent` failed without a definite answer: the replacement may or may not have begun."""


class ContentCalls(ApiSession):
    """The calls that put new content on an entry."""

    async def upload_file(self, data: bytes, file_name: str, *, entry_id: str | None = None) -> str:
        """A new upload token holding `data` whole (`uploadToken.add` + one `uploadToken.upload`); its id.

        Both calls are safe to repeat: an upload with `resume` false replaces what the token held."""
        spec = Core.KalturaUploadToken(fileName=file_name, fileSize=float(len(data)))
        token = await self.call(wire.capture(lambda s: s.uploadToken.add(spec)), entry_id=entry_id)
        token_id = str(token["id"])
        upload = wire.capture(lambda s: s.uploadToken.upload(token_id, _FILE, False, True, -1))
        result = await self.upload(upload, {"fileData": (file_name, data)}, entry_id=entry_id)
        got = int(float(result.get("uploadedFileSize") or 0))
        if int(result.get("status", -1)) != TOKEN_FULL_UPLOAD or got != len(data):
            why = f"token {token_id} holds {got} of {len(data)} B (status {result.get('status')})"
            raise item_failed("uploadtoken.upload", entry_id, why)
        return token_id

    async def update_content(self, entry_id: str, token_id: str) -> MediaEntry:
        """`media.updateContent` from an upload token: Kaltura converts the new content beside the old, which
        stays playable until the new is READY. ReplaceAnswerLost when the outcome is unknown."""
        resource = Core.KalturaUploadedFileTokenResource(token=token_id)
        api_call = wire.capture(lambda s: s.media.updateContent(entry_id, resource))

        async def once() -> Any:
            try:
                return await self.call(api_call, entry_id=entry_id, policy=_ONE_TRY)
            except RetryableError as exc:
                if isinstance(exc, KalturaRetryableFault) and exc.code == ACTION_BLOCKED:
                    raise  # Kaltura's rate limit refuses before acting: safe to send again
                raise ReplaceAnswerLost(f"media.updateContent: {exc}", throttled=exc.throttled) from None

        result = await retry(
            once,
            policy=_THROTTLED_ONLY,
            pacer=self._pacer,
            describe="media.updateContent",
            retry_if=lambda exc: isinstance(exc, RetryableError) and not isinstance(exc, ReplaceAnswerLost),
        )
        return wire.parse_media_entry(result)

    async def cancel_replace(self, entry_id: str) -> MediaEntry:
        """`media.cancelReplace`: drop the pending or FAILED replacement; the entry's content is left as it
        was. Safe to repeat."""
        result = await self.call(wire.capture(lambda s: s.media.cancelReplace(entry_id)), entry_id=entry_id)
        return wire.parse_media_entry(result)

    async def add_thumbnail(self, entry_id: str, data: bytes, file_name: str) -> str:
        """`thumbAsset.addFromImage` + `thumbAsset.setAsDefault`: `data` becomes the entry's default
        thumbnail; the new thumbnail's id."""
        add = wire.capture(lambda s: s.thumbAsset.addFromImage(entry_id, _FILE))
        thumb = await self.upload(add, {"fileData": (file_name, data)}, entry_id=entry_id)
        thumb_id = str(thumb["id"])
        await self.call(wire.capture(lambda s: s.thumbAsset.setAsDefault(thumb_id)), entry_id=entry_id)
        return thumb_id


class _FileStandIn:
    """What the official services are given as `fileData` while a call is recorded (no bytes: the session
    sends the real ones)."""

    name = "file"

    def read(self) -> bytes:  # pragma: no cover - never read: the recorder keeps the field's name only
        return b""


_FILE = _FileStandIn()
_ONE_TRY = RetryPolicy(attempts=1, budget_s=0.0)
