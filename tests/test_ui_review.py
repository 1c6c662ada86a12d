"""The web UI's fixes from a JavaScript review, in real Chromium: nothing of one
organization reaches the next user of the tab, leaving a page closes its dialogs, a newer
product refresh wins, the key field is no password field, focus and scroll on navigation,
list-body errors next to their field, named confirmations and a drop zone's real button.

Each test makes its own rows, named with a prefix of its own.
"""

from __future__ import annotations

import io
import json
import pathlib
import re
from typing import Any

from PIL import Image
from playwright.sync_api import expect

from tests.browser import Site, product, screenshot, unique
from tests.test_cli import create_key

NAMES = ".products-table tbody .product-link"

# Every node added to the document, with the key the tab held at that moment.
RECORD_ADDED_TEXT = """
window.__seen = [];
new MutationObserver((records) => {
  const key = sessionStorage.getItem('micropim.key');
  for (const record of records) {
    for (const node of record.addedNodes) window.__seen.push([key, node.textContent || '']);
  }
}).observe(document, { childList: true, subtree: true });
"""


def second_key(site: Site, org: str) -> str:
    """A key of another organization on the site's own database."""
    args = site.server.process.args
    assert isinstance(args, list)
    return create_key(pathlib.Path(args[args.index("--db") + 1]), org)


def sign_in(page: Any, key: str) -> None:
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def test_the_next_organization_never_sees_the_previous_ones_rows_or_brands(
        signed_out_page: Any, site: Site) -> None:
    page = signed_out_page
    prefix = unique()
    product(site, prefix, "Lamp")
    other = second_key(site, f"{prefix} Other Shop")
    page.context.add_init_script(RECORD_ADDED_TEXT)
    page.goto(f"/#/products?search={prefix}")
    sign_in(page, site.key)
    expect(page.locator(NAMES)).to_have_text([f"{prefix} Lamp"])
    expect(page.locator("select[name=brand] option", has_text="Nordwind")).to_have_count(1)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API key")).to_be_visible()
    expect(page.get_by_text("Signed out.")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('micropim.key')") is None

    sign_in(page, other)
    page.get_by_text("No products match").wait_for()
    expect(page.locator("select[name=brand] option")).to_have_text(["All brands"])
    seen = page.evaluate("window.__seen")
    shown_to_other = [text for key, text in seen if key == other]
    assert shown_to_other, "the recorder saw nothing"
    leaked = [text for text in shown_to_other if f"{prefix} Lamp" in text or "Nordwind" in text]
    assert not leaked, leaked
    screenshot(page, "review-other-organization")


def test_back_closes_open_dialogs_and_a_confirmation_answers_no(page: Any, site: Site) -> None:
    prefix = unique()
    made = product(site, prefix, "Kettle")
    page.goto(f"/#/products?search={prefix}")
    page.get_by_role("link", name=f"{prefix} Kettle").click()
    add = page.get_by_role("button", name="+ Add variant")
    expect(add).to_be_enabled()
    add.click()
    expect(page.get_by_role("dialog", name="Add a variant")).to_be_visible()
    page.go_back()
    page.get_by_role("heading", name="Products", exact=True).wait_for()
    expect(page.locator("dialog")).to_have_count(0)

    page.get_by_role("link", name=f"{prefix} Kettle").click()
    page.get_by_role("button", name="Archive").click()
    # The confirmation is named by its question.
    confirm = page.get_by_role("dialog", name=re.compile(r"^Archive .*Kettle"))
    expect(confirm).to_be_visible()
    page.go_back()
    page.get_by_role("heading", name="Products", exact=True).wait_for()
    expect(page.locator("dialog")).to_have_count(0)
    # Closed by leaving, the confirmation answered no: nothing was archived.
    expect(page.locator(NAMES)).to_have_text([f"{prefix} Kettle"])
    assert site.call("GET", f"/api/products/{made['id']}")["status"] == "active"


def test_a_newer_refresh_of_the_product_aborts_an_older_one(page: Any, site: Site) -> None:
    prefix = unique()
    made = product(site, prefix, "Scarf")
    axis = site.call("POST", "/api/product-attributes", {
        "name": f"{prefix} Size", "type": "select", "options": ["S", "M"], "is_variant_axis": True})
    for sku, size, quantity in ((f"{prefix}-A", "S", 3), (f"{prefix}-B", "M", 5)):
        site.call("POST", f"/api/products/{made['id']}/variants",
                  {"sku": sku, "stock_quantity": quantity, "attributes": {axis["code"]: size}})
    stock_path = f"/api/products/{made['id']}/stock"
    page.goto(f"/#/products/{made['id']}")
    expect(page.locator(".variants-stock")).to_have_text("8")

    held: list[Any] = []
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))

    def hold_the_first(route: Any) -> None:
        if not held:
            held.append(route)  # answered late, or never
        else:
            route.continue_()

    page.route(f"**{stock_path}", hold_the_first)
    with page.expect_request(lambda request: request.url.endswith(stock_path)):
        page.get_by_label(f"{prefix}-A enabled").uncheck()
    with page.expect_response(lambda response: response.url.endswith(stock_path)):
        page.get_by_label(f"{prefix}-B enabled").uncheck()
    expect(page.locator(".variants-stock")).to_have_text("0")
    expect(page.locator(".product-stock .stock-total")).to_have_text("0 in stock")
    assert any(url.endswith(stock_path) for url in failed), "the older refresh was not aborted"
    try:
        held[0].continue_()
    except Exception:  # the page gave up on it: nothing to answer
        pass
    expect(page.locator(".variants-stock")).to_have_text("0")
    answer = site.call("GET", f"/api/products/{made['id']}")
    assert answer["stock"] == 0


