"""Organizations are sealed: another organization's id answers exactly as a missing one.

Path ids are 404s with the same message a missing id gets; ids in a body are 400s naming
the field; list filters match nothing; and the other organization is left unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from decimal import Decimal

import pytest

from store import attributes, imports, orgs, translations, webhooks
from store.db import Database
from store.models import Category
from store.products import stock
from store.products import write as products
from store.reference import BRANDS, SUPPLIERS, VAT_RATES, WAREHOUSES, default_warehouse_id

THEIR_EAN = "5940000000028"
UNUSED_EAN = "5940000000035"


@dataclass
class Theirs:
    """Rows of the other organization ("Globex")."""

    product: int
    archived: int
    brand: int
    supplier: int
    vat_rate: int
    warehouse: int
    default_warehouse: int
    category: int
    attribute: int
    job: int
    webhook: int

    def id_of(self, family: str) -> int:
        return {"products": self.product, "brands": self.brand, "suppliers": self.supplier,
                "vat-rates": self.vat_rate, "warehouses": self.warehouse,
                "categories": self.category, "product-attributes": self.attribute,
                "imports": self.job, "webhooks": self.webhook}[family]


@pytest.fixture
def theirs(db: Database, other_org_id: int) -> Theirs:
    with db.writing():
        brand = BRANDS.create(db, other_org_id, {"name": "Shared Name"})["id"]
        supplier = SUPPLIERS.create(db, other_org_id, {"name": "Shared Supplier"})["id"]
        vat = VAT_RATES.create(db, other_org_id, {"name": "Std", "rate": Decimal(19), "country_code": "RO"})["id"]
        warehouse = WAREHOUSES.create(db, other_org_id, {"name": "Far", "code": "FAR"})["id"]
        category = Category.insert(org_id=other_org_id, name="Secret Category", slug="secret-category").execute(db)
        orgs.set_channels(db, other_org_id, [{"value": "social"}])
        attribute = attributes.create_attribute(db, other_org_id, {"name": "Secret", "type": "text"})["id"]
        product = products.create_product(db, other_org_id, {
            "name": "Zanzibar Globex Widget", "sku": "SHARED-SKU", "ean": THEIR_EAN, "stock": 7,
            "brand_id": brand, "supplier_id": supplier, "vat_rate_id": vat,
            "category_ids": [category], "status": "active", "publishing_channels": ["web"],
        })
        stock.set_stock_levels(db, other_org_id, product["id"], [{"warehouse_id": warehouse, "quantity": 2}])
        translations.put_translation(db, other_org_id, product["id"], "ro", {"name": "Quokka Zanzibar"})
        archived = products.create_product(db, other_org_id, {"name": "Zanzibar Old", "sku": "OLD-1",
                                                              "brand_id": brand})
        products.archive_product(db, other_org_id, archived["id"])
        job = imports.create_job(db, other_org_id, "products", "csv", False, False, 0)["id"]
        webhook = webhooks.create_webhook(db, other_org_id, {"url": "https://1.1.1.1/theirs", "events": ["*"]})["id"]
    return Theirs(product["id"], archived["id"], brand, supplier, vat, warehouse,
                  default_warehouse_id(db, other_org_id), category, attribute, job, webhook)


@dataclass
class Mine:
    product: int
    brand: int
    supplier: int
    vat_rate: int
    warehouse: int
    category: int


@pytest.fixture
def mine(db: Database, org_id: int, theirs: Theirs) -> Mine:
    with db.writing():
        brand = BRANDS.create(db, org_id, {"name": "Shared Name"})["id"]
        supplier = SUPPLIERS.create(db, org_id, {"name": "Shared Supplier"})["id"]
        vat = VAT_RATES.create(db, org_id, {"name": "Std", "rate": Decimal(19), "country_code": "RO"})["id"]
        category = Category.insert(org_id=org_id, name="Mine", slug="mine").execute(db)
        product = products.create_product(db, org_id, {
            "name": "Acme Mug", "sku": "SHARED-SKU", "ean": THEIR_EAN, "brand_id": brand,
            "supplier_id": supplier, "vat_rate_id": vat, "category_ids": [category], "stock": 1,
            "status": "active",
        })
    return Mine(product["id"], brand, supplier, vat, default_warehouse_id(db, org_id), category)


@pytest.fixture
def missing_id(db: Database, mine: Mine) -> int:
    """An id no row of any table has."""
    highest = 0
    for table in ("product", "brand", "supplier", "vat_rate", "warehouse", "category", "webhook"):
        highest = max(highest, db.execute_sql(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0])
    return highest + 1000


async def snapshot(db: Database, client: Any) -> dict[str, Any]:
    """Everything an organization can see through the API."""
    state: dict[str, Any] = {}
    for status in ("", "archived"):
        listed = (await client.get(f"/api/products?limit=100&status={status}")).data["products"]
        state[f"products:{status}"] = listed
        for product in listed:
            state[f"stock:{product['id']}"] = (await client.get(f"/api/products/{product['id']}/stock")).data
            state[f"translations:{product['id']}"] = (
                await client.get(f"/api/products/{product['id']}/translations")).data
    for family in ("brands", "suppliers", "vat-rates", "warehouses", "product-attributes"):
        state[family] = (await client.get(f"/api/{family}?limit=100")).data
    state["channels"] = (await client.get("/api/channels")).data
    state["webhooks"] = (await client.get("/api/webhooks")).data
    state["events"] = (await client.get("/api/events?limit=1000")).data
    state["categories"] = list(
        db.execute_sql("SELECT id, org_id, parent_id, name, slug, description, position,"
                       " product_count, updated_at FROM category ORDER BY id"))
    state["product_category"] = list(
        db.execute_sql("SELECT product_id, category_id FROM product_category ORDER BY 1, 2"))
    state["media"] = list(
        db.execute_sql("SELECT id, org_id, product_id, position, alt_text FROM media ORDER BY id"))
    return state


def same_answer(theirs: Any, missing: Any, their_id: int, missing_id: int) -> None:
    """The answer for another organization's id is the one for a missing id."""
    assert theirs.code == missing.code, (theirs.body, missing.body)
    assert theirs.body["status"] == 0 and theirs.body["data"] is None
    assert theirs.error == missing.error.replace(str(missing_id), str(their_id)), \
        (theirs.error, missing.error)
    assert str(their_id) in theirs.error or theirs.code == 404


