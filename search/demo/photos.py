"""Product photos for the demo catalog, drawn with Pillow (nothing fetched, nothing on disk).

Each kind of product has its own silhouette (a shirt's sleeves, a mug's handle, a lamp's
arm...), filled with the product's colour. On top of that every product gets its own
look from a seed: a pattern on the body (stripes, dots, checks, a band or none) in a
lighter or darker tone of that colour, a small logo, a slight tilt, size and offset, and
a tinted backdrop. The pattern is thin and tonal, so a product is the colour its name
says ("Sweater – Black" is a black sweater, its stripes dark grey); most of the item
is that colour (tests/test_demo.py checks it). Two products of one kind and colour
therefore look alike but not the same, which is what image search should show: a
product's own photo (or a crop of it) finds it first, and its look-alikes next.

Shapes are drawn at twice the size and scaled down, for smooth edges.
"""

from __future__ import annotations

import colorsys
import functools
import io
import math
import os
import random
import signal
import threading
import time
from typing import Any, Callable

from PIL import Image, ImageChops, ImageDraw

from search.imaging import prepare_upright
from store.media import MediaFiles

SIZE = 640
SCALE = 2  # drawn at 2x, then reduced: antialiased edges
CANVAS = SIZE * SCALE

RGB = tuple[int, int, int]
Box = tuple[float, float, float, float]

COLOUR_RGB: dict[str, RGB] = {
    "Black": (38, 38, 42), "White": (236, 236, 232), "Navy": (30, 48, 96),
    "Forest Green": (34, 96, 58), "Burgundy": (120, 28, 48), "Sand": (212, 190, 150),
    "Sky Blue": (110, 176, 226), "Charcoal": (72, 76, 82), "Mustard": (214, 160, 32),
    "Coral": (240, 116, 96), "Red": (200, 40, 44), "Olive": (112, 118, 52),
}
ACCENTS: list[RGB] = [(250, 250, 250), (20, 20, 24), (232, 196, 64), (216, 60, 60),
                      (60, 120, 220), (40, 160, 120), (240, 140, 40), (150, 90, 200)]
PATTERNS = ("plain", "stripes", "diagonal", "dots", "checks", "band", "chevrons")
LOGOS = ("circle", "star", "triangle", "diamond", "ring", "bolt")


class Look:
    """Everything that varies from product to product, drawn from one seed."""

    def __init__(self, colour: RGB, seed: int) -> None:
        rng = random.Random(seed)
        self.colour = colour
        self.accent = _far_from(colour, rng)  # the logo's, on a plain body
        self.tone = _tone(colour)  # the pattern's: the body's colour, lighter or darker
        self.pattern = rng.choice(PATTERNS)
        self.stripe = rng.randrange(28, 72)  # pattern period, in canvas pixels
        self.logo = rng.choice(LOGOS)
        self.logo_at = (rng.uniform(0.38, 0.62), rng.uniform(0.35, 0.6))
        self.angle = rng.uniform(-9.0, 9.0)
        self.scale = rng.uniform(0.78, 0.94)
        self.shift = (rng.uniform(-0.05, 0.05), rng.uniform(-0.04, 0.04))
        self.backdrop = _rgb(colorsys.hls_to_rgb(rng.random(), 0.95, rng.uniform(0.2, 0.6)))


def _rgb(values: tuple[float, float, float]) -> RGB:
    return (round(values[0] * 255), round(values[1] * 255), round(values[2] * 255))


def _far_from(colour: RGB, rng: random.Random) -> RGB:
    """An accent colour that stands out on `colour` (a white stripe on a white shirt
    would not show)."""
    choices = [c for c in ACCENTS if sum(abs(a - b) for a, b in zip(c, colour)) > 180]
    return rng.choice(choices or ACCENTS)


def _tone(colour: RGB) -> RGB:
    """A tone of `colour` that shows on it without changing what colour the item is:
    lighter for a dark colour, darker for a light one."""
    luma = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    return _shade(colour, 1.3) if luma < 110 else _shade(colour, 0.78)


def _shade(colour: RGB, factor: float) -> RGB:
    """Darker (factor < 1) or lighter (> 1) by the same share on every channel."""
    if factor <= 1:
        return (round(colour[0] * factor), round(colour[1] * factor), round(colour[2] * factor))
    return tuple(round(c + (255 - c) * (factor - 1)) for c in colour)  # type: ignore[return-value]


# ---- silhouettes: each draws the body mask and the parts that are not the body colour --------

Pen = ImageDraw.ImageDraw


