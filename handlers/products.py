"""Products: list, detail, create, partial update, soft delete, barcode and stock."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, RootModel

from handlers import schemas
from handlers.base import BaseHandler, parse_json, to_json, validate
from handlers.fields import (
    Attributes, Body, Currency, Ean, Id, LongText, Money, Name, Quantity, ShortText, Sku, Slug,
)
from handlers.params import INCLUDE, LOCALE, PRODUCT_ID, SORT, SUBCATEGORIES
from handlers.spec import LIMIT, PAGE, ChoiceParam, IntParam, ListParam, PathParam, TextParam, operation
from handlers.util import pagination, parse_timestamp, path_id
from store.errors import BadRequest
from store.products import barcode, query, relations, stock, write
from store.values import CHANNELS, STATUSES

Status = Literal["draft", "active", "archived", "out_of_stock"]
ChannelName = Literal["web", "mobile", "api", "marketplace", "social", "email"]


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


SEARCH = TextParam("search", "Full-text search in name, description and SKU (and translations);"
                   " an exact SKU or EAN comes first", max_length=200)
STATUS = ListParam(
    "status", "Statuses to list, separated by commas (`active,draft`), or `any` for all of them."
    " Without it every status but `archived`, or with `updated_since` every status: an"
    " incremental sync sees the products archived (soft-deleted) since", choices=STATUSES, every="any")
BRAND = IntParam("brand", "Filter by brand id")
CHANNEL = ChoiceParam("channel", "Filter by publishing channel", tuple(CHANNELS))
CATEGORY = IntParam("category", "Filter by category id")
UPDATED_SINCE = TextParam(
    "updated_since", "Only products with `updated_at` at or after this ISO 8601 time (UTC when"
    " no zone is given), for incremental sync",
    convert=lambda raw: parse_timestamp("updated_since", raw),
    extra={"examples": ["2026-01-31T12:00:00Z"]})
MAX_SKU = 64


def _sku_code(raw: str) -> str:
    if len(raw) > MAX_SKU:
        raise BadRequest(f"sku: each SKU is at most {MAX_SKU} characters")
    return raw


def _ean_code(raw: str) -> str:
    if not raw.isascii() or not raw.isdigit() or len(raw) not in (8, 12, 13):
        raise BadRequest(f"ean: {raw!r} is not 8, 12 or 13 digits (EAN-8, UPC-A or EAN-13)")
    return raw


SKU = ListParam(
    "sku", "Only the products with one of these exact SKUs (up to 100, separated by commas),"
    " their own or one of their variants'; each product then carries `matched_variants`",
    item_schema={"type": "string", "minLength": 1, "maxLength": MAX_SKU}, convert=_sku_code)
EAN = ListParam(
    "ean", "Only the products with one of these barcodes (EAN-13, EAN-8 or UPC-A, up to 100,"
    " separated by commas; a UPC-A also matches its 13-digit form), their own or one of their"
    " variants'; each product then carries `matched_variants`",
    item_schema={"type": "string", "pattern": "^([0-9]{8}|[0-9]{12,13})$"}, convert=_ean_code)
BARCODE = PathParam("barcode", {"type": "string", "pattern": "^([0-9]{8}|[0-9]{12,13})$"},
                    "EAN-13, EAN-8 or UPC-A")


def _locale(handler: BaseHandler) -> str | None:
    """`?locale=de-AT` on product reads: translated texts, falling back field by field."""
    locale: str | None = handler.arg(LOCALE)
    return locale


class ProductListHandler(BaseHandler):
    """GET /api/products (filters, search, sort, pages) and POST /api/products."""

    def _query(self) -> query.ProductQuery:
        page, limit = self.page_args()
        return query.ProductQuery(
            search=self.arg(SEARCH),
            status=self.arg(STATUS),
            brand=self.arg(BRAND),
            channel=self.arg(CHANNEL),
            category=self.arg(CATEGORY),
            include_subcategories=self.arg(SUBCATEGORIES),
            updated_since=self.arg(UPDATED_SINCE),
            sort=self.arg(SORT),
            page=page,
            limit=limit,
            locale=_locale(self),
            skus=self.arg(SKU) or (),
            eans=self.arg(EAN) or (),
            include=self.arg(INCLUDE) or (),
        )

    @operation(data=schemas.ProductPage, query=(
        SEARCH, STATUS, SKU, EAN, BRAND, CHANNEL, CATEGORY, SUBCATEGORIES, UPDATED_SINCE, SORT, PAGE,
        LIMIT, LOCALE, INCLUDE))
    async def get(self) -> None:
        """List products

        A page of products with filters, search and sort; the filters narrow each other.
        Archived products only when `status` asks for them, or with `updated_since`.
        `sku`/`ean` find products by their own or their variants' codes and mark the
        variants that matched (`matched_variants`). `include=stock_levels,variants`
        adds those to every product of the page.
        """
        wanted = self._query()
        items, total = await self.db.read(query.list_products_json, self.org_id, wanted,
                                          quick=wanted.is_cheap)
        # The products are JSON already (store.cache); only the frame is encoded here.
        pages = to_json(pagination(wanted.page, wanted.limit, total))
        self.reply_raw(f'{{"products":[{",".join(items)}],"pagination":{pages}}}')

    @operation(data=schemas.Product, status=(201,), body=ProductCreate)
    async def post(self) -> None:
        """Create a product

        `name` and `sku` are required; answers the full product object.
        """
        body = self.json_body(ProductCreate)
        self.reply(await self.db.write(write.create_product, self.org_id, _fields(body)), status=201)


class ProductHandler(BaseHandler):
    """GET, PATCH and DELETE (soft: archived) /api/products/{id}."""

    path_params = (PRODUCT_ID,)

    @operation(data=schemas.ProductRead, query=(LOCALE, INCLUDE))
    def get(self, raw_id: str) -> None:
        """Get a product

        `include=stock_levels,variants` adds its stock per warehouse and its variants.
        Carries an `ETag`; `If-None-Match` answers 304.
        """
        product_id = path_id(raw_id, "product")
        self.reply_raw(self.db.quick(relations.product_json_with, self.org_id, product_id, _locale(self),
                                     self.arg(INCLUDE) or ()))

    @operation(data=schemas.Product, body=ProductPatch)
    async def patch(self, raw_id: str) -> None:
        """Update a product (partial)

        Send only the fields to change; `null` clears an optional one. `attributes`
        merge key by key.
        """
        product_id = path_id(raw_id, "product")
        body = self.json_body(ProductPatch)
        self.reply(await self.db.write(write.update_product, self.org_id, product_id, _fields(body)))

    @operation(data=schemas.Product)
    async def delete(self, raw_id: str) -> None:
        """Archive a product (soft delete)

        Sets the status to `archived`; the product stays, and barcode lookup still finds it.
        """
        self.reply(await self.db.write(write.archive_product, self.org_id, path_id(raw_id, "product")))


class ProductBarcodeHandler(BaseHandler):
    """GET /api/products/barcode/{barcode}: the product with its stock per warehouse."""

    path_params = (BARCODE,)

    @operation(data=schemas.BarcodeMatch, query=(LOCALE,))
    def get(self, code: str) -> None:
        """Look up a product by barcode

        The product whose EAN (or one of whose variants' EAN) is the barcode, with its
        stock per warehouse; a UPC-A also matches its 13-digit form.
        """
        if not code.isascii() or not code.isdigit() or len(code) not in (8, 12, 13):
            raise BadRequest("barcode: must be 8, 12 or 13 digits (EAN-8, UPC-A or EAN-13)")
        self.reply(self.db.quick(barcode.find_by_barcode, self.org_id, code, _locale(self)))


class ProductStockHandler(BaseHandler):
    """GET and PUT /api/products/{id}/stock: levels per warehouse."""

    path_params = (PRODUCT_ID,)

    @operation(data=schemas.ProductWithStock)
    def get(self, raw_id: str) -> None:
        """Get a product's stock per warehouse"""
        self.reply(self.db.quick(stock.product_with_stock, self.org_id, path_id(raw_id, "product")))

    @operation(data=schemas.ProductWithStock, body=StockLevelsIn)
    async def put(self, raw_id: str) -> None:
        """Set stock levels

        Sets the listed warehouses' levels; the others keep theirs. A variable
        product's stock is its variants', so this is a 400 for one.
        """
        product_id = path_id(raw_id, "product")
        data = parse_json(self.body)
        if not isinstance(data, list):
            raise BadRequest('body: must be a JSON list such as [{"warehouse_id": 1, "quantity": 5}]')
        levels = [level.model_dump() for level in validate(self.body_model(StockLevelsIn), data).root]
        self.reply(await self.db.write(stock.set_stock_levels, self.org_id, product_id, levels))
