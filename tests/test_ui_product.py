"""The product page in real Chromium: edit and save, field errors, create, archive, stock.

Each test makes its own product through the API (a unique SKU), edits it in the page, and
checks both what the page shows and what the API answers afterwards.
"""

from __future__ import annotations

import io
import re
import uuid
from typing import Any

from PIL import Image
from playwright.sync_api import expect

from tests.browser import screenshot as save_screenshot

SAVED = re.compile(r"/api/products/\d+$")


def picture() -> bytes:
    """A small PNG, enough for the media section to show a tile."""
    out = io.BytesIO()
    Image.new("RGB", (160, 120), (200, 120, 60)).save(out, "PNG")
    return out.getvalue()


def make_product(site: Any, tag: str, **fields: Any) -> dict[str, Any]:
    """A product of this test's own, with a SKU no other test uses."""
    body = {"name": f"{tag} Linen Apron", "sku": f"{tag}-{uuid.uuid4().hex[:8]}", "price": "20.00",
            "attributes": {"colour": "Black"}, "publishing_channels": ["web"], **fields}
    return site.call("POST", "/api/products", body)


def open_product(page: Any, product: dict[str, Any]) -> None:
    page.goto(f"/#/products/{product['id']}")
    page.get_by_role("heading", name=product["name"], level=1).wait_for()


def save(page: Any, button: str = "Save") -> Any:
    """Click the save button and answer the API's response to the write it sends."""
    with page.expect_response(lambda r: r.request.method in ("PATCH", "POST", "PUT")
                              and "/api/products" in r.url) as answer:
        page.get_by_role("button", name=button, exact=True).click()
    return answer.value


def screenshot(page: Any, name: str) -> None:
    """A full-page screenshot taken from the top, where the sticky bars belong."""
    page.evaluate("window.scrollTo(0, 0)")
    save_screenshot(page, name)


def add_attribute(page: Any, label: str) -> None:
    """Show an attribute the product has no value for yet, through "Add attribute"."""
    page.get_by_label("Add attribute").select_option(label=label)
    page.locator(".attribute-add").get_by_role("button", name="Add", exact=True).click()


def toast(page: Any, text: str) -> None:
    page.locator(".toast", has_text=text).first.wait_for()


def test_edit_name_price_attribute_channels_and_categories_and_see_them_saved(page: Any, site: Any) -> None:
    product = make_product(site, "EDIT")
    open_product(page, product)
    assert page.get_by_label("Price", exact=True).input_value() == "20.00"
    page.get_by_label("Name *").fill("EDIT Linen Apron, washed")
    page.get_by_label("Price", exact=True).fill("24.5")
    page.get_by_label("Colour").select_option("Red")
    page.get_by_role("checkbox", name="Marketplace").check()
    page.get_by_role("checkbox", name="Web Store").uncheck()
    page.get_by_label("Filter categories").fill("mug")
    page.get_by_role("checkbox", name="Mugs").check()
    expect(page.locator(".save-state")).to_have_text("Unsaved changes")

    answer = save(page)
    sent = answer.request.post_data_json
    # Only what changed is sent.
    assert sent == {"name": "EDIT Linen Apron, washed", "price": "24.5", "attributes": {"colour": "Red"},
                    "publishing_channels": ["marketplace"], "category_ids": [site.seeded["categories"]["Mugs"]]}
    toast(page, "Changes saved.")
    page.get_by_role("heading", name="EDIT Linen Apron, washed", level=1).wait_for()
    expect(page.locator(".save-state")).to_have_text(re.compile(r"^All changes saved"))
    screenshot(page, "product")

    saved = site.call("GET", f"/api/products/{product['id']}")
    assert saved["name"] == "EDIT Linen Apron, washed" and saved["price"] == "24.5000"
    assert saved["attributes"] == {"colour": "Red"}
    assert saved["publishing_channels"] == ["marketplace"]
    assert [c["name"] for c in saved["categories"]] == ["Mugs"]
    assert saved["updated_at"] > product["updated_at"]

    page.reload()
    page.get_by_role("heading", name="EDIT Linen Apron, washed", level=1).wait_for()
    expect(page.get_by_label("Price", exact=True)).to_have_value("24.50")
    expect(page.get_by_label("Colour")).to_have_value("Red")
    expect(page.get_by_role("checkbox", name="Marketplace")).to_be_checked()
    expect(page.get_by_role("checkbox", name="Web Store")).not_to_be_checked()
    expect(page.get_by_role("checkbox", name="Mugs")).to_be_checked()
    expect(page.locator(".category-chips")).to_have_text(re.compile(r"^Home › Mugs"))

    # Saving again (Ctrl+S) with nothing changed sends nothing and says so.
    page.keyboard.press("Control+s")
    toast(page, "No changes to save.")


