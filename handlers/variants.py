"""Variants of a product: /api/products/{id}/variants and .../variants/{variantId}."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from handlers import schemas
from handlers.base import BaseHandler
from handlers.fields import Attributes, Body, Ean, Id, Money, Name, Quantity, Sku
from handlers.params import PRODUCT_ID
from handlers.spec import id_param, operation
from handlers.util import path_id
from store import variants
from store.products.read import require_product


class VariantPatch(Body):
    """Any subset of a variant's fields; `attributes` maps axis attribute codes to values."""

    sku: Sku = None  # type: ignore[assignment]
    name: Name | None = None
    price: Money = None
    sale_price: Money = None
    cost: Money = None
    weight: Money = None
    stock_quantity: Quantity = None  # type: ignore[assignment]
    stock_status: Literal["in_stock", "out_of_stock", "backorder"] = None  # type: ignore[assignment]
    is_enabled: bool = None  # type: ignore[assignment]
    position: Annotated[int, Field(ge=0, le=1_000_000)] = None  # type: ignore[assignment]
    ean: Ean = None
    attributes: Attributes = None  # type: ignore[assignment]
    media_id: Id | None = None  # one of the product's media: the variant's `image`


class VariantCreate(VariantPatch):
    sku: Sku


def _fields(body: VariantPatch) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True)


class VariantListHandler(BaseHandler):
    """GET (the contract's list) and POST /api/products/{id}/variants."""

    path_params = (PRODUCT_ID,)

    @operation(data=schemas.VariantList)
    def get(self, raw_id: str) -> None:
        """List a product's variants

        All of them, in position order.
        """
        self.reply(self.db.quick(variants.list_variants, self.org_id, path_id(raw_id, "product")))

    @operation(data=schemas.Variant, status=(201,), body=VariantCreate)
    async def post(self, raw_id: str) -> None:
        """Create a variant

        `sku` is required; `attributes` maps variant-axis attribute codes to values.
        The first variant makes a simple product variable.
        """
        product_id = path_id(raw_id, "product")
        self.db.quick(require_product, self.org_id, product_id)  # a missing product: 404 before the body
        body = self.json_body(VariantCreate)
        self.reply(await self.db.write(variants.create_variant, self.org_id, product_id, _fields(body)),
                   status=201)


class VariantHandler(BaseHandler):
    """GET, PATCH and DELETE /api/products/{id}/variants/{variantId}."""

    path_params = (PRODUCT_ID, id_param("variantId", "variant"))

    @operation(data=schemas.Variant)
    def get(self, raw_id: str, raw_variant: str) -> None:
        """Get a variant"""
        self.reply(self.db.quick(variants.get_variant, self.org_id, path_id(raw_id, "product"),
                                 path_id(raw_variant, "variant")))

    @operation(data=schemas.Variant, body=VariantPatch)
    async def patch(self, raw_id: str, raw_variant: str) -> None:
        """Update a variant (partial)

        Any subset of the fields; `attributes` merge key by key.
        """
        product_id, variant_id = path_id(raw_id, "product"), path_id(raw_variant, "variant")
        body = self.json_body(VariantPatch)
        self.reply(await self.db.write(variants.update_variant, self.org_id, product_id, variant_id,
                                       _fields(body)))

    @operation(data=schemas.Variant)
    async def delete(self, raw_id: str, raw_variant: str) -> None:
        """Delete a variant

        The product stays variable; answers the deleted variant.
        """
        self.reply(await self.db.write(variants.delete_variant, self.org_id, path_id(raw_id, "product"),
                                       path_id(raw_variant, "variant")))
