"""The tables' columns, declared once: peewee models, bound to no database.

The frozen migrations (`store/migrations/`) made the tables; these models say what the
code reads and writes, and everything that lists columns is derived from them: the
product JSON SQLite builds (`store.products.read`), the product columns a write may
set (`store.products.write`), the variant, category, translation and media column
lists. `tests/test_models.py` checks that every model matches the table the migrations
made, and that the request models and answer schemas of the API agree with them.

A query runs on a database given to it (`Model.select().execute(db)`,
`.get_or_none(db)`): nothing here holds a connection. Hot read paths use
parameterised SQL built once from these declarations: building peewee queries costs
more than running them (README, "Measured facts").

Field kinds the API shows in their own way:
- `MoneyField`: an integer count of 1/10000 units, shown as a string with 4 places;
- `ChannelsField`: the publishing channels as a bitmask (a channel filter is then a
  partial index, not a join), shown as `publishing_channels`;
- `JsonField`: JSON text, shown as the JSON it holds;
- `ForeignKeyField` on a product: shown as the referenced row (`brand`: its
  `SHOWN_IN_PRODUCTS` columns).
"""

from __future__ import annotations

from typing import Any

import peewee as pw

from store.values import utcnow


class MoneyField(pw.IntegerField):
    """Money: an integer count of 1/10000 units (`store.values.MONEY_SCALE`)."""


class ChannelsField(pw.IntegerField):
    """The publishing channels as a bitmask (`store.values.CHANNELS`)."""


class JsonField(pw.TextField):
    """JSON text (attribute values: canonical form, see `store.attributes`)."""


class BaseModel(pw.Model):
    class Meta:
        database = None
        legacy_table_names = False


class Organization(BaseModel):
    id = pw.AutoField()
    name = pw.TextField(unique=True)
    is_active = pw.BooleanField(default=True)
    created_at = pw.TextField(default=utcnow)


class ApiKey(BaseModel):
    id = pw.AutoField()
    org = pw.ForeignKeyField(Organization, column_name="org_id")
    prefix = pw.TextField()
    key_hash = pw.TextField(unique=True)
    label = pw.TextField(default="")
    created_at = pw.TextField(default=utcnow)
    revoked_at = pw.TextField(null=True)
    scope = pw.TextField(default="write")  # read or write (write implies read)
    expires_at = pw.TextField(null=True)  # NULL: never
    last_used_at = pw.TextField(null=True)  # to within a minute; NULL: never used


class OrgModel(BaseModel):
    """A row owned by an organization, with timestamps."""

    id = pw.AutoField()
    org_id = pw.IntegerField()
    created_at = pw.TextField(default=utcnow)
    updated_at = pw.TextField(default=utcnow)


class Brand(OrgModel):
    name = pw.TextField()
    description = pw.TextField(default="")

    SHOWN_IN_PRODUCTS = ("id", "name")


class Supplier(OrgModel):
    name = pw.TextField()
    email = pw.TextField(null=True)
    phone = pw.TextField(null=True)

    SHOWN_IN_PRODUCTS = ("id", "name")


class VatRate(OrgModel):
    name = pw.TextField()
    rate = MoneyField()  # a percentage, exact like money
    country_code = pw.TextField()

    SHOWN_IN_PRODUCTS = ("id", "name", "rate", "country_code")


class Warehouse(OrgModel):
    name = pw.TextField()
    code = pw.TextField()
    is_default = pw.BooleanField(default=False)


class Channel(BaseModel):
    org_id = pw.IntegerField()
    value = pw.TextField()
    label = pw.TextField()
    description = pw.TextField()
    position = pw.IntegerField()

    class Meta:
        primary_key = pw.CompositeKey("org_id", "value")


class Category(OrgModel):
    name = pw.TextField()
    slug = pw.TextField()
    description = pw.TextField(default="")
    parent_id = pw.IntegerField(null=True)
    position = pw.IntegerField(default=0)
    # Kept by triggers (migration 7): never written by the code.
    product_count = pw.IntegerField(default=0)


class Product(OrgModel):
    """Declared in the order the product object shows its fields (timestamps last)."""

    sku = pw.TextField()
    slug = pw.TextField()
    name = pw.TextField()
    description = pw.TextField(default="")
    short_description = pw.TextField(default="")
    product_type = pw.TextField(default="simple")
    price = MoneyField(null=True)
    sale_price = MoneyField(null=True)
    cost_price = MoneyField(null=True)
    currency = pw.TextField(default="EUR")
    status = pw.TextField(default="draft")
    # The sum of the product's warehouse levels, or of its enabled variants' stock
    # for a variable product: kept by triggers, written through stock levels.
    stock = pw.IntegerField(default=0)
    ean = pw.TextField(null=True)
    vat_rate = pw.ForeignKeyField(VatRate, null=True, column_name="vat_rate_id")
    brand = pw.ForeignKeyField(Brand, null=True, column_name="brand_id")
    supplier = pw.ForeignKeyField(Supplier, null=True, column_name="supplier_id")
    channels = ChannelsField(default=0)
    product_condition = pw.TextField(default="new")
    attributes = JsonField(default="{}")

    #: Columns no request sets directly: kept by triggers or derived.
    DERIVED = ("stock",)


class StockLevel(BaseModel):
    product_id = pw.IntegerField()
    warehouse_id = pw.IntegerField()
    quantity = pw.IntegerField()
    updated_at = pw.TextField(default=utcnow)

    class Meta:
        primary_key = pw.CompositeKey("product_id", "warehouse_id")


