"""Where media are served: the absolute URLs product JSON and media answers show."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MediaUrls:
    """URLs under one public base (`serve --public-url`, no trailing slash)."""

    base: str = ""

    def rendition(self, token: str) -> str:
        """The public WebP rendition of a media item, named by its unguessable token."""
        return f"{self.base}/media/{token}.webp"

    def original(self, product_id: int, media_id: int) -> str:
        """The original as uploaded (EXIF, camera, GPS and all): behind the API key."""
        return f"{self.base}/api/products/{product_id}/media/{media_id}/original"
