"""Image bytes in, checked image and its renditions out: the CPU-heavy part of media.

Everything here is plain bytes in and bytes out and takes tens of milliseconds or more
for a photo, so it runs off the event loop (see `search.pipeline`). Whatever the URL or Content-Type
claimed, the bytes must decode, completely, as one of the accepted formats, within the
pixel cap: Pillow only reads the header on open, so a truncated file or a
decompression bomb is caught here and never reaches the store.
"""

from __future__ import annotations

import hashlib
import io
import warnings

from PIL import Image, ImageOps

from store.errors import BadRequest
from store.media import MediaFiles

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 50_000_000
RENDITION_MAX_SIDE = 1600
RENDITION_QUALITY = 82
THUMBNAIL_WIDTHS = (160, 320, 640)

# Pillow's own guard warns above MAX_IMAGE_PIXELS and refuses above twice that. Ours is
# checked right after the header is read and refuses anything past the cap, so the
# warning says nothing new (and `catch_warnings` is not safe across threads).
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

# Pillow names a JPEG with a multi-picture index (many phone cameras write them) MPO;
# browsers show it as the JPEG it is.
FORMATS = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
DECODERS = ["JPEG", "PNG", "WEBP", "GIF"]  # the JPEG decoder also opens MPO


def open_image(data: bytes, field: str, max_side: int | None = None) -> Image.Image:
    """The fully decoded image, or a 400 naming `field` that says what is wrong.

    `max_side` lets JPEG decode at a reduced scale (`Image.draft`), which is several
    times faster for large photos when only a small version is needed.
    """
    if not data:
        raise BadRequest(f"{field}: the file is empty")
    if len(data) > MAX_BYTES:
        raise BadRequest(f"{field}: the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    try:
        image = Image.open(io.BytesIO(data), formats=DECODERS)
        if image.width * image.height > MAX_PIXELS:
            raise BadRequest(_too_many_pixels(field))
        if max_side and image.format == "JPEG":
            image.draft("RGB", (max_side, max_side))
        image.load()
    except BadRequest:
        raise
    except Image.DecompressionBombError:
        raise BadRequest(_too_many_pixels(field)) from None
    except Image.UnidentifiedImageError:
        raise BadRequest(f"{field}: not an image in an accepted format (JPEG, PNG, WebP or GIF)") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, MemoryError) as exc:
        # Pillow reports damaged files through all of these ("image file is truncated").
        raise BadRequest(f"{field}: the image cannot be decoded ({_reason(exc)})") from None
    return image


def _too_many_pixels(field: str) -> str:
    return f"{field}: the image has more than {MAX_PIXELS // 1_000_000} megapixels"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:120]


def _displayable(image: Image.Image) -> Image.Image:
    """RGB, or RGBA where the image has transparency, so WebP keeps what shows."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    return image.convert("RGBA" if has_alpha else "RGB")


def _encode_webp(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "WEBP", quality=RENDITION_QUALITY, method=4)
    return out.getvalue()


def _upright(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError):  # broken EXIF: show it as stored
        return image


def upright_image(data: bytes, field: str, max_side: int | None = None) -> Image.Image:
    """The checked image turned upright by its EXIF orientation (for the image model)."""
    return _upright(open_image(data, field, max_side))


def _fit(image: Image.Image, side: int) -> Image.Image:
    """Scaled so its longest side is at most `side`: a box reduction by a whole factor
    first, then Lanczos over the last 1.25x or more (`reducing_gap`). A 12-megapixel
    photo takes about a third of the time of plain Lanczos, and looks the same."""
    scale = side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = _displayable(image)  # resizing a palette image would mix indexes
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=1.25)


def prepare_upright(data: bytes, field: str) -> tuple[MediaFiles, Image.Image]:
    """Check `data` and make its rendition: WebP, longest side at most 1600 px, turned
    upright by its EXIF orientation (the original is kept exactly as received).
    Answers the upright image too, for the image model."""
    image = open_image(data, field)
    fmt = FORMATS[str(image.format)]
    upright = _upright(image)
    rendition = _displayable(_fit(upright, RENDITION_MAX_SIDE))
    return MediaFiles(
        original=data,
        format=fmt,
        width=upright.width,
        height=upright.height,
        rendition=_encode_webp(rendition),
        sha256=hashlib.sha256(data).hexdigest(),
    ), upright


def make_thumbnail(rendition: bytes, width: int) -> bytes:
    """A WebP `width` pixels wide from the stored rendition (never wider than it)."""
    image: Image.Image = Image.open(io.BytesIO(rendition), formats=["WEBP"])
    image.load()
    if image.width > width:
        height = max(1, round(image.height * width / image.width))
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    return _encode_webp(image)
