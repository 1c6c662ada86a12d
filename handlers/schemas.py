"""The shapes the API answers, as pydantic models, for the OpenAPI document only.

The store builds its answers as dicts (and product JSON in SQL), so these models are
not used to serialize; they describe. `tests/test_openapi.py` checks every answer the
tests get against them through the document, with `additionalProperties: false`, so a
field added to an answer without being added here fails a test.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from store import events

Timestamp = Annotated[str, Field(description="UTC, ISO 8601 with microseconds",
                                 examples=["2026-11-27T08:15:52.123456Z"])]
MoneyText = Annotated[str, Field(pattern=r"^[0-9]+\.[0-9]{4}$",
                                 description="Exact decimal with 4 places", examples=["89.9900"])]
Status = Literal["draft", "active", "archived", "out_of_stock"]
ChannelName = Literal["web", "mobile", "api", "marketplace", "social", "email"]


class Out(BaseModel):
    """An answer's shape: every field always present, nothing else."""

    model_config = ConfigDict(extra="forbid")


class Pagination(Out):
    current_page: int
    total_pages: int = Field(description="0 when nothing matches")
    total_items: int
    items_per_page: int


class NamedRef(Out):
    id: int
    name: str


class VatRateRef(Out):
    id: int
    name: str
    rate: MoneyText
    country_code: str


class Product(Out):
    """The full product object, as in the contract's list response."""

    id: int
    sku: str
    slug: str
    name: str
    description: str
    short_description: str
    product_type: Literal["simple", "variable"]
    price: MoneyText | None
    sale_price: MoneyText | None
    cost_price: MoneyText | None
    currency: str
    status: Status
    stock: int
    in_stock: bool
    ean: str | None
    vat_rate: VatRateRef | None
    brand: NamedRef | None
    supplier: NamedRef | None
    categories: list[NamedRef]
    images: list[str] = Field(description="Absolute URLs of the WebP renditions, in position order")
    publishing_channels: list[ChannelName]
    available_translations: list[str]
    product_condition: Literal["new", "used", "refurbished"]
    attributes: dict[str, Any] = Field(description="Attribute code to value")
    created_at: Timestamp
    updated_at: Timestamp


class StockLevel(Out):
    warehouse_id: int
    warehouse_name: str
    warehouse_code: str
    quantity: int


class ProductWithStock(Product):
    """A product with its level in every warehouse of the organization (0 where none)."""

    stock_levels: list[StockLevel]


class VariantAttribute(Out):
    attribute_name: str
    attribute_code: str
    value: Any


class Variant(Out):
    id: int
    sku: str
    name: str
    price: MoneyText | None
    sale_price: MoneyText | None
    cost: MoneyText | None
    stock_quantity: int
    stock_status: Literal["in_stock", "out_of_stock", "backorder"]
    weight: MoneyText | None
    is_enabled: bool
    position: int
    ean: str | None
    image: str | None = Field(description="URL of the WebP rendition of the variant's media")
    attributes: list[VariantAttribute]
    created_at: Timestamp
    updated_at: Timestamp


class VariantList(Out):
    product_id: int
    product_name: str
    variants: list[Variant]
    total: int


class ProductRead(Product):
    """The product object; `include=` adds the relations it names, after its own fields."""

    stock_levels: list[StockLevel] = Field(
        default_factory=list, description="Only with `include=stock_levels`: as `GET /api/products/{id}/stock`")
    variants: list[Variant] = Field(
        default_factory=list, description="Only with `include=variants`: as `GET /api/products/{id}/variants`")


class ListedProduct(ProductRead):
    """A product of a list page: the product object, the relations `include=` names, and
    with a `sku` or `ean` filter the variants whose code was asked for."""

    matched_variants: list[Variant] = Field(
        default_factory=list, description="Only with a `sku` or `ean` filter: the product's variants"
        " whose SKU or EAN was asked for, in position order; `[]` when only the product's own matched")


class ProductPage(Out):
    products: list[ListedProduct]
    pagination: Pagination


class CategoryProductPage(Out):
    products: list[ProductRead]
    pagination: Pagination


class BarcodeMatch(ProductWithStock):
    """The product whose EAN (or whose variant's EAN) is the barcode."""

    matched_variant: Variant | None = Field(description="The variant whose EAN matched; null when the product's own did")


