"""The image-search page in real Chromium: a picked, dropped or pasted photo finds its
product first, with its score; the result count; errors in words; a phone's width."""

from __future__ import annotations

import base64
import io
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect
from PIL import Image, ImageDraw

from tests.browser import ARTIFACTS, screenshot


def mug(colour: tuple[int, int, int]) -> Image.Image:
    image = Image.new("RGB", (480, 400), (250, 250, 248))
    pen = ImageDraw.Draw(image)
    pen.rounded_rectangle([120, 90, 320, 340], radius=24, fill=colour)
    pen.arc([280, 150, 400, 280], start=-90, end=90, fill=colour, width=22)
    pen.ellipse([120, 70, 320, 110], fill=tuple(c // 2 for c in colour))
    return image


def shirt(colour: tuple[int, int, int]) -> Image.Image:
    image = Image.new("RGB", (480, 400), (235, 240, 250))
    pen = ImageDraw.Draw(image)
    pen.polygon([(150, 60), (200, 40), (280, 40), (330, 60), (420, 130), (380, 180), (330, 150),
                 (330, 370), (150, 370), (150, 150), (100, 180), (60, 130)], fill=colour)
    pen.ellipse([205, 30, 275, 75], fill=(235, 240, 250))
    for y in range(120, 360, 40):
        pen.line([(150, y), (330, y)], fill=(255, 255, 255), width=8)
    return image


def bottle(colour: tuple[int, int, int]) -> Image.Image:
    image = Image.new("RGB", (480, 400), (40, 44, 52))
    pen = ImageDraw.Draw(image)
    pen.rectangle([215, 20, 265, 90], fill=(200, 200, 200))
    pen.polygon([(215, 90), (265, 90), (310, 150), (170, 150)], fill=colour)
    pen.rounded_rectangle([170, 140, 310, 380], radius=18, fill=colour)
    pen.rectangle([170, 220, 310, 290], fill=(250, 220, 60))
    return image


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def cropped(image: Image.Image) -> bytes:
    w, h = image.size
    return png(image.crop((w // 8, h // 10, w - w // 10, h - h // 8)))


@pytest.fixture(scope="module")
def pictured(site: Any) -> dict[str, Any]:
    """Six products, each with its own drawn picture: name -> {product, image}."""
    prefix = uuid.uuid4().hex[:6]
    made = {}
    for label, image, price in (("Mug", mug((200, 40, 40)), "14.90"),
                                ("Shirt", shirt((30, 90, 200)), "24.50"),
                                ("Bottle", bottle((30, 150, 90)), "9.00"),
                                ("Blue Mug", mug((40, 60, 190)), "15.90"),
                                ("Red Shirt", shirt((190, 30, 60)), "22.00"),
                                ("Amber Bottle", bottle((150, 90, 20)), "8.50")):
        product = site.call("POST", "/api/products", {
            "name": f"Pictured {label} {prefix}", "sku": f"PIC-{label.upper().replace(' ', '')}-{prefix}",
            "price": price, "status": "active"})
        site.call("POST", f"/api/products/{product['id']}/media",
                  form={"file": ("picture.png", png(image), "image/png")})
        made[label] = {"product": product, "image": image}
    return made


def pick(page: Any, name: str, data: bytes, mime: str = "image/png") -> None:
    page.locator(".is-zone input[type=file]").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}])


def first_card(page: Any) -> Any:
    return page.locator(".is-result").first


def test_a_picked_crop_finds_its_product_first_with_its_score(page: Any, site: Any,
                                                              pictured: dict[str, Any]) -> None:
    shirt_product = pictured["Shirt"]["product"]
    page.goto("/#/image-search")
    page.get_by_text("Search the catalog with a photo").wait_for()
    with page.expect_response(lambda r: r.url.endswith("/api/products/image-search")) as answer:
        pick(page, "shirt-photo.png", cropped(pictured["Shirt"]["image"]))
    assert answer.value.status == 200
    found = answer.value.json()["data"]["products"]
    assert found[0]["id"] == shirt_product["id"]
    card = first_card(page)
    card.wait_for()
    link = card.get_by_role("link", name=shirt_product["name"])
    assert link.get_attribute("href") == f"#/products/{shirt_product['id']}"
    assert shirt_product["sku"] in card.inner_text()
    assert "24.50" in card.inner_text()
    score = round(found[0]["score"] * 100)
    assert f"{score}% match" in card.inner_text()
    assert card.get_by_role("meter", name="Similarity").get_attribute("aria-valuenow") == str(score)
    # The photo searched with is shown.
    assert page.get_by_role("img", name="The photo searched with: shirt-photo.png").is_visible()
    page.wait_for_function("() => [...document.querySelectorAll('.is-thumb')].every(i => i.complete)")
    screenshot(page, "image-search")

    link.click()
    page.wait_for_url(f"**/#/products/{shirt_product['id']}")


def test_the_result_count_bounds_the_results(page: Any, pictured: dict[str, Any]) -> None:
    page.goto("/#/image-search")
    page.get_by_label("Show up to").select_option("5")
    with page.expect_response(lambda r: r.url.endswith("/api/products/image-search")) as answer:
        pick(page, "mug.png", cropped(pictured["Mug"]["image"]))
    assert answer.value.json()["data"]["total"] == 5  # six pictured products, five asked for
    first_card(page).get_by_role("link", name=pictured["Mug"]["product"]["name"]).wait_for()
    assert page.locator(".is-result").count() == 5
    page.get_by_text("5 most similar products, best first").wait_for()
    # Changing the count searches again with the same photo.
    with page.expect_response(lambda r: r.url.endswith("/api/products/image-search")) as again:
        page.get_by_label("Show up to").select_option("10")
    shown = again.value.json()["data"]["total"]
    assert shown >= 6
    page.get_by_text(f"{shown} most similar products, best first").wait_for()
    assert page.locator(".is-result").count() == shown


def test_a_dropped_or_pasted_photo_searches_too(page: Any, pictured: dict[str, Any]) -> None:
    page.goto("/#/image-search")
    data = base64.b64encode(cropped(pictured["Bottle"]["image"])).decode()
    transfer = page.evaluate_handle(
        """data => {
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], 'bottle.png', { type: 'image/png' }));
            return transfer;
        }""", data)
    with page.expect_response(lambda r: r.url.endswith("/api/products/image-search")):
        page.dispatch_event(".is-zone", "drop", {"dataTransfer": transfer})
    first_card(page).get_by_role("link", name=pictured["Bottle"]["product"]["name"]).wait_for()

    data = base64.b64encode(cropped(pictured["Mug"]["image"])).decode()
    with page.expect_response(lambda r: r.url.endswith("/api/products/image-search")):
        page.evaluate(
            """data => {
                const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
                const clipboard = new DataTransfer();
                clipboard.items.add(new File([bytes], 'image.png', { type: 'image/png' }));
                document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: clipboard, bubbles: true }));
            }""", data)
    first_card(page).get_by_role("link", name=pictured["Mug"]["product"]["name"]).wait_for()


def test_a_file_that_is_not_an_image_is_refused_in_words(page: Any) -> None:
    page.goto("/#/image-search")
    page.get_by_text("Drop a photo here").wait_for()
    screenshot(page, "image-search-start")
    with page.expect_response(lambda r: r.url.endswith("/api/products/image-search")) as answer:
        pick(page, "notes.txt", b"these are not the pixels you are looking for", "text/plain")
    assert answer.value.status == 400
    message = answer.value.json()["error"]
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert alert.inner_text().strip() == message
    assert message.startswith("image:")
    assert page.locator(".is-result").count() == 0
    assert page.get_by_text("notes.txt").is_visible()
    screenshot(page, "image-search-not-an-image")


def test_on_a_phone_the_page_fits(phone: Any, site: Any, pictured: dict[str, Any]) -> None:
    page = phone
    page.goto("/#/image-search")
    page.get_by_role("button", name="Choose a photo…").wait_for()
    pick(page, "mug.png", cropped(pictured["Mug"]["image"]))
    first_card(page).get_by_role("link", name=pictured["Mug"]["product"]["name"]).wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('.is-thumb')].every(i => i.complete)")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    screenshot(page, "image-search-phone")


def test_the_words_fit_the_screen_paste_with_a_keyboard_take_a_photo_on_a_touch_screen(
        page: Any, phone: Any) -> None:
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/#/image-search")
    zone = page.locator(".is-zone")
    expect(zone).to_contain_text("Drop a photo here")
    expect(zone).to_contain_text("or paste one with Ctrl+V")
    expect(page.locator(".is-results")).to_contain_text("paste it from the clipboard")
    screenshot(page, "image-search-words")

    phone.goto("/#/image-search")
    zone = phone.locator(".is-zone")
    expect(zone).to_contain_text("Search with a photo")
    expect(zone).to_contain_text("or take one with the camera")
    words = zone.inner_text() + phone.locator(".is-results").inner_text()
    for wrong in ("Ctrl", "paste", "Drop", "drop"):
        assert wrong not in words, f"{wrong!r} on a touch screen: {words!r}"
    expect(phone.get_by_role("button", name="Choose a photo…")).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "image-search-words-phone.png"))  # full-page shots lose the touch emulation
