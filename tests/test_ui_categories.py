"""The category tree page in real Chromium: the tree, drag and drop, the Move dialog,
refusals, create, edit and delete. Each test makes its own small tree through the API."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.sync_api import expect

from tests.browser import ARTIFACTS, screenshot


def make_tree(site: Any, shape: dict[str, Any], parent_id: int | None = None) -> dict[str, int]:
    """Create `{"A": {"A1": {}}, "B": {}}` under `parent_id`, in order; answers name -> id."""
    ids: dict[str, int] = {}
    for name, children in shape.items():
        ids[name] = site.call("POST", "/api/categories", {"name": name, "parent_id": parent_id})["id"]
        ids.update(make_tree(site, children, ids[name]))
    return ids


def placed(site: Any, category_id: int) -> tuple[int | None, int]:
    """(parent_id, position) of a category as the server has it."""
    found = site.call("GET", f"/api/categories/{category_id}")
    return found["parent_id"], found["position"]


def children_names(site: Any, category_id: int) -> list[str]:
    answer = site.call("GET", f"/api/categories/{category_id}/children")
    return [child["name"] for child in answer["categories"]]


def row(page: Any, name: str) -> Any:
    """The tree row whose name link reads exactly `name`."""
    return page.locator(".cat-row").filter(has=page.get_by_role("link", name=name, exact=True))


def open_tree(page: Any, name: str) -> None:
    page.goto("/#/categories")
    row(page, name).wait_for()


def unique(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:6]}"


def test_the_tree_shows_nesting_counts_and_links_to_the_products(page: Any, site: Any) -> None:
    top = unique("Garden")
    ids = make_tree(site, {top: {f"{top} Tools": {f"{top} Spades": {}}, f"{top} Seeds": {}}})
    product = site.call("POST", "/api/products", {"name": f"{top} spade", "sku": unique("SPD").replace(" ", "-"),
                                                  "price": "12.00", "category_ids": [ids[f"{top} Tools"]]})
    open_tree(page, top)
    tools = row(page, f"{top} Tools")
    tools.hover()  # a row's actions show on hover (and on focus)
    page.wait_for_function("r => getComputedStyle(r.querySelector('.cat-actions')).opacity === '1'",
                           arg=tools.element_handle())
    assert tools.locator(".cat-count [aria-hidden]").inner_text() == "1"
    assert "1 product" in tools.locator(".cat-count .visually-hidden").inner_text()
    # Nested rows are indented deeper than their parents.
    depth = [row(page, name).evaluate("r => getComputedStyle(r).paddingLeft")
             for name in (top, f"{top} Tools", f"{top} Spades")]
    assert float(depth[0][:-2]) < float(depth[1][:-2]) < float(depth[2][:-2])
    screenshot(page, "categories")

    # Folding hides the subtree; unfolding shows it again.
    page.get_by_role("button", name=f"Collapse {top}", exact=True).click()
    expect(row(page, f"{top} Spades")).to_have_count(0)
    page.get_by_role("button", name=f"Expand {top}", exact=True).click()
    row(page, f"{top} Spades").wait_for()

    page.get_by_role("link", name=f"{top} Tools", exact=True).click()
    page.wait_for_url(f"**/#/products?category={ids[f'{top} Tools']}&include_subcategories=true")
    site.call("DELETE", f"/api/products/{product['id']}")


def test_dragging_a_category_onto_another_nests_it_last(page: Any, site: Any) -> None:
    a, b = unique("Kitchen"), unique("Bathroom")
    ids = make_tree(site, {a: {f"{a} Pans": {}}, b: {}})
    open_tree(page, b)
    # A real mouse drag, step by step, so the drop target shows where it will land.
    row(page, b).hover()
    page.mouse.down()
    target = row(page, a).bounding_box()
    middle = target["y"] + target["height"] / 2
    page.mouse.move(target["x"] + 200, middle, steps=8)
    # Chromium starts a drag on its own time; on a busy machine the moves above may all
    # come before it, so nudge the pointer until the row says where the drop will land.
    inside = row(page, a).and_(page.locator(".drop-inside"))
    for nudge in range(2, 60, 2):
        page.mouse.move(target["x"] + 200 + nudge, middle)
        if inside.count():
            break
    inside.wait_for()
    screenshot(page, "categories-drag")
    with page.expect_response(lambda r: r.url.endswith(f"/api/categories/{ids[b]}/move")) as answer:
        page.mouse.up()  # the middle of the row: inside
    assert answer.value.status == 200
    assert placed(site, ids[b]) == (ids[a], 1)
    assert children_names(site, ids[a]) == [f"{a} Pans", b]
    page.get_by_text(f"Moved “{b}” into “{a}”.").wait_for()
    # The page redraws from the server: the row is now one level deeper than Kitchen.
    # (The toast shows before the redraw ends: retry until the row is the server's.)
    expect(row(page, b)).to_have_css("--depth", "1")


def test_dragging_onto_a_rows_top_edge_puts_it_before(page: Any, site: Any) -> None:
    top = unique("Office")
    ids = make_tree(site, {top: {f"{top} Desks": {}, f"{top} Chairs": {}, f"{top} Lamps": {}}})
    open_tree(page, f"{top} Lamps")
    target = row(page, f"{top} Desks")
    box = target.bounding_box()
    with page.expect_response(lambda r: r.url.endswith("/move")):
        row(page, f"{top} Lamps").drag_to(target, target_position={"x": box["width"] / 2, "y": 3})
    assert children_names(site, ids[top]) == [f"{top} Lamps", f"{top} Desks", f"{top} Chairs"]
    page.get_by_text(f"Moved “{top} Lamps” before “{top} Desks”.").wait_for()


def test_the_move_dialog_moves_from_the_keyboard(page: Any, site: Any) -> None:
    a, b = unique("Toys"), unique("Games")
    ids = make_tree(site, {a: {}, b: {f"{b} Cards": {}, f"{b} Dice": {}}})
    open_tree(page, a)
    move = page.get_by_role("button", name=f"Move {a}", exact=True)
    move.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name=f"Move {a}")
    parent = dialog.get_by_label("New parent")
    assert parent.evaluate("s => document.activeElement === s")
    # Itself cannot be picked as its own parent.
    assert parent.locator("option", has_text=a).first.is_disabled()
    parent.select_option(str(ids[b]))
    dialog.get_by_label("Position").select_option(label=f"After {b} Cards")
    screenshot(page, "categories-move")
    dialog.get_by_label("Position").focus()
    page.keyboard.press("Tab")  # Cancel
    page.keyboard.press("Tab")  # Move
    assert dialog.get_by_role("button", name="Move", exact=True).evaluate("b => document.activeElement === b")
    with page.expect_response(lambda r: r.url.endswith(f"/api/categories/{ids[a]}/move")):
        page.keyboard.press("Enter")
    assert children_names(site, ids[b]) == [f"{b} Cards", a, f"{b} Dice"]
    page.get_by_text(f"Moved “{a}” into “{b}”.").wait_for()
    expect(dialog).to_have_count(0)
    # The keyboard's place is kept on the moved row.
    page.wait_for_function("name => document.activeElement.textContent === name", arg=a)


def test_a_drop_into_its_own_subcategory_is_refused_before_sending(page: Any, site: Any) -> None:
    top = unique("Sports")
    ids = make_tree(site, {top: {f"{top} Balls": {f"{top} Footballs": {}}}})
    before = placed(site, ids[top])
    open_tree(page, f"{top} Footballs")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    row(page, top).drag_to(row(page, f"{top} Footballs"))
    page.get_by_text(f"“{top}” cannot move into “{top} Footballs”: that is one of its own subcategories.").wait_for()
    row(page, top).drag_to(row(page, top), target_position={"x": 200, "y": 20})
    page.get_by_text(f"“{top}” cannot move onto itself.").wait_for()
    assert sent == []
    assert placed(site, ids[top]) == before
    assert children_names(site, ids[f"{top} Balls"]) == [f"{top} Footballs"]


def test_a_move_the_server_refuses_is_told_and_the_tree_shows_the_servers(page: Any, site: Any) -> None:
    a, b = unique("Music"), unique("Films")
    ids = make_tree(site, {a: {}, b: {}})
    open_tree(page, b)
    # Someone else nests Music in Films meanwhile; this page still shows them side by side.
    site.call("POST", f"/api/categories/{ids[a]}/move", {"parent_id": ids[b]})
    with page.expect_response(lambda r: r.url.endswith(f"/api/categories/{ids[b]}/move")) as answer:
        row(page, b).drag_to(row(page, a))
    assert answer.value.status == 400
    page.get_by_text(f"“{b}” was not moved: a category cannot move under itself or one of its descendants").wait_for()
    assert placed(site, ids[b])[0] is None and placed(site, ids[a])[0] == ids[b]
    # Redrawn as the server has it: Music now one level under Films.
    page.wait_for_function(
        "name => [...document.querySelectorAll('.cat-row')].some(r => r.querySelector('.cat-name').textContent === name"
        " && r.style.getPropertyValue('--depth') === '1')", arg=a)


def test_create_edit_and_delete(page: Any, site: Any) -> None:
    parent_name = unique("Books")
    ids = make_tree(site, {parent_name: {f"{parent_name} Poetry": {}}})
    open_tree(page, parent_name)

    # A field the server refuses is shown next to that field.
    page.get_by_role("button", name="New category").click()
    dialog = page.get_by_role("dialog", name="New category")
    dialog.get_by_role("button", name="Create category").click()
    error = dialog.locator(".field-error:not([hidden])")
    error.wait_for()
    assert error.inner_text().startswith("name:")

    page.keyboard.press("Escape")
    page.get_by_role("button", name=f"Add a subcategory to {parent_name}", exact=True).click()
    dialog = page.get_by_role("dialog", name=f"New subcategory of {parent_name}")
    child = unique("Novels")
    dialog.get_by_label("Name").fill(child)
    dialog.get_by_label("Description").fill("Long stories")
    with page.expect_response(lambda r: r.url.endswith("/api/categories") and r.request.method == "POST"):
        dialog.get_by_role("button", name="Create category").click()
    row(page, child).wait_for()
    made = [c for c in site.call("GET", f"/api/categories/{ids[parent_name]}/children")["categories"]
            if c["name"] == child]
    assert len(made) == 1 and made[0]["description"] == "Long stories" and made[0]["position"] == 1

    page.get_by_role("button", name=f"Edit {child}", exact=True).click()
    dialog = page.get_by_role("dialog", name=f"Edit {child}")
    renamed = unique("Fiction")
    dialog.get_by_label("Name").fill(renamed)
    dialog.get_by_label("Slug").fill(f"fiction-{made[0]['id']}")
    with page.expect_response(lambda r: r.request.method == "PUT"):
        dialog.get_by_role("button", name="Save changes").click()
    row(page, renamed).wait_for()
    saved = site.call("GET", f"/api/categories/{made[0]['id']}")
    assert saved["name"] == renamed and saved["slug"] == f"fiction-{made[0]['id']}"

    # Delete the parent: the words say what happens to children and products.
    page.get_by_role("button", name=f"Delete {parent_name}", exact=True).click()
    confirm = page.get_by_role("dialog")
    words = confirm.inner_text()
    assert "2 subcategories move up to the top level" in words and "products" in words
    with page.expect_response(lambda r: r.request.method == "DELETE"):
        confirm.get_by_role("button", name="Delete category").click()
    page.get_by_text(f"Deleted “{parent_name}”.").wait_for()
    expect(row(page, parent_name)).to_have_count(0)
    assert placed(site, made[0]["id"])[0] is None
    assert placed(site, ids[f"{parent_name} Poetry"])[0] is None


def test_on_a_phone_the_tree_fits_and_moves_by_dialog(phone: Any, site: Any) -> None:
    top = unique("Outdoor")
    ids = make_tree(site, {top: {f"{top} Tents with a rather long name": {f"{top} Pegs": {}}}, f"{top} Bikes": {}})
    page = phone
    open_tree(page, f"{top} Pegs")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    # One button per row opens a sheet of the row's actions.
    page.get_by_role("button", name=f"Actions for {top} Bikes", exact=True).tap()
    sheet = page.get_by_role("dialog", name=f"Actions for {top} Bikes")
    screenshot(page, "categories-phone-actions")
    sheet.get_by_role("button", name="Move", exact=True).tap()
    dialog = page.get_by_role("dialog", name=f"Move {top} Bikes")
    dialog.get_by_label("New parent").select_option(str(ids[top]))
    dialog.get_by_label("Position").select_option(label="First")
    with page.expect_response(lambda r: r.url.endswith("/move")):
        dialog.get_by_role("button", name="Move", exact=True).tap()
    assert children_names(site, ids[top])[0] == f"{top} Bikes"
    screenshot(page, "categories-phone")


# ---- issue 13: whole-subtree counts, words and actions on touch screens ----------------

WIDE = {"width": 1440, "height": 900}
ACTIONS = ("Add a subcategory to {}", "Edit {}", "Move {}", "Delete {}")


def without_totals(route: Any) -> None:
    """The tree as an older server sends it: no `total_product_count`."""
    answer = route.fetch()
    body = answer.json()

    def strip(node: dict[str, Any]) -> None:
        node.pop("total_product_count", None)
        for child in node["children"]:
            strip(child)

    for node in body["data"]["categories"]:
        strip(node)
    route.fulfill(response=answer, json=body)


def test_a_row_counts_its_whole_subtree_each_product_once(page: Any, site: Any) -> None:
    page.set_viewport_size(WIDE)
    top = unique("Pantry")
    ids = make_tree(site, {top: {f"{top} Jars": {f"{top} Lids": {}}}})
    jars, lids = ids[f"{top} Jars"], ids[f"{top} Lids"]
    # One product in Jars, one in Lids, one in both: counted once in Jars and the top.
    for n, linked in enumerate(([jars], [lids], [jars, lids])):
        site.call("POST", "/api/products", {"name": f"{top} jar {n}", "sku": unique("JAR").replace(" ", "-"),
                                            "price": "3.00", "category_ids": linked})
    open_tree(page, f"{top} Lids")
    count = row(page, top).locator(".cat-count")
    expect(count.locator("[aria-hidden]")).to_have_text("3")
    expect(count.locator(".visually-hidden")).to_have_text("3 products in this category and its subcategories")
    expect(count).to_have_attribute("title", "3 products in this category and its subcategories")
    expect(row(page, f"{top} Jars").locator(".cat-count [aria-hidden]")).to_have_text("3")
    expect(row(page, f"{top} Lids").locator(".cat-count [aria-hidden]")).to_have_text("2")
    screenshot(page, "categories-totals")

    # From an older server without the field: the category's own products.
    page.route("**/api/categories/tree", without_totals)
    page.reload()
    row(page, top).wait_for()
    expect(count.locator("[aria-hidden]")).to_have_text("0")
    expect(count).to_have_attribute("title", "0 products in this category itself")
    expect(row(page, f"{top} Jars").locator(".cat-count [aria-hidden]")).to_have_text("2")


def test_row_actions_have_names_and_show_on_focus_and_on_touch_screens(
        page: Any, browser: Any, site: Any) -> None:
    page.set_viewport_size(WIDE)
    top = unique("Cellar")
    make_tree(site, {top: {}, f"{top} Racks": {}})
    open_tree(page, top)
    page.mouse.move(5, 5)  # away from every row
    actions = row(page, top).locator(".cat-actions")
    for label in ACTIONS:
        expect(row(page, top).get_by_role("button", name=label.format(top), exact=True)).to_have_attribute(
            "aria-label", label.format(top))
    expect(actions).to_have_css("opacity", "0")  # a mouse: they show on hover
    row(page, top).get_by_role("link", name=top, exact=True).focus()
    page.keyboard.press("Tab")  # to the first action, as a keyboard user gets there
    expect(row(page, top).get_by_role("button", name=f"Add a subcategory to {top}", exact=True)).to_be_focused()
    expect(actions).to_have_css("opacity", "1")

    # A touch screen as wide as a desktop's (a tablet): always there, and no words about dragging.
    tablet = browser.new_context(base_url=site.url, viewport={"width": 1024, "height": 768}, has_touch=True)
    tablet.add_init_script(f"sessionStorage.setItem('micropim.key', {site.key!r})")
    try:
        tab = tablet.new_page()
        open_tree(tab, top)
        expect(row(tab, top).locator(".cat-actions")).to_have_css("opacity", "1")
        expect(tab.locator(".cat-lede-drag")).to_be_hidden()
        tab.screenshot(path=str(ARTIFACTS / "categories-tablet.png"))  # what the screen shows
    finally:
        tablet.close()


def test_on_a_phone_the_intro_stands_without_its_dragging_sentence(phone: Any, site: Any) -> None:
    top = unique("Attic")
    make_tree(site, {top: {}})
    open_tree(phone, top)
    lede = phone.locator(".cat-lede")
    expect(phone.locator(".cat-lede-drag")).to_be_hidden()
    text = lede.inner_text()
    assert text.startswith("A category’s Move action nests it in another or puts it before or after one"), text
    assert "the same" not in text and "Drag" not in text
    expect(phone.get_by_role("button", name=f"Actions for {top}", exact=True)).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "categories-intro-phone.png"))  # full-page shots lose the touch emulation
