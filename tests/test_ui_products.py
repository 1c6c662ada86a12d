"""The product list page (#/products) in real Chromium: search, filters, sort, pages,
the address as the page's state, errors in words, and a phone's width.

Each test makes its own products, named and SKU'd with a prefix of its own, and searches
for that prefix, so the rows it expects are exactly its own whatever else the shared
site holds.
"""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from PIL import Image, ImageDraw
from playwright.sync_api import expect

from tests.browser import Site, product, screenshot, unique

NAMES = ".products-table tbody .product-link"


def picture(colour: tuple[int, int, int], shape: str) -> bytes:
    """A small product photo drawn with Pillow: a coloured mug or bottle on white."""
    image = Image.new("RGB", (320, 320), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    if shape == "mug":
        draw.rounded_rectangle((80, 90, 220, 250), 18, fill=colour)
        draw.ellipse((200, 130, 270, 210), outline=colour, width=16)
    else:
        draw.rectangle((135, 50, 185, 100), fill=colour)
        draw.rounded_rectangle((100, 95, 220, 280), 30, fill=colour)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def address(page: Any) -> dict[str, list[str]]:
    """The query of the page's address (#/products?...)."""
    fragment = urlsplit(page.url).fragment
    return parse_qs(fragment.partition("?")[2])


def test_rows_show_thumbnail_name_price_stock_status_channels_and_link(page: Any, site: Site) -> None:
    prefix = unique()
    brand = site.call("POST", "/api/brands", {"name": f"{prefix} Potters"})
    mug = product(site, prefix, "Glazed Mug", price="24.00", sale_price="19.50", stock=7,
                  brand_id=brand["id"], publishing_channels=["web", "marketplace"])
    site.call("POST", f"/api/products/{mug['id']}/media",
              form={"file": ("mug.png", picture((32, 90, 200), "mug"), "image/png")})
    bottle = product(site, prefix, "Steel Bottle", price="31.00", stock=0, status="draft",
                     publishing_channels=[])
    site.call("POST", f"/api/products/{bottle['id']}/media",
              form={"file": ("bottle.png", picture((210, 60, 40), "bottle"), "image/png")})
    product(site, prefix, "Plain Plate", price="9.90", stock=3)

    page.goto(f"/#/products?search={prefix}&sort=name")
    expect(page.locator(NAMES)).to_have_text([f"{prefix} Glazed Mug", f"{prefix} Plain Plate",
                                              f"{prefix} Steel Bottle"])
    row = page.locator("tbody tr", has_text="Glazed Mug")
    assert row.locator(".col-sku").inner_text() == f"{prefix}-GLAZED-MUG".upper()
    assert row.locator(".col-brand").inner_text() == f"{prefix} Potters"
    # A sale as a shop shows it: the sale price, and the regular one struck through.
    assert "19.50" in row.locator(".price-now").inner_text()
    assert "24.00" in row.locator("del").inner_text()
    assert row.locator(".col-stock .stock-number").inner_text() == "7"
    assert row.locator(".col-status").inner_text() == "Active"
    assert row.locator(".col-channels .chip").all_inner_texts() == ["Web", "Marketplace"]
    thumb = row.locator("img.thumb")
    assert thumb.get_attribute("src") == site.call("GET", f"/api/products/{mug['id']}")["images"][0] + "?w=160"
    expect(thumb).to_have_js_property("complete", True)
    assert thumb.evaluate("img => img.naturalWidth") == 160
    assert row.get_by_role("link", name=f"{prefix} Glazed Mug").get_attribute("href") == f"#/products/{mug['id']}"

    draft = page.locator("tbody tr", has_text="Steel Bottle")
    assert draft.locator(".col-status").inner_text() == "Draft"
    assert "31.00" in draft.locator(".price-now").inner_text() and draft.locator("del").count() == 0
    plain = page.locator("tbody tr", has_text="Plain Plate")
    assert plain.locator(".thumb-empty").inner_text() == "Q"  # the name's first letter
    assert page.locator(".page-summary").inner_text() == "Showing 1–3 of 3 products"

    # Newest first, among this test's own rows (others' may be newer still).
    page.goto(f"/#/products?search={prefix}&sort=-created_at")
    expect(page.locator(NAMES)).to_have_text([f"{prefix} Plain Plate", f"{prefix} Steel Bottle",
                                              f"{prefix} Glazed Mug"])
    screenshot(page, "products")


def test_search_finds_the_right_rows_while_the_box_keeps_the_focus(page: Any, site: Site) -> None:
    prefix = unique()
    product(site, prefix, "Walnut Board")
    product(site, prefix, "Walnut Spoon")
    product(site, prefix, "Steel Spoon")
    page.goto("/#/products?sort=-name")
    box = page.get_by_label("Search")
    box.press_sequentially(f"{prefix} walnut", delay=20)
    expect(page.locator(NAMES)).to_have_text([f"{prefix} Walnut Spoon", f"{prefix} Walnut Board"])
    assert address(page)["search"] == [f"{prefix} walnut"]
    # Typing reloads the rows, not the page: the box is the same element, still focused.
    assert page.evaluate("document.activeElement.name") == "search"

    box.fill(f"{prefix} spoon")
    box.press("Enter")
    expect(page.locator(NAMES)).to_have_text([f"{prefix} Walnut Spoon", f"{prefix} Steel Spoon"])
    box.fill(f"{prefix} steel spo")  # the last word counts as a prefix
    expect(page.locator(NAMES)).to_have_text([f"{prefix} Steel Spoon"])
    expect(page.locator(".page-summary")).to_have_text("Showing 1 of 1 product")


def test_status_brand_and_channel_filters_narrow_the_list_to_exactly_their_rows(page: Any, site: Site) -> None:
    prefix = unique()
    brand = site.call("POST", "/api/brands", {"name": f"{prefix} Brand"})
    product(site, prefix, "Alpha", status="active", brand_id=brand["id"], publishing_channels=["web"])
    product(site, prefix, "Beta", status="draft", brand_id=brand["id"], publishing_channels=["marketplace"])
    product(site, prefix, "Gamma", status="active", publishing_channels=["marketplace", "mobile"])
    product(site, prefix, "Delta", status="archived", brand_id=brand["id"], publishing_channels=["web"])
    page.goto(f"/#/products?search={prefix}&sort=name")
    names = page.locator(NAMES)
    expect(names).to_have_text([f"{prefix} Alpha", f"{prefix} Beta", f"{prefix} Gamma"])  # archived hidden

    page.get_by_label("Status").select_option("draft")
    expect(names).to_have_text([f"{prefix} Beta"])
    assert address(page)["status"] == ["draft"]
    page.get_by_label("Status").select_option("archived")
    expect(names).to_have_text([f"{prefix} Delta"])
    page.get_by_label("Status").select_option("")

    page.get_by_label("Brand").select_option(label=f"{prefix} Brand")
    expect(names).to_have_text([f"{prefix} Alpha", f"{prefix} Beta"])
    assert address(page)["brand"] == [str(brand["id"])]

    page.get_by_label("Channel").select_option("marketplace")
    expect(names).to_have_text([f"{prefix} Beta"])
    summary = page.locator(".filters-summary-text")
    expect(summary).to_contain_text(f"brand {prefix} Brand")
    expect(summary).to_contain_text("channel Marketplace")
    screenshot(page, "products-filtered")

    page.get_by_label("Brand").select_option("")
    expect(names).to_have_text([f"{prefix} Beta", f"{prefix} Gamma"])
    assert "brand" not in address(page) and address(page)["channel"] == ["marketplace"]


def test_category_filter_takes_subcategories_only_when_asked(page: Any, site: Site) -> None:
    prefix = unique()
    root = site.call("POST", "/api/categories", {"name": f"{prefix} Kitchen"})
    child = site.call("POST", "/api/categories", {"name": f"{prefix} Cookware", "parent_id": root["id"]})
    leaf = site.call("POST", "/api/categories", {"name": f"{prefix} Pans", "parent_id": child["id"]})
    product(site, prefix, "Apron", category_ids=[root["id"]])
    product(site, prefix, "Pot", category_ids=[child["id"]])
    product(site, prefix, "Skillet", category_ids=[leaf["id"]])
    product(site, prefix, "Lamp")
    page.goto(f"/#/products?search={prefix}&sort=name")
    names = page.locator(NAMES)
    expect(names).to_have_count(4)

    category = page.get_by_label("Category")
    # The tree shows as indented options, a level deeper each step.
    option = category.locator(f"option[value='{leaf['id']}']")
    assert option.inner_text().startswith("\u00a0" * 6)
    subcategories = page.get_by_label("Include subcategories")
    assert subcategories.is_disabled()

    category.select_option(str(root["id"]))
    expect(names).to_have_text([f"{prefix} Apron"])
    subcategories.check()
    expect(names).to_have_text([f"{prefix} Apron", f"{prefix} Pot", f"{prefix} Skillet"])
    assert address(page)["include_subcategories"] == ["true"]
    category.select_option(str(child["id"]))
    expect(names).to_have_text([f"{prefix} Pot", f"{prefix} Skillet"])

    page.reload()
    expect(names).to_have_text([f"{prefix} Pot", f"{prefix} Skillet"])
    expect(page.get_by_label("Include subcategories")).to_be_checked()
    page.get_by_label("Include subcategories").uncheck()
    expect(names).to_have_text([f"{prefix} Pot"])
    assert "include_subcategories" not in address(page)


def test_sort_by_price_both_ways_from_the_column_header(page: Any, site: Site) -> None:
    prefix = unique()
    for name, price in (("Mid", "20.00"), ("Cheap", "5.50"), ("Dear", "120.00")):
        product(site, prefix, name, price=price)
    page.goto(f"/#/products?search={prefix}")
    names = page.locator(NAMES)
    expect(names).to_have_count(3)
    price_header = page.get_by_role("columnheader", name="Price")
    assert price_header.get_attribute("aria-sort") is None

    price_header.get_by_role("button").click()
    expect(names).to_have_text([f"{prefix} Cheap", f"{prefix} Mid", f"{prefix} Dear"])
    expect(page.get_by_role("columnheader", name="Price")).to_have_attribute("aria-sort", "ascending")
    assert address(page)["sort"] == ["price"]
    expect(page.get_by_label("Sort by")).to_have_value("price")

    page.get_by_role("columnheader", name="Price").get_by_role("button").click()
    expect(names).to_have_text([f"{prefix} Dear", f"{prefix} Mid", f"{prefix} Cheap"])
    expect(page.get_by_role("columnheader", name="Price")).to_have_attribute("aria-sort", "descending")
    assert address(page)["sort"] == ["-price"]

    page.get_by_label("Sort by").select_option("name")
    expect(names).to_have_text([f"{prefix} Cheap", f"{prefix} Dear", f"{prefix} Mid"])
    expect(page.get_by_role("columnheader", name="Name")).to_have_attribute("aria-sort", "ascending")
    assert page.get_by_role("columnheader", name="Price").get_attribute("aria-sort") is None


def test_pages_follow_the_page_size_and_the_address_survives_reload_and_back(page: Any, site: Site) -> None:
    prefix = unique()
    for n in range(1, 13):
        product(site, prefix, f"Item {n:02d}")
    page.goto(f"/#/products?search={prefix}&sort=name")
    names = page.locator(NAMES)
    summary = page.locator(".page-summary")
    expect(names).to_have_count(12)
    expect(summary).to_have_text("Showing 1–12 of 12 products")
    assert page.get_by_role("button", name="Next page").is_hidden()  # one page: no pager

    page.get_by_label("Rows per page").select_option("10")
    expect(summary).to_have_text("Showing 1–10 of 12 products")
    expect(names).to_have_count(10)
    assert page.get_by_role("button", name="Previous page").is_disabled()
    page.get_by_role("button", name="Next page").click()
    expect(summary).to_have_text("Showing 11–12 of 12 products")
    expect(names).to_have_text([f"{prefix} Item 11", f"{prefix} Item 12"])
    expect(page.locator(".page-label")).to_have_text("Page 2 of 2")
    query = address(page)
    assert query["page"] == ["2"] and query["limit"] == ["10"] and query["sort"] == ["name"]

    page.reload()
    expect(names).to_have_text([f"{prefix} Item 11", f"{prefix} Item 12"])
    expect(page.get_by_label("Search")).to_have_value(prefix)
    expect(page.get_by_label("Rows per page")).to_have_value("10")
    expect(page.get_by_role("button", name="Last page")).to_be_disabled()

    page.go_back()  # the page before "Next"
    expect(summary).to_have_text("Showing 1–10 of 12 products")
    page.go_forward()
    expect(summary).to_have_text("Showing 11–12 of 12 products")
    page.get_by_role("button", name="First page").click()
    expect(names.first).to_have_text(f"{prefix} Item 01")

    # A page past the end says so and offers the last one.
    page.goto(f"/#/products?search={prefix}&sort=name&limit=10&page=9")
    page.get_by_text("Page 9 is past the end").wait_for()
    page.get_by_role("button", name="Go to page 2").click()
    expect(names).to_have_text([f"{prefix} Item 11", f"{prefix} Item 12"])


def test_clicking_a_row_opens_the_product_page(page: Any, site: Site) -> None:
    prefix = unique()
    made = product(site, prefix, "Clickable Kettle")
    page.goto(f"/#/products?search={prefix}")
    page.locator("tbody tr", has_text="Clickable Kettle").locator(".col-sku").click()
    page.wait_for_url(f"**/#/products/{made['id']}")
    page.go_back()
    expect(page.locator(NAMES)).to_have_text([f"{prefix} Clickable Kettle"])
    page.get_by_role("link", name=f"{prefix} Clickable Kettle").click()
    page.wait_for_url(f"**/#/products/{made['id']}")


def test_nothing_found_names_the_filters_and_clearing_them_brings_the_rows_back(page: Any, site: Site) -> None:
    prefix = unique()
    product(site, prefix, "Lonely Vase", status="active")
    page.goto(f"/#/products?search={prefix}&status=draft&sort=name")
    page.get_by_text("No products match").wait_for()
    detail = page.locator(".product-empty .muted").inner_text()
    assert detail == f"Nothing was found for search “{prefix}” and status Draft."
    assert page.locator(".product-pagination").is_hidden()
    screenshot(page, "products-empty")

    page.locator(".product-empty").get_by_role("button", name="Clear filters").click()
    expect(page.locator(NAMES).first).to_be_visible()
    expect(page.get_by_label("Search")).to_have_value("")
    expect(page.get_by_label("Status")).to_have_value("")
    assert address(page) == {"sort": ["name"]}  # sorting is not a filter: it stays


def test_a_bad_filter_in_the_address_is_explained_next_to_its_control(page: Any) -> None:
    page.goto("/#/products?status=sold&search=mug")
    alert = page.locator(".product-results").get_by_role("alert")
    expect(alert).to_contain_text("status: must be one of draft, active, archived, out_of_stock")
    status = page.get_by_label("Status")
    expect(status).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".filter-grid .field-error:not([hidden])")).to_contain_text("status: must be one of")
    page.get_by_role("button", name="Reset filters and sorting").click()
    expect(page.locator(NAMES).first).to_be_visible()
    assert address(page) == {}
    expect(status).not_to_have_attribute("aria-invalid", "true")


