"""The web UI's shell in real Chromium: serving, sign-in, navigation, sign-out, phones."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from typing import Any

from playwright.sync_api import expect

from tests.browser import screenshot


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def test_page_and_files_are_served_without_a_key_and_with_a_strict_policy(site: Any) -> None:
    status, headers, body = fetch(site.url + "/")
    assert status == 200 and b'<script type="module" src="/ui/js/app.js">' in body
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    status, headers, body = fetch(site.url + "/ui/js/app.js")
    assert status == 200 and headers["Content-Type"].startswith(("application/javascript", "text/javascript"))
    assert headers["Cache-Control"] == "no-cache" and headers.get("Etag")


def test_a_file_outside_the_ui_folder_is_not_served(site: Any) -> None:
    for path in ("/ui/../micropim.py", "/ui/%2e%2e/micropim.py", "/ui/nope.js"):
        try:
            fetch(site.url + path)
        except urllib.error.HTTPError as error:
            assert error.code in (403, 404), path
        else:
            raise AssertionError(f"{path} was served")


def test_sign_in_with_a_wrong_key_says_so_then_a_right_key_opens_the_products(
        signed_out_page: Any, site: Any) -> None:
    page = signed_out_page
    page.goto("/")
    page.get_by_label("API key").fill("mpk_not-a-real-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not accepted")
    assert page.evaluate("sessionStorage.getItem('micropim.key')") is None
    screenshot(page, "sign-in")

    page.get_by_label("API key").fill(site.key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Products").wait_for()
    assert page.url.endswith("#/products")
    assert page.evaluate("sessionStorage.getItem('micropim.key')") == site.key
    # Only session storage holds it: nothing in local storage or cookies.
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []


def test_empty_key_is_refused_in_words(signed_out_page: Any) -> None:
    page = signed_out_page
    page.goto("/")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Enter your API key.")


def test_navigation_marks_the_current_section_and_sign_out_forgets_the_key(page: Any) -> None:
    page.goto("/#/categories")
    current = page.locator(".nav a[aria-current]")
    expect(current).to_have_text("Categories")
    page.get_by_role("link", name="Image search").click()
    page.wait_for_url("**/#/image-search")
    expect(current).to_have_text("Image search")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("API key").wait_for()
    page.wait_for_function("sessionStorage.getItem('micropim.key') === null")


def test_an_unknown_address_says_so(page: Any) -> None:
    page.goto("/#/nowhere")
    page.get_by_role("heading", name="Page not found").wait_for()


def test_on_a_phone_the_menu_folds_into_a_button(phone: Any, site: Any) -> None:
    page = phone
    page.goto("/#/products")
    categories = page.get_by_role("link", name="Categories")
    assert not categories.is_visible()
    page.get_by_role("button", name="Menu").click()
    categories.click()
    page.wait_for_url("**/#/categories")
    expect(categories).to_be_hidden()  # the menu closes after a choice
    page.locator(".cat-row").first.wait_for()  # the tree, not its spinner, is measured
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    screenshot(page, "phone-menu")


def test_head_of_the_page_answers_like_get_without_a_body(site: Any) -> None:
    request = urllib.request.Request(site.url + "/", method="HEAD")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200 and response.read() == b""
        assert response.headers["Content-Type"].startswith("text/html")


def test_images_may_come_only_from_here_and_the_public_media_url(site: Any) -> None:
    _, headers, _ = fetch(site.url + "/")
    images = next(part for part in headers["Content-Security-Policy"].split("; ")
                  if part.startswith("img-src"))
    assert images == f"img-src 'self' data: blob: {site.url}"


# ---- issue 13: the sign-in help, the API reference's icon and its key ------------------

WIDE = {"width": 1440, "height": 900}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def test_the_sign_in_help_shows_the_commands_as_code(signed_out_page: Any, browser: Any, site: Any) -> None:
    page = signed_out_page
    page.set_viewport_size(WIDE)
    page.goto("/")
    hint = page.locator(".signin-form .hint")
    expect(hint.locator("code")).to_have_text(["micropim serve --demo", "micropim create-key --org NAME"])
    assert "`" not in hint.inner_text()
    assert hint.locator("code").first.evaluate("c => getComputedStyle(c).fontFamily").startswith("ui-monospace")
    screenshot(page, "sign-in-help")
    phone = browser.new_context(base_url=site.url, **PHONE)
    try:
        tab = phone.new_page()
        tab.goto("/")
        expect(tab.locator(".signin-form .hint code")).to_have_count(2)
        assert tab.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(tab, "sign-in-help-phone")
    finally:
        phone.close()


def test_the_api_reference_has_an_icon_and_asks_for_no_missing_file(signed_out_page: Any, site: Any) -> None:
    page = signed_out_page
    page.set_viewport_size(WIDE)
    answers: list[tuple[int, str]] = []
    page.on("response", lambda response: answers.append((response.status, response.url)))
    page.goto("/docs")
    page.locator(".swagger-ui .info").wait_for()
    icon = page.locator("link[rel=icon]")
    assert icon.get_attribute("href") == "/ui/icon.svg"
    page.wait_for_function("() => performance.getEntriesByType('resource').some((e) => e.name.endsWith('/ui/icon.svg'))")
    status, headers, body = fetch(site.url + "/ui/icon.svg")
    assert status == 200 and headers["Content-Type"].startswith("image/svg+xml") and body.startswith(b"<svg")
    assert (200, site.url + "/ui/icon.svg") in answers
    assert [answer for answer in answers if answer[0] >= 400] == []
    screenshot(page, "docs-icon")


# A docs tab starts without the key, as in a browser that gives a new tab an empty
# session storage (the fixtures' own script puts the key in every tab of the context).
DOCS_TAB_STARTS_EMPTY = "if (location.pathname === '/docs') sessionStorage.removeItem('micropim.key');"


def docs_key(tab: Any) -> str:
    """The key Swagger UI sends with "Try it out", or "" when it has none."""
    return str(tab.evaluate("""() => {
        const found = window.micropimDocs && window.micropimDocs.authSelectors.authorized();
        const entry = found && found.toJS().ApiKey;
        return (entry && entry.value) || '';
    }"""))


def open_reference(page: Any, link: Any) -> Any:
    with page.context.expect_page() as popup:
        link.click()
    docs = popup.value
    docs.wait_for_load_state()
    return docs


def test_the_api_reference_opens_in_a_new_tab_with_the_key_handed_over_not_in_its_address(
        page: Any, phone: Any, site: Any) -> None:
    page.set_viewport_size(WIDE)
    page.context.add_init_script(DOCS_TAB_STARTS_EMPTY)
    page.goto("/#/categories")
    page.get_by_role("heading", name="Categories", exact=True).wait_for()
    sent: list[str] = []
    page.context.on("request", lambda request: sent.append(request.url))
    docs = open_reference(page, page.get_by_role("link", name="API reference"))
    expect(docs.locator("#key-note")).to_have_text(re.compile("^Using the API key of your web UI session"))
    assert docs_key(docs) == site.key
    assert docs.url == site.url + "/docs" and not [url for url in sent if site.key in url]
    assert docs.evaluate("sessionStorage.getItem('micropim.key')") == site.key  # a reload keeps it
    assert page.url.endswith("#/categories") and page.evaluate("sessionStorage.getItem('micropim.key')") == site.key
    screenshot(docs, "docs-signed-in")

    # On a phone the link is in the menu; the menu closes behind the new tab.
    phone.context.add_init_script(DOCS_TAB_STARTS_EMPTY)
    phone.goto("/#/products")
    phone.get_by_role("button", name="Menu").click()
    docs = open_reference(phone, phone.get_by_role("link", name="API reference"))
    expect(docs.locator("#key-note")).to_have_text(re.compile("^Using the API key of your web UI session"))
    assert docs_key(docs) == site.key
    expect(phone.get_by_role("link", name="API reference")).to_be_hidden()
    screenshot(docs, "docs-signed-in-phone")


def test_a_docs_tab_nobody_opened_takes_no_key_from_a_message(signed_out_page: Any) -> None:
    page = signed_out_page
    page.goto("/docs")
    expect(page.locator("#key-note")).to_have_text(re.compile("press “Authorize”"))
    page.evaluate("window.postMessage({ type: 'micropim:key', key: 'mpk_from-someone' }, '*')")
    page.wait_for_timeout(300)
    assert docs_key(page) == ""
    assert page.evaluate("sessionStorage.getItem('micropim.key')") is None
