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