class ScoredProduct(Product):
    score: float = Field(description="Cosine similarity of the query image and the product's best image")


class ImageSearchResult(Out):
    products: list[ScoredProduct] = Field(description="Best first, one entry per product")
    total: int


class Channel(Out):
    value: ChannelName
    label: str
    description: str


class ChannelList(Out):
    channels: list[Channel]
    total: int


class Category(Out):
    id: int
    name: str
    slug: str
    description: str
    parent_id: int | None = Field(description="null at the top level")
    position: int
    product_count: int = Field(description="Products assigned to the category itself, archived left out")
    total_product_count: int = Field(
        description="Products in the category or any of its subcategories, each counted once, archived "
                    "left out: the total of its product list with include_subcategories=true")
    created_at: Timestamp
    updated_at: Timestamp


class CategoryNode(Category):
    children: list[CategoryNode]


class CategoryPage(Out):
    categories: list[Category]
    pagination: Pagination


class CategoryTree(Out):
    categories: list[CategoryNode] = Field(description="The roots, children nested in position order")


class Attribute(Out):
    id: int
    name: str
    code: str
    type: Literal["text", "number", "boolean", "select", "multiselect", "date"]
    options: list[str] | None
    unit: str | None
    is_required: bool
    is_variant_axis: bool
    created_at: Timestamp
    updated_at: Timestamp


class DeletedAttribute(Attribute):
    products_changed: int
    variants_changed: int


class AttributePage(Out):
    product_attributes: list[Attribute]
    pagination: Pagination


class Translation(Out):
    locale: str
    name: str | None
    description: str | None
    short_description: str | None
    slug: str | None
    created_at: Timestamp
    updated_at: Timestamp


class TranslationList(Out):
    product_id: int
    translations: list[Translation]
    total: int


class Media(Out):
    id: int
    product_id: int
    url: str = Field(description="The public WebP rendition")
    original_url: str = Field(description="The original as uploaded; needs the API key")
    alt_text: str
    position: int
    width: int
    height: int
    format: Literal["jpeg", "png", "webp", "gif"]
    bytes: int
    source_url: str | None = Field(description="The file_url it was fetched from; null for an upload")
    created_at: Timestamp
    updated_at: Timestamp


class AddedMedia(Media):
    """A media item just added."""

    near_duplicates: list[ScoredProduct] = Field(
        description="Other products with a near-identical image (score at least 0.95), best first:"
                    " perhaps the same product entered twice")


class SimilarProducts(Out):
    products: list[ScoredProduct] = Field(description="Best first, one entry per product")
    total: int


class MediaList(Out):
    media: list[Media]
    total: int


class Brand(Out):
    id: int
    name: str
    description: str
    created_at: Timestamp
    updated_at: Timestamp


class Supplier(Out):
    id: int
    name: str
    email: str | None
    phone: str | None
    created_at: Timestamp
    updated_at: Timestamp


class VatRate(Out):
    id: int
    name: str
    rate: MoneyText = Field(description="A percentage")
    country_code: str
    created_at: Timestamp
    updated_at: Timestamp


class Warehouse(Out):
    id: int
    name: str
    code: str
    is_default: bool
    created_at: Timestamp
    updated_at: Timestamp


class BrandPage(Out):
    brands: list[Brand]
    pagination: Pagination


class SupplierPage(Out):
    suppliers: list[Supplier]
    pagination: Pagination


class VatRatePage(Out):
    vat_rates: list[VatRate]
    pagination: Pagination


class WarehousePage(Out):
    warehouses: list[Warehouse]
    pagination: Pagination


#: Per reference resource (the route's `resource` argument): the item and the page.
REFERENCE: dict[str, tuple[type[Out], type[Out]]] = {
    "brands": (Brand, BrandPage),
    "suppliers": (Supplier, SupplierPage),
    "vat_rates": (VatRate, VatRatePage),
    "warehouses": (Warehouse, WarehousePage),
}


def reference_item(route_kwargs: dict[str, Any]) -> type[BaseModel]:
    return REFERENCE[route_kwargs["resource"]][0]


def reference_page(route_kwargs: dict[str, Any]) -> type[BaseModel]:
    return REFERENCE[route_kwargs["resource"]][1]


