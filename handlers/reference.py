"""Brands, suppliers, VAT rates and warehouses: one pair of handlers serves all four."""

from __future__ import annotations

from typing import Any

from handlers import schemas
from handlers.base import BaseHandler
from handlers.fields import Body, Country, Line, Money, Name, ShortText
from handlers.spec import LIMIT, PAGE, PathParam, id_param, operation
from handlers.util import listing, path_id
from store.errors import BadRequest
from store.reference import BRANDS, SUPPLIERS, VAT_RATES, WAREHOUSES, ReferenceStore


class BrandPatch(Body):
    name: Name = None  # type: ignore[assignment]
    description: ShortText = None  # type: ignore[assignment]


class BrandCreate(BrandPatch):
    name: Name


class SupplierPatch(Body):
    name: Name = None  # type: ignore[assignment]
    email: Line | None = None
    phone: Line | None = None


class SupplierCreate(SupplierPatch):
    name: Name


class VatRatePatch(Body):
    name: Name = None  # type: ignore[assignment]
    rate: Money = None
    country_code: Country = None  # type: ignore[assignment]


class VatRateCreate(VatRatePatch):
    name: Name
    rate: Money
    country_code: Country


class WarehousePatch(Body):
    name: Name = None  # type: ignore[assignment]
    code: Name = None  # type: ignore[assignment]
    is_default: bool = None  # type: ignore[assignment]


class WarehouseCreate(WarehousePatch):
    name: Name
    code: Name


def _check_rate(data: dict[str, Any]) -> None:
    if "rate" in data:
        if data["rate"] is None:
            raise BadRequest("rate: must not be null")
        if data["rate"] > 100:
            raise BadRequest("rate: must be between 0 and 100")


RESOURCES: dict[str, tuple[ReferenceStore, type[Body], type[Body]]] = {
    "brands": (BRANDS, BrandCreate, BrandPatch),
    "suppliers": (SUPPLIERS, SupplierCreate, SupplierPatch),
    "vat_rates": (VAT_RATES, VatRateCreate, VatRatePatch),
    "warehouses": (WAREHOUSES, WarehouseCreate, WarehousePatch),
}


def create_model(route_kwargs: dict[str, Any]) -> type[Body]:
    return RESOURCES[route_kwargs["resource"]][1]


def patch_model(route_kwargs: dict[str, Any]) -> type[Body]:
    return RESOURCES[route_kwargs["resource"]][2]


class ReferenceHandlerBase(BaseHandler):
    @staticmethod
    def openapi_words(route_kwargs: dict[str, Any]) -> dict[str, str]:
        """Words for the document's summaries (`List {things}`), per resource."""
        noun = RESOURCES[route_kwargs["resource"]][0].noun
        return {"thing": noun, "things": noun + "s"}

    def initialize(self, resource: str) -> None:  # type: ignore[override]
        super().initialize()
        self.route_kwargs = {"resource": resource}
        self.key = resource
        self.store, self.create_model, self.patch_model = RESOURCES[resource]

    def _body(self, model: type[Body]) -> dict[str, Any]:
        data = self.json_body(model).model_dump(exclude_unset=True)
        _check_rate(data)
        return data


class ReferenceListHandler(ReferenceHandlerBase):
    """GET (paginated) and POST on /api/brands, /api/suppliers, /api/vat-rates, /api/warehouses."""

    @operation(data=schemas.reference_page, query=(PAGE, LIMIT))
    def get(self) -> None:
        """List {things}

        A page in id order.
        """
        page, limit = self.page_args()
        items, total = self.db.quick(self.store.list, self.org_id, page, limit)
        self.reply(listing(self.key, items, page, limit, total))

    @operation(data=schemas.reference_item, status=(201,), body=create_model)
    async def post(self) -> None:
        """Create a {thing}"""
        data = self._body(self.create_model)
        self.reply(await self.db.write(self.store.create, self.org_id, data), status=201)


class ReferenceHandler(ReferenceHandlerBase):
    """GET, PUT/PATCH (any subset of fields) and DELETE on one row."""

    path_params = (PathParam("id", id_param("id", "row").schema, "The {thing}'s id"),)

    @operation(data=schemas.reference_item)
    def get(self, raw_id: str) -> None:
        """Get a {thing}"""
        self.reply(self.db.quick(self.store.get, self.org_id, path_id(raw_id, self.store.noun)))

    @operation(data=schemas.reference_item, body=patch_model)
    async def patch(self, raw_id: str) -> None:
        """Update a {thing} (PUT and PATCH alike)

        Any subset of the create fields; omitted ones keep their values.
        """
        row_id = path_id(raw_id, self.store.noun)
        data = self._body(self.patch_model)
        self.reply(await self.db.write(self.store.update, self.org_id, row_id, data))

    put = patch

    @operation(data=schemas.reference_item, errors=(400,))
    async def delete(self, raw_id: str) -> None:
        """Delete a {thing}

        Answers the row as it was. A brand, supplier or VAT rate that products use
        cannot be deleted (400), nor the default warehouse or one holding stock.
        """
        self.reply(await self.db.write(self.store.delete, self.org_id, path_id(raw_id, self.store.noun)))