# ---- ids in the path -------------------------------------------------------------------------

PATH_CALLS = [
    ("GET", "/api/products/{id}", None),
    ("PATCH", "/api/products/{id}", {"name": "Hijacked", "price": "1.00"}),
    ("DELETE", "/api/products/{id}", None),
    ("GET", "/api/products/{id}/stock", None),
    ("PUT", "/api/products/{id}/stock", "levels"),
    ("GET", "/api/products/{id}/translations", None),
    ("GET", "/api/products/{id}/translations/{locale}", None),
    ("PUT", "/api/products/{id}/translations/{locale}", {"name": "Hijacked"}),
    ("DELETE", "/api/products/{id}/translations/{locale}", None),
    *[(method, f"/api/{family}/{{id}}", body)
      for family in ("brands", "suppliers", "vat-rates", "warehouses")
      for method, body in (("GET", None), ("PATCH", {"name": "Hijacked"}),
                           ("PUT", {"name": "Hijacked"}), ("DELETE", None))],
    ("PATCH", "/api/warehouses/{id}", {"is_default": True}),
    *[(method, "/api/product-attributes/{id}", body)
      for method, body in (("GET", None), ("PATCH", {"name": "Hijacked"}),
                           ("PUT", {"type": "number"}), ("DELETE", None))],
    ("GET", "/api/products/{id}/variants", None),
    ("POST", "/api/products/{id}/variants", {"sku": "HIJACK-1"}),
    *[(method, "/api/products/{id}/variants/{id}", body)
      for method, body in (("GET", None), ("PATCH", {"stock_quantity": 5}), ("DELETE", None))],
    ("GET", "/api/products/{id}/media", None),
    # A documentation address (TEST-NET-1): the product is checked before any fetch.
    ("POST", "/api/products/{id}/media", {"file_url": "http://192.0.2.1/a.png"}),
    ("GET", "/api/products/{id}/media/{id}", None),
    ("GET", "/api/products/{id}/media/{id}/original", None),
    ("PATCH", "/api/products/{id}/media/{id}", {"alt_text": "Hijacked", "position": 0}),
    ("DELETE", "/api/products/{id}/media/{id}", None),
    ("PATCH", "/api/vat-rates/{id}", {"rate": "0", "country_code": "DE"}),
    ("GET", "/api/categories/{id}", None),
    ("PUT", "/api/categories/{id}", {"name": "Hijacked", "parent_id": None}),
    ("DELETE", "/api/categories/{id}", None),
    ("GET", "/api/categories/{id}/children", None),
    ("GET", "/api/categories/{id}/products", None),
    ("POST", "/api/categories/{id}/products", "my-products"),
    ("DELETE", "/api/categories/{id}/products/{id}", None),
    ("POST", "/api/categories/{id}/move", {"parent_id": None, "position": 0}),
    ("GET", "/api/products/{id}/similar", None),
    ("GET", "/api/imports/{id}", None),
    ("DELETE", "/api/imports/{id}", None),
    ("GET", "/api/webhooks/{id}", None),
    ("PATCH", "/api/webhooks/{id}", {"url": "https://1.1.1.1/mine", "enabled": False}),
    ("DELETE", "/api/webhooks/{id}", None),
    ("POST", "/api/webhooks/{id}/rotate-secret", None),
    ("POST", "/api/webhooks/{id}/test", None),
    ("GET", "/api/webhooks/{id}/deliveries", None),
    ("POST", "/api/webhooks/{id}/redeliver", {"after": 0}),
]


