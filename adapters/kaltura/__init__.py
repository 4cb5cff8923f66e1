"""The Kaltura adapter: an async API v3 client, entry listing and the MediaCatalog interface jobs use."""

from __future__ import annotations

from adapters.kaltura.batches import Fresh
from adapters.kaltura.client import ClientConfig, KalturaClient
from adapters.kaltura.errors import (
    AnswerLost,
    KalturaFatalError,
    KalturaHttpError,
    KalturaItemError,
    KalturaUnreachableError,
)
from adapters.kaltura.filters import ALL_STATUSES, DEFAULT_STATUSES, FilterSpec
from adapters.kaltura.interfaces import MediaCatalog
from adapters.kaltura.listing import EntryPage, ListingStats
from adapters.kaltura.wire import FlavorAsset, MediaEntry, UrlResource

__all__ = [
    "ALL_STATUSES",
    "DEFAULT_STATUSES",
    "AnswerLost",
    "ClientConfig",
    "EntryPage",
    "FilterSpec",
    "FlavorAsset",
    "Fresh",
    "KalturaClient",
    "KalturaFatalError",
    "KalturaHttpError",
    "KalturaItemError",
    "KalturaUnreachableError",
    "ListingStats",
    "MediaCatalog",
    "MediaEntry",
    "UrlResource",
]
