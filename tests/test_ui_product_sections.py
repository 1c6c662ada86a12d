"""The product page's media, variants and translations sections in real Chromium.

Each test makes its own product (and attribute) through the API with a unique SKU, acts as
a user would, and checks both what the page shows and what the API now holds.
"""

from __future__ import annotations

import base64
import io
import re
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

from PIL import Image, ImageDraw
from playwright.sync_api import expect

from tests.browser import ARTIFACTS, ApiCallFailed, screenshot


# An upload computes the image's embedding; the first of a run also loads the model.
UPLOAD_WAIT = 30_000


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}".upper()


def make_product(site: Any, prefix: str, **fields: Any) -> dict[str, Any]:
    sku = unique(prefix)
    product: dict[str, Any] = site.call("POST", "/api/products", {
        "name": f"Sections {sku.title()}", "sku": sku, "price": "24.90", **fields})
    return product


def picture(colour: tuple[int, int, int], size: tuple[int, int] = (480, 360)) -> bytes:
    """A PNG a person could tell apart: a coloured field with a white disc."""
    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w // 4, h // 4, 3 * w // 4, 3 * h // 4), fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def add_media(site: Any, product_id: int, colour: tuple[int, int, int], alt_text: str) -> dict[str, Any]:
    media: dict[str, Any] = site.call("POST", f"/api/products/{product_id}/media", form={
        "file": (f"{alt_text}.png", picture(colour), "image/png"), "alt_text": alt_text})
    return media


def media_of(site: Any, product_id: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = site.call("GET", f"/api/products/{product_id}/media")["media"]
    return items


@contextmanager
def product_reloaded(page: Any, product_id: int, timeout: float = 10_000) -> Iterator[None]:
    """Wait, around an action, until the page has read the product again (ctx.refresh():
    the product page reads it with its stock levels, `GET …/stock`)."""
    pattern = re.compile(rf"/api/products/{product_id}(/stock)?(\?.*)?$")
    with page.expect_response(lambda r: r.request.method == "GET" and pattern.search(r.url) is not None,
                              timeout=timeout):
        yield


def expect_alts(page: Any, alts: list[str]) -> None:
    """Retry until the tiles read `alts` in order (a move redraws them after its answer)."""
    expect(page.locator(".media-tile")).to_have_count(len(alts))
    for i, alt in enumerate(alts):
        expect(page.locator(".media-tile").nth(i).locator("input[name=alt_text]")).to_have_value(alt)


def wait_for_tiles(page: Any, count: int) -> None:
    page.wait_for_function("""(count) => {
        const images = [...document.querySelectorAll('.media-tile img')];
        return images.length === count && images.every((i) => i.complete && i.naturalWidth > 0);
    }""", arg=count)


# ---- media ------------------------------------------------------------------------------

def test_upload_by_picking_a_file_and_by_dropping_one(page: Any, site: Any) -> None:
    product = make_product(site, "MED-UP")
    page.goto(f"/#/products/{product['id']}")
    media = page.get_by_role("region", name="Media")
    media.get_by_text("No images yet").wait_for()

    with product_reloaded(page, product["id"], timeout=UPLOAD_WAIT):
        page.locator(".media-dropzone input[type=file]").set_input_files(
            files=[{"name": "blue.png", "mimeType": "image/png", "buffer": picture((40, 80, 200))}])
    wait_for_tiles(page, 1)
    expect(media.get_by_text("1 image", exact=True)).to_be_visible()
    expect(media.get_by_text("Main image")).to_be_visible()
    items = media_of(site, product["id"])
    assert [(m["format"], m["width"], m["height"], m["source_url"]) for m in items] == [("png", 480, 360, None)]
    src = page.locator(".media-tile img").first.get_attribute("src")
    assert src == f"{items[0]['url']}?w=320"

    # A real drop: a DataTransfer holding a file made from bytes, dropped on the zone.
    page.reload()
    wait_for_tiles(page, 1)
    data = base64.b64encode(picture((30, 160, 90))).decode()
    with product_reloaded(page, product["id"], timeout=UPLOAD_WAIT):
        page.evaluate("""(data) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], 'green.png', { type: 'image/png' }));
            const zone = document.querySelector('.media-dropzone');
            zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }));
            zone.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
        }""", data)
    wait_for_tiles(page, 2)
    items = media_of(site, product["id"])
    assert len(items) == 2 and items[1]["position"] == 1
    assert site.call("GET", f"/api/products/{product['id']}")["images"] == [m["url"] for m in items]
    screenshot(page, "product-media")


def test_a_file_that_is_not_an_image_shows_the_servers_words(page: Any, site: Any) -> None:
    product = make_product(site, "MED-BAD")
    page.goto(f"/#/products/{product['id']}")
    page.get_by_text("No images yet").wait_for()
    page.locator(".media-dropzone input[type=file]").set_input_files(
        files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"these are notes, not pixels"}])
    failed = page.locator(".upload-failed")
    failed.wait_for(timeout=UPLOAD_WAIT)
    text = failed.inner_text()
    assert "notes.png" in text
    assert "not an image in an accepted format (JPEG, PNG, WebP or GIF)" in text
    assert media_of(site, product["id"]) == []
    screenshot(page, "product-media-error")

    # A private address is refused in words next to the URL field.
    page.get_by_label("Image URL").fill("http://127.0.0.1:9/lamp.jpg")
    page.get_by_role("button", name="Add from URL").click()
    error = page.locator(".media-url-form .field-error")
    error.wait_for()
    assert error.inner_text().startswith("file_url: ")
    assert page.get_by_label("Image URL").get_attribute("aria-invalid") == "true"
    assert media_of(site, product["id"]) == []


