"""Changing an entry's content: upload tokens, `media.updateContent`, `media.cancelReplace` and thumbnails.

Files travel as multipart/form-data on the uploads' own connection pool (`ApiSession.upload`), paced by the
same request budget as every other call; the small calls around them (`uploadToken.add`,
`media.updateContent`, `media.cancelReplace`, `thumbAsset.setAsDefault`) share multirequests with other
workers' calls while `batching()` is open. A token carries one file to one entry: Kaltura closes it when an
entry takes its content, so a placeholder is uploaded once per entry it replaces.

`media.updateContent` is never sent twice on an ambiguous failure (a lost answer may mean the replacement
began): it raises `AnswerLost` and the caller re-reads the entry to decide. Only a definite refusal
(`ACTION_BLOCKED`, answered before acting) is sent again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.kaltura import batches, wire
from adapters.kaltura.errors import item_failed
from adapters.kaltura.session import ApiSession
from adapters.kaltura.wire import ApiCall, MediaEntry, UrlResource

TOKEN_FULL_UPLOAD = 2  # KalturaUploadTokenStatus

class ContentCalls(ApiSession):
    """The calls that put new content on an entry (`KalturaClient` sends their small calls batched)."""

    async def _send_job(self, job: batches.Job) -> Any:
        """Send one job's calls (alone here; batched with other workers' calls by `KalturaClient`)."""
        (answer,) = await batches.send_jobs(self._send_alone, [job])
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def _send_alone(self, calls: Sequence[ApiCall], resend: bool) -> list[Any]:
        return await self.multirequest(calls, retry_faults=False, resend=resend)

    async def upload_file(self, data: bytes, file_name: str, *, entry_id: str | None = None) -> str:
        """A new upload token holding `data` whole (`uploadToken.add` + one `uploadToken.upload`); its id.

        Both calls are safe to repeat: an upload with `resume` false replaces what the token held."""
        token_id: str = await self._send_job(batches.upload_token_job(file_name, len(data), entry_id))
        upload = wire.capture(lambda s: s.uploadToken.upload(token_id, _FILE, False, True, -1))
        result = await self.upload(upload, {"fileData": (file_name, data)}, entry_id=entry_id)
        got = int(float(result.get("uploadedFileSize") or 0))
        if int(result.get("status", -1)) != TOKEN_FULL_UPLOAD or got != len(data):
            why = f"token {token_id} holds {got} of {len(data)} B (status {result.get('status')})"
            raise item_failed("uploadtoken.upload", entry_id, why)
        return token_id

    async def new_token(self, file_name: str, size: int, *, entry_id: str | None = None) -> str:
        """A new, empty upload token for a file of `size` bytes (`uploadToken.add`); its id."""
        token_id: str = await self._send_job(batches.upload_token_job(file_name, size, entry_id))
        return token_id

    async def upload_chunk(
        self,
        token_id: str,
        data: bytes,
        *,
        resume_at: int,
        final: bool,
        file_name: str,
        entry_id: str | None = None,
    ) -> int:
        """Write `data` into the token at byte `resume_at` (`uploadToken.upload`: the chunk at 0 starts the
        file; the others may go in parallel; the `final` one, sent last, fixes the size and completes the
        token: a final chunk at 0 is the whole file in one upload). Safe to repeat: a chunk lands where it
        says. The bytes the token holds now."""
        first = resume_at == 0
        upload = wire.capture(
            lambda s: s.uploadToken.upload(token_id, _FILE, not first, final, -1 if first else resume_at)
        )
        result = await self.upload(upload, {"fileData": (file_name, data)}, entry_id=entry_id)
        if final and int(result.get("status", -1)) != TOKEN_FULL_UPLOAD:
            why = f"token {token_id} is not complete after its final chunk (status {result.get('status')})"
            raise item_failed("uploadtoken.upload", entry_id, why)
        return int(float(result.get("uploadedFileSize") or 0))

    async def update_content(self, entry_id: str, content: str | UrlResource) -> MediaEntry:
        """`media.updateContent` from an upload token (its id) or a URL Kaltura fetches: Kaltura converts the
        new content beside the old, which stays playable until the new is READY. AnswerLost when the outcome
        is unknown."""
        entry: MediaEntry = await self._send_job(batches.update_content_job(entry_id, content))
        return entry

    async def cancel_replace(self, entry_id: str) -> MediaEntry:
        """`media.cancelReplace`: drop the pending or FAILED replacement; the entry's content is left as it
        was. Safe to repeat."""
        entry: MediaEntry = await self._send_job(batches.cancel_replace_job(entry_id))
        return entry

    async def add_thumbnail(self, entry_id: str, data: bytes, file_name: str) -> str:
        """`thumbAsset.addFromImage` + `thumbAsset.setAsDefault`: `data` becomes the entry's default
        thumbnail; the new thumbnail's id."""
        add = wire.capture(lambda s: s.thumbAsset.addFromImage(entry_id, _FILE))
        thumb = await self.upload(add, {"fileData": (file_name, data)}, entry_id=entry_id)
        thumb_id = str(thumb["id"])
        await self._send_job(batches.default_thumbnail_job(thumb_id, entry_id))
        return thumb_id


class _FileStandIn:
    """What the official services are given as `fileData` while a call is recorded (no bytes: the session
    sends the real ones)."""

    name = "file"

    def read(self) -> bytes:  # pragma: no cover - never read: the recorder keeps the field's name only
        return b""


_FILE = _FileStandIn()
