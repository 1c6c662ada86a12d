"""What an uploaded or searched image may be, over HTTP, for media upload and image search
alike: every Pillow mode the four formats carry, at either side of the size where the
model starts box-reducing; files cut short in each format; the caps on each side; and
the peak memory of one decode, measured in a fresh process.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from PIL import Image

from search import imaging
from search.model import preprocess
from store.db import Database
from tests.factories import draw, local_path, multipart, png_chunk, store_product, upload

ROOT = Path(__file__).resolve().parent.parent
SEARCH = "/api/products/image-search"
FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
MODES = ("1", "L", "LA", "P", "PA", "I;16", "I", "F", "RGB", "RGBA", "CMYK", "YCbCr")


# ---- pictures in every mode ----------------------------------------------------------------

def in_mode(mode: str, side: int) -> Image.Image:
    """A picture (a scene on a gradient) in `mode`, `side` pixels square."""
    rgb = Image.open(io.BytesIO(draw(side % 97, (side, side)))).convert("RGB")
    grey = rgb.convert("L")
    alpha = Image.linear_gradient("L").resize((side, side))
    if mode == "1":
        return grey.convert("1")
    if mode in ("L", "RGB", "CMYK", "YCbCr", "F"):
        return (grey if mode in ("L", "F") else rgb).convert(mode)
    if mode in ("LA", "RGBA"):
        image = (grey if mode == "LA" else rgb).copy()
        image.putalpha(alpha)
        return image
    if mode in ("P", "PA"):
        palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE)
        return palette if mode == "P" else _pa(palette, alpha)
    values = np.asarray(grey).astype(np.uint32) * 257  # 16-bit grey
    if mode == "I;16":
        return Image.fromarray(values.astype(np.uint16))
    return Image.fromarray(values.astype(np.int32))  # "I"


def _pa(palette: Image.Image, alpha: Image.Image) -> Image.Image:
    image = palette.copy()
    image.putalpha(alpha)  # a palette picture with an alpha band: mode PA
    assert image.mode == "PA"
    return image


def encoded(mode: str, fmt: str, side: int) -> bytes | None:
    """The picture saved as `fmt`, or None where Pillow cannot write that mode in it."""
    out = io.BytesIO()
    try:
        in_mode(mode, side).save(out, fmt)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return out.getvalue()


# Every (format, mode) pair Pillow writes, found on tiny pictures; the file's own mode
# (what a decoder gives back) is in the test id: PNG keeps 1, L, LA, P, I;16, RGB, RGBA;
# JPEG gives L, RGB, CMYK; GIF gives P or L; WebP gives RGB or RGBA.
CARRIED = [(fmt, mode) for fmt in FORMATS for mode in MODES if encoded(mode, fmt, 8) is not None]


def _decoded_mode(fmt: str, mode: str) -> str:
    data = encoded(mode, fmt, 8)
    assert data is not None
    return str(Image.open(io.BytesIO(data)).mode)


@pytest.fixture
def product(db: Database, org_id: int) -> int:
    return store_product(db, org_id, "Lamp", "LAMP-1", status="active")


async def search(api: Any, data: bytes) -> Any:
    body, content_type = multipart({}, {"image": ("query.bin", data)})
    return await api.call("POST", SEARCH, raw=body, headers={"Content-Type": content_type})


@pytest.mark.parametrize("side", [1023, 1024])
@pytest.mark.parametrize("fmt, mode", CARRIED, ids=[f"{f}-{m}-as-{_decoded_mode(f, m)}" for f, m in CARRIED])
async def test_every_mode_a_format_carries_is_taken_and_searched(api: Any, anon: Any, product: int, fmt: str,
                                                                 mode: str, side: int) -> None:
    data = encoded(mode, fmt, side)
    assert data is not None
    added = await upload(api, product, data)
    assert added.code == 201, added.body
    assert (added.data["format"], added.data["width"], added.data["height"]) == (fmt.lower(), side, side)
    rendition = Image.open(io.BytesIO((await anon.client.fetch(local_path(added.data["url"]))).body))
    assert rendition.mode in ("RGB", "RGBA") and rendition.size == (side, side)
    found = await search(api, data)
    assert found.code == 200, found.body
    assert [p["id"] for p in found.data["products"]] == [product]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("side", [1023, 1024, 3000])
def test_every_mode_reaches_the_model_input(mode: str, side: int) -> None:
    """Modes no accepted file decodes to (I, F, PA, YCbCr) too, straight to the model."""
    pixels = preprocess(in_mode(mode, side))
    assert pixels.shape == (3, 224, 224) and pixels.dtype == np.float32
    shown = imaging.working_copy(in_mode(mode, side), 4)
    assert shown.mode in imaging.WORKING_MODES and shown.size == (-(-side // 4),) * 2


async def test_sixteen_bit_grey_shows_as_its_grey(api: Any, anon: Any, product: int) -> None:
    """Pillow's own conversion clips 16-bit values to white; the rendition scales them."""
    out = io.BytesIO()
    Image.fromarray(np.full((1100, 1100), 30000, np.uint16)).save(out, "PNG")
    added = (await upload(api, product, out.getvalue())).data
    rendition = Image.open(io.BytesIO((await anon.client.fetch(local_path(added["url"]))).body)).convert("L")
    assert abs(rendition.getpixel((500, 500)) - 30000 * 255 // 65535) <= 2  # type: ignore[operator]


async def test_transparency_of_a_palette_or_a_trns_colour_is_kept(api: Any, anon: Any, product: int) -> None:
    for image, save in ((in_mode("P", 1100), {"transparency": 0}), (in_mode("RGB", 1100), {"transparency": (0, 0, 0)})):
        image.paste(0 if image.mode == "P" else (0, 0, 0), (0, 0, 100, 100))
        out = io.BytesIO()
        image.save(out, "PNG", **save)
        added = (await upload(api, product, out.getvalue())).data
        rendition = Image.open(io.BytesIO((await anon.client.fetch(local_path(added["url"]))).body))
        assert rendition.mode == "RGBA" and rendition.getpixel((10, 10))[3] == 0  # type: ignore[index]


# ---- files cut short ---------------------------------------------------------------------------

def _jpeg(image: Image.Image, **save: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", **save)
    return out.getvalue()


def drill_jpeg() -> bytes:
    """The drill's file: 631 bytes, a header saying 7000 x 7000, then an end marker."""
    data = _jpeg(Image.new("RGB", (7000, 7000), (200, 30, 30)))
    return data[:629] + b"\xff\xd9"


def short_png(interlace: int = 0) -> bytes:
    """A well-formed PNG whose complete zlib stream holds 100 of its 200 rows."""
    header = struct.pack(">IIBBBBB", 300, 200, 8, 2, 0, 0, interlace)
    rows = zlib.compress((b"\0" + b"\x80" * 900) * 100)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", rows)
            + png_chunk(b"IEND", b""))


def _webp_cut(lossless: bool) -> bytes:
    """A WebP whose bitstream is cut in half, its RIFF and chunk sizes made to match."""
    out = io.BytesIO()
    Image.effect_noise((300, 200), 60).convert("RGB").save(out, "WEBP", lossless=lossless)
    data = out.getvalue()
    length = struct.unpack("<I", data[16:20])[0]
    cut = data[20:20 + length // 2]
    pad = b"\0" if len(cut) % 2 else b""
    return (b"RIFF" + struct.pack("<I", 4 + 8 + len(cut) + len(pad)) + b"WEBP" + data[12:16]
            + struct.pack("<I", len(cut)) + cut + pad)


def _gif_taller_than_its_data() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((300, 200), 60).convert("P").save(out, "GIF")
    data = bytearray(out.getvalue())
    position = 13 + (3 * (2 << (data[10] & 7)) if data[10] & 0x80 else 0)
    while data[position] == 0x21:  # extensions before the image descriptor
        position += 2
        while data[position]:
            position += data[position] + 1
        position += 1
    data[8:10] = data[position + 7:position + 9] = struct.pack("<H", 400)
    return bytes(data)


NOISE = Image.effect_noise((800, 600), 50).convert("RGB")
CUT_SHORT: list[tuple[str, Callable[[], bytes]]] = [
    ("jpeg-drill-631-bytes", drill_jpeg),
    ("jpeg-half-with-end-marker", lambda: (d := _jpeg(NOISE))[:len(d) // 2] + b"\xff\xd9"),
    ("jpeg-progressive-half-with-end-marker",
     lambda: (d := _jpeg(NOISE, progressive=True))[:len(d) // 2] + b"\xff\xd9"),
    ("jpeg-half", lambda: (d := _jpeg(NOISE))[:len(d) // 2]),
    ("png-complete-stream-half-the-rows", short_png),
    ("png-interlaced-complete-stream-half-the-rows", lambda: short_png(1)),
    ("png-half", lambda: (d := draw(3, (800, 600)))[:len(d) // 2]),
    ("gif-taller-than-its-data", _gif_taller_than_its_data),
    ("webp-lossy-cut", lambda: _webp_cut(False)),
    ("webp-lossless-cut", lambda: _webp_cut(True)),
]


@pytest.mark.parametrize("make", [m for _, m in CUT_SHORT], ids=[name for name, _ in CUT_SHORT])
async def test_a_file_cut_short_is_a_400_naming_the_field(db: Database, api: Any, product: int,
                                                          make: Callable[[], bytes]) -> None:
    data = make()
    added = await upload(api, product, data)
    assert added.code == 400 and added.error.startswith("file: the image cannot be decoded ("), added.body
    found = await search(api, data)
    assert found.code == 400 and found.error.startswith("image: the image cannot be decoded ("), found.body
    assert db.execute_sql("SELECT count(*) FROM media").fetchone()[0] == 0


@pytest.mark.parametrize("data", [
    _jpeg(NOISE), _jpeg(NOISE, progressive=True), _jpeg(NOISE)[:-2] + b"\0\0\0\xff\xd9",  # junk before the end
    _jpeg(NOISE) + b"trailing bytes", _jpeg(Image.new("CMYK", (1200, 900), (10, 200, 30, 5))),
], ids=["baseline", "progressive", "padding-before-end", "trailing-bytes", "cmyk"])
async def test_a_complete_jpeg_is_taken_whatever_surrounds_it(api: Any, product: int, data: bytes) -> None:
    assert (await upload(api, product, data)).code == 201


# ---- the caps on each side ------------------------------------------------------------------

def grey_png(width: int, height: int) -> bytes:
    """A black grey PNG of any size, compressed row by row (a 1 x 49,000,000 one is 95 KB)."""
    row = b"\0" * (1 + width)
    packer = zlib.compressobj(9)
    per_call = max(1, (1 << 20) // len(row))
    body = b"".join(packer.compress(row * min(per_call, height - start))
                    for start in range(0, height, per_call)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", body)
            + png_chunk(b"IEND", b""))


@pytest.mark.parametrize("width, height", [(1, 49_000_000), (20_001, 1), (1, 20_001), (20_001, 2_000)])
async def test_a_side_past_20000_pixels_is_refused_before_decoding(db: Database, api: Any, product: int,
                                                                   width: int, height: int) -> None:
    data = grey_png(width, height)
    message = f"the image is {width} x {height} pixels; a side may be at most 20000"
    added = await upload(api, product, data)
    assert added.code == 400 and added.error == f"file: {message}", added.body
    found = await search(api, data)
    assert found.code == 400 and found.error == f"image: {message}", found.body
    assert db.execute_sql("SELECT count(*) FROM media").fetchone()[0] == 0


async def test_a_side_of_20000_pixels_is_taken(api: Any, product: int) -> None:
    added = await upload(api, product, grey_png(20_000, 3))
    assert added.code == 201 and (added.data["width"], added.data["height"]) == (20_000, 3)
    assert (await search(api, grey_png(3, 20_000))).code == 200


async def test_a_webp_past_16_megapixels_is_refused(api: Any, product: int) -> None:
    out = io.BytesIO()
    Image.new("RGB", (4001, 4000), (9, 9, 9)).save(out, "WEBP", quality=10, method=0)
    added = await upload(api, product, out.getvalue())
    assert added.code == 400
    assert added.error == "file: a WebP image may have at most 16 megapixels (this one is 4001 x 4000)"


# ---- the peak of one decode -----------------------------------------------------------------

PEAK_MB = 300  # the bound README "Image decoding and memory" states
MEASURE = r"""
import io, json, re, sys
from pathlib import Path
from PIL import Image
from search import imaging
from search.model import ImageModels

def mb(field):
    return int(re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M).group(1)) / 1024

model = ImageModels().get()
small = io.BytesIO()
Image.new("RGB", (64, 64)).save(small, "PNG")
model.embed([imaging.upright_image(small.getvalue(), "file")])  # the model's own memory first
data = Path(sys.argv[1]).read_bytes()
before = mb("VmRSS")
Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from here
try:
    files, working = imaging.prepare_upright(data, "file")
    model.embed([working])
    model.embed([imaging.upright_image(data, "image", 512)])
    outcome = "taken"
except Exception as exc:
    outcome = getattr(exc, "message", repr(exc))
peaks = {Path(sys.argv[1]).name: (outcome, mb("VmHWM") - before)}
print(json.dumps(peaks))
"""
MAKE = r"""
import sys
from pathlib import Path
from PIL import Image
folder = Path(sys.argv[1])
for name, size, mode in (("rgba.png", (8660, 5773), "RGBA"), ("palette.png", (8660, 5773), "P"),
                         ("square.jpg", (7071, 7071), "RGB"), ("photo.jpg", (8660, 5773), "RGB"),
                         ("wide.png", (20000, 2500), "L"), ("big.webp", (4898, 3266), "RGBA"),
                         ("big.gif", (8660, 5773), "P")):
    image = Image.linear_gradient("L").resize(size).convert(mode)
    image.save(folder / name, **({"quality": 60, "method": 0} if name.endswith(".webp") else {}))
"""


@pytest.mark.slow
def test_one_decode_peaks_under_the_stated_bound(tmp_path: Path) -> None:
    """The largest decodes each format allows, in a fresh process each run (freed memory
    that the allocator keeps would hide a peak), from upload to both embeddings."""
    subprocess.run([sys.executable, "-c", MAKE, str(tmp_path)], check=True, cwd=ROOT)
    (tmp_path / "strip.png").write_bytes(grey_png(1, 49_000_000))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    peaks: dict[str, tuple[str, float]] = {}
    for path in sorted(tmp_path.iterdir()):
        done = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True,
                              cwd=ROOT, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        peaks.update(json.loads(done.stdout))
    assert peaks["strip.png"][0].startswith("file: the image is 1 x 49000000 pixels"), peaks
    assert peaks["strip.png"][1] < 16, peaks
    for name, (outcome, peak) in peaks.items():
        if name != "strip.png":
            assert outcome == "taken", (name, outcome)
        assert peak < PEAK_MB, (name, peak, peaks)
    assert peaks["photo.jpg"][1] < 64, peaks  # JPEGs decode at a reduced scale