def test_reorder_edit_alt_text_and_delete_media(page: Any, site: Any) -> None:
    product = make_product(site, "MED-ORD")
    for colour, alt in (((200, 40, 40), "Red"), ((40, 160, 60), "Green"), ((40, 60, 200), "Blue")):
        add_media(site, product["id"], colour, alt)
    page.goto(f"/#/products/{product['id']}")
    wait_for_tiles(page, 3)
    expect_alts(page, ["Red", "Green", "Blue"])

    with product_reloaded(page, product["id"]):
        page.get_by_role("button", name="Move Blue left").click()
    expect_alts(page, ["Red", "Blue", "Green"])
    wait_for_tiles(page, 3)
    assert [m["alt_text"] for m in media_of(site, product["id"])] == ["Red", "Blue", "Green"]
    # The focus stays on the moved image's button, for keyboard users.
    expect(page.get_by_role("button", name="Move Blue left")).to_be_focused()

    # Drag Green onto Red: it takes the first place.
    with product_reloaded(page, product["id"]):
        page.locator(".media-tile").nth(2).drag_to(page.locator(".media-tile").nth(0),
                                                   source_position={"x": 40, "y": 40})
    expect_alts(page, ["Green", "Red", "Blue"])
    wait_for_tiles(page, 3)
    items = media_of(site, product["id"])
    assert [m["alt_text"] for m in items] == ["Green", "Red", "Blue"]
    assert site.call("GET", f"/api/products/{product['id']}")["images"][0] == items[0]["url"]

    alt = page.locator(".media-tile").nth(1).get_by_label("Alt text")
    alt.fill("Red mug, front")
    with page.expect_response(lambda r: r.request.method == "PATCH"):
        alt.press("Enter")
    page.get_by_text("Alt text saved.").wait_for()
    assert media_of(site, product["id"])[1]["alt_text"] == "Red mug, front"

    with product_reloaded(page, product["id"]):
        page.get_by_role("button", name="Delete Red mug, front").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect_alts(page, ["Green", "Blue"])
    wait_for_tiles(page, 2)
    assert [(m["alt_text"], m["position"]) for m in media_of(site, product["id"])] == [("Green", 0), ("Blue", 1)]


# ---- variants ---------------------------------------------------------------------------

def make_axis(site: Any) -> dict[str, Any]:
    axis: dict[str, Any] = site.call("POST", "/api/product-attributes", {
        "name": f"Size {uuid.uuid4().hex[:6]}", "type": "select", "options": ["S", "M", "L"],
        "is_variant_axis": True})
    return axis


def wait_for_stock(page: Any, stock: str) -> None:
    page.wait_for_function("(stock) => document.querySelector('.variants-stock')?.textContent === stock", arg=stock)


def fill_variant(page: Any, axis: dict[str, Any], sku: str, size: str, quantity: int) -> Any:
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("SKU").fill(sku)
    dialog.get_by_label(axis["name"]).select_option(size)
    dialog.get_by_label("Stock quantity").fill(str(quantity))
    return dialog


