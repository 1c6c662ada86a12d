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
