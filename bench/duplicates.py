"""Near-duplicate threshold: how the image model scores a photo against copies of itself
and against other products' photos, and what each threshold would flag.

Run from the repository root:

    .venv/bin/python bench/duplicates.py [--seeds 2] [--generated 120]

Two sets of product photos:
- `demo`: the demo catalogue's drawings (`search/demo/photos.py`), every kind in every
  colour, `--seeds` looks each, so each photo has look-alikes of its own kind and
  colour;
- `generated`: `bench/imagesearch.py`'s varied product-like pictures.

For each photo, copies as a shop's catalogue would get them again: JPEG re-encoded at
quality 60, resized to half, centre-cropped to 90 %, padded with 10 % white, saved as
PNG. Each copy's score against its original is a "same photo" score; each original's
best score against any other product's photo (and, for the demo set, against its own
kind and colour) is an "other product" score. A second shot of the same product
(`view=1`: mirrored, tilted) is printed apart: it is not the same photo.

Prints, per set, the distributions and, for thresholds 0.90-0.99, the share of same-
photo copies caught and the share of photos that would name another product.
`search.pipeline.NEAR_DUPLICATE` is chosen from these figures.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from typing import Callable

import numpy as np
from PIL import Image, ImageOps

BENCH = os.path.dirname(os.path.abspath(__file__))
for path in (os.path.dirname(BENCH), BENCH):
    if path not in sys.path:
        sys.path.insert(0, path)

from imagesearch import draw_product as generated_photo  # noqa: E402
from search import imaging  # noqa: E402
from search.demo import photos  # noqa: E402
from search.model import ImageModel, ImageModels  # noqa: E402
from search.pipeline import NEAR_DUPLICATE  # noqa: E402

THRESHOLDS = (0.90, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99)


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _crop(image: Image.Image, share: float) -> Image.Image:
    w, h = image.size
    dx, dy = int(w * (1 - share) / 2), int(h * (1 - share) / 2)
    return image.crop((dx, dy, w - dx, h - dy))


COPIES: dict[str, Callable[[Image.Image], bytes]] = {
    "jpeg q60": lambda im: _jpeg(im, 60),
    "half size": lambda im: _jpeg(im.resize((im.width // 2, im.height // 2), Image.Resampling.BICUBIC), 90),
    "crop 90 %": lambda im: _jpeg(_crop(im, 0.9), 90),
    "white pad 10 %": lambda im: _jpeg(ImageOps.expand(im, border=im.width // 10, fill="white"), 90),
    "png": _png,
}


def embed(model: ImageModel, data: bytes) -> np.ndarray:
    """As an upload is embedded (`search.pipeline.Images._prepare`)."""
    _, upright = imaging.prepare_upright(data, "file")
    return model.embed([upright])[0].astype(np.float32)


def _share(values: np.ndarray, at: float) -> float:
    return float(np.mean(values >= at)) if len(values) else 0.0


def report(name: str, model: ImageModel, originals: list[Image.Image], groups: list[int],
           second_views: list[tuple[int, Image.Image]]) -> None:
    vectors = np.stack([embed(model, _jpeg(im, 88)) for im in originals])
    same: dict[str, np.ndarray] = {}
    for label, make in COPIES.items():
        copies = np.stack([embed(model, make(im)) for im in originals])
        same[label] = np.sum(copies * vectors, axis=1)
    scores = vectors @ vectors.T
    np.fill_diagonal(scores, -1.0)
    nearest = scores.max(axis=1)
    group = np.array(groups)
    alike = np.where(group[:, None] == group[None, :], scores, -1.0).max(axis=1)
    all_same = np.concatenate(list(same.values()))
    print(f"\n== {name}: {len(originals)} photos")
    for label, values in same.items():
        print(f"  same photo, {label:15s} min {values.min():.4f}  p5 {np.percentile(values, 5):.4f}"
              f"  median {np.median(values):.4f}")
    print(f"  other product, nearest      max {nearest.max():.4f}  p99 {np.percentile(nearest, 99):.4f}"
          f"  median {np.median(nearest):.4f}")
    if (alike > -1).any():
        print(f"  same kind and colour        max {alike.max():.4f}  median {np.median(alike[alike > -1]):.4f}")
    if second_views:
        views = np.stack([embed(model, _jpeg(im, 88)) for _, im in second_views])
        shot = np.sum(views * vectors[[i for i, _ in second_views]], axis=1)
        print(f"  second shot, same product   min {shot.min():.4f}  median {np.median(shot):.4f}"
              f"  max {shot.max():.4f}")
    print("  threshold  copies caught  photos naming another product")
    for at in THRESHOLDS:
        mark = "  <- search.pipeline.NEAR_DUPLICATE" if abs(at - NEAR_DUPLICATE) < 1e-9 else ""
        print(f"  {at:.2f}       {_share(all_same, at):6.3f}         {_share(nearest, at):6.3f}{mark}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=2, help="looks per kind and colour in the demo set")
    parser.add_argument("--generated", type=int, default=120, help="pictures in the generated set")
    args = parser.parse_args()
    model = ImageModels().get()
    demo: list[Image.Image] = []
    groups: list[int] = []
    for k, kind in enumerate(photos.SHAPES):
        for c, colour in enumerate(photos.COLOUR_RGB):
            for seed in range(args.seeds):
                demo.append(photos.draw_product(kind, colour, 1000 * k + 37 * c + seed))
                groups.append(k * 100 + c)
    colours = len(photos.COLOUR_RGB)
    views = [((k * colours + c) * args.seeds, photos.draw_product(kind, colour, 1000 * k + 37 * c, view=1))
             for k, kind in enumerate(photos.SHAPES) for c, colour in enumerate(photos.COLOUR_RGB) if c % 2 == 0]
    report("demo", model, demo, groups, views)
    generated = [generated_photo(seed) for seed in range(args.generated)]
    report("generated", model, generated, list(range(-len(generated), 0)), [])


if __name__ == "__main__":
    main()