def test_a_server_that_cannot_be_reached_is_said_in_words_and_try_again_recovers(
        browser: Any, site: Site) -> None:
    prefix = unique()
    product(site, prefix, "Reachable Jug")
    # Its own tab: Chromium logs the refused request as a console error, which the
    # `page` fixture counts as a failure.
    context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 860})
    context.add_init_script(f"sessionStorage.setItem('micropim.key', {json.dumps(site.key)})")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.route("**/api/products?*", lambda route: route.abort("connectionrefused"))
        page.goto(f"/#/products?search={prefix}&sort=name")
        alert = page.locator(".product-results").get_by_role("alert")
        expect(alert).to_contain_text("Cannot reach the MicroPIM server. Check that it is running and try again.")
        assert page.get_by_label("Search").is_enabled()  # the filters stay usable
        page.unroute("**/api/products?*")
        alert.get_by_role("button", name="Try again").click()
        expect(page.locator(NAMES)).to_have_text([f"{prefix} Reachable Jug"])
        assert not errors, errors
    finally:
        context.close()


def test_a_stale_key_returns_to_sign_in_and_says_why(page: Any) -> None:
    page.context.add_init_script(f"sessionStorage.setItem('micropim.key', {json.dumps('mpk_revoked-long-ago')})")
    page.goto("/#/products?search=mug")
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("Your key is no longer accepted. Sign in again.")
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('micropim.key')") is None
    expect(page.locator(".products-page")).to_have_count(0)