def test_a_field_error_shows_next_to_its_field_and_nothing_is_saved(page: Any, site: Any) -> None:
    product = make_product(site, "ERR")
    other = make_product(site, "ERR")
    open_product(page, product)
    page.get_by_label("Name *").fill("ERR renamed")
    page.get_by_label("SKU *").fill(other["sku"])
    answer = save(page)
    assert answer.status == 400
    error = page.locator(".field", has=page.get_by_label("SKU *")).locator(".field-error")
    expect(error).to_have_text(f"sku: SKU '{other['sku']}' is already taken")
    expect(page.get_by_label("SKU *")).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".save-state")).to_have_text("Unsaved changes")

    # A rule between two fields: the sale price above the price.
    page.get_by_label("SKU *").fill(product["sku"])
    page.get_by_label("Sale price").fill("99")
    assert save(page).status == 400
    sale_error = page.locator(".field", has=page.get_by_label("Sale price")).locator(".field-error")
    expect(sale_error).to_have_text("sale_price: must not be greater than price")
    expect(error).to_be_hidden()
    screenshot(page, "product-error")

    # A select attribute's value is checked by the server too; its error sits by it.
    page.get_by_label("Sale price").fill("")
    page.get_by_label("EAN / UPC barcode").fill("4006381333932")  # wrong check digit
    assert save(page).status == 400
    ean_error = page.locator(".field", has=page.get_by_label("EAN / UPC barcode")).locator(".field-error")
    expect(ean_error).to_have_text("ean: invalid check digit: expected 1, got 2")

    # An attribute's value is checked by the server; its error sits by its control.
    weight = site.call("POST", "/api/product-attributes",
                       {"name": f"Weight {uuid.uuid4().hex[:6]}", "type": "number", "unit": "kg"})
    page.reload()
    add_attribute(page, f"{weight['name']} (kg)")
    expect(page.get_by_label(f"{weight['name']} (kg)")).to_be_focused()
    page.get_by_label(f"{weight['name']} (kg)").fill("heavy")
    assert save(page).status == 400
    weight_error = page.locator(".field", has=page.get_by_label(f"{weight['name']} (kg)")).locator(".field-error")
    expect(weight_error).to_have_text(f"attributes.{weight['code']}: must be a number such as 12.5")

    unchanged = site.call("GET", f"/api/products/{product['id']}")
    assert unchanged["name"] == product["name"] and unchanged["sku"] == product["sku"]
    assert unchanged["sale_price"] is None and unchanged["ean"] is None
    assert unchanged["updated_at"] == product["updated_at"]


