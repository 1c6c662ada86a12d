"""The product page in real Chromium: edit and save, field errors, create, archive, stock.

Each test makes its own product through the API (a unique SKU), edits it in the page, and
checks both what the page shows and what the API answers afterwards.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.sync_api import expect

from tests.browser import screenshot as save_screenshot

SAVED = re.compile(r"/api/products/\d+$")


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
    assert page.locator(".save-state").inner_text() == "Unsaved changes"

    answer = save(page)
    sent = answer.request.post_data_json
    # Only what changed is sent.
    assert sent == {"name": "EDIT Linen Apron, washed", "price": "24.5", "attributes": {"colour": "Red"},
                    "publishing_channels": ["marketplace"], "category_ids": [site.seeded["categories"]["Mugs"]]}
    toast(page, "Changes saved.")
    page.get_by_role("heading", name="EDIT Linen Apron, washed", level=1).wait_for()
    assert page.locator(".save-state").inner_text().startswith("All changes saved")
    screenshot(page, "product")

    saved = site.call("GET", f"/api/products/{product['id']}")
    assert saved["name"] == "EDIT Linen Apron, washed" and saved["price"] == "24.5000"
    assert saved["attributes"] == {"colour": "Red"}
    assert saved["publishing_channels"] == ["marketplace"]
    assert [c["name"] for c in saved["categories"]] == ["Mugs"]
    assert saved["updated_at"] > product["updated_at"]

    page.reload()
    page.get_by_role("heading", name="EDIT Linen Apron, washed", level=1).wait_for()
    assert page.get_by_label("Price", exact=True).input_value() == "24.50"
    assert page.get_by_label("Colour").input_value() == "Red"
    assert page.get_by_role("checkbox", name="Marketplace").is_checked()
    assert not page.get_by_role("checkbox", name="Web Store").is_checked()
    assert page.get_by_role("checkbox", name="Mugs").is_checked()
    assert page.locator(".category-chips").inner_text().startswith("Home › Mugs")

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
    error.wait_for()
    assert error.inner_text() == f"sku: SKU '{other['sku']}' is already taken"
    assert page.get_by_label("SKU *").get_attribute("aria-invalid") == "true"
    assert page.locator(".save-state").inner_text() == "Unsaved changes"

    # A rule between two fields: the sale price above the price.
    page.get_by_label("SKU *").fill(product["sku"])
    page.get_by_label("Sale price").fill("99")
    assert save(page).status == 400
    sale_error = page.locator(".field", has=page.get_by_label("Sale price")).locator(".field-error")
    sale_error.wait_for()
    assert sale_error.inner_text() == "sale_price: must not be greater than price"
    assert not error.is_visible()
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
    name_error.wait_for()
    assert name_error.inner_text().startswith("name: ")

    page.get_by_label("Name *").fill("NEW Enamel Mug")
    expect(name_error).to_be_hidden()  # typing takes the old error away
    page.get_by_label("Price", exact=True).fill("12.90")
    page.get_by_label("Brand").select_option(label="Lumen")
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
    assert page.get_by_label("SKU *").input_value() == sku

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
    assert page.locator(".product-meta .badge").inner_text() == "Archived"
    assert page.get_by_label("Status").input_value() == "archived"
    assert site.call("GET", f"/api/products/{product['id']}")["status"] == "archived"
    screenshot(page, "product-archived")

    page.get_by_role("button", name="Restore to active").click()
    toast(page, "Product is active again.")
    assert page.locator(".product-meta .badge").inner_text() == "Active"
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
    page.get_by_role("button", name="Save stock").click()
    error = page.locator(f"#stock-{warehouse['id']}-error")
    error.wait_for()
    assert error.inner_text() == "Enter a whole number of 0 or more."
    page.get_by_label(f"Quantity in Depot {code}").fill("4")
    save(page, "Save stock")
    toast(page, "Stock saved.")
    assert page.locator(".product-stock .stock-total").inner_text() == "11 in stock"

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
    assert "sum of its enabled variants' stock" in card.inner_text()
    assert card.locator("input").count() == 0
    assert card.locator(".stock-total").inner_text() == "6 in stock"


def test_leaving_with_unsaved_changes_asks_first(page: Any, site: Any) -> None:
    product = make_product(site, "LVE")
    open_product(page, product)
    page.get_by_label("Name *").fill("LVE changed")
    page.locator(".nav").get_by_role("link", name="Categories").click()
    dialog = page.get_by_role("dialog")
    assert "unsaved changes" in dialog.inner_text()
    dialog.get_by_role("button", name="Cancel").click()
    assert page.get_by_label("Name *").input_value() == "LVE changed"
    assert page.url.endswith(f"#/products/{product['id']}")

    # Discard puts the saved values back; then leaving asks nothing.
    page.get_by_role("button", name="Discard").click()
    toast(page, "Changes discarded.")
    assert page.get_by_label("Name *").input_value() == product["name"]
    page.get_by_label("Price", exact=True).fill("21")

    page.locator(".nav").get_by_role("link", name="Categories").click()
    page.get_by_role("dialog").get_by_role("button", name="Leave without saving").click()
    page.wait_for_url("**/#/categories")
    left = site.call("GET", f"/api/products/{product['id']}")
    assert (left["name"], left["price"]) == (product["name"], "20.0000")


def test_phone_width_has_no_sideways_scroll(page: Any, site: Any) -> None:
    product = make_product(site, "PHN", description="A long apron " * 40)
    page.set_viewport_size({"width": 390, "height": 844})
    open_product(page, product)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "product-phone")
    page.goto("/#/products/new")
    page.get_by_role("heading", name="New product", level=1).wait_for()
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
    assert page.get_by_role("link", name="Back to the products").is_visible()