def test_an_older_answer_never_overwrites_a_newer_one(page: Any, site: Site) -> None:
    prefix = unique()
    product(site, prefix, "Slow Answer")
    product(site, prefix, "Quick Answer")
    page.goto(f"/#/products?search={prefix}")
    expect(page.locator(NAMES)).to_have_count(2)

    held: list[Any] = []

    def hold_slow(route: Any) -> None:
        if "slow" in route.request.url.lower():
            held.append(route)  # never answered while the newer search runs
        else:
            route.continue_()

    page.route("**/api/products?*", hold_slow)
    box = page.get_by_label("Search")
    with page.expect_request(lambda request: "slow" in request.url.lower()):
        box.fill(f"{prefix} slow")
    with page.expect_event("requestfailed", lambda request: "slow" in request.url.lower()) as failed:
        box.fill(f"{prefix} quick")
    # The older request was cancelled, not just ignored, and the newer rows are shown.
    assert failed.value.failure == "net::ERR_ABORTED"
    expect(page.locator(NAMES)).to_have_text([f"{prefix} Quick Answer"])
    assert address(page)["search"] == [f"{prefix} quick"]
    page.unroute("**/api/products?*")


def test_on_a_phone_rows_become_cards_without_sideways_scrolling(phone: Any, site: Site) -> None:
    prefix = unique()
    made = product(site, prefix, "Pocket Notebook With A Long Name For Phones",
                   price="12.00", sale_price="9.00", publishing_channels=["web", "mobile", "marketplace"])
    site.call("POST", f"/api/products/{made['id']}/media",
              form={"file": ("note.png", picture((40, 150, 90), "bottle"), "image/png")})
    product(site, prefix, "Pencil", price="1.20", stock=0)
    product(site, prefix, "Eraser", price="0.80", status="draft")
    page = phone
    page.goto("/#/products?sort=name")
    page.get_by_label("Search").fill(prefix)
    expect(page.locator(NAMES)).to_have_count(3)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the list scrolls sideways on a phone ({width}px)"
    # The filters fold behind a button; the search stays.
    status = page.get_by_label("Status")
    assert not status.is_visible()
    page.get_by_role("button", name="Filters", exact=True).click()
    status.select_option("draft")
    expect(page.locator(NAMES)).to_have_text([f"{prefix} Eraser"])
    expect(page.locator(".col-status .badge")).to_have_text(["Draft"])
    page.get_by_label("Status").select_option("")
    expect(page.locator(NAMES)).to_have_count(3)
    card = page.locator("tbody tr", has_text="Pocket Notebook")
    box = card.bounding_box()
    assert box is not None and box["width"] <= 390 - 2 * 16 + 1  # a card within the page's padding
    expect(page.locator("thead")).to_be_hidden()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the list scrolls sideways on a phone ({width}px)"
    screenshot(page, "products-phone")
    card.locator(".col-price").tap()
    page.wait_for_url(f"**/#/products/{made['id']}")