def test_adding_variants_makes_the_product_variable_with_their_stock(page: Any, site: Any) -> None:
    axis = make_axis(site)
    product = make_product(site, "VAR-ADD")
    image = add_media(site, product["id"], (90, 90, 90), "Grey")
    page.goto(f"/#/products/{product['id']}")
    section = page.get_by_role("region", name="Variants")
    section.get_by_text("No variants").wait_for()
    assert section.get_by_text("A simple product").is_visible()

    page.get_by_role("button", name="+ Add variant").click()
    dialog = fill_variant(page, axis, f"{product['sku']}-S", "S", 4)
    dialog.get_by_label("Price (EUR)", exact=True).fill("26.50")
    dialog.get_by_label("Grey").check()
    with product_reloaded(page, product["id"]):
        dialog.get_by_role("button", name="Add variant").click()
    expect(section.locator(".variants-stock")).to_have_text("4")
    expect(section.get_by_text("Variable product")).to_be_visible()

    page.get_by_role("button", name="+ Add variant").click()
    dialog = fill_variant(page, axis, f"{product['sku']}-M", "M", 3)
    with product_reloaded(page, product["id"]):
        dialog.get_by_role("button", name="Add variant").click()
    section.locator("tbody tr").nth(1).wait_for()
    wait_for_stock(page, "7")
    row = section.locator("tbody tr").first
    expect(row).to_contain_text(f"{product['sku']}-S")
    expect(row).to_contain_text("26.50")
    expect(row.locator("img")).to_have_attribute("src", f"{image['url']}?w=160")

    stored = site.call("GET", f"/api/products/{product['id']}")
    assert (stored["product_type"], stored["stock"]) == ("variable", 7)
    variants = site.call("GET", f"/api/products/{product['id']}/variants")["variants"]
    assert [(v["sku"], v["stock_quantity"], v["attributes"][0]["value"], v["price"], v["image"]) for v in variants] == [
        (f"{product['sku']}-S", 4, "S", "26.5000", image["url"]),
        (f"{product['sku']}-M", 3, "M", None, None),
    ]
    screenshot(page, "product-variants")

    # Disabling a variant takes its stock out of the product's.
    with product_reloaded(page, product["id"]):
        section.get_by_label(f"{product['sku']}-M enabled").uncheck()
    wait_for_stock(page, "4")
    assert site.call("GET", f"/api/products/{product['id']}")["stock"] == 4

    # Edit in the dialog, then delete with confirmation.
    section.get_by_role("button", name=f"Edit {product['sku']}-S").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("EAN").fill("4006381333931")
    dialog.get_by_role("button", name="Save variant").click()
    section.get_by_text("4006381333931").wait_for()
    assert site.call("GET", f"/api/products/{product['id']}/variants/{variants[0]['id']}")["ean"] == "4006381333931"

    with product_reloaded(page, product["id"]):
        section.get_by_role("button", name=f"Delete {product['sku']}-M").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(section.locator(".variants-table tbody tr")).to_have_count(1)
    assert [v["sku"] for v in site.call("GET", f"/api/products/{product['id']}/variants")["variants"]] == [
        f"{product['sku']}-S"]


def test_variant_errors_show_next_to_their_fields(page: Any, site: Any) -> None:
    axis = make_axis(site)
    product = make_product(site, "VAR-DUP")
    site.call("POST", f"/api/products/{product['id']}/variants",
              {"sku": f"{product['sku']}-L", "attributes": {axis["code"]: "L"}})
    page.goto(f"/#/products/{product['id']}")
    page.locator(".variants-table").wait_for()

    page.get_by_role("button", name="+ Add variant").click()
    dialog = fill_variant(page, axis, product["sku"], "S", 1)  # the product's own SKU
    dialog.get_by_role("button", name="Add variant").click()
    sku = dialog.get_by_label("SKU")
    error = dialog.locator(f"#{sku.get_attribute('id')}-error")
    expect(error).to_have_text(f"sku: SKU '{product['sku']}' is already taken")
    expect(sku).to_have_attribute("aria-invalid", "true")
    expect(sku).to_be_focused()

    sku.fill(f"{product['sku']}-L2")
    dialog.get_by_label(axis["name"]).select_option("L")  # the same axis value as -L
    dialog.get_by_role("button", name="Add variant").click()
    axes_error = dialog.locator(".variant-axes > .field-error")
    expect(axes_error).to_have_text(f"attributes: variant {product['sku']}-L of this product has the same axis values")
    expect(error).to_be_hidden()

    dialog.get_by_label("Price (EUR)", exact=True).fill("abc")
    dialog.get_by_label(axis["name"]).select_option("M")
    dialog.get_by_role("button", name="Add variant").click()
    price_error = dialog.locator(f"#{dialog.get_by_label('Price (EUR)', exact=True).get_attribute('id')}-error")
    expect(price_error).to_have_text(re.compile(r"^price: must be a decimal number"))
    screenshot(page, "product-variants-error")
    dialog.get_by_role("button", name="Cancel").click()
    assert site.call("GET", f"/api/products/{product['id']}/variants")["total"] == 1


