"""The simulator's mutable records (entries, flavors, thumbnails, upload tokens) and their wire dicts.

Rendering emits every property the model declares, in the official client's declaration order, with ``None``
for null and the Python type Kaltura uses on the wire (entry status a string enum, flavor status an int...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from testbed.catalog import FLAVOR_PARAMS, FlavorParams
from testbed.kaltura_sim.content import FlavorBody, StoredBody, generated_body

FLAVOR_READY, FLAVOR_DELETED = 2, 3
ENTRY_READY, ENTRY_DELETED = "2", "3"
REPLACEMENT_NONE, REPLACEMENT_PENDING, REPLACEMENT_FAILED = "0", "1", "4"
_WORDS = re.compile(r"\w+")


def tag_words(tags: str) -> tuple[tuple[str, ...], ...]:
    """Each tag of a ", "-joined tag string as its tuple of lower-case words (for full-text matching)."""
    return tuple(tuple(_WORDS.findall(tag.lower())) for tag in tags.split(",") if tag.strip())


@dataclass(slots=True, eq=False)
class Flavor:
    id: str
    entry_id: str
    partner_id: int
    flavor_params_id: int
    is_original: bool
    status: int
    content_size: int  # bytes served
    size_kb: int
    size_in_bytes: int  # reported (0 on some legacy assets)
    version: str
    file_ext: str
    created_at: int
    updated_at: int
    deleted_at: int | None = None
    stored: StoredBody | None = None  # uploaded bytes; None means generated

    @property
    def params(self) -> FlavorParams:
        return FLAVOR_PARAMS.get(self.flavor_params_id, FLAVOR_PARAMS[0])

    def body(self) -> FlavorBody:
        if self.stored is not None:
            return self.stored
        return generated_body(self.entry_id, self.id, self.version, self.content_size)

    def set_content(self, size: int, stored: StoredBody | None) -> None:
        """New content: exact byte size reported, KB rounded up as a fresh conversion reports it."""
        self.content_size = size
        self.size_in_bytes = size
        self.size_kb = -(-size // 1024)
        self.stored = stored


@dataclass(slots=True, eq=False)
class Entry:
    id: str
    name: str
    partner_id: int
    user_id: str
    tags: str
    categories_ids: tuple[int, ...]
    status: str
    media_type: int
    created_at: int
    updated_at: int
    plays: int = 0
    views: int = 0
    last_played_at: int | None = None
    duration: int = 0
    description: str = ""
    version: int = 1
    replacing_entry_id: str | None = None
    replaced_entry_id: str | None = None
    replacement_status: str = REPLACEMENT_NONE
    thumb_version: int = 100000
    hidden: bool = False  # a replacement's temp entry: never listed
    flavors: list[Flavor] = field(default_factory=list)
    _words: tuple[tuple[str, ...], ...] | None = None

    def set_tags(self, tags: str) -> None:
        self.tags = tags
        self._words = None

    @property
    def words(self) -> tuple[tuple[str, ...], ...]:
        if self._words is None:
            self._words = tag_words(self.tags)
        return self._words

    def live_flavors(self) -> list[Flavor]:
        return [f for f in self.flavors if f.status != FLAVOR_DELETED]

    def source(self) -> Flavor | None:
        return next((f for f in self.flavors if f.is_original and f.status != FLAVOR_DELETED), None)


@dataclass(slots=True, eq=False)
class ThumbAsset:
    id: str
    entry_id: str
    partner_id: int
    data: bytes
    file_ext: str
    created_at: int
    updated_at: int
    is_default: bool = False
    version: str = "1"


@dataclass(slots=True, eq=False)
class UploadToken:
    id: str
    partner_id: int
    user_id: str
    file_name: str | None
    file_size: float | None
    created_at: int
    updated_at: int
    status: int = 0
    buffer: bytearray = field(default_factory=bytearray)
    written: list[tuple[int, int]] = field(default_factory=list)  # merged [start, end) ranges
    expected_size: int | None = None  # set by the final chunk
    attached_object_id: str | None = None


def flavor_file_name(entry: Entry, flavor: Flavor) -> str:
    """The ``fileName`` segment of a download URL: the entry name made path-safe, plus the extension."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", entry.name).strip("_") or entry.id
    return f"{safe}.{flavor.file_ext}"