# ---- issue 13: a wide screen's width, one line per row ----------------------------------

ONE_LINE = """(cell) => [...cell.querySelectorAll('[data-clip], .price, .badge, time')].map((node) => {
    const rects = [...node.getClientRects()];
    return { text: node.textContent, lines: new Set(rects.map((r) => Math.round(r.top))).size,
             height: node.getBoundingClientRect().height,
             line: parseFloat(getComputedStyle(node).lineHeight) || 24 };
})"""


def test_at_1440_the_list_uses_the_width_and_keeps_each_row_to_one_line(page: Any, site: Site) -> None:
    page.set_viewport_size({"width": 1440, "height": 900})
    prefix = unique()
    brand = site.call("POST", "/api/brands", {"name": f"{prefix} Outdoor Equipment Manufacturing Company"})
    long_name = f"{prefix} Extraordinarily Long Waterproof Hiking Jacket With Taped Seams And A Hood That Folds Away"
    site.call("POST", "/api/products", {
        "name": long_name, "sku": f"{prefix}-JACKET".upper(), "status": "active", "price": "112.79",
        "sale_price": "99.00", "brand_id": brand["id"], "publishing_channels": ["web", "mobile", "marketplace"],
        "category_ids": [site.call("POST", "/api/categories", {"name": f"{prefix} {name}"})["id"]
                         for name in ("Rainwear", "Hiking")]})
    product(site, prefix, "Cap", price="9.90", publishing_channels=["web"])
    page.goto(f"/#/products?search={prefix}&sort=name")
    expect(page.locator(NAMES)).to_have_count(2)
    expect(page.locator(".products-table")).to_be_visible()  # drawn, not between two renders
    table = page.locator(".products-table").bounding_box()
    assert table is not None and table["width"] >= 1300, f"the table is {table and table['width']} px wide"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440

    rows = page.locator(".products-table tbody tr")
    heights = [row.bounding_box()["height"] for row in rows.all()]
    assert max(heights) - min(heights) < 1, f"uneven rows: {heights}"
    for row in rows.all():
        for node in row.evaluate(ONE_LINE):
            assert node["lines"] == 1 and node["height"] < 1.5 * node["line"], f"wraps: {node}"

    # Cut text ends in an ellipsis and shows whole as a tooltip; text that fits has none.
    jacket = rows.filter(has_text="Extraordinarily")
    link = jacket.locator(".product-link")
    expect(link).to_have_attribute("title", long_name)
    assert link.evaluate("a => a.scrollWidth > a.clientWidth && getComputedStyle(a).textOverflow === 'ellipsis'")
    expect(jacket.locator(".brand-name")).to_have_attribute("title", brand["name"])
    categories = jacket.locator(".product-categories")
    words = categories.inner_text()
    assert sorted(words.split(", ")) == [f"{prefix} Hiking", f"{prefix} Rainwear"]
    assert categories.get_attribute("title") is None  # it fits
    assert rows.filter(has_text=f"{prefix} Cap").locator(".product-link").get_attribute("title") is None
    screenshot(page, "products-wide")
    # A narrower window cuts more: the tooltips follow.
    page.set_viewport_size({"width": 1000, "height": 900})
    expect(categories).to_have_attribute("title", words)
    page.set_viewport_size({"width": 1440, "height": 900})
    expect(categories).not_to_have_attribute("title", words)
