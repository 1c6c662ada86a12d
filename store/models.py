"""peewee models of the schema that `store/migrations.py` creates.

The migrations own the DDL; these models own the queries. Hot read paths (product
lists and details) use parameterised SQL in `store/products.py` instead, because
model instantiation costs more than the query itself (see PERFORMANCE.md).
"""

from __future__ import annotations

import peewee as pw

from store.db import db, utcnow


class BaseModel(pw.Model):
    class Meta:
        database = db
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


class OrgModel(BaseModel):
    """A row owned by an organization, with timestamps."""

    id = pw.AutoField()
    org_id = pw.IntegerField()
    created_at = pw.TextField(default=utcnow)
    updated_at = pw.TextField(default=utcnow)

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.updated_at = utcnow()
        return super().save(*args, **kwargs)


class Brand(OrgModel):
    name = pw.TextField()
    description = pw.TextField(default="")


class Supplier(OrgModel):
    name = pw.TextField()
    email = pw.TextField(null=True)
    phone = pw.TextField(null=True)


class VatRate(OrgModel):
    name = pw.TextField()
    rate = pw.IntegerField()  # 1/10000 percent, like money
    country_code = pw.TextField()


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
    parent_id = pw.IntegerField(null=True)
    name = pw.TextField()
    slug = pw.TextField()
    description = pw.TextField(default="")
    position = pw.IntegerField(default=0)
    # `product_count` (migration 7) is left out on purpose: triggers keep it, and a
    # model's save() would write back whatever count the instance was loaded with.


class Product(OrgModel):
    sku = pw.TextField()
    slug = pw.TextField()
    name = pw.TextField()
    description = pw.TextField(default="")
    short_description = pw.TextField(default="")
    product_type = pw.TextField(default="simple")
    price = pw.IntegerField(null=True)
    sale_price = pw.IntegerField(null=True)
    cost_price = pw.IntegerField(null=True)
    currency = pw.TextField(default="EUR")
    status = pw.TextField(default="draft")
    stock = pw.IntegerField(default=0)
    ean = pw.TextField(null=True)
    vat_rate_id = pw.IntegerField(null=True)
    brand_id = pw.IntegerField(null=True)
    supplier_id = pw.IntegerField(null=True)
    channels = pw.IntegerField(default=0)
    product_condition = pw.TextField(default="new")
    attributes = pw.TextField(default="{}")


class ProductCategory(BaseModel):
    product_id = pw.IntegerField()
    category_id = pw.IntegerField()

    class Meta:
        primary_key = pw.CompositeKey("product_id", "category_id")


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
    price = pw.IntegerField(null=True)
    sale_price = pw.IntegerField(null=True)
    cost = pw.IntegerField(null=True)
    weight = pw.IntegerField(null=True)
    stock_quantity = pw.IntegerField(default=0)
    backorders = pw.BooleanField(default=False)
    is_enabled = pw.BooleanField(default=True)
    position = pw.IntegerField(default=0)
    ean = pw.TextField(null=True)
    media_id = pw.IntegerField(null=True)  # the variant's image, wired with media
    attributes = pw.TextField(default="{}")


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
