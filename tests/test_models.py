"""One declaration per column: the models match the tables, and what the API reads and
answers agrees with them.

A new product column is declared in its migration and in `store.models.Product`; the
product JSON and the columns a write may set follow from the model. The request
models and the answer schemas are written by hand (they say more than a column type:
lengths, patterns, messages), so these tests fail until they name the new field too.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers import schemas
from handlers.products import ProductCreate, ProductPatch
from store import models
from store.db import Database
from store.products.read import PRODUCT_KEYS
from store.products.relations import EXTRA_KEYS
from store.products.write import REQUEST_FIELDS

MODELS = [model for model in vars(models).values()
          if isinstance(model, type) and issubclass(model, models.BaseModel)
          and model not in (models.BaseModel, models.OrgModel)]


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_every_model_matches_the_table_the_migrations_made(store: Database, model: Any) -> None:
    table = model._meta.table_name
    columns = {row[1] for row in store.execute_sql(f"PRAGMA table_info({table})")}
    assert columns, f"no table {table}"
    assert set(models.column_names(model)) == columns


def test_the_product_request_models_take_every_writable_column() -> None:
    assert set(ProductPatch.model_fields) == REQUEST_FIELDS
    assert set(ProductCreate.model_fields) == REQUEST_FIELDS


def test_the_answer_schema_lists_the_product_object_in_its_order() -> None:
    assert list(schemas.Product.model_fields) == PRODUCT_KEYS


def test_the_openapi_product_schema_is_the_product_object(app: Any) -> None:
    document = json.loads(app.openapi_document)
    product = document["components"]["schemas"]["Product"]
    assert list(product["properties"]) == PRODUCT_KEYS
    assert set(product["required"]) == set(PRODUCT_KEYS)


async def test_a_product_answers_exactly_the_declared_keys_in_order(api: Any) -> None:
    created = await api.post("/api/products", {"name": "Declared", "sku": "DECL-1"})
    assert created.code == 201
    shown = json.loads(created.raw)["data"]
    assert list(shown) == PRODUCT_KEYS
    fetched = json.loads((await api.get(f"/api/products/{shown['id']}?locale=de")).raw)["data"]
    assert list(fetched) == PRODUCT_KEYS


def test_the_list_item_is_the_product_then_its_optional_relations() -> None:
    assert list(schemas.ListedProduct.model_fields) == [*PRODUCT_KEYS, *EXTRA_KEYS]
    assert list(schemas.ProductRead.model_fields) == [*PRODUCT_KEYS, "stock_levels", "variants"]
    for model in (schemas.ListedProduct, schemas.ProductRead):
        optional = [name for name, field in model.model_fields.items() if not field.is_required()]
        assert optional == [key for key in EXTRA_KEYS if key in model.model_fields]
    # Exactly the shapes of the stock and variant routes.
    assert schemas.ProductRead.model_fields["stock_levels"].annotation == \
        schemas.ProductWithStock.model_fields["stock_levels"].annotation
    assert schemas.ProductRead.model_fields["variants"].annotation == \
        schemas.VariantList.model_fields["variants"].annotation
    assert schemas.ListedProduct.model_fields["matched_variants"].annotation == \
        schemas.VariantList.model_fields["variants"].annotation


def test_the_document_requires_only_the_product_object(app: Any) -> None:
    document = json.loads(app.openapi_document)
    components = document["components"]["schemas"]
    for name, extras in (("ListedProduct", list(EXTRA_KEYS)), ("ProductRead", ["stock_levels", "variants"])):
        assert list(components[name]["properties"]) == [*PRODUCT_KEYS, *extras]
        assert set(components[name]["required"]) == set(PRODUCT_KEYS)
    assert components["ProductPage"]["properties"]["products"]["items"] == {"$ref": "#/components/schemas/ListedProduct"}
    assert components["CategoryProductPage"]["properties"]["products"]["items"] == {"$ref": "#/components/schemas/ProductRead"}