class ProductAttribute(OrgModel):
    name = pw.TextField()
    code = pw.TextField()
    type = pw.TextField()
    options = pw.TextField(null=True)  # a JSON list, for select and multiselect
    unit = pw.TextField(null=True)
    is_required = pw.BooleanField(default=False)
    is_variant_axis = pw.BooleanField(default=False)


class ProductVariant(OrgModel):
    product_id = pw.IntegerField()
    sku = pw.TextField()
    name = pw.TextField()
    price = MoneyField(null=True)
    sale_price = MoneyField(null=True)
    cost = MoneyField(null=True)
    weight = MoneyField(null=True)  # exact like money, 4 places
    stock_quantity = pw.IntegerField(default=0)
    backorders = pw.BooleanField(default=False)
    is_enabled = pw.BooleanField(default=True)
    position = pw.IntegerField(default=0)
    ean = pw.TextField(null=True)
    media_id = pw.IntegerField(null=True)  # the variant's image: one of its product's media
    attributes = JsonField(default="{}")


class ProductTranslation(BaseModel):
    """A product's texts in one locale (migration 4); NULL fields fall back."""

    id = pw.AutoField()
    product_id = pw.IntegerField()
    org_id = pw.IntegerField()
    locale = pw.TextField()
    name = pw.TextField(null=True)
    description = pw.TextField(null=True)
    short_description = pw.TextField(null=True)
    slug = pw.TextField(null=True)
    created_at = pw.TextField(default=utcnow)
    updated_at = pw.TextField(default=utcnow)

    #: The product fields a translation may hold.
    TRANSLATED = ("slug", "name", "description", "short_description")


class Media(OrgModel):
    product_id = pw.IntegerField()
    # The public name in URLs: random, so that media of unpublished products cannot be
    # found by counting ids.
    token = pw.TextField(unique=True)
    position = pw.IntegerField()
    alt_text = pw.TextField(default="")
    source_url = pw.TextField(null=True)
    format = pw.TextField()
    width = pw.IntegerField()
    height = pw.IntegerField()
    bytes = pw.IntegerField()
    sha256 = pw.TextField()


TIMESTAMPS = ("created_at", "updated_at")


class ImportJob(BaseModel):
    """A bulk import run in the server (migration 12)."""

    id = pw.AutoField()
    org_id = pw.IntegerField()
    kind = pw.TextField()  # products, categories
    format = pw.TextField()  # csv, ndjson
    status = pw.TextField()  # queued, running, done, cancelled, interrupted, failed
    dry_run = pw.BooleanField(default=False)
    create_references = pw.BooleanField(default=False)
    total_lines = pw.IntegerField(default=0)
    done_lines = pw.IntegerField(default=0)
    created = pw.IntegerField(default=0)
    updated = pw.IntegerField(default=0)
    unchanged = pw.IntegerField(default=0)
    failed = pw.IntegerField(default=0)
    errors = JsonField(default="[]")  # the first MAX_ERRORS failed lines
    message = pw.TextField(null=True)  # why a job failed, was cancelled or interrupted
    started_at = pw.TextField(null=True)
    finished_at = pw.TextField(null=True)
    created_at = pw.TextField(default=utcnow)



class Event(BaseModel):
    """A change, written in the change's transaction (migration 15, `store.events`)."""

    id = pw.AutoField()
    org_id = pw.IntegerField()
    type = pw.TextField()  # product.created, ... (store.events.TYPES)
    object_id = pw.IntegerField()
    product_id = pw.IntegerField(null=True)
    data = JsonField()  # the object as the API shows it after the change
    occurred_at = pw.TextField(default=utcnow)


class EventFloor(BaseModel):
    """Per organization, the newest event id that retention removed."""

    org_id = pw.IntegerField(primary_key=True)
    removed_through = pw.IntegerField()


class Webhook(OrgModel):
    """A subscription to an organization's events (migration 15)."""

    url = pw.TextField()
    events = JsonField()  # the patterns subscribed to: ["product.*", "stock.updated"]
    description = pw.TextField(default="")
    secret = pw.TextField()  # "whsec_" + base64 of the signing key
    enabled = pw.BooleanField(default=True)
    status = pw.TextField(default="active")  # active, failing, disabled
    last_error = pw.TextField(null=True)
    failing_since = pw.TextField(null=True)
    delivered_id = pw.IntegerField(default=0)  # the last event the receiver acknowledged


class WebhookDelivery(BaseModel):
    """One attempt to deliver an event to a webhook."""

    id = pw.AutoField()
    webhook_id = pw.IntegerField()
    event_id = pw.IntegerField(null=True)  # None: a test ping
    attempt = pw.IntegerField()  # 1 for the first try of this event
    attempted_at = pw.TextField(default=utcnow)
    http_status = pw.IntegerField(null=True)  # None: no answer (timeout, refused)
    duration_ms = pw.FloatField()
    error = pw.TextField(null=True)


def column_names(model: type[BaseModel], *, without: tuple[str, ...] = ()) -> list[str]:
    """The model's column names in the order answers show them: as declared, the
    timestamps last."""
    names = [field.column_name for field in model._meta.sorted_fields if field.column_name not in without]
    return [name for name in names if name not in TIMESTAMPS] + [name for name in names if name in TIMESTAMPS]


def fields_of(model: type[BaseModel], kind: type[pw.Field]) -> list[Any]:
    """The model's fields of one kind (`MoneyField`, ...), in declaration order."""
    return [field for field in model._meta.sorted_fields if isinstance(field, kind)]