def render_flavor(f: Flavor) -> dict[str, Any]:
    p = f.params
    video = f.file_ext not in ("mp3", "jpg")
    return {
        "objectType": "KalturaFlavorAsset",
        "id": f.id,
        "entryId": f.entry_id,
        "partnerId": f.partner_id,
        "version": f.version,
        "size": f.size_kb,
        "tags": p.tags,
        "fileExt": f.file_ext,
        "createdAt": f.created_at,
        "updatedAt": f.updated_at,
        "deletedAt": f.deleted_at,
        "description": "",
        "sizeInBytes": f.size_in_bytes,
        "flavorParamsId": f.flavor_params_id,
        "width": p.width if video else 0,
        "height": p.height if video else 0,
        "bitrate": p.bitrate,
        "frameRate": 25.0 if video else 0.0,
        "isOriginal": f.is_original,
        "isWeb": not f.is_original,
        "containerFormat": "isom" if f.file_ext in ("mp4", "mov") else f.file_ext,
        "videoCodecId": "avc1" if video else None,
        "status": f.status,
    }


def render_entry(e: Entry, service_url: str, category_names: dict[int, str]) -> dict[str, Any]:
    """A KalturaMediaEntry with the properties clients use (a subset: each page may carry 500 of them)."""
    pid = e.partner_id
    base = f"{service_url}/p/{pid}/sp/{pid}00"
    live = e.live_flavors()
    return {
        "objectType": "KalturaMediaEntry",
        "id": e.id,
        "name": e.name,
        "description": e.description,
        "partnerId": pid,
        "userId": e.user_id,
        "creatorId": e.user_id,
        "tags": e.tags,
        "categories": ",".join(category_names[c] for c in e.categories_ids if c in category_names),
        "categoriesIds": ",".join(str(c) for c in e.categories_ids),
        "status": e.status,
        "moderationStatus": 6,  # AUTO_APPROVED
        "type": "1",  # MEDIA_CLIP
        "createdAt": e.created_at,
        "updatedAt": e.updated_at,
        "downloadUrl": f"{base}/playManifest/entryId/{e.id}/format/download/protocol/http/flavorParamIds/0",
        "version": e.version,
        "thumbnailUrl": f"{base}/thumbnail/entry_id/{e.id}/version/{e.thumb_version}",
        "referenceId": None,
        "replacingEntryId": e.replacing_entry_id,
        "replacedEntryId": e.replaced_entry_id,
        "replacementStatus": e.replacement_status,
        "conversionProfileId": 1,
        "rootEntryId": e.id,
        "displayInSearch": 1,
        "plays": e.plays,
        "views": e.views,
        "lastPlayedAt": e.last_played_at,
        "width": 1920 if e.media_type == 1 else None,
        "height": 1080 if e.media_type == 1 else None,
        "duration": e.duration,
        "msDuration": e.duration * 1000,
        "mediaType": e.media_type,
        "sourceType": "1",  # FILE
        "dataUrl": f"{base}/flvclipper/entry_id/{e.id}/version/{e.version}",
        "flavorParamsIds": ",".join(str(i) for i in sorted({f.flavor_params_id for f in live})),
    }


def render_thumb(t: ThumbAsset) -> dict[str, Any]:
    return {
        "objectType": "KalturaThumbAsset",
        "id": t.id,
        "entryId": t.entry_id,
        "partnerId": t.partner_id,
        "version": t.version,
        "size": -(-len(t.data) // 1024),
        "tags": "default_thumb" if t.is_default else "",
        "fileExt": t.file_ext,
        "createdAt": t.created_at,
        "updatedAt": t.updated_at,
        "deletedAt": None,
        "description": None,
        "sizeInBytes": len(t.data),
        "thumbParamsId": 0,
        "width": 640,
        "height": 360,
        "status": 2,
    }


def render_upload_token(u: UploadToken) -> dict[str, Any]:
    return {
        "objectType": "KalturaUploadToken",
        "id": u.id,
        "partnerId": u.partner_id,
        "userId": u.user_id,
        "status": u.status,
        "fileName": u.file_name,
        "fileSize": u.file_size,
        "uploadedFileSize": float(_covered(u)),
        "createdAt": u.created_at,
        "updatedAt": u.updated_at,
        "uploadUrl": None,
        "autoFinalize": None,
        "attachedObjectType": "KalturaMediaEntry" if u.attached_object_id else None,
        "attachedObjectId": u.attached_object_id,
    }


def _covered(u: UploadToken) -> int:
    return sum(end - start for start, end in u.written)


def list_response(object_type: str, objects: list[Any], total: int) -> dict[str, Any]:
    return {"objectType": object_type, "objects": objects, "totalCount": total}
