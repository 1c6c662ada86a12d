"""Demo photos are the colour their products' names say: "Sweater – Black" is a black
sweater, not yellow checks on black.

Each photo is decoded from the JPEG the demo stores; every pixel of the item (the
drawing's mask, so the backdrop and the shadow do not count) is matched to the nearest
of the demo's colours, allowing for the studio light, which darkens an item by up to a
fifth towards its bottom right. The named colour must be the item's colour by a clear
margin: at least 45 % of its pixels, and half again as many as any other colour (a
sneaker's white sole, a lamp's bare joint and tonal stripes are the rest).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from search import demo
from search.demo.photos import COLOUR_RGB, draw_product_and_mask, product_photo

NAMES = list(COLOUR_RGB)
PALETTE = np.array([COLOUR_RGB[name] for name in NAMES], float)
MIN_SHARE = 0.45
MIN_LEAD = 1.5


def colour_shares(photo: demo.Photo) -> dict[str, float]:
    """Share of the item's pixels nearest to each demo colour, in the stored JPEG."""
    _, mask = draw_product_and_mask(photo.kind, photo.colour, photo.seed, photo.view)
    decoded = Image.open(io.BytesIO(product_photo(photo.kind, photo.colour, photo.seed, photo.view)))
    pixels = np.asarray(decoded.convert("RGB"), float)[np.asarray(mask) >= 200]
    # The light scales a colour by 0.8-1.0: compare with each colour at its best-fitting scale.
    scale = np.clip(pixels @ PALETTE.T / (PALETTE * PALETTE).sum(axis=1), 0.75, 1.05)
    distance = ((pixels[:, None, :] - scale[:, :, None] * PALETTE[None]) ** 2).sum(axis=2)
    counts = np.bincount(distance.argmin(axis=1), minlength=len(NAMES)) / len(pixels)
    return dict(zip(NAMES, counts.tolist()))


def _planned() -> list[demo.Planned]:
    refs = demo.References(brands=[1] * len(demo.BRAND_NAMES), suppliers=[1] * len(demo.SUPPLIER_ROWS),
                           vat=1, second_warehouse=2, leaves={kind.leaf: 1 for kind in demo.KINDS}, gifts=1)
    return demo.plan(300, refs)


PLANNED = _planned()
# SWE-0002 is the "Sweater – Black" of the issue; then a spread over every kind and
# colour of the simple products, a second view, and each variable product's colours.
SAMPLE = ([("SWE-0002", PLANNED[1].photos[0])]
          + [(item.sku, item.photos[0]) for item in PLANNED[0:300:11]]
          + [(item.sku, item.photos[1]) for item in PLANNED[:300] if len(item.photos) > 1][:2]
          + [(item.sku, photo) for item in PLANNED[300:] for photo in item.photos[:2]])


@pytest.mark.parametrize("sku, photo", SAMPLE, ids=[f"{sku}-{photo.colour}-{photo.view}" for sku, photo in SAMPLE])
def test_a_demo_photo_is_the_colour_its_name_says(sku: str, photo: demo.Photo) -> None:
    planned = next(item for item in PLANNED if item.sku == sku)
    named = planned.fields["attributes"].get("colour") or photo.colour  # variable: the variant's
    if "colour" in planned.fields["attributes"]:
        assert planned.fields["name"].endswith(f" – {named}")
    else:
        assert planned.variants and all(v["attributes"]["colour"] == photo.colour
                                        for v in planned.variants if v["sku"] in photo.variant_skus)
    assert photo.colour == named
    shares = colour_shares(photo)
    own = shares.pop(named)
    runner_up = max(shares, key=shares.__getitem__)
    assert own >= MIN_SHARE, (named, own, runner_up, shares[runner_up])
    assert own >= MIN_LEAD * shares[runner_up], (named, own, runner_up, shares[runner_up])
