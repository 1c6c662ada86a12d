"""The webhooks page (#/webhooks) and the activity page (#/activity) in real Chromium:
a webhook added (its secret shown once), edited, disabled, its secret rotated and
deleted; the change feed newest first, filtered, following new events as they commit."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser import Site, product, screenshot, unique

# A public address literal: the site's server refuses private ones, and nothing the
# test waits for is sent there.
HOOK_URL = "https://1.1.1.1/hooks/{}"


def test_add_edit_disable_rotate_and_delete_a_webhook(page: Any, site: Site) -> None:
    word = unique()
    url = HOOK_URL.format(word)
    page.goto("/#/webhooks")
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    page.get_by_role("button", name="Add webhook").click()
    dialog = page.get_by_role("dialog", name="Add a webhook")
    dialog.get_by_label("URL").fill("http://127.0.0.1/hook")
    dialog.get_by_role("button", name="Add webhook").click()
    expect(dialog.locator(".field-error").first).to_contain_text("is not a public address")
    dialog.get_by_label("URL").fill(url)
    dialog.get_by_label("Description").fill(f"{word} shop")
    for box in dialog.locator("input[name=event]").all():
        box.uncheck()
    dialog.locator("input[value='product.created']").check()
    dialog.locator("input[value='product.updated']").check()
    dialog.locator("input[value='product.archived']").check()
    dialog.locator("input[value='stock.updated']").check()
    dialog.get_by_role("button", name="Add webhook").click()

    shown = page.get_by_role("dialog", name="Webhook added")
    secret = shown.get_by_label("Signing secret").input_value()
    assert secret.startswith("whsec_")
    screenshot(page, "webhook-secret")
    shown.get_by_role("button", name="Done").click()
    made = next(hook for hook in site.call("GET", "/api/webhooks?limit=100")["webhooks"] if hook["url"] == url)
    assert made["events"] == ["product.*", "stock.updated"] and made["description"] == f"{word} shop"
    assert "secret" not in made

    card = page.get_by_role("region", name=url)
    expect(card.locator(".badge")).to_have_text("Active")
    expect(card).to_contain_text("Events: product.*, stock.updated")
    card.get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit webhook")
    expect(dialog.locator("input[value='product.updated']")).to_be_checked()
    expect(dialog.locator("input[value='variant.created']")).not_to_be_checked()
    dialog.locator("input[value='variant.created']").check()
    dialog.get_by_role("button", name="Save").click()
    expect(card).to_contain_text("Events: product.*, variant.created, stock.updated")

    card.get_by_role("button", name="Disable").click()
    expect(card.locator(".badge")).to_have_text("Disabled")
    assert site.call("GET", f"/api/webhooks/{made['id']}")["enabled"] is False
    card.get_by_role("button", name="Enable").click()
    expect(card.locator(".badge")).to_have_text("Active")

    card.get_by_role("button", name="Rotate secret").click()
    page.get_by_role("dialog").get_by_role("button", name="Rotate secret").click()
    rotated = page.get_by_role("dialog", name="New secret").get_by_label("Signing secret").input_value()
    assert rotated.startswith("whsec_") and rotated != secret
    page.get_by_role("dialog", name="New secret").get_by_role("button", name="Done").click()

    card.get_by_role("button", name="Deliveries").click()
    expect(card.locator(".hook-deliveries-slot")).to_be_visible()
    screenshot(page, "webhooks")
    card.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("region", name=url)).to_have_count(0)
    assert all(hook["url"] != url for hook in site.call("GET", "/api/webhooks?limit=100")["webhooks"])


def test_the_activity_page_shows_the_feed_newest_first_filtered_and_follows_new_events(
        page: Any, site: Site) -> None:
    prefix = unique()
    made = product(site, prefix, "Lamp")
    site.call("PATCH", f"/api/products/{made['id']}", {"name": f"{prefix} Lamp, brass"})
    page.goto("/#/activity")
    expect(page.get_by_role("heading", name="Activity", exact=True)).to_be_visible()
    first = page.locator("table.activity tbody tr").first
    expect(first).to_contain_text("product.updated")
    expect(first.get_by_role("link")).to_have_text(f"{prefix} Lamp, brass · {made['sku']}")
    expect(page.locator("table.activity tbody tr").nth(1)).to_contain_text("product.created")

    page.get_by_label("Event type").select_option("product.created")
    expect(page).to_have_url(re.compile(r"type=product\.created"))
    expect(page.locator("table.activity tbody tr").first).to_contain_text(f"{prefix} Lamp")
    for text in page.locator("table.activity tbody tr td:nth-child(2)").all_inner_texts():
        assert text == "product.created"

    # A change made elsewhere appears on top without a reload.
    other = product(site, prefix, "Desk")
    expect(page.locator("table.activity tbody tr").first).to_contain_text(f"{prefix} Desk", timeout=15_000)
    page.locator("table.activity tbody tr details").first.click()
    expect(page.locator("table.activity tbody tr pre").first).to_contain_text(f'"sku": "{other["sku"]}"')
    screenshot(page, "activity")
    page.locator("table.activity tbody tr").first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"#/products/{other['id']}$"))
