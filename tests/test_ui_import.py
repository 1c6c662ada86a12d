"""The import page (#/import) and the product list's Export button in real Chromium: a
file's first rows and what its columns set, a dry run listing the refused lines in the
server's words and writing nothing, an import followed to its end with a progress bar,
and an export of exactly what the list's filters show."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import expect

from tests.browser import Site, product, screenshot, unique


def skus(site: Site, prefix: str) -> list[str]:
    found = site.call("GET", f"/api/products?search={prefix}&status=any&limit=100")["products"]
    return sorted(item["sku"] for item in found)


def choose(page: Any, name: str, content: bytes, mime: str) -> None:
    page.locator(".import-dropzone input[type=file]").set_input_files(
        {"name": name, "mimeType": mime, "buffer": content})


def test_a_csv_is_previewed_dry_run_then_imported(page: Any, site: Site) -> None:
    prefix = unique()
    rows = [f"sku;name;price;attributes.colour;translations.ro.name;stock_levels.NOWHERE"]
    rows += [f"{prefix}-{n};\"{prefix} Item {n}; boxed\";{n}.50;Black;Articol {n};" for n in range(1, 41)]
    rows[7] = f"{prefix}-7;{prefix} Item 7;-3;Black;;"  # a negative price: refused
    rows[12] = f"{prefix}-12;{prefix} Item 12;2;Purple;;"  # not an option of the attribute
    body = ("\ufeff" + "\n".join(rows) + "\n").encode()
    page.goto("/#/import")
    expect(page.get_by_role("heading", name="Import", exact=True)).to_be_visible()
    choose(page, "feed.csv", body, "text/csv")

    columns = page.locator(".import-columns tbody tr")
    expect(columns).to_have_count(6)
    expect(columns.nth(0)).to_contain_text("SKU: finds the product")
    expect(columns.nth(3)).to_contain_text("Attribute “Colour” (select)")
    expect(columns.nth(4)).to_contain_text("Name, translated (ro)")
    expect(columns.nth(5)).to_contain_text("No warehouse with code NOWHERE")
    first = page.locator(".import-rows tbody tr").first
    expect(first).to_contain_text(f"{prefix} Item 1; boxed")  # the quoted ; is the cell's
    expect(page.locator(".import-rows tbody tr")).to_have_count(10)
    expect(page.locator(".import-rows tbody tr td:first-child").first).to_have_text("2")  # the header is line 1
    screenshot(page, "import-preview")

    page.get_by_role("button", name="Dry run").click()
    expect(page.locator(".import-state")).to_have_text("Checked all 40 lines. Nothing was written.", timeout=20_000)
    errors = page.locator(".import-errors tbody tr")
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_have_text(f"8{prefix}-7price: must not be negative")  # header = line 1
    expect(errors.nth(1)).to_contain_text("attributes.colour: must be one of Black, White, Red")
    expect(page.locator(".import-count-created")).to_have_text("38 would be created")
    assert skus(site, prefix) == []  # a dry run writes nothing
    assert "job=" in page.url  # a reload follows the same job
    screenshot(page, "import-dry-run")

    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator(".import-state")).to_have_text("Imported all 40 lines.", timeout=20_000)
    expect(page.locator(".import-count-created")).to_have_text("38 created")
    expect(page.locator(".import-count-failed")).to_have_text("2 failed")
    expect(page.locator(".import-bar")).to_have_attribute("value", "40")
    assert len(skus(site, prefix)) == 38
    expect(page.locator(".import-jobs tbody tr").first).to_contain_text("Products, CSV")
    made = site.call("GET", f"/api/products?search={prefix}-1&limit=1")["products"][0]
    assert made["name"] == f"{prefix} Item 1; boxed" and made["price"] == "1.5000"

    # Reloaded, the page follows the job in its address.
    page.reload()
    expect(page.locator(".import-state")).to_have_text("Imported all 40 lines.")


def test_an_unknown_column_is_flagged_and_the_servers_refusal_shown(page: Any, site: Site) -> None:
    page.goto("/#/import")
    choose(page, "feed.csv", b"sku,name,colour\nX-1,Thing,red\n", "text/csv")
    expect(page.locator(".import-columns tr.is-problem")).to_contain_text("colour")
    expect(page.locator(".import-preview .alert-error")).to_contain_text("unknown column")
    page.get_by_role("button", name="Dry run").click()
    expect(page.locator(".import-state")).to_have_text("The file was refused: colour: unknown column", timeout=20_000)
    choose(page, "feed.xlsx", b"PK\x03\x04", "application/vnd.ms-excel")
    expect(page.locator(".import-preview .alert-error")).to_have_text(
        "feed.xlsx is not a .csv, .ndjson or .jsonl file.")
    expect(page.get_by_role("button", name="Dry run")).to_be_disabled()


def test_categories_from_ndjson(page: Any, site: Site) -> None:
    word = unique()
    lines = [{"path": f"{word} Garden"}, {"path": f"{word} Garden > Tools", "description": "Spades"}]
    page.goto("/#/import")
    page.get_by_label("The file holds").select_option("categories")
    choose(page, "tree.ndjson", "".join(json.dumps(line) + "\n" for line in lines).encode(), "application/x-ndjson")
    expect(page.locator(".import-columns tbody tr").nth(0)).to_contain_text("Path: finds the category")
    expect(page.get_by_text("Create what the file names")).to_be_hidden()  # products only
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator(".import-state")).to_have_text("Imported all 2 lines.", timeout=20_000)
    expect(page.locator(".import-count-created")).to_have_text("2 created")
    tree = site.call("GET", "/api/categories/tree")["categories"]
    garden = next(node for node in tree if node["name"] == f"{word} Garden")
    assert [(c["name"], c["description"]) for c in garden["children"]] == [("Tools", "Spades")]


def test_export_saves_what_the_filters_show(page: Any, site: Site) -> None:
    prefix = unique()
    for name, status in (("Active Lamp", "active"), ("Draft Lamp", "draft"), ("Active Vase", "active")):
        product(site, prefix, name, status=status, price="5")
    page.goto(f"/#/products?search={prefix}&status=active")
    expect(page.locator(".products-table tbody .product-link")).to_have_count(2)
    with page.expect_download() as saving:
        page.get_by_role("button", name="Export", exact=True).click()
    download = saving.value
    assert download.suggested_filename.startswith("products-") and download.suggested_filename.endswith(".csv")
    text = open(download.path(), encoding="utf-8").read()
    lines = text.splitlines()
    assert lines[0].startswith("sku,parent_sku,name")
    assert sorted(line.split(",")[0] for line in lines[1:]) == sorted(
        [f"{prefix}-ACTIVE-LAMP".upper(), f"{prefix}-ACTIVE-VASE".upper()])
    expect(page.locator(".toast-success")).to_contain_text("with the products the filters show")

    page.get_by_label("Export format").select_option("ndjson")
    with page.expect_download() as saving:
        page.get_by_role("button", name="Export", exact=True).click()
    exported = [json.loads(line) for line in open(saving.value.path(), encoding="utf-8")]
    assert sorted(item["sku"] for item in exported) == sorted([f"{prefix}-ACTIVE-LAMP".upper(), f"{prefix}-ACTIVE-VASE".upper()])
    assert all("variants" in item and "stock_levels" in item for item in exported)
    screenshot(page, "products-export")


def test_import_page_on_a_phone(phone: Any, site: Site) -> None:
    phone.goto("/#/import")
    choose(phone, "feed.csv", b"sku,name,price\nP-1,A rather long product name for a small screen,1\n", "text/csv")
    expect(phone.locator(".import-rows")).to_be_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the import page scrolls sideways on a phone ({width}px)"
    screenshot(phone, "import-phone")