def _pts(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Unit coordinates (0..1 of the canvas) to canvas pixels."""
    return [(x * CANVAS, y * CANVAS) for x, y in points]


def _box(x0: float, y0: float, x1: float, y1: float) -> Box:
    return (x0 * CANVAS, y0 * CANVAS, x1 * CANVAS, y1 * CANVAS)


def _tshirt(body: Pen, parts: Pen, look: Look) -> None:
    body.polygon(_pts([(0.36, 0.2), (0.44, 0.2), (0.5, 0.25), (0.56, 0.2), (0.64, 0.2),
                       (0.86, 0.32), (0.78, 0.45), (0.7, 0.4), (0.7, 0.82), (0.3, 0.82),
                       (0.3, 0.4), (0.22, 0.45), (0.14, 0.32)]), fill=255)
    parts.line(_pts([(0.44, 0.2), (0.5, 0.25), (0.56, 0.2)]), fill=_shade(look.colour, 0.6), width=14)


def _sweater(body: Pen, parts: Pen, look: Look) -> None:
    body.polygon(_pts([(0.37, 0.18), (0.63, 0.18), (0.8, 0.28), (0.9, 0.78), (0.8, 0.8),
                       (0.72, 0.42), (0.72, 0.84), (0.28, 0.84), (0.28, 0.42), (0.2, 0.8),
                       (0.1, 0.78), (0.2, 0.28)]), fill=255)
    rib = _shade(look.colour, 0.7)
    parts.rectangle(_box(0.28, 0.8, 0.72, 0.86), fill=rib)
    parts.ellipse(_box(0.42, 0.15, 0.58, 0.23), fill=rib)
    parts.polygon(_pts([(0.1, 0.78), (0.2, 0.8), (0.19, 0.84), (0.09, 0.82)]), fill=rib)
    parts.polygon(_pts([(0.9, 0.78), (0.8, 0.8), (0.81, 0.84), (0.91, 0.82)]), fill=rib)


def _jacket(body: Pen, parts: Pen, look: Look) -> None:
    body.polygon(_pts([(0.36, 0.16), (0.64, 0.16), (0.8, 0.26), (0.88, 0.8), (0.78, 0.81),
                       (0.72, 0.42), (0.72, 0.86), (0.28, 0.86), (0.28, 0.42), (0.22, 0.81),
                       (0.12, 0.8), (0.2, 0.26)]), fill=255)
    dark = _shade(look.colour, 0.55)
    parts.polygon(_pts([(0.38, 0.12), (0.5, 0.22), (0.62, 0.12), (0.6, 0.2), (0.5, 0.28),
                        (0.4, 0.2)]), fill=dark)  # collar
    parts.line(_pts([(0.5, 0.26), (0.5, 0.86)]), fill=(170, 170, 176), width=10)  # zip
    parts.rectangle(_box(0.33, 0.6, 0.44, 0.63), fill=dark)
    parts.rectangle(_box(0.56, 0.6, 0.67, 0.63), fill=dark)


def _sneaker(body: Pen, parts: Pen, look: Look) -> None:
    body.polygon(_pts([(0.12, 0.66), (0.14, 0.5), (0.3, 0.47), (0.42, 0.36), (0.56, 0.36),
                       (0.62, 0.46), (0.8, 0.52), (0.9, 0.6), (0.9, 0.68)]), fill=255)
    # A slim white sole and laces in the upper's own tone: the shoe is its colour.
    parts.rounded_rectangle(_box(0.1, 0.645, 0.92, 0.715), radius=24, fill=(244, 244, 240))
    parts.line(_pts([(0.1, 0.69), (0.92, 0.69)]), fill=(200, 200, 196), width=6)
    for i in range(4):
        x = 0.44 + i * 0.05
        parts.line(_pts([(x, 0.42 + i * 0.02), (x + 0.06, 0.4 + i * 0.03)]),
                   fill=look.tone, width=10)


def _boot(body: Pen, parts: Pen, look: Look) -> None:
    body.polygon(_pts([(0.3, 0.14), (0.56, 0.14), (0.58, 0.52), (0.78, 0.6), (0.86, 0.68),
                       (0.86, 0.76), (0.28, 0.76), (0.3, 0.46)]), fill=255)
    sole = (58, 44, 36)
    parts.rectangle(_box(0.26, 0.76, 0.88, 0.84), fill=sole)
    parts.rectangle(_box(0.28, 0.84, 0.42, 0.88), fill=sole)  # heel
    parts.rectangle(_box(0.29, 0.13, 0.57, 0.18), fill=_shade(look.colour, 0.6))  # cuff


def _mug(body: Pen, parts: Pen, look: Look) -> None:
    body.rounded_rectangle(_box(0.24, 0.26, 0.68, 0.8), radius=40, fill=255)
    body.ellipse(_box(0.6, 0.36, 0.86, 0.66), fill=255)
    body.ellipse(_box(0.66, 0.43, 0.8, 0.59), fill=0)  # the handle's hole
    body.rectangle(_box(0.6, 0.36, 0.68, 0.66), fill=255)
    parts.ellipse(_box(0.24, 0.22, 0.68, 0.3), fill=_shade(look.colour, 0.5))
    parts.ellipse(_box(0.26, 0.235, 0.66, 0.285), fill=(92, 58, 40))  # coffee


def _bottle(body: Pen, parts: Pen, look: Look) -> None:
    body.polygon(_pts([(0.42, 0.22), (0.58, 0.22), (0.6, 0.3), (0.66, 0.36), (0.66, 0.86),
                       (0.34, 0.86), (0.34, 0.36), (0.4, 0.3)]), fill=255)
    cap = _shade(look.colour, 0.55)  # the lid: a dark tone of the bottle's colour
    parts.rounded_rectangle(_box(0.41, 0.1, 0.59, 0.22), radius=14, fill=cap)
    parts.rectangle(_box(0.44, 0.07, 0.56, 0.11), fill=cap)
    parts.line(_pts([(0.38, 0.4), (0.38, 0.8)]), fill=_shade(look.colour, 1.5), width=12)


def _lamp(body: Pen, parts: Pen, look: Look) -> None:
    body.polygon(_pts([(0.52, 0.14), (0.7, 0.1), (0.88, 0.36), (0.6, 0.42)]), fill=255)  # shade
    body.ellipse(_box(0.14, 0.8, 0.46, 0.88), fill=255)  # base
    # The arm is lacquered like the shade; only the joint is bare metal, and the light
    # is a faint glow: the lamp is the colour its name says.
    parts.line(_pts([(0.3, 0.83), (0.4, 0.46), (0.64, 0.27)]), fill=_shade(look.colour, 0.85), width=26)
    parts.ellipse(_box(0.37, 0.43, 0.43, 0.49), fill=(90, 92, 96))
    parts.polygon(_pts([(0.6, 0.42), (0.88, 0.36), (0.98, 0.8), (0.52, 0.84)]),
                  fill=(255, 228, 110, 40))  # the light


def _backpack(body: Pen, parts: Pen, look: Look) -> None:
    body.rounded_rectangle(_box(0.26, 0.2, 0.74, 0.86), radius=90, fill=255)
    dark = _shade(look.colour, 0.6)
    parts.arc(_box(0.4, 0.1, 0.6, 0.28), start=180, end=360, fill=dark, width=18)
    parts.rounded_rectangle(_box(0.33, 0.58, 0.67, 0.82), radius=30, fill=_shade(look.colour, 0.9))
    parts.line(_pts([(0.33, 0.62), (0.67, 0.62)]), fill=(170, 170, 176), width=8)
    parts.rectangle(_box(0.2, 0.34, 0.26, 0.74), fill=dark)
    parts.rectangle(_box(0.74, 0.34, 0.8, 0.74), fill=dark)


def _cap(body: Pen, parts: Pen, look: Look) -> None:
    body.chord(_box(0.18, 0.26, 0.72, 0.86), start=180, end=360, fill=255)
    body.polygon(_pts([(0.6, 0.54), (0.9, 0.58), (0.92, 0.64), (0.6, 0.6)]), fill=255)  # brim
    parts.ellipse(_box(0.42, 0.24, 0.48, 0.29), fill=_shade(look.colour, 0.6))  # button
    parts.line(_pts([(0.45, 0.27), (0.45, 0.56)]), fill=_shade(look.colour, 0.7), width=6)
    parts.rectangle(_box(0.18, 0.54, 0.72, 0.58), fill=_shade(look.colour, 0.65))


SHAPES: dict[str, Callable[[Pen, Pen, Look], None]] = {
    "T-Shirt": _tshirt, "Sweater": _sweater, "Jacket": _jacket, "Sneakers": _sneaker,
    "Boots": _boot, "Mug": _mug, "Water Bottle": _bottle, "Desk Lamp": _lamp,
    "Backpack": _backpack, "Cap": _cap,
}


# ---- the fill: colour, pattern, logo -------------------------------------------------------

def _pattern(pen: Pen, look: Look) -> None:
    """Thin lines and small dots in the body's own tone: each pattern covers at most
    about a quarter of the body, so the body stays its named colour."""
    step, tone = look.stripe, look.tone
    if look.pattern == "stripes":
        for y in range(0, CANVAS, step * 2):
            pen.rectangle((0, y, CANVAS, y + step * 0.4), fill=tone)
    elif look.pattern == "diagonal":
        for x in range(-CANVAS, CANVAS, step * 2):
            pen.polygon([(x, 0), (x + step * 0.45, 0), (x + step * 0.45 + CANVAS, CANVAS), (x + CANVAS, CANVAS)],
                        fill=tone)
    elif look.pattern == "dots":
        r = step * 0.22
        for y in range(step // 2, CANVAS, step):
            for x in range((y // step % 2) * step // 2, CANVAS, step):
                pen.ellipse((x - r, y - r, x + r, y + r), fill=tone)
    elif look.pattern == "checks":  # a windowpane check: thin lines both ways
        width = max(2, step // 8)
        for at in range(0, CANVAS, step):
            pen.rectangle((0, at, CANVAS, at + width), fill=tone)
            pen.rectangle((at, 0, at + width, CANVAS), fill=tone)
    elif look.pattern == "band":
        middle = CANVAS // 2
        pen.rectangle((0, middle - step // 2, CANVAS, middle + step // 2), fill=tone)
    elif look.pattern == "chevrons":
        for y in range(0, CANVAS + step * 3, step * 3):
            pen.line([(0, y), (CANVAS / 2, y - CANVAS * 0.15), (CANVAS, y)], fill=tone, width=max(2, step // 4))


def _logo(pen: Pen, look: Look) -> None:
    cx, cy = look.logo_at[0] * CANVAS, look.logo_at[1] * CANVAS
    r = CANVAS * 0.045
    # On a pattern the accent would look like part of it: the logo is then a much
    # darker or lighter body colour.
    contrast = 0.35 if sum(look.colour) > 300 else 2.0
    ink = look.accent if look.pattern == "plain" else _shade(look.colour, contrast)
    if look.logo == "circle":
        pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=ink)
    elif look.logo == "ring":
        pen.ellipse((cx - r, cy - r, cx + r, cy + r), outline=ink, width=int(r * 0.35))
    elif look.logo == "triangle":
        pen.polygon([(cx, cy - r), (cx + r, cy + r * 0.8), (cx - r, cy + r * 0.8)], fill=ink)
    elif look.logo == "diamond":
        pen.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=ink)
    elif look.logo == "star":
        points = [(cx + (r if i % 2 == 0 else r * 0.45) * math.sin(i * math.pi / 5),
                   cy - (r if i % 2 == 0 else r * 0.45) * math.cos(i * math.pi / 5)) for i in range(10)]
        pen.polygon(points, fill=ink)
    else:  # bolt
        pen.polygon([(cx - r * 0.2, cy - r), (cx + r * 0.6, cy - r), (cx + r * 0.1, cy - r * 0.1),
                     (cx + r * 0.5, cy - r * 0.1), (cx - r * 0.4, cy + r), (cx - r * 0.05, cy + r * 0.1),
                     (cx - r * 0.5, cy + r * 0.1)], fill=ink)


def _backdrop(look: Look, mask: Image.Image) -> Image.Image:
    """A studio backdrop in a light tint, with a soft shadow under the item (`mask`).
    Nearly uniform on purpose: the image model trims a plain border away
    (search/model.py), so what it compares is the item, as in a shop's product shots."""
    image = Image.new("RGB", (SIZE, SIZE), look.backdrop)
    box = mask.getbbox() or (SIZE // 4, 0, SIZE * 3 // 4, SIZE * 3 // 4)
    inset = (box[2] - box[0]) // 10
    bottom = min(box[3], SIZE - 30)
    ImageDraw.Draw(image).ellipse((box[0] + inset, bottom - 10, box[2] - inset, bottom + 14),
                                  fill=_shade(look.backdrop, 0.8))
    return image


@functools.lru_cache(maxsize=1)
def _light() -> Image.Image:
    """How much darker each pixel of the item is: light from the top left, a fifth
    darker at the bottom right (the same for every photo, so computed once)."""
    down = Image.linear_gradient("L").resize((SIZE, SIZE))
    across = down.transpose(Image.Transpose.ROTATE_90).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return ImageChops.add(down, across, scale=2.0).point(lambda v: v // 5)


class _Parts:
    """A pen for the parts that are not the body (a sole, a zip, a lamp's arm): it
    draws on the picture and, opaque, on the mask, with the same call."""

    def __init__(self, picture: Image.Image, mask: Image.Image) -> None:
        self.picture = ImageDraw.Draw(picture)
        self.mask = ImageDraw.Draw(mask)

    def __getattr__(self, name: str) -> Callable[..., None]:
        def draw(*args: Any, fill: tuple[int, ...], **kwargs: Any) -> None:
            getattr(self.picture, name)(*args, fill=fill[:3], **kwargs)
            getattr(self.mask, name)(*args, fill=fill[3] if len(fill) > 3 else 255, **kwargs)
        return draw


def _placement(look: Look, flip: bool) -> tuple[float, ...]:
    """The inverse affine map (output pixel -> drawn pixel) that scales, tilts and
    places the item, for `Image.transform`: one resampling pass for all three."""
    half = SIZE / 2
    side = SIZE * look.scale
    out_x = half + look.shift[0] * SIZE
    out_y = (SIZE - side) * 0.75 + look.shift[1] * SIZE + side / 2
    turn = math.radians(look.angle)
    cos, sin = math.cos(turn) / look.scale, math.sin(turn) / look.scale
    a, b, d, e = cos, sin, -sin, cos
    if flip:  # mirrored: x of the drawing runs the other way
        a, b = -a, -b
    return (a, b, half - a * out_x - b * out_y, d, e, half - d * out_x - e * out_y)


def draw_product(kind: str, colour: str, seed: int, view: int = 0) -> Image.Image:
    """The photo of a product of `kind` in `colour`; `seed` picks its look, `view` > 0
    a second shot of the same product (mirrored, tilted the other way)."""
    return draw_product_and_mask(kind, colour, seed, view)[0]


def draw_product_and_mask(kind: str, colour: str, seed: int, view: int = 0) -> tuple[Image.Image, Image.Image]:
    """`draw_product` and where the item is in it (L: 255 on the item, 0 on the backdrop)."""
    look = Look(COLOUR_RGB[colour], seed)
    if view:
        look.angle = -look.angle - 6.0
        look.scale *= 0.9
    mask = Image.new("L", (CANVAS, CANVAS), 0)
    item = Image.new("RGB", (CANVAS, CANVAS), look.colour)
    pen = ImageDraw.Draw(item)
    _pattern(pen, look)  # over everything: the body's mask shows it only on the body
    _logo(pen, look)
    SHAPES[kind](ImageDraw.Draw(mask), _Parts(item, mask), look)  # type: ignore[arg-type]
    item, mask = item.reduce(SCALE), mask.reduce(SCALE)
    place = _placement(look, bool(view))
    item = item.transform((SIZE, SIZE), Image.Transform.AFFINE, place, Image.Resampling.BILINEAR)
    mask = mask.transform((SIZE, SIZE), Image.Transform.AFFINE, place, Image.Resampling.BILINEAR)
    item = Image.composite(Image.new("RGB", item.size, (0, 0, 0)), item, _light())
    image = _backdrop(look, mask)
    image.paste(item, (0, 0), mask)
    return image, mask


def render(kind: str, colour: str, seed: int, view: int = 0) -> tuple[MediaFiles, Image.Image]:
    """A product photo checked as an upload is (`search.imaging.prepare_upright`): the
    files to store and the upright image to embed. Plain values in and out, so a
    worker process can do it."""
    return prepare_upright(product_photo(kind, colour, seed, view), "file")


def init_worker(parent: int) -> None:
    """For worker processes. Ctrl-C is the parent's to handle (it stops handing out
    work and waits), not a traceback from every worker. And a worker must not outlive
    its parent: one killed outright (SIGKILL, an OOM kill) cannot shut its pool down,
    and the workers, blocked on a queue whose both ends they hold, would wait for work
    for ever under PID 1. A daemon thread notices the parent is gone (this process was
    reparented) and ends the worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(parent,), name="micropim-orphan-watch", daemon=True).start()


def _exit_with(parent: int, every: float = 0.5) -> None:
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)  # no cleanup to do: a worker holds no state of its own


def product_photo(kind: str, colour: str, seed: int, view: int = 0) -> bytes:
    """`draw_product` as a JPEG, as a camera or a shop's CMS would hand it over."""
    out = io.BytesIO()
    draw_product(kind, colour, seed, view).save(out, "JPEG", quality=88, optimize=False)
    return out.getvalue()