# ---- translations -----------------------------------------------------------------------

def test_add_a_german_translation_see_it_after_a_reload_and_delete_it(page: Any, site: Any) -> None:
    product = make_product(site, "TRN", description="A sturdy cotton shirt.")
    page.goto(f"/#/products/{product['id']}")
    section = page.get_by_role("region", name="Translations")
    section.get_by_role("button", name="German (de)").click()
    name = section.get_by_label("Name (de)")
    assert name.get_attribute("placeholder") == product["name"]
    assert "A sturdy cotton shirt." in section.inner_text()  # the default shown for reference
    name.fill("Robustes Baumwollhemd")
    section.get_by_label("Description (de)", exact=True).fill("Ein robustes Hemd aus Baumwolle.")
    page.get_by_role("button", name="Save", exact=True).click()  # the page's one Save bar
    page.get_by_text("Changes saved.").wait_for()

    page.reload()
    tab = section.get_by_role("tab", name="German (de)")
    expect(tab).to_have_attribute("aria-selected", "true")
    # The tab and its panel name each other, for screen readers.
    panel = section.get_by_role("tabpanel", name="German (de)")
    expect(panel).to_have_attribute("id", tab.get_attribute("aria-controls") or "")
    expect(panel.get_by_label("Name (de)")).to_have_value("Robustes Baumwollhemd")
    expect(section.get_by_label("Slug (de)")).to_have_value("robustes-baumwollhemd")
    stored = site.call("GET", f"/api/products/{product['id']}/translations/de")
    assert (stored["name"], stored["description"], stored["short_description"]) == (
        "Robustes Baumwollhemd", "Ein robustes Hemd aus Baumwolle.", None)
    screenshot(page, "product-translations")

    section.get_by_role("button", name="Delete translation").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    page.get_by_text("German translation deleted.").wait_for()
    expect(section.get_by_role("tab", name="German (de)")).to_have_count(0)
    expect(section.get_by_role("tabpanel", name="+ Add language")).to_be_visible()
    assert site.call("GET", f"/api/products/{product['id']}/translations")["total"] == 0


def test_a_free_locale_is_checked_and_server_errors_are_shown(page: Any, site: Any) -> None:
    other = make_product(site, "TRN-OTHER")
    site.call("PUT", f"/api/products/{other['id']}/translations/de-AT", {"name": "Hemd", "slug": "hemd-at"})
    product = make_product(site, "TRN-FREE")
    page.goto(f"/#/products/{product['id']}")
    section = page.get_by_role("region", name="Translations")
    locale = section.get_by_label("Other language (BCP 47 tag)")
    locale.fill("de_AT")
    section.get_by_role("button", name="Add", exact=True).click()
    expect(section.locator(".field-error").filter(has_text="locale: must be a BCP 47")).to_be_visible()

    locale.fill("DE-at")
    section.get_by_role("button", name="Add", exact=True).click()
    section.get_by_label("Name (de-AT)").fill("Hemd")
    section.get_by_label("Slug (de-AT)").fill("hemd-at")  # another product shows it there
    page.get_by_role("button", name="Save", exact=True).click()
    slug = section.get_by_label("Slug (de-AT)")
    error = section.locator(f"#{slug.get_attribute('id')}-error")
    expect(error).to_have_text(re.compile(r"^slug: "))
    try:
        site.call("GET", f"/api/products/{product['id']}/translations/de-AT")
    except ApiCallFailed as failed:
        assert " 404 " in str(failed)
    else:
        raise AssertionError("the refused translation was stored")

    slug.fill("")
    page.get_by_role("button", name="Save", exact=True).click()
    section.get_by_role("tab", name=re.compile(r"\(de-AT\)$")).wait_for()
    assert site.call("GET", f"/api/products/{product['id']}/translations/de-AT")["name"] == "Hemd"