def test_every_route_with_an_id_has_a_cross_organization_case() -> None:
    import tornado.web

    import micropim

    covered = {(method, template) for method, template, _ in PATH_CALLS}
    for route in micropim.routes():
        pattern, handler = route[0], route[1]
        if micropim.ID not in pattern:
            continue
        template = pattern.replace(micropim.ID, "{id}").replace("([^/]+)", "{locale}")
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if getattr(handler, method.lower()) is not getattr(tornado.web.RequestHandler, method.lower()):
                assert (method, template) in covered, f"add {method} {template} to PATH_CALLS"


@pytest.mark.parametrize("method, template, body", PATH_CALLS)
async def test_another_organizations_id_in_the_path_is_a_404_like_a_missing_id(
    db: Database, api: Any, other_api: Any, theirs: Theirs, mine: Mine, missing_id: int,
    method: str, template: str, body: Any,
) -> None:
    family = template.split("/")[2]
    their_id = theirs.archived if (family == "products" and method == "GET"
                                   and template.endswith("{id}")) else theirs.id_of(family)
    if body == "levels":
        body = [{"warehouse_id": mine.warehouse, "quantity": 99}]
    elif body == "my-products":
        body = {"product_ids": [mine.product]}
    before = await snapshot(db, other_api)
    mine_before = await snapshot(db, api)

    for target in (their_id, theirs.id_of(family)):
        # "ro": a locale their product has.
        answer = await api.call(method, template.format(id=target, locale="ro"), body)
        missing = await api.call(method, template.format(id=missing_id, locale="ro"), body)
        assert answer.code == 404
        same_answer(answer, missing, target, missing_id)

    assert await snapshot(db, other_api) == before
    assert await snapshot(db, api) == mine_before


async def test_their_products_stock_cannot_be_set_with_their_own_warehouse(
    db: Database, api: Any, other_api: Any, theirs: Theirs, mine: Mine
) -> None:
    before = await snapshot(db, other_api)
    response = await api.put(f"/api/products/{theirs.product}/stock",
                             [{"warehouse_id": theirs.warehouse, "quantity": 0}])
    assert response.code == 404
    assert response.error == f"product {theirs.product} not found"
    assert await snapshot(db, other_api) == before


async def test_another_organizations_barcode_is_not_found(
    db: Database, api: Any, other_api: Any, theirs: Theirs, other_org_id: int
) -> None:
    their_only = "5940000000042"  # a barcode only the other organization uses
    with db.writing():
        products.update_product(db, other_org_id, theirs.product, {"ean": their_only})
    response = await api.get(f"/api/products/barcode/{their_only}")
    missing = await api.get(f"/api/products/barcode/{UNUSED_EAN}")
    assert response.code == missing.code == 404
    assert response.error == f"no product with barcode {their_only}"
    assert missing.error == f"no product with barcode {UNUSED_EAN}"
    # Their own key finds it.
    assert (await other_api.get(f"/api/products/barcode/{their_only}")).data["id"] == theirs.product


async def test_a_shared_barcode_finds_each_organizations_own_product(
    api: Any, other_api: Any, theirs: Theirs, mine: Mine
) -> None:
    found = (await api.get(f"/api/products/barcode/{THEIR_EAN}")).data
    assert found["id"] == mine.product
    assert {s["warehouse_id"] for s in found["stock_levels"]} == {mine.warehouse}
    found = (await other_api.get(f"/api/products/barcode/{THEIR_EAN}")).data
    assert found["id"] == theirs.product
    assert {s["warehouse_id"] for s in found["stock_levels"]} == {theirs.default_warehouse, theirs.warehouse}


# ---- ids in a body -------------------------------------------------------------------------------

