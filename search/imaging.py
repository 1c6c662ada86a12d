"""Image bytes in, checked image and its renditions out: the CPU-heavy part of media.

Everything here is plain bytes in and bytes out and takes tens of milliseconds or more
for a photo, so it runs off the event loop (see `search.pipeline`). Whatever the URL or
Content-Type claimed, the bytes must be one of the accepted formats, within the caps
(20 MB, 50 megapixels and 16 for a WebP, 20,000 px a side: checked on the header,
before decoding), and
must decode completely: Pillow fills what a file lacks with grey in two cases it does
not report, so those are checked here (see `_check_complete`).

Memory: one decode holds the picture at full size only when it is not a JPEG (JPEGs are
decoded at a reduced scale, by libjpeg, when the steps after need less); every step
after works on a copy reduced to what the rendition and the image model need, made a
band at a time, so no second full-size copy (a wider mode, a rotation) is ever made.
README "Image decoding and memory" has the bound and the command that measures it.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
import zlib
from typing import Iterator

import numpy as np
import simplejpeg
from PIL import Image

from store.errors import BadRequest
from store.media import MediaFiles

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 50_000_000
# A side past this is no product photo; without the cap a 1 x 49,000,000 PNG (95 KB,
# under the pixel cap) costs about 1 GB to decode (Pillow keeps a pointer per row).
MAX_SIDE = 20_000
# Pillow decodes a WebP through libwebp's animation decoder, which holds the picture
# about four times over as RGBA while it decodes (16 bytes a pixel against a PNG's 4),
# so a WebP gets a smaller cap to stay within the same peak (README, "Image decoding
# and memory").
WEBP_MAX_PIXELS = 16_000_000
RENDITION_MAX_SIDE = 1600
RENDITION_QUALITY = 82
THUMBNAIL_WIDTHS = (160, 320, 640)
# What the steps after decoding need of a picture: the rendition's longest side with the
# headroom of its Lanczos step (`reducing_gap` 1.25), and for the image model a shorter
# side of twice its 256 px resize (it box-reduces from there itself).
WORK_LONG = 2000
WORK_SHORT = 512
# The modes Image.reduce, resizing, compositing and numpy all take as they are.
WORKING_MODES = ("L", "LA", "RGB", "RGBA")
BAND_PIXELS = 1 << 20  # a mode conversion is done this many pixels at a time

# Pillow's own guard warns above MAX_IMAGE_PIXELS and refuses above twice that. Ours is
# checked right after the header is read and refuses anything past the cap, so the
# warning says nothing new (and `catch_warnings` is not safe across threads).
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

# Pillow names a JPEG with a multi-picture index (many phone cameras write them) MPO;
# browsers show it as the JPEG it is.
FORMATS = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
DECODERS = ["JPEG", "PNG", "WEBP", "GIF"]  # the JPEG decoder also opens MPO
# EXIF orientation -> the transposition that shows the picture upright.
ORIENTATIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90,
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


# ---- decoding --------------------------------------------------------------------------

def _opened(data: bytes, field: str) -> Image.Image:
    """The image with only its header read, within the caps; a 400 naming `field`."""
    if not data:
        raise BadRequest(f"{field}: the file is empty")
    if len(data) > MAX_BYTES:
        raise BadRequest(f"{field}: the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    try:
        image = Image.open(io.BytesIO(data), formats=DECODERS)
    except Image.DecompressionBombError:
        raise BadRequest(_too_many_pixels(field)) from None
    except Image.UnidentifiedImageError:
        raise BadRequest(f"{field}: not an image in an accepted format (JPEG, PNG, WebP or GIF)") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, MemoryError, struct.error) as exc:
        raise BadRequest(f"{field}: the image cannot be decoded ({_reason(exc)})") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise BadRequest(_too_many_pixels(field))
    if max(width, height) > MAX_SIDE:
        raise BadRequest(f"{field}: the image is {width} x {height} pixels; a side may be at most {MAX_SIDE}")
    if image.format == "WEBP" and width * height > WEBP_MAX_PIXELS:
        raise BadRequest(f"{field}: a WebP image may have at most {WEBP_MAX_PIXELS // 1_000_000} megapixels"
                         f" (this one is {width} x {height})")
    return image


def open_image(data: bytes, field: str, need: tuple[int, int] | None = None) -> Image.Image:
    """The fully decoded image, or a 400 naming `field` that says what is wrong.

    `need` (longest side, shorter side) lets a JPEG decode at a reduced scale
    (`Image.draft`: 1/2, 1/4 or 1/8, several times faster and smaller) when the
    steps after need no more than that; the whole file is decoded all the same."""
    return _decode(data, field, need)[0]


def _decode(data: bytes, field: str, need: tuple[int, int] | None) -> tuple[Image.Image, tuple[int, int]]:
    """`open_image`, and the picture's full size (a reduced JPEG decode is smaller)."""
    image = _opened(data, field)
    size = image.size
    try:
        if need and image.format in ("JPEG", "MPO"):
            scale = _power_of_two_at_most(_factor(image.size, need))
            if scale > 1:
                image.draft(None, (image.width // scale, image.height // scale))
        image.load()
        _check_complete(image, data)
    except Image.DecompressionBombError:
        raise BadRequest(_too_many_pixels(field)) from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, MemoryError, struct.error) as exc:
        # Pillow reports damaged files through all of these ("image file is truncated").
        raise BadRequest(f"{field}: the image cannot be decoded ({_reason(exc)})") from None
    return image, size


def _check_complete(image: Image.Image, data: bytes) -> None:
    """Raise ValueError when the file ends before its picture does, in the two ways
    Pillow lets through (ImageFile.LOAD_TRUNCATED_IMAGES stays False, its default, so
    Pillow itself refuses a file that simply stops):

    - a JPEG whose data stops early but ends with an end-of-image marker: libjpeg
      fills the rest with grey and only warns, and Pillow silences its warnings
      (631 bytes whose header says 7000 x 7000 decode "fine"). simplejpeg decodes it
      again with libjpeg-turbo at 1/8 scale and raises on any such warning;
    - a PNG whose compressed data is complete but holds fewer rows than the header
      says: Pillow stops at the end of the zlib stream and leaves the rest blank.

    A GIF decoder reads on until every pixel is drawn (so a short GIF fails as
    truncated), and libwebp refuses an incomplete WebP itself."""
    if image.format in ("JPEG", "MPO"):
        colours = "CMYK" if image.mode == "CMYK" else "GRAY"
        simplejpeg.decode_jpeg(data, colours, min_height=1, min_width=1, min_factor=8, strict=True)
    elif image.format == "PNG":
        _check_png_rows(data)


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    position = len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        yield kind, data[position + 8:position + 8 + length]
        if kind == b"IEND":
            return
        position += 12 + length


def _png_expected_bytes(header: bytes) -> int:
    """How many bytes the header's picture takes uncompressed: a filter byte and the
    packed pixels per row, per interlace pass when it is interlaced (Adam7)."""
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header[:13])
    bits = depth * PNG_CHANNELS.get(colour, 4)
    passes = ADAM7 if interlace else ((0, 0, 1, 1),)
    total = 0
    for x0, y0, dx, dy in passes:
        columns = (width - x0 + dx - 1) // dx if width > x0 else 0
        rows = (height - y0 + dy - 1) // dy if height > y0 else 0
        if columns and rows:
            total += rows * (1 + (columns * bits + 7) // 8)
    return total


def _check_png_rows(data: bytes) -> None:
    """Inflate the image data (a second time: Pillow does not say how far it got) and
    count it, stopping as soon as the picture is complete; memory stays at a chunk."""
    chunks = _png_chunks(data)
    kind, header = next(chunks, (b"", b""))
    if kind != b"IHDR" or len(header) < 13:
        raise ValueError("no PNG header")
    expected = _png_expected_bytes(header)
    inflater = zlib.decompressobj()
    produced = 0
    for kind, payload in chunks:
        if kind != b"IDAT":
            continue
        pending = payload
        while pending and produced < expected:
            produced += len(inflater.decompress(pending, 1 << 20))
            pending = inflater.unconsumed_tail
        if produced >= expected or inflater.eof:
            break
    if produced < expected:
        raise ValueError(f"image data ends after {produced} of its {expected} bytes")


def _factor(size: tuple[int, int], need: tuple[int, int]) -> int:
    """The largest whole factor a picture of `size` can be reduced by and still have
    its longest side at least `need[0]` and its shorter side at least `need[1]`."""
    long_side, short_side = max(size), min(size)
    fits = [side // wanted for side, wanted in ((long_side, need[0]), (short_side, need[1])) if wanted > 0]
    return max(1, min(fits, default=1))


def _power_of_two_at_most(factor: int) -> int:
    return 8 if factor >= 8 else 4 if factor >= 4 else 2 if factor >= 2 else 1


def _too_many_pixels(field: str) -> str:
    return f"{field}: the image has more than {MAX_PIXELS // 1_000_000} megapixels"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:120]


# ---- the working copy ---------------------------------------------------------------------

def _working_mode(image: Image.Image) -> str:
    """The mode of WORKING_MODES that shows what `image` shows: grey stays grey, a
    palette becomes RGB, and transparency (an alpha band, a palette's alpha, a tRNS
    colour) is kept as an alpha band."""
    grey = image.mode in ("1", "L", "LA", "La", "F") or image.mode.startswith("I")
    transparent = image.has_transparency_data
    if grey:
        return "LA" if transparent else "L"
    return "RGBA" if transparent else "RGB"


def _sixteen_bit_to_grey(band: Image.Image, mode: str, transparency: object) -> Image.Image:
    """A band of 16- or 32-bit integer grey as 8-bit grey, scaled (Pillow's own
    conversion clips everything above 255 to white), with its tRNS grey transparent."""
    values = np.asarray(band)
    grey = ((np.clip(values, 0, 65535).astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    converted = Image.fromarray(grey)
    if mode == "LA":
        alpha = np.where(values == transparency, 0, 255).astype(np.uint8)
        converted = Image.merge("LA", (converted, Image.fromarray(alpha)))
    return converted


def _convert_band(band: Image.Image, mode: str, transparency: object) -> Image.Image:
    if band.mode.startswith("I"):
        return _sixteen_bit_to_grey(band, mode, transparency)
    return band.convert(mode)


def working_copy(image: Image.Image, factor: int = 1) -> Image.Image:
    """`image` in one of WORKING_MODES, box-reduced by the whole `factor`.

    Image.reduce takes only some modes ("image has wrong mode" on a palette, 1-bit or
    16-bit picture), converting a 50-megapixel palette picture to RGB whole would take
    200 MB, and reducing an RGBA or LA picture makes a premultiplied copy of all of it
    first (another 200 MB); so those are converted and reduced a band of rows at a time
    into the result, which is all the memory it costs."""
    if image.mode in WORKING_MODES and "transparency" not in image.info and (
            factor == 1 or image.mode in ("L", "RGB")):
        return image.reduce(factor) if factor > 1 else image
    mode = _working_mode(image)
    transparency = image.info.get("transparency")
    width, height = image.size
    result = Image.new(mode, (-(-width // factor), -(-height // factor)))
    rows = max(1, BAND_PIXELS // max(1, width))
    rows = max(factor, rows - rows % factor)  # whole boxes per band: they line up
    for top in range(0, height, rows):
        band = _convert_band(image.crop((0, top, width, min(height, top + rows))), mode, transparency)
        result.paste(band.reduce(factor) if factor > 1 else band, (0, top // factor))
    return result


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(0x0112, 1)
    except (OSError, ValueError, SyntaxError, struct.error):  # broken EXIF: show it as stored
        return 1
    return value if isinstance(value, int) else 1


def decode_upright(data: bytes, field: str,
                   need: tuple[int, int] = (WORK_LONG, WORK_SHORT)) -> tuple[Image.Image, str, tuple[int, int]]:
    """Check and decode `data`: answers the working copy (reduced to what `need` says,
    in a working mode, turned upright by its EXIF orientation), the format, and the
    picture's size as displayed (its full size, orientation applied)."""
    image, full = _decode(data, field, need)
    orientation = _orientation(image)
    working = working_copy(image, _factor(image.size, need))
    if orientation in ORIENTATIONS:
        working = working.transpose(ORIENTATIONS[orientation])  # the small copy, not the decode
        if orientation >= 5:
            full = (full[1], full[0])
    return working, FORMATS[str(image.format)], full


def upright_image(data: bytes, field: str, short_side: int | None = None) -> Image.Image:
    """The checked image for the image model: upright, reduced to what an upload keeps
    (so reindexing sees what the upload saw), or to `short_side` on its shorter side."""
    need = (WORK_LONG, WORK_SHORT) if short_side is None else (0, short_side)
    return decode_upright(data, field, need)[0]


# ---- renditions ---------------------------------------------------------------------------

def _displayable(image: Image.Image) -> Image.Image:
    """RGB, or RGBA where the image has transparency, so WebP keeps what shows."""
    if image.mode not in WORKING_MODES:
        image = working_copy(image)
    return image.convert("RGBA" if image.mode in ("RGBA", "LA") else "RGB")


def _encode_webp(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "WEBP", quality=RENDITION_QUALITY, method=4)
    return out.getvalue()


def _fit(image: Image.Image, side: int) -> Image.Image:
    """Scaled so its longest side is at most `side`: a box reduction by a whole factor
    first, then Lanczos over the last 1.25x or more (`reducing_gap`). A 12-megapixel
    photo takes about a third of the time of plain Lanczos, and looks the same."""
    scale = side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    if image.mode not in WORKING_MODES:
        image = working_copy(image)  # resizing a palette image would mix indexes
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=1.25)


def prepare_upright(data: bytes, field: str) -> tuple[MediaFiles, Image.Image]:
    """Check `data` and make its rendition: WebP, longest side at most 1600 px, turned
    upright by its EXIF orientation (the original is kept exactly as received).
    Answers the upright working copy too, for the image model."""
    working, fmt, (width, height) = decode_upright(data, field)
    rendition = _displayable(_fit(working, RENDITION_MAX_SIDE))
    return MediaFiles(
        original=data,
        format=fmt,
        width=width,
        height=height,
        rendition=_encode_webp(rendition),
        sha256=hashlib.sha256(data).hexdigest(),
    ), working


def make_thumbnail(rendition: bytes, width: int) -> bytes:
    """A WebP `width` pixels wide from the stored rendition (never wider than it)."""
    image: Image.Image = Image.open(io.BytesIO(rendition), formats=["WEBP"])
    image.load()
    if image.width > width:
        height = max(1, round(image.height * width / image.width))
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    return _encode_webp(image)
