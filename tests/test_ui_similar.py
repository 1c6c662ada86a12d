"""Similar products and the near-duplicate warning on the product page, in real Chromium."""

from __future__ import annotations

import io
import random
import uuid
from typing import Any

from PIL import ImageOps
from playwright.sync_api import expect

from search.demo import photos
from tests.browser import screenshot
from tests.test_ui_product_sections import UPLOAD_WAIT, product_reloaded


def make(site: Any, label: str) -> dict[str, Any]:
    sku = f"SIM-{label}-{uuid.uuid4().hex[:6]}".upper()
    product: dict[str, Any] = site.call("POST", "/api/products", {
        "name": f"Similar {label} {sku[-6:]}", "sku": sku, "price": "12.00", "status": "active"})
    return product


def upload(site: Any, product: dict[str, Any], data: bytes) -> dict[str, Any]:
    media: dict[str, Any] = site.call("POST", f"/api/products/{product['id']}/media",
                                      form={"file": ("photo.jpg", data, "image/jpeg")})
    return media


def test_a_duplicated_photo_is_warned_of_and_the_products_show_each_other(page: Any, site: Any) -> None:
    seed = random.Random(uuid.uuid4().int).randrange(10**6)  # a look no other test draws
    original, twin, other = make(site, "MUG"), make(site, "TWIN"), make(site, "BOOTS")
    assert upload(site, original, photos.product_photo("Mug", "Coral", seed))["near_duplicates"] == []
    upload(site, other, photos.product_photo("Boots", "Olive", seed + 1))

    # The twin gets the same photo as another shop would send it: padded and re-encoded.
    copy = io.BytesIO()
    drawn = photos.draw_product("Mug", "Coral", seed)
    ImageOps.expand(drawn, border=drawn.width // 10, fill="white").save(copy, "JPEG", quality=90)
    page.goto(f"/#/products/{twin['id']}")
    similar = page.get_by_role("region", name="Similar products")
    expect(similar.get_by_text("Add an image to see the products that look like this one.")).to_be_visible()
    with product_reloaded(page, twin["id"], timeout=UPLOAD_WAIT):
        page.locator(".media-dropzone input[type=file]").set_input_files(
            files=[{"name": "mug.jpg", "mimeType": "image/jpeg", "buffer": copy.getvalue()}])
    warning = page.locator(".upload-duplicate")
    expect(warning).to_contain_text("mug.jpg looks like an image of another product")
    expect(warning.get_by_role("link", name=original["name"])).to_be_visible()
    expect(warning).to_contain_text(original["sku"])
    # ... and now the twin's own similar products show the original first.
    expect(similar.locator(".is-result").first.get_by_role("link", name=original["name"])).to_be_visible()
    screenshot(page, "product-duplicate-warning")

    warning.get_by_role("link", name=original["name"]).click()
    page.wait_for_url(f"**/#/products/{original['id']}")
    similar = page.get_by_role("region", name="Similar products")
    first = similar.locator(".is-result").first
    expect(first.get_by_role("link", name=twin["name"])).to_be_visible()
    best = site.call("GET", f"/api/products/{original['id']}/similar")["products"][0]
    assert best["id"] == twin["id"] and best["score"] >= 0.96
    expect(first.locator(".is-score-text")).to_have_text(f"{round(best['score'] * 100)}% match")
    names = similar.locator(".is-name").all_inner_texts()
    assert original["name"] not in names  # never itself
    assert page.locator(".upload-duplicate").count() == 0  # the warning was the twin's page's