def test_create_a_product_through_the_form_and_land_on_its_page(page: Any, site: Any) -> None:
    sku = f"NEW-{uuid.uuid4().hex[:8]}"
    page.goto("/#/products/new")
    page.get_by_role("heading", name="New product", level=1).wait_for()
    assert page.evaluate("document.activeElement.name") == "name"
    # Without a name the server's words show by the field.
    page.get_by_label("SKU *").fill(sku)
    assert save(page, "Create product").status == 400
    name_error = page.locator(".field", has=page.get_by_label("Name *")).locator(".field-error")
    expect(name_error).to_have_text(re.compile(r"^name: "))

    page.get_by_label("Name *").fill("NEW Enamel Mug")
    expect(name_error).to_be_hidden()  # typing takes the old error away
    page.get_by_label("Price", exact=True).fill("12.90")
    page.get_by_label("Brand").select_option(label="Lumen")
    add_attribute(page, "Colour")
    page.get_by_label("Colour").select_option("White")
    page.get_by_label("Initial stock").fill("5")
    page.get_by_role("checkbox", name="Web Store").check()
    screenshot(page, "product-new")
    answer = save(page, "Create product")
    assert answer.status == 201
    created = answer.json()["data"]
    page.wait_for_url(f"**/#/products/{created['id']}")
    page.get_by_role("heading", name="NEW Enamel Mug", level=1).wait_for()
    toast(page, "Created “NEW Enamel Mug”.")
    expect(page.get_by_label("SKU *")).to_have_value(sku)

    saved = site.call("GET", f"/api/products/{created['id']}")
    assert (saved["sku"], saved["price"], saved["brand"]["name"]) == (sku, "12.9000", "Lumen")
    assert saved["attributes"] == {"colour": "White"} and saved["stock"] == 5
    assert saved["publishing_channels"] == ["web"] and saved["status"] == "draft"


def test_archive_asks_first_then_restore_brings_it_back(page: Any, site: Any) -> None:
    product = make_product(site, "ARC", status="active")
    open_product(page, product)
    page.get_by_role("button", name="Archive").click()
    dialog = page.get_by_role("dialog")
    assert "Archive “ARC Linen Apron”?" in dialog.inner_text()
    dialog.get_by_role("button", name="Cancel").click()
    assert site.call("GET", f"/api/products/{product['id']}")["status"] == "active"

    page.get_by_role("button", name="Archive").click()
    page.get_by_role("dialog").get_by_role("button", name="Archive").click()
    toast(page, "Product archived.")
    expect(page.locator(".product-meta .badge")).to_have_text("Archived")
    expect(page.get_by_label("Status")).to_have_value("archived")
    assert site.call("GET", f"/api/products/{product['id']}")["status"] == "archived"
    screenshot(page, "product-archived")

    page.get_by_role("button", name="Restore to active").click()
    toast(page, "Product is active again.")
    expect(page.locator(".product-meta .badge")).to_have_text("Active")
    assert site.call("GET", f"/api/products/{product['id']}")["status"] == "active"


def test_stock_per_warehouse_is_saved(page: Any, site: Any) -> None:
    code = f"W{uuid.uuid4().hex[:6]}"
    warehouse = site.call("POST", "/api/warehouses", {"name": f"Depot {code}", "code": code})
    product = make_product(site, "STK", stock=3)
    open_product(page, product)
    main = page.get_by_label("Quantity in Main warehouse")
    assert main.input_value() == "3"
    main.fill("7")
    page.get_by_label(f"Quantity in Depot {code}").fill("-2")
    page.get_by_role("button", name="Save", exact=True).click()  # the page's one Save bar
    error = page.locator(f"#stock-{warehouse['id']}-error")
    expect(error).to_have_text("Enter a whole number of 0 or more.")
    page.get_by_label(f"Quantity in Depot {code}").fill("4")
    save(page)
    toast(page, "Changes saved.")
    expect(page.locator(".product-stock .stock-total")).to_have_text("11 in stock")

    levels = {level["warehouse_id"]: level["quantity"]
              for level in site.call("GET", f"/api/products/{product['id']}/stock")["stock_levels"]}
    assert levels[warehouse["id"]] == 4 and sum(levels.values()) == 11
    assert site.call("GET", f"/api/products/{product['id']}")["stock"] == 11


def test_a_variable_products_stock_is_read_only(page: Any, site: Any) -> None:
    axis = site.call("POST", "/api/product-attributes", {
        "name": f"Size {uuid.uuid4().hex[:6]}", "type": "select", "options": ["S", "M"], "is_variant_axis": True})
    product = make_product(site, "VAR")
    site.call("POST", f"/api/products/{product['id']}/variants",
              {"sku": f"{product['sku']}-S", "stock_quantity": 6, "attributes": {axis["code"]: "S"}})
    open_product(page, product)
    card = page.locator(".product-stock")
    expect(card).to_contain_text("sum of its enabled variants' stock")
    expect(card.locator(".stock-total")).to_have_text("6 in stock")
    expect(card.locator("input")).to_have_count(0)


