"""Products: list, detail, create, partial update, soft delete, barcode and stock."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, RootModel

from handlers.base import BaseHandler, parse_json, to_json, validate
from handlers.fields import (
    MAX_ID, Body, Currency, Ean, Id, LongText, Money, Name, Quantity, ShortText, Sku, Slug,
)
from handlers.translations import parse_locale
from handlers.util import pagination, parse_timestamp, path_id
from store import products
from store.errors import BadRequest
from store.values import CHANNELS, STATUSES

Status = Literal["draft", "active", "archived", "out_of_stock"]
ChannelName = Literal["web", "mobile", "api", "marketplace", "social", "email"]


# Attribute values are checked against the organization's definitions in the store
# (store/attributes.py); here only the shape: an object of at most 200 codes.
Attributes = Annotated[
    dict[Annotated[str, Field(min_length=1, max_length=100)], Any],
    Field(max_length=200),
]


class ProductPatch(Body):
    """Any subset of a product's fields. `null` clears the optional ones."""

    name: Name = None  # type: ignore[assignment]
    sku: Sku = None  # type: ignore[assignment]
    slug: Slug = None
    description: LongText = None  # type: ignore[assignment]
    short_description: ShortText = None  # type: ignore[assignment]
    product_type: Literal["simple", "variable"] = None  # type: ignore[assignment]
    price: Money = None
    sale_price: Money = None
    cost_price: Money = None
    currency: Currency = None  # type: ignore[assignment]
    status: Status = None  # type: ignore[assignment]
    stock: Quantity = None  # type: ignore[assignment]
    ean: Ean = None
    brand_id: Id | None = None
    supplier_id: Id | None = None
    vat_rate_id: Id | None = None
    category_ids: Annotated[list[Id], Field(max_length=100)] = None  # type: ignore[assignment]
    publishing_channels: Annotated[list[ChannelName], Field(max_length=6)] = None  # type: ignore[assignment]
    product_condition: Literal["new", "used", "refurbished"] = None  # type: ignore[assignment]
    attributes: Attributes = None  # type: ignore[assignment]


class ProductCreate(ProductPatch):
    name: Name
    sku: Sku


class StockLevelIn(Body):
    warehouse_id: Id
    quantity: Quantity


class StockLevelsIn(RootModel[Annotated[list[StockLevelIn], Field(max_length=1000)]]):
    model_config = {"strict": True}


def _fields(body: ProductPatch) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True)


def _locale(handler: BaseHandler) -> str | None:
    """`?locale=de-AT` on product reads: translated texts, falling back field by field."""
    raw = handler.get_query_argument("locale", None)
    return parse_locale(raw) if raw else None


class ProductListHandler(BaseHandler):
    """GET /api/products (filters, search, sort, pages) and POST /api/products."""

    SORTS = tuple(f"{sign}{key}" for key in products.SORTS for sign in ("", "-"))

    def _query(self) -> products.ProductQuery:
        page, limit = self.page_args()
        search = self.get_query_argument("search", None)
        if search is not None and len(search) > 200:
            raise BadRequest("search: must be at most 200 characters")
        since = self.get_query_argument("updated_since", None)
        return products.ProductQuery(
            search=search or None,
            status=self.query_choice("status", STATUSES),
            brand=self.query_int("brand", None, 1, MAX_ID),
            channel=self.query_choice("channel", tuple(CHANNELS)),
            category=self.query_int("category", None, 1, MAX_ID),
            include_subcategories=self.query_bool("include_subcategories"),
            updated_since=parse_timestamp("updated_since", since) if since else None,
            sort=self.query_choice("sort", self.SORTS),
            page=page,
            limit=limit,
            locale=_locale(self),
        )

    async def get(self) -> None:
        query = self._query()
        if query.is_cheap:
            items, total = products.list_products_json(self.org_id, query)
        else:
            items, total = await self.off_loop(products.list_products_json, self.org_id, query)
        # The products are JSON already (store.cache); only the frame is encoded here.
        pages = to_json(pagination(query.page, query.limit, total))
        self.reply_raw(f'{{"products":[{",".join(items)}],"pagination":{pages}}}')

    def post(self) -> None:
        body = self.json_body(ProductCreate)
        self.reply(products.create_product(self.org_id, _fields(body)), status=201)


class ProductHandler(BaseHandler):
    """GET, PATCH and DELETE (soft: archived) /api/products/{id}."""

    def get(self, raw_id: str) -> None:
        product_id = path_id(raw_id, "product")
        self.reply_raw(products.get_product_json(self.org_id, product_id, _locale(self)))

    def patch(self, raw_id: str) -> None:
        product_id = path_id(raw_id, "product")
        body = self.json_body(ProductPatch)
        self.reply(products.update_product(self.org_id, product_id, _fields(body)))

    def delete(self, raw_id: str) -> None:
        self.reply(products.archive_product(self.org_id, path_id(raw_id, "product")))


class ProductBarcodeHandler(BaseHandler):
    """GET /api/products/barcode/{barcode}: the product with its stock per warehouse."""

    def get(self, barcode: str) -> None:
        if not barcode.isascii() or not barcode.isdigit() or len(barcode) not in (8, 12, 13):
            raise BadRequest("barcode: must be 8, 12 or 13 digits (EAN-8, UPC-A or EAN-13)")
        self.reply(products.find_by_barcode(self.org_id, barcode, _locale(self)))


class ProductStockHandler(BaseHandler):
    """GET and PUT /api/products/{id}/stock: levels per warehouse."""

    def get(self, raw_id: str) -> None:
        self.reply(products.product_with_stock(self.org_id, path_id(raw_id, "product")))

    def put(self, raw_id: str) -> None:
        product_id = path_id(raw_id, "product")
        data = parse_json(self.body)
        if not isinstance(data, list):
            raise BadRequest('body: must be a JSON list such as [{"warehouse_id": 1, "quantity": 5}]')
        levels = [level.model_dump() for level in validate(StockLevelsIn, data).root]
        self.reply(products.set_stock_levels(self.org_id, product_id, levels))
