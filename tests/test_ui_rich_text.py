"""The description's rich-text editor in real Chromium (issue 13, item 16): formatting from
its toolbar, the HTML source, pasted markup, and that what it saves is sanitised with the
server's allow-list (store/html.py), in the product form, in a translation and on a phone.

Each test makes its own product through the API with a unique SKU.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from typing import Any

from playwright.sync_api import expect

from store.html import sanitize_html
from tests.browser import ARTIFACTS, screenshot as save_screenshot
from tests.test_html import PIECES

WIDE = {"width": 1440, "height": 900}
SAVED = re.compile(r"/api/products/\d+$")


def screenshot(page: Any, name: str) -> None:
    """A full-page screenshot taken from the top, where the sticky bars belong."""
    page.evaluate("window.scrollTo(0, 0)")
    save_screenshot(page, name)


def make_product(site: Any, prefix: str, **fields: Any) -> dict[str, Any]:
    sku = f"{prefix}-{uuid.uuid4().hex[:8]}".upper()
    product: dict[str, Any] = site.call("POST", "/api/products", {
        "name": f"{prefix} Wool Scarf {sku[-8:]}", "sku": sku, "price": "19.00", **fields})
    return product


def open_product(page: Any, product: dict[str, Any]) -> None:
    page.goto(f"/#/products/{product['id']}")
    page.get_by_role("heading", name=product["name"], level=1).wait_for()


def save(page: Any) -> Any:
    with page.expect_response(lambda r: r.request.method == "PATCH" and SAVED.search(r.url) is not None) as answer:
        page.keyboard.press("Control+s")
    return answer.value


def select_text(page: Any, area: Any, text: str) -> None:
    """Select the first occurrence of `text` inside the editable `area`."""
    area.evaluate("""(area, text) => {
        const walker = document.createTreeWalker(area, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const at = node.data.indexOf(text);
            if (at < 0) continue;
            area.focus();
            const range = document.createRange();
            range.setStart(node, at);
            range.setEnd(node, at + text.length);
            const selection = getSelection();
            selection.removeAllRanges();
            selection.addRange(range);
            return;
        }
        throw new Error(`no ${text} in the area`);
    }""", text)


def caret_at_end(area: Any) -> None:
    area.evaluate("""(area) => {
        area.focus();
        const range = document.createRange();
        range.selectNodeContents(area);
        range.collapse(false);
        getSelection().removeAllRanges();
        getSelection().addRange(range);
    }""")


def test_the_toolbar_formats_the_description_and_saves_sanitised_html(page: Any, site: Any) -> None:
    page.set_viewport_size(WIDE)
    stored = '<p>Soft <b>merino</b> wool.</p><script>alert(1)</script><p onclick="steal()">Warm.</p>'
    product = make_product(site, "RTE", description=stored)
    open_product(page, product)
    area = page.get_by_role("textbox", name="Description", exact=True)
    # Shown sanitised, and not counted as a change until the user makes one.
    expect(area).to_have_js_property("innerHTML", "<p>Soft <b>merino</b> wool.</p><p>Warm.</p>")
    expect(page.locator(".save-state")).to_have_text(re.compile(r"^All changes saved"))
    toolbar = page.get_by_role("toolbar", name="Formatting of Description", exact=True)

    select_text(page, area, "Warm.")
    toolbar.get_by_role("button", name="Heading", exact=True).click()
    expect(area.locator("h2")).to_have_text("Warm.")
    expect(toolbar.get_by_role("button", name="Heading", exact=True)).to_have_attribute("aria-pressed", "true")
    select_text(page, area, "wool")
    toolbar.get_by_role("button", name="Italic").click()
    expect(area.locator("i")).to_have_text("wool")
    caret_at_end(area)
    page.keyboard.press("Enter")
    toolbar.get_by_role("button", name="Bulleted list").click()
    page.keyboard.type("Hand wash")
    page.keyboard.press("Enter")
    page.keyboard.type("Dry flat")
    expect(area.locator("ul li")).to_have_text(["Hand wash", "Dry flat"])
    select_text(page, area, "Dry flat")
    toolbar.get_by_role("button", name="Link").click()
    address = page.get_by_label("Link address")
    address.fill("javascript:alert(1)")
    address.press("Enter")
    expect(page.locator(".rte-link .field-error")).to_contain_text("Use an http, https, mailto or tel address")
    address.fill("https://example.com/care")
    address.press("Enter")
    expect(area.locator("a")).to_have_attribute("href", "https://example.com/care")
    expect(page.locator(".save-state")).to_have_text("Unsaved changes")
    screenshot(page, "product-rich-text")

    sent = save(page).request.post_data_json["description"]
    assert sent == sanitize_html(sent), "the server would change what the editor saves"
    assert "<script" not in sent and "onclick" not in sent
    assert "<h2>Warm.</h2>" in sent and "<i>wool</i>" in sent and "<li>Hand wash</li>" in sent
    assert '<a href="https://example.com/care">Dry flat</a>' in sent
    assert site.call("GET", f"/api/products/{product['id']}")["description"] == sent
    page.reload()
    area = page.get_by_role("textbox", name="Description", exact=True)
    expect(area.locator("ul li")).to_have_count(2)
    expect(page.locator(".save-state")).to_have_text(re.compile(r"^All changes saved"))


def test_the_html_source_and_pasted_markup_keep_only_the_allow_list(page: Any, site: Any) -> None:
    page.set_viewport_size(WIDE)
    product = make_product(site, "RTS", description="<p>Plain.</p>")
    open_product(page, product)
    area = page.get_by_role("textbox", name="Description", exact=True)
    page.get_by_role("button", name="HTML source").click()
    source = page.get_by_label("Description, HTML")
    expect(source).to_have_value("<p>Plain.</p>")
    expect(source).to_be_focused()
    source.fill('<p>Plain.</p><p style="color:red">Red <a href="javascript:alert(1)">trap</a>'
                '<img src=x onerror="alert(1)"><a href="/care" onmouseover="x()">care</a></p>')
    page.get_by_role("button", name="HTML source").click()
    expect(area).to_have_js_property(
        "innerHTML", '<p>Plain.</p><p>Red trap<a href="/care">care</a></p>')

    # A paste from another page: its styles, handlers and scripts do not come along.
    caret_at_end(area)
    area.evaluate("""(area) => {
        const data = new DataTransfer();
        data.setData('text/html', '<span style="font-size:40px" onclick="x()">Big</span>'
                     + '<script>window.pwned = 1</script><strong class="k">Strong</strong>');
        area.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    }""")
    expect(area.locator("strong")).to_have_text("Strong")
    assert area.evaluate("a => a.querySelector('[style], [onclick], [class], script') === null")
    assert page.evaluate("window.pwned") is None
    sent = save(page).request.post_data_json["description"]
    assert sent == sanitize_html(sent)
    assert "javascript" not in sent and "<img" not in sent and "style=" not in sent and "script" not in sent
    assert "BigStrong" in re.sub(r"<[^>]+>", "", sent)


def test_the_editor_and_the_server_sanitise_alike(page: Any) -> None:
    """The browser's sanitiser gives what the server keeps, and the server changes nothing
    of what the browser gives."""
    page.goto("/#/categories")
    page.get_by_role("heading", name="Categories", exact=True).wait_for()
    well_formed = [
        "<h2>Care</h2><p>Wash <strong>cold</strong>, <em>never</em> <b>bleach</b>.<br>Iron <code>low</code>.</p>",
        '<ul><li>Cotton</li><li>Linen <a href="https://example.com/l" title="Linen">more</a></li></ul>',
        "<p onclick=\"x()\" style=\"c\">Hi</p><script>alert(1)</script>", "<div><span>a</span></div> b &amp; c",
        '<a href=" java\tscript:alert(1)">x</a><a href="mailto:a@b.c">m</a>', "5 < 6 & 7 > 3", "  leading spaces",
        "<ol><li>one<li>two</ol><blockquote>q</blockquote><h3>t</h3><h4>u</h4><u>v</u><s>w</s><i>x</i>",
        "<p>a<ul><li>b</li></ul>", "<h2>a<h3>b</h3>", "a</p>b", "a</br>b", "<iframe>x</iframe>y<svg><g>z</g></svg>",
    ]
    chooser = random.Random(16)
    messy = ["".join(chooser.choice(PIECES) for _ in range(chooser.randint(1, 12))) for _ in range(400)]
    client = page.evaluate("""async (texts) => {
        const { sanitizeHtml } = await import('/ui/js/html.js');
        return texts.map((text) => sanitizeHtml(text));
    }""", well_formed + messy)
    for text, mine in zip(well_formed, client):
        assert mine == sanitize_html(text), f"{text!r}: the browser gives {mine!r}, the server {sanitize_html(text)!r}"
    for text, mine in zip(well_formed + messy, client):
        assert sanitize_html(mine) == mine, f"{text!r}: the server changes the browser's {mine!r}"
    again = page.evaluate("""async (texts) => {
        const { sanitizeHtml } = await import('/ui/js/html.js');
        return texts.map((text) => sanitizeHtml(text));
    }""", client)
    assert again == client  # idempotent in the browser too
    (ARTIFACTS / "rich-text-parity.json").parent.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "rich-text-parity.json").write_text(json.dumps(list(zip(well_formed, client)), indent=1))


def test_a_translations_description_is_formatted_text_and_its_default_shows_words(
        page: Any, phone: Any, site: Any) -> None:
    product = make_product(site, "RTT", description="<p>Soft <strong>merino</strong> wool.</p><ul><li>Warm</li></ul>")
    site.call("PUT", f"/api/products/{product['id']}/translations/de",
              {"name": "Schal", "description": "<p>Weiche <em>Wolle</em>.</p>"})
    page.set_viewport_size(WIDE)
    open_product(page, product)
    section = page.get_by_role("region", name="Translations")
    area = section.get_by_role("textbox", name="Description (de)", exact=True)
    expect(area.locator("em")).to_have_text("Wolle")
    reference = section.locator(".translation-reference", has_text="Soft")
    expect(reference).to_have_text("Default: Soft merino wool. Warm")
    assert "<" not in reference.inner_text()
    select_text(page, area, "Weiche")
    section.get_by_role("toolbar", name="Formatting of Description (de)").get_by_role("button", name="Bold").click()
    expect(area.locator("b")).to_have_text("Weiche")
    with page.expect_response(lambda r: r.request.method == "PUT" and "/translations/de" in r.url) as answer:
        page.keyboard.press("Control+s")  # the page's one Save
    sent = answer.value.request.post_data_json["description"]
    assert sent == "<p><b>Weiche</b> <em>Wolle</em>.</p>" == sanitize_html(sent)
    assert site.call("GET", f"/api/products/{product['id']}/translations/de")["description"] == sent
    screenshot(page, "product-rich-text-translation")

    # On a phone the toolbar fits the screen.
    open_product(phone, product)
    phone_area = phone.get_by_role("textbox", name="Description", exact=True)
    phone_area.scroll_into_view_if_needed()
    toolbar = phone.get_by_role("toolbar", name="Formatting of Description", exact=True)
    box = toolbar.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    for button in toolbar.get_by_role("button").all():
        right = button.bounding_box()
        assert right is not None and right["x"] + right["width"] <= 390, button.get_attribute("aria-label")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(ARTIFACTS / "product-rich-text-phone.png"))