def test_the_key_field_is_no_password_field_but_is_masked(signed_out_page: Any) -> None:
    page = signed_out_page
    page.goto("/")
    key = page.get_by_label("API key")
    expect(key).to_be_focused()
    assert page.locator("input[type=password]").count() == 0
    assert key.get_attribute("type") == "text"
    assert key.get_attribute("autocomplete") == "off"
    assert key.get_attribute("autocapitalize") == "off"
    assert key.get_attribute("spellcheck") == "false"
    assert key.evaluate("node => getComputedStyle(node).webkitTextSecurity") == "disc"


def test_focus_starts_at_the_content_and_back_restores_the_lists_scroll(page: Any, site: Site) -> None:
    page.goto("/#/categories")
    page.get_by_role("heading", name="Categories", exact=True).wait_for()
    expect(page.locator("#view")).to_be_focused()
    page.get_by_role("link", name="Products", exact=True).click()
    page.get_by_role("heading", name="Products", exact=True).wait_for()
    expect(page.locator("#view")).to_be_focused()

    page.goto("/#/products?limit=50&sort=sku")
    expect(page.locator(NAMES).nth(29)).to_be_visible()  # the 30 seeded products at least
    rows = page.locator(NAMES).count()
    page.evaluate("window.scrollTo(0, 1200)")
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 600
    index = page.evaluate("""() => [...document.querySelectorAll('.products-table tbody .product-link')]
        .findIndex((link) => link.getBoundingClientRect().top > 120)""")
    link = page.locator(NAMES).nth(index)
    name = link.inner_text()
    link.click()
    page.get_by_role("heading", name=name, level=1).wait_for()
    expect(page.locator("#view")).to_be_focused()
    page.go_back()
    expect(page.locator(NAMES)).to_have_count(rows)
    assert abs(page.evaluate("window.scrollY") - scrolled) <= 2
    expect(page.locator("#view")).to_be_focused()


def test_a_stock_error_from_the_server_shows_next_to_its_quantity(page: Any, site: Site) -> None:
    prefix = unique()
    made = product(site, prefix, "Vase", stock=4)
    page.goto(f"/#/products/{made['id']}")
    quantity = page.locator(".product-stock input.stock-input").first
    expect(quantity).to_have_value("4")
    quantity.fill("3000000000")  # a whole number, past the largest quantity the API takes
    with page.expect_response(lambda response: response.url.endswith(f"/{made['id']}/stock")
                              and response.request.method == "PUT") as answer:
        page.get_by_role("button", name="Save", exact=True).click()
    assert answer.value.status == 400
    message = json.loads(answer.value.body())["error"]
    assert message.startswith("[0].quantity: ")
    expect(quantity).to_have_attribute("aria-invalid", "true")
    error = page.locator(f"#{quantity.get_attribute('id')}-error")
    expect(error).to_have_text(message)
    assert site.call("GET", f"/api/products/{made['id']}/stock")["stock"] == 4
    screenshot(page, "review-stock-error")


def test_the_media_drop_zone_has_a_real_button_that_picks_and_uploads(page: Any, site: Site) -> None:
    prefix = unique()
    made = product(site, prefix, "Bowl")
    # Chromium's file choosers are caught once a listener exists; listen before any press,
    # so that a busy machine cannot open the picker before the catching starts.
    page.on("filechooser", lambda chooser: None)
    page.goto(f"/#/products/{made['id']}")
    page.get_by_text("No images yet").wait_for()
    assert page.locator("[role=button]").count() == 0
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(picture, "PNG")
    choose = page.locator(".media-dropzone").get_by_role("button", name="Choose images…")
    choose.focus()
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    with page.expect_response(lambda response: response.url.endswith(f"/{made['id']}/media")
                              and response.request.method == "POST"):
        chooser.value.set_files(files=[{"name": "red.png", "mimeType": "image/png", "buffer": picture.getvalue()}])
    expect(page.locator(".media-tile")).to_have_count(1, timeout=30_000)
    media = site.call("GET", f"/api/products/{made['id']}/media")["media"]
    assert [(m["width"], m["height"]) for m in media] == [(64, 48)]
    screenshot(page, "review-media-button")
