"""The product page's form in real Chromium, as issue 13 checked it at 1440 x 900 and on a
phone (390 x 844): date inputs styled like the others, only the attributes the product
uses (and an "Add attribute" picker), one Save bar for the whole product.

Each test makes its own product and attributes through the API, with unique names.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.sync_api import expect

from tests.browser import ARTIFACTS, screenshot as save_screenshot

WIDE = {"width": 1440, "height": 900}

LOOK = """(node) => { const s = getComputedStyle(node); const box = node.getBoundingClientRect();
    return { height: Math.round(box.height), radius: s.borderTopLeftRadius, border: s.borderTopColor,
             borderWidth: s.borderTopWidth, font: s.fontSize, padding: s.paddingLeft, background: s.backgroundColor,
             width: Math.round(box.width) }; }"""


def tag() -> str:
    return uuid.uuid4().hex[:6]


def make_product(site: Any, prefix: str, **fields: Any) -> dict[str, Any]:
    sku = f"{prefix}-{tag()}".upper()
    product: dict[str, Any] = site.call("POST", "/api/products", {
        "name": f"{prefix} Linen Shirt {sku[-6:]}", "sku": sku, "price": "30.00", **fields})
    return product


def attribute(site: Any, name: str, kind: str, **fields: Any) -> dict[str, Any]:
    made: dict[str, Any] = site.call("POST", "/api/product-attributes",
                                     {"name": f"{name} {tag()}", "type": kind, **fields})
    return made


def open_product(page: Any, product: dict[str, Any]) -> None:
    page.goto(f"/#/products/{product['id']}")
    page.get_by_role("heading", name=product["name"], level=1).wait_for()


def screenshot(page: Any, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    save_screenshot(page, name)


def test_a_date_attribute_input_looks_like_the_other_inputs(page: Any, phone: Any, site: Any) -> None:
    launch = attribute(site, "Launch date", "date")
    product = make_product(site, "DATE", attributes={launch["code"]: "2026-03-01"})
    for tab, name in ((page, "product-date-input"), (phone, "product-date-input-phone")):
        if tab is page:
            tab.set_viewport_size(WIDE)
        open_product(tab, product)
        date = tab.get_by_label(launch["name"])
        expect(date).to_have_value("2026-03-01")
        assert date.get_attribute("type") == "date"
        mine, text = date.evaluate(LOOK), tab.get_by_label("Name *").evaluate(LOOK)
        for key in ("height", "radius", "border", "borderWidth", "font", "padding", "background"):
            assert mine[key] == text[key], f"{key}: the date input has {mine[key]}, a text input {text[key]}"
        assert mine["height"] >= 38
        date.scroll_into_view_if_needed()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        tab.locator(".card", has=date).screenshot(path=str(ARTIFACTS / f"{name}.png"))


def add_attribute(page: Any, label: str) -> None:
    page.get_by_label("Add attribute").select_option(label=label)
    page.locator(".attribute-add").get_by_role("button", name="Add", exact=True).click()


def test_only_the_attributes_a_product_uses_are_shown_and_others_can_be_added(
        page: Any, phone: Any, site: Any) -> None:
    capacity = attribute(site, "Capacity", "number", unit="ml")
    fit = attribute(site, "Fit", "select", options=["Slim", "Regular"])
    care = attribute(site, "Care code", "text")  # made required below, for this page only
    volume = attribute(site, "Volume", "number", unit="l")  # never used: stays in the picker
    shirt = make_product(site, "ATTR", attributes={"colour": "Red", fit["code"]: "Slim"})

    def care_required(route: Any) -> None:
        answer = route.fetch()
        body = answer.json()
        for item in body["data"]["product_attributes"]:
            if item["code"] == care["code"]:
                item["is_required"] = True
        route.fulfill(response=answer, json=body)

    page.set_viewport_size(WIDE)
    page.route(re.compile(r"/api/product-attributes(\?.*)?$"), care_required)
    open_product(page, shirt)
    card = page.locator(".card", has=page.get_by_role("heading", name="Attributes"))
    expect(card.get_by_label("Colour")).to_have_value("Red")
    expect(card.get_by_label(fit["name"])).to_have_value("Slim")
    expect(card.get_by_label(f"{care['name']} *")).to_be_visible()  # required: always there
    expect(card.get_by_label(f"{capacity['name']} (ml)")).to_be_hidden()  # a shirt has no capacity
    shown = card.locator(".form-grid > .field:not([hidden])")
    expect(shown).to_have_count(3)
    picker = page.get_by_label("Add attribute")
    offered = picker.locator("option").all_inner_texts()
    assert f"{capacity['name']} (ml)" in offered and fit["name"] not in offered and "Colour" not in offered
    screenshot(page, "product-attributes")

    add_attribute(page, f"{capacity['name']} (ml)")
    field = card.get_by_label(f"{capacity['name']} (ml)")
    expect(field).to_be_focused()
    assert f"{capacity['name']} (ml)" not in picker.locator("option").all_inner_texts()
    field.fill("500")
    card.get_by_label(f"{care['name']} *").fill("W30")
    with page.expect_response(lambda r: r.request.method == "PATCH") as answer:
        page.keyboard.press("Control+s")
    assert answer.value.request.post_data_json == {"attributes": {capacity["code"]: "500", care["code"]: "W30"}}
    stored = site.call("GET", f"/api/products/{shirt['id']}")["attributes"]
    assert (stored[capacity["code"]], stored[care["code"]]) == (500, "W30")
    page.reload()
    expect(page.get_by_label(f"{capacity['name']} (ml)")).to_have_value(re.compile(r"^500"))

    # On a phone: the same fields, the picker fits.
    open_product(phone, shirt)
    expect(phone.get_by_label("Colour")).to_be_visible()
    expect(phone.get_by_label(f"{capacity['name']} (ml)")).to_be_visible()
    expect(phone.get_by_label(care["name"], exact=True)).to_be_visible()  # not required there, but it has a value
    expect(phone.get_by_label(f"{volume['name']} (l)")).to_be_hidden()
    phone.get_by_label("Add attribute").scroll_into_view_if_needed()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.locator(".card", has=phone.get_by_role("heading", name="Attributes")).screenshot(
        path=str(ARTIFACTS / "product-attributes-phone.png"))


# ---- one save model: one Save bar for the whole product --------------------------------

def boxes_overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def assert_toast_clear_of_save(page: Any, text: str) -> None:
    toast = page.locator(".toast", has_text=text).first
    toast.wait_for()
    save, bar = page.get_by_role("button", name="Save", exact=True), page.locator(".save-bar")
    toast_box, save_box, bar_box = toast.bounding_box(), save.bounding_box(), bar.bounding_box()
    assert not boxes_overlap(toast_box, save_box), f"the toast {toast_box} covers Save {save_box}"
    assert toast_box["y"] + toast_box["height"] <= bar_box["y"], "the toast covers the Save bar"


def assert_bar_at_the_bottom(page: Any, height: int) -> None:
    bar = page.locator(".save-bar").bounding_box()
    assert bar is not None and abs(bar["y"] + bar["height"] - height) < 1, bar


def test_one_save_bar_saves_the_fields_the_stock_and_a_translation_together(page: Any, site: Any) -> None:
    page.set_viewport_size(WIDE)
    product = make_product(site, "ONE", stock=3)
    open_product(page, product)
    save, discard = page.get_by_role("button", name="Save", exact=True), page.get_by_role("button", name="Discard")
    expect(save).to_be_disabled()
    expect(discard).to_be_disabled()
    assert page.get_by_role("button", name="Save stock").count() == 0  # one Save for everything
    assert_bar_at_the_bottom(page, 900)
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    assert_bar_at_the_bottom(page, 900)

    # A change turns Save on; taking it back turns it off again.
    price = page.get_by_label("Price", exact=True)
    price.fill("31")
    expect(save).to_be_enabled()
    price.fill("30.00")
    expect(save).to_be_disabled()

    price.fill("32.50")
    page.get_by_label("Quantity in Main warehouse").fill("8")
    section = page.get_by_role("region", name="Translations")
    section.get_by_role("button", name="German (de)").click()
    section.get_by_label("Name (de)").fill("Leinenhemd")
    expect(page.locator(".save-state")).to_have_text("Unsaved changes")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(f"{r.method} {r.url.split('/api/')[1]}") if r.method != "GET" else None)
    save.click()
    assert_toast_clear_of_save(page, "Changes saved.")
    assert sent == [f"PATCH products/{product['id']}", f"PUT products/{product['id']}/stock",
                    f"PUT products/{product['id']}/translations/de"], sent
    expect(save).to_be_disabled()
    stored = site.call("GET", f"/api/products/{product['id']}")
    assert (stored["price"], stored["stock"]) == ("32.5000", 8)
    assert site.call("GET", f"/api/products/{product['id']}/translations/de")["name"] == "Leinenhemd"
    expect(section.get_by_role("tab", name="German (de)")).to_have_attribute("aria-selected", "true")
    screenshot(page, "product-save-bar")

    # A quantity the browser can tell is wrong: marked by its field, nothing is sent.
    sent.clear()
    quantity = page.get_by_label("Quantity in Main warehouse")
    quantity.fill("-1")
    page.get_by_label("Sale price").fill("99")  # above the price: the server says no
    save.click()
    expect(page.locator(f"#{quantity.get_attribute('id')}-error")).to_have_text("Enter a whole number of 0 or more.")
    expect(quantity).to_be_focused()
    assert sent == []

    # The server refuses the fields: their error by its field, the stock is saved anyway.
    quantity.fill("6")
    with page.expect_response(lambda r: r.request.method == "PUT" and r.url.endswith("/stock")):
        save.click()
    sale = page.get_by_label("Sale price")
    expect(page.locator(".field", has=sale).locator(".field-error")).to_have_text(
        "sale_price: must not be greater than price")
    expect(sale).to_be_focused()
    field_box, bar_box = sale.bounding_box(), page.locator(".save-bar").bounding_box()
    assert field_box["y"] + field_box["height"] <= bar_box["y"], "the marked field is under the Save bar"
    assert_toast_clear_of_save(page, "The other changes were saved; the marked field was not.")
    assert site.call("GET", f"/api/products/{product['id']}")["stock"] == 6
    expect(page.locator(".save-state")).to_have_text("Unsaved changes")
    expect(save).to_be_enabled()
    screenshot(page, "product-save-bar-error")

    # Discard puts every part back.
    quantity.fill("2")
    section.get_by_label("Name (de)").fill("Hemd")
    discard.click()
    expect(sale).to_have_value("")
    expect(quantity).to_have_value("6")
    expect(section.get_by_label("Name (de)")).to_have_value("Leinenhemd")
    expect(save).to_be_disabled()


def test_a_new_products_hint_goes_once_name_and_sku_are_filled(page: Any, phone: Any) -> None:
    for tab, height in ((page, 900), (phone, 844)):
        if tab is page:
            tab.set_viewport_size(WIDE)
        tab.goto("/#/products/new")
        tab.get_by_role("heading", name="New product", level=1).wait_for()
        state, create = tab.locator(".save-state"), tab.get_by_role("button", name="Create product")
        expect(state).to_have_text("Name and SKU are required.")
        expect(create).to_be_disabled()
        tab.get_by_label("Name *").fill("Hint Test Mug")
        expect(state).to_have_text("Name and SKU are required.")
        expect(create).to_be_enabled()
        tab.get_by_label("SKU *").fill(f"HINT-{tag()}")
        expect(state).to_have_text("Not created yet.")
        assert_bar_at_the_bottom(tab, height)
        tab.get_by_label("SKU *").fill("")
        expect(state).to_have_text("Name and SKU are required.")


def test_on_a_phone_the_save_bar_and_the_language_tabs_are_whole(phone: Any, site: Any) -> None:
    product = make_product(site, "PHW")
    for locale, name in (("de", "Leinenhemd"), ("ro", "Cămașă de in")):
        site.call("PUT", f"/api/products/{product['id']}/translations/{locale}", {"name": name})
    page = phone
    open_product(page, product)
    state = page.locator(".save-state")
    expect(state).to_have_text(re.compile(r"^All changes saved · "))
    cut = state.evaluate("s => s.scrollWidth > s.clientWidth || s.scrollHeight > s.clientHeight")
    box = state.bounding_box()
    assert not cut and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    for button in ("Discard", "Save"):
        found = page.get_by_role("button", name=button, exact=True).bounding_box()
        assert found["x"] + found["width"] <= 390, button
    assert_bar_at_the_bottom(page, 844)

    tabs = page.get_by_role("region", name="Translations").get_by_role("tablist")
    tabs.scroll_into_view_if_needed()
    add = tabs.get_by_role("tab", name="+ Add language")
    expect(add).to_have_text("+ Add language")
    whole = tabs.evaluate("t => t.scrollWidth <= t.clientWidth")
    add_box, list_box = add.bounding_box(), tabs.bounding_box()
    assert whole and add_box["x"] + add_box["width"] <= list_box["x"] + list_box["width"] + 0.5, (add_box, list_box)
    assert add.evaluate("b => b.scrollWidth <= b.clientWidth")

    page.get_by_label("Price", exact=True).fill("33")
    expect(state).to_have_text("Unsaved changes")
    page.get_by_role("button", name="Save", exact=True).click()
    assert_toast_clear_of_save(page, "Changes saved.")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "product-save-bar-phone.png"))