def test_unsaved_typing_survives_another_sections_refresh(page: Any, site: Any) -> None:
    product = make_product(site, "TRN-KEEP")
    site.call("PUT", f"/api/products/{product['id']}/translations/fr", {"name": "Chemise"})
    page.goto(f"/#/products/{product['id']}")
    section = page.get_by_role("region", name="Translations")
    section.get_by_label("Name (fr)").fill("Chemise en coton")
    # An upload in the media section reloads the product and re-renders the page.
    with product_reloaded(page, product["id"], timeout=UPLOAD_WAIT):
        page.locator(".media-dropzone input[type=file]").set_input_files(
            files=[{"name": "shirt.png", "mimeType": "image/png", "buffer": picture((120, 20, 120))}])
    wait_for_tiles(page, 1)
    expect(section.get_by_label("Name (fr)")).to_have_value("Chemise en coton")
    assert site.call("GET", f"/api/products/{product['id']}/translations/fr")["name"] == "Chemise"

    # A language being added comes back too, as a new tab.
    section.get_by_role("tab", name="+ Add language").click()
    page.get_by_role("dialog").get_by_role("button", name="Discard changes").click()
    section.get_by_role("button", name="Italian (it)").click()
    section.get_by_label("Name (it)").fill("Camicia")
    with product_reloaded(page, product["id"]):
        page.get_by_role("button", name="Delete Image 1").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    page.get_by_text("No images yet").wait_for()
    expect(section.get_by_label("Name (it)")).to_have_value("Camicia")
    expect(section.get_by_role("tab", name="Italian (it) · new")).to_have_attribute("aria-selected", "true")
    expect(section.get_by_role("tabpanel", name="Italian (it) · new")).to_be_visible()
    page.get_by_role("button", name="Save", exact=True).click()
    section.get_by_role("tab", name="Italian (it)", exact=True).wait_for()
    assert site.call("GET", f"/api/products/{product['id']}/translations/it")["name"] == "Camicia"


# ---- a phone ----------------------------------------------------------------------------