REFERENCES = [
    ("brand_id", "brand", "brand_id: no brand with id {id}"),
    ("supplier_id", "supplier", "supplier_id: no supplier with id {id}"),
    ("vat_rate_id", "vat_rate", "vat_rate_id: no vat rate with id {id}"),
]


@pytest.mark.parametrize("field, attr, message", REFERENCES)
async def test_another_organizations_reference_in_a_body_is_a_400_naming_the_field(
    db: Database, api: Any, other_api: Any, org_id: int, theirs: Theirs, mine: Mine, missing_id: int,
    field: str, attr: str, message: str,
) -> None:
    their_id = getattr(theirs, attr)
    before, mine_before = await snapshot(db, other_api), await snapshot(db, api)

    for target in (their_id, missing_id):
        created = await api.post("/api/products", {"name": "New", "sku": "NEW-1", field: target})
        assert created.code == 400
        assert created.error == message.format(id=target)
        patched = await api.patch(f"/api/products/{mine.product}", {"name": "Changed", field: target})
        assert patched.code == 400
        assert patched.error == message.format(id=target)

    assert await snapshot(db, other_api) == before
    assert await snapshot(db, api) == mine_before
    # Their rows still cannot be deleted through a product of ours referencing them.
    assert (await other_api.get(f"/api/products/{theirs.product}")).data[attr]["id"] == their_id


async def test_another_organizations_category_in_category_ids_is_a_400(
    db: Database, api: Any, other_api: Any, theirs: Theirs, mine: Mine, missing_id: int
) -> None:
    before, mine_before = await snapshot(db, other_api), await snapshot(db, api)
    for ids, bad in (([theirs.category], theirs.category),
                     ([mine.category, theirs.category], theirs.category),
                     ([mine.category, missing_id], missing_id)):
        created = await api.post("/api/products", {"name": "New", "sku": "NEW-1", "category_ids": ids})
        assert created.code == 400
        assert created.error == f"category_ids: no category with id {bad}"
        patched = await api.patch(f"/api/products/{mine.product}", {"category_ids": ids})
        assert patched.code == 400
        assert patched.error == f"category_ids: no category with id {bad}"
    assert await snapshot(db, other_api) == before
    assert await snapshot(db, api) == mine_before


async def test_another_organizations_warehouse_in_a_stock_put_is_a_400(
    db: Database, api: Any, other_api: Any, theirs: Theirs, mine: Mine, missing_id: int
) -> None:
    before, mine_before = await snapshot(db, other_api), await snapshot(db, api)
    for warehouse in (theirs.warehouse, theirs.default_warehouse, missing_id):
        response = await api.put(f"/api/products/{mine.product}/stock",
                                 [{"warehouse_id": mine.warehouse, "quantity": 50},
                                  {"warehouse_id": warehouse, "quantity": 5}])
        assert response.code == 400
        assert response.error == f"[1].warehouse_id: no warehouse with id {warehouse}"
    assert await snapshot(db, other_api) == before
    assert await snapshot(db, api) == mine_before  # the valid first level was not written either


# ---- lists and filters ------------------------------------------------------------------------------

async def test_lists_never_show_another_organizations_rows(
    api: Any, other_api: Any, theirs: Theirs, mine: Mine
) -> None:
    for family, key in (("brands", "brands"), ("suppliers", "suppliers"),
                        ("vat-rates", "vat_rates"), ("warehouses", "warehouses")):
        ours = (await api.get(f"/api/{family}?limit=100")).data
        theirs_listed = (await other_api.get(f"/api/{family}?limit=100")).data
        our_ids = {row["id"] for row in ours[key]}
        their_ids = {row["id"] for row in theirs_listed[key]}
        assert our_ids and their_ids and not our_ids & their_ids, family
        assert ours["pagination"]["total_items"] == len(our_ids)

    for status in ("", "active", "archived", "draft"):
        listed = (await api.get(f"/api/products?limit=100&status={status}")).data
        ids = {p["id"] for p in listed["products"]}
        assert not ids & {theirs.product, theirs.archived}, status
        assert listed["pagination"]["total_items"] == len(ids)
    assert {p["id"] for p in (await api.get("/api/products")).data["products"]} == {mine.product}