class BulkLineResult(Out):
    line: int = Field(description="The line's number, from 1; a CSV's header is line 1")
    sku: str | None = Field(description="The line's SKU (a category's path); null when it cannot be read")
    id: int | None = Field(description="The product's id (the variant's, the category's); null when it failed")
    status: Literal["created", "updated", "unchanged", "failed"]
    error: str | None = Field(description="`field: problem`, as a single write would say; on a line"
                              " that was saved, the images that could not be added")
    kind: Literal["product", "variant", "category"]


class BulkResult(Out):
    results: list[BulkLineResult] = Field(description="One entry per line, in order")
    created: int
    updated: int
    unchanged: int
    failed: int


class ImportFailure(Out):
    line: int
    sku: str | None
    error: str | None


class ImportJob(Out):
    id: int
    kind: Literal["products", "categories"]
    format: Literal["csv", "ndjson"]
    status: Literal["queued", "running", "done", "cancelled", "interrupted", "failed"]
    dry_run: bool
    create_references: bool
    total_lines: int
    done_lines: int
    created: int
    updated: int
    unchanged: int
    failed: int
    errors: list[ImportFailure] = Field(description="The first 1,000 failed lines")
    message: str | None = Field(description="Why the job failed, was cancelled or interrupted")
    started_at: Timestamp | None
    finished_at: Timestamp | None
    created_at: Timestamp


class ImportPage(Out):
    imports: list[ImportJob]
    pagination: Pagination


EventType = Literal[
    "product.created", "product.updated", "product.archived",
    "variant.created", "variant.updated", "variant.deleted",
    "category.created", "category.updated", "category.moved", "category.deleted",
    "media.created", "media.updated", "media.deleted",
    "stock.updated",
    "translation.updated", "translation.deleted",
    "attribute.created", "attribute.updated", "attribute.deleted",
]
# Spelled out for the type checker; the store's list is the one that counts.
assert get_args(EventType) == events.TYPES, "handlers.schemas.EventType differs from store.events.TYPES"


class Event(Out):
    id: int = Field(description="Increasing in commit order, never reused")
    type: EventType
    object_id: int = Field(description="The changed object's id (a translation's: its product's)")
    product_id: int | None = Field(description="The product the object belongs to, where one applies")
    occurred_at: Timestamp
    data: dict[str, Any] = Field(description="The object as the API shows it after the change"
                                             " (a delete: its last state)")


class EventFeed(Out):
    events: list[Event] = Field(description="Oldest first (newest first with `order=newest`)")
    next_after: int = Field(description="The `after` of the next page: the highest id answered, or the"
                                        " `after` sent when there is none yet")


class Webhook(Out):
    id: int
    url: str
    events: list[str] = Field(description="The event type patterns it receives")
    description: str
    enabled: bool
    status: Literal["active", "failing", "disabled"] = Field(
        description="`failing`: every retry of an event failed (it is still tried, more slowly);"
                    " `disabled`: by its owner, or after 3 days failing")
    last_error: str | None = Field(description="Why it is failing or was disabled")
    failing_since: Timestamp | None
    delivered_id: int = Field(description="The last event the receiver acknowledged")
    created_at: Timestamp
    updated_at: Timestamp


class WebhookWithSecret(Webhook):
    secret: str = Field(description="The signing secret (`whsec_…`): shown only in this answer")


class WebhookPage(Out):
    webhooks: list[Webhook]
    pagination: Pagination


class WebhookDelivery(Out):
    id: int
    event_id: int | None = Field(description="null: a test ping")
    attempt: int = Field(description="1 for the first try of this event")
    attempted_at: Timestamp
    http_status: int | None = Field(description="null: no answer (timeout, refused connection)")
    duration_ms: float
    error: str | None


class WebhookDeliveries(Out):
    deliveries: list[WebhookDelivery] = Field(description="Newest first")


class WebhookPing(Out):
    ok: bool = Field(description="The receiver answered 2xx within 10 seconds")
    http_status: int | None
    duration_ms: float
    error: str | None
    attempted_at: Timestamp


class WebhookPingEvent(Out):
    """What `POST /api/webhooks/{id}/test` sends."""

    type: Literal["ping"]
    webhook_id: int
    occurred_at: Timestamp