def test_leaving_with_unsaved_changes_asks_first(page: Any, site: Any) -> None:
    product = make_product(site, "LVE")
    open_product(page, product)
    page.get_by_label("Name *").fill("LVE changed")
    page.locator(".nav").get_by_role("link", name="Categories").click()
    dialog = page.get_by_role("dialog")
    assert "unsaved changes" in dialog.inner_text()
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_label("Name *")).to_have_value("LVE changed")
    assert page.url.endswith(f"#/products/{product['id']}")

    # Discard puts the saved values back; then leaving asks nothing.
    page.get_by_role("button", name="Discard").click()
    toast(page, "Changes discarded.")
    expect(page.get_by_label("Name *")).to_have_value(product["name"])
    page.get_by_label("Price", exact=True).fill("21")

    page.locator(".nav").get_by_role("link", name="Categories").click()
    page.get_by_role("dialog").get_by_role("button", name="Leave without saving").click()
    page.wait_for_url("**/#/categories")
    left = site.call("GET", f"/api/products/{product['id']}")
    assert (left["name"], left["price"]) == (product["name"], "20.0000")


def test_phone_width_has_no_sideways_scroll(page: Any, site: Any) -> None:
    product = make_product(site, "PHN", description="A long apron " * 40)
    axis = site.call("POST", "/api/product-attributes", {
        "name": f"Size {uuid.uuid4().hex[:6]}", "type": "select", "options": ["S", "M"], "is_variant_axis": True})
    site.call("POST", f"/api/products/{product['id']}/variants",
              {"sku": f"{product['sku']}-S", "stock_quantity": 2, "attributes": {axis["code"]: "S"}})
    site.call("POST", f"/api/products/{product['id']}/media",
              form={"file": ("apron.png", picture(), "image/png"), "alt_text": "Apron"})
    page.set_viewport_size({"width": 390, "height": 844})
    open_product(page, product)
    # Measure the whole page: the sections below the form load on their own.
    page.locator(".variants-table tbody tr").first.wait_for()
    page.locator(".media-grid .media-tile").first.wait_for()
    page.locator(".translations-section [role=tabpanel] form").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "product-phone")
    page.goto("/#/products/new")
    page.get_by_role("heading", name="New product", level=1).wait_for()
    page.get_by_role("button", name="Create product").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_breadcrumb_returns_to_the_list_with_its_filters_and_json_shows_the_product(
        page: Any, site: Any) -> None:
    product = make_product(site, "BRD")
    page.goto("/#/products?search=BRD&status=draft")
    page.get_by_role("heading", name="Products", level=1).wait_for()
    page.evaluate(f"location.hash = '#/products/{product['id']}'")
    page.get_by_role("heading", name=product["name"], level=1).wait_for()

    page.get_by_role("button", name="View JSON").click()
    dialog = page.get_by_role("dialog", name="Product JSON")
    expect(dialog).to_contain_text(f'"sku": "{product["sku"]}"')
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()

    crumbs = page.get_by_role("navigation", name="Breadcrumbs")
    assert crumbs.get_by_role("link", name="Products").get_attribute("href") == "#/products"
    crumbs.get_by_role("link", name="Products").click()
    page.wait_for_url("**/#/products?search=BRD&status=draft")

    # From the unfiltered list too, the breadcrumb goes back rather than forward.
    page.evaluate("location.hash = '#/products'")
    page.wait_for_url("**/#/products")
    depth = page.evaluate("navigation.currentEntry.index")
    page.evaluate(f"location.hash = '#/products/{product['id']}'")
    page.get_by_role("heading", name=product["name"], level=1).wait_for()
    page.get_by_role("navigation", name="Breadcrumbs").get_by_role("link", name="Products").click()
    page.wait_for_url("**/#/products")
    assert page.evaluate("navigation.currentEntry.index") == depth


def test_a_missing_product_says_so(page: Any) -> None:
    page.goto("/#/products/999999")
    page.get_by_text("Product not found").wait_for()
    expect(page.get_by_role("link", name="Back to the products")).to_be_visible()