def test_the_sections_fit_a_phone(phone: Any, site: Any) -> None:
    axis = make_axis(site)
    product = make_product(site, "PHONE")
    add_media(site, product["id"], (230, 140, 30), "Orange")
    add_media(site, product["id"], (30, 140, 230), "Sky")
    site.call("POST", f"/api/products/{product['id']}/variants",
              {"sku": f"{product['sku']}-S", "stock_quantity": 2, "attributes": {axis["code"]: "S"}})
    site.call("PUT", f"/api/products/{product['id']}/translations/ro", {"name": "Cămașă"})
    page = phone
    page.goto(f"/#/products/{product['id']}")
    # Below the product's form on a phone: the lazy thumbnails load once in view.
    page.locator(".media-tile").first.scroll_into_view_if_needed()
    wait_for_tiles(page, 2)
    page.locator(".variants-table tbody tr").first.wait_for()
    page.get_by_label("Name (ro)").wait_for()
    screenshot(page, "product-sections-phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    # Only the warehouse stock table may scroll inside its frame; the variants are cards.
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter((node) => node.getBoundingClientRect().right > 391
                && !node.parentElement.closest('.table-wrap:not(.variants-table)'))
        .map((node) => `${node.tagName}.${node.className}`).slice(0, 5)""")
    assert width <= 390 and wide == [], f"the page scrolls sideways on a phone ({width}px): {wide}"
    # Every control and value of a variant is on screen: no scrolling inside a frame.
    expect(page.locator(".variants-table thead")).to_be_hidden()
    outside = page.evaluate("""() => [...document.querySelectorAll(
            '.variants-section button, .variants-section input, .variants-section td')]
        .filter((node) => { const r = node.getBoundingClientRect(); return r.left < 0 || r.right > 390; })
        .map((node) => `${node.tagName}.${node.className} ${node.getAttribute('aria-label') || ''}`)""")
    assert outside == [], f"off a phone's screen: {outside}"
    # On a card each value names its column.
    labels = page.locator(".variants-table tbody tr").first.locator("td").evaluate_all(
        "cells => cells.map((c) => getComputedStyle(c, '::before').content)")
    assert '"Price"' in labels and '"Stock"' in labels and '"Enabled"' in labels, labels
    page.get_by_role("button", name=f"Edit {product['sku']}-S").click()
    page.get_by_role("dialog").get_by_label("SKU").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "product-variant-dialog-phone.png"))  # what the phone shows


# ---- issue 13: whole photos, inherited prices, languages on a phone --------------------

WIDE = {"width": 1440, "height": 900}

FRAMED = """() => [...document.querySelectorAll('.media-tile')].map((tile) => {
    const frame = tile.querySelector('.media-frame').getBoundingClientRect();
    const image = tile.querySelector('.media-frame img');
    const box = image.getBoundingClientRect();
    return { alt: image.alt, fit: getComputedStyle(image).objectFit,
             frame: [frame.left, frame.top, frame.right, frame.bottom],
             image: [box.left, box.top, box.right, box.bottom] };
})"""


def assert_whole_images(page: Any) -> None:
    """Every tile's image box lies inside its frame and scales the photo to fit (contain)."""
    for tile in page.evaluate(FRAMED):
        (fl, ft, fr, fb), (il, it, ir, ib) = tile["frame"], tile["image"]
        assert tile["fit"] == "contain", tile
        assert il >= fl - 0.5 and it >= ft - 0.5 and ir <= fr + 0.5 and ib <= fb + 0.5, \
            f"{tile['alt']}: the image {tile['image']} reaches out of its frame {tile['frame']}"


def test_media_tiles_show_the_whole_photo(page: Any, phone: Any, site: Any) -> None:
    product = make_product(site, "MED-FIT")
    for colour, alt, size in (((200, 40, 40), "Tall", (300, 420)), ((40, 160, 60), "Wide", (480, 200)),
                              ((40, 60, 200), "Square", (400, 400))):
        site.call("POST", f"/api/products/{product['id']}/media", form={
            "file": (f"{alt}.png", picture(colour, size), "image/png"), "alt_text": alt})
    for tab, name in ((page, "product-media-whole"), (phone, "product-media-whole-phone")):
        if tab is page:
            tab.set_viewport_size(WIDE)
        tab.goto(f"/#/products/{product['id']}")
        tab.locator(".media-tile").first.scroll_into_view_if_needed()
        wait_for_tiles(tab, 3)
        assert_whole_images(tab)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        tab.locator(".media-grid").screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_a_variant_without_a_price_shows_the_products_as_inherited(page: Any, phone: Any, site: Any) -> None:
    axis = make_axis(site)
    product = make_product(site, "VAR-INH")  # 24.90
    for sku, size, price in (("S", "S", None), ("M", "M", "26.50")):
        site.call("POST", f"/api/products/{product['id']}/variants", {
            "sku": f"{product['sku']}-{sku}", "price": price, "attributes": {axis["code"]: size}})
    for tab, name in ((page, "product-variants-inherited"), (phone, "product-variants-inherited-phone")):
        if tab is page:
            tab.set_viewport_size(WIDE)
        tab.goto(f"/#/products/{product['id']}")
        rows = tab.locator(".variants-table tbody tr")
        expect(rows).to_have_count(2)
        inherited = rows.nth(0).locator("[data-label=Price] .price-inherited")
        expect(inherited).to_have_attribute("title", "Inherited from the product")
        expect(inherited).to_contain_text("24.90")
        expect(inherited.locator(".visually-hidden")).to_have_text(" (inherited from the product)")
        assert "—" not in rows.nth(0).locator("[data-label=Price]").inner_text()
        muted = tab.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--muted').trim()")
        assert muted == "#5d6677"
        expect(inherited).to_have_css("color", "rgb(93, 102, 119)")  # --muted: greyed
        # No tooltip on a touch screen: the phone's card says it in words.
        note = inherited.locator(".inherited-note")
        if tab is phone:
            expect(note).to_be_visible()
        else:
            expect(note).to_be_hidden()
        own = rows.nth(1).locator("[data-label=Price]")
        expect(own).to_contain_text("26.50")
        expect(own.locator(".price-inherited")).to_have_count(0)
        tab.locator(".variants-section").scroll_into_view_if_needed()
        tab.locator(".variants-section").screenshot(path=str(ARTIFACTS / f"{name}.png"))
    # The dialog says what an empty price means.
    page.get_by_role("button", name=f"Edit {product['sku']}-S").click()
    price = page.get_by_role("dialog").get_by_label("Price (EUR)", exact=True)
    expect(price).to_have_attribute("placeholder", "24.90")
    expect(page.get_by_role("dialog").get_by_text("Empty: the product's price.")).to_be_visible()