@pytest.mark.parametrize("query", [
    "search=Zanzibar", "search=zanz", "search=SHARED-SKU", f"search={THEIR_EAN}",
    "search=Zanzibar&status=archived", "search=Zanzibar&sort=name", "channel=web",
    "search=Globex&channel=web", "search=Zanzibar&locale=ro", "search=quokka",
])
async def test_search_and_filters_never_reach_another_organization(
    api: Any, other_api: Any, theirs: Theirs, mine: Mine, query: str
) -> None:
    listed = (await api.get(f"/api/products?{query}")).data
    ids = {p["id"] for p in listed["products"]}
    assert not ids & {theirs.product, theirs.archived}
    assert listed["pagination"]["total_items"] == len(ids)
    if "SHARED-SKU" in query or THEIR_EAN in query:
        assert ids == {mine.product}  # the exact match is ours, not theirs


async def test_their_search_finds_their_product(other_api: Any, theirs: Theirs, mine: Mine) -> None:
    listed = (await other_api.get("/api/products?search=Zanzibar")).data
    assert [p["id"] for p in listed["products"]] == [theirs.product]
    listed = (await other_api.get("/api/products?search=quokka&locale=ro")).data  # translated only
    assert [(p["id"], p["name"]) for p in listed["products"]] == [(theirs.product, "Quokka Zanzibar")]


@pytest.mark.parametrize("param, attr", [("brand", "brand"), ("category", "category")])
async def test_a_filter_on_another_organizations_id_matches_nothing_like_a_missing_id(
    api: Any, theirs: Theirs, mine: Mine, missing_id: int, param: str, attr: str
) -> None:
    empty = {"products": [], "pagination": {
        "current_page": 1, "total_pages": 0, "total_items": 0, "items_per_page": 20}}
    for status in ("", "archived"):
        their = await api.get(f"/api/products?{param}={getattr(theirs, attr)}&status={status}")
        missing = await api.get(f"/api/products?{param}={missing_id}&status={status}")
        assert their.code == missing.code == 200
        assert their.data == missing.data == empty
    own = await api.get(f"/api/products?{param}={getattr(mine, attr)}")
    assert [p["id"] for p in own.data["products"]] == [mine.product]


async def test_channels_are_per_organization(api: Any, other_api: Any, theirs: Theirs) -> None:
    assert [c["value"] for c in (await api.get("/api/channels")).data["channels"]] == ["web", "mobile"]
    await api.put("/api/channels", {"channels": [{"value": "email"}]})
    assert [c["value"] for c in (await other_api.get("/api/channels")).data["channels"]] == ["social"]
    await other_api.put("/api/channels", {"channels": []})
    assert [c["value"] for c in (await api.get("/api/channels")).data["channels"]] == ["email"]


async def test_moving_our_default_warehouse_leaves_theirs(
    db: Database, api: Any, other_api: Any, org_id: int, other_org_id: int, theirs: Theirs
) -> None:
    created = await api.post("/api/warehouses", {"name": "New default", "code": "FAR", "is_default": True})
    assert created.code == 201  # codes repeat freely across organizations
    assert default_warehouse_id(db, org_id) == created.data["id"]
    assert default_warehouse_id(db, other_org_id) == theirs.default_warehouse
    rows = (await other_api.get("/api/warehouses")).data["warehouses"]
    assert [r["id"] for r in rows if r["is_default"]] == [theirs.default_warehouse]


async def test_names_skus_and_eans_repeat_freely_across_organizations(
    api: Any, other_api: Any, theirs: Theirs, mine: Mine
) -> None:
    ours = (await api.get(f"/api/products/{mine.product}")).data
    their = (await other_api.get(f"/api/products/{theirs.product}")).data
    assert ours["sku"] == their["sku"] == "SHARED-SKU"
    assert ours["ean"] == their["ean"] == THEIR_EAN
    assert ours["brand"]["name"] == their["brand"]["name"] == "Shared Name"
    assert ours["brand"]["id"] != their["brand"]["id"]


async def test_their_media_under_my_product_is_a_404_like_a_missing_one(
    db: Database, api: Any, other_api: Any, theirs: Theirs, mine: Mine, other_org_id: int, missing_id: int
) -> None:
    from search import imaging
    from store import media
    from tests.factories import draw

    picture = imaging.prepare_upright(draw(3), "file")[0]
    with db.writing():
        their_media = media.add_media(db, other_org_id, theirs.product, picture, "theirs", None, None)
    before = await snapshot(db, other_api)
    for method, body in (("GET", None), ("PATCH", {"alt_text": "Hijacked"}), ("DELETE", None)):
        answer = await api.call(method, f"/api/products/{mine.product}/media/{their_media}", body)
        missing = await api.call(method, f"/api/products/{mine.product}/media/{missing_id}", body)
        assert answer.code == 404
        same_answer(answer, missing, their_media, missing_id)
        assert answer.error == f"media {their_media} not found"
    assert await snapshot(db, other_api) == before
