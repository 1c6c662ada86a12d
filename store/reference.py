"""What products reference: brands, suppliers, VAT rates and warehouses.

The four share one shape (list, get, create, update, delete within an organization),
so one `ReferenceStore` serves them, configured with the model, how a row looks in the
API, which fields must be unique, and what stops a delete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import peewee as pw

from store.db import db, utcnow, writing
from store.errors import BadRequest, NotFound
from store.models import Brand, OrgModel, Product, StockLevel, Supplier, VatRate, Warehouse
from store.values import money_from_db, money_to_db


def _brand_to_api(row: Brand) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "description": row.description,
            "created_at": row.created_at, "updated_at": row.updated_at}


def _supplier_to_api(row: Supplier) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "email": row.email, "phone": row.phone,
            "created_at": row.created_at, "updated_at": row.updated_at}


def _vat_rate_to_api(row: VatRate) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "rate": money_from_db(row.rate),
            "country_code": row.country_code,
            "created_at": row.created_at, "updated_at": row.updated_at}


def _warehouse_to_api(row: Warehouse) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "code": row.code, "is_default": row.is_default,
            "created_at": row.created_at, "updated_at": row.updated_at}


def _vat_rate_to_db(data: dict[str, Any]) -> dict[str, Any]:
    if "rate" in data:
        data["rate"] = money_to_db(data["rate"])
    return data


def _count_products(column: pw.Field, row_id: int) -> int:
    return int(Product.select().where(column == row_id).count())


@dataclass(frozen=True)
class ReferenceStore:
    model: type[OrgModel]
    noun: str
    to_api: Callable[[Any], dict[str, Any]]
    unique: tuple[str, ...]  # fields that together are unique per organization
    order_by: str = "name"
    to_db: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda data: data)
    product_column: pw.Field | None = None  # products using a row block its delete
    shown_in_products: tuple[str, ...] = ()  # fields the product object shows

    def _row(self, org_id: int, row_id: int) -> Any:
        row = self.model.get_or_none(self.model.id == row_id, self.model.org_id == org_id)
        if row is None:
            raise NotFound(f"{self.noun} {row_id} not found")
        return row

    def list(self, org_id: int, page: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        query = self.model.select().where(self.model.org_id == org_id)
        total = query.count()
        rows = query.order_by(getattr(self.model, self.order_by), self.model.id).paginate(page, limit)
        return [self.to_api(row) for row in rows], total

    def get(self, org_id: int, row_id: int) -> dict[str, Any]:
        return self.to_api(self._row(org_id, row_id))

    def _check_unique(self, org_id: int, values: dict[str, Any], row_id: int | None) -> None:
        query = self.model.select().where(self.model.org_id == org_id)
        for name in self.unique:
            query = query.where(getattr(self.model, name) == values[name])
        if row_id is not None:
            query = query.where(self.model.id != row_id)
        if query.exists():
            shown = ", ".join(f"{name} '{values[name]}'" for name in self.unique)
            raise BadRequest(f"{self.unique[0]}: a {self.noun} with {shown} already exists")

    def create(self, org_id: int, data: dict[str, Any]) -> dict[str, Any]:
        data = self.to_db(dict(data))
        with writing():
            self._check_unique(org_id, data, None)
            self._before_write(org_id, data)
            row = self.model.create(org_id=org_id, **data)
        return self.get(org_id, row.id)

    def update(self, org_id: int, row_id: int, data: dict[str, Any]) -> dict[str, Any]:
        data = self.to_db(dict(data))
        with writing():
            row = self._row(org_id, row_id)
            merged = {name: getattr(row, name) for name in self.unique} | data
            self._check_unique(org_id, merged, row_id)
            self._before_write(org_id, data, row)
            for name, value in data.items():
                setattr(row, name, value)
            row.save()
            if self.product_column is not None and set(data) & set(self.shown_in_products):
                # The products showing this row have changed as far as a client can
                # tell: move their updated_at, so that an incremental sync picks them
                # up and their cached JSON (keyed by updated_at) is not served again.
                Product.update(updated_at=row.updated_at).where(
                    self.product_column == row_id, Product.org_id == org_id
                ).execute()
        return self.get(org_id, row_id)

    def delete(self, org_id: int, row_id: int) -> dict[str, Any]:
        with writing():
            row = self._row(org_id, row_id)
            self._before_delete(row)
            shown = self.to_api(row)
            row.delete_instance()
        return shown

    def _before_write(self, org_id: int, data: dict[str, Any], row: Any = None) -> None:
        """Hook for rules beyond uniqueness; see `WarehouseStore`."""

    def _before_delete(self, row: Any) -> None:
        if self.product_column is not None:
            used = _count_products(self.product_column, row.id)
            if used:
                plural = "product uses" if used == 1 else "products use"
                raise BadRequest(
                    f"id: {used} {plural} this {self.noun}; reassign them before deleting it"
                )


class WarehouseStore(ReferenceStore):
    """Warehouses: exactly one default per organization; stock blocks a delete."""

    def _before_write(self, org_id: int, data: dict[str, Any], row: Any = None) -> None:
        if data.get("is_default") is True:
            Warehouse.update(is_default=False, updated_at=utcnow()).where(
                Warehouse.org_id == org_id, Warehouse.is_default == True  # noqa: E712
            ).execute()
        elif data.get("is_default") is False and row is not None and row.is_default:
            raise BadRequest("is_default: make another warehouse the default instead")

    def _before_delete(self, row: Any) -> None:
        if row.is_default:
            raise BadRequest("id: the default warehouse cannot be deleted")
        held = StockLevel.select().where(
            StockLevel.warehouse_id == row.id, StockLevel.quantity > 0
        ).count()
        if held:
            plural = "product has" if held == 1 else "products have"
            raise BadRequest(f"id: {held} {plural} stock in this warehouse; move it first")
        StockLevel.delete().where(StockLevel.warehouse_id == row.id).execute()


BRANDS = ReferenceStore(Brand, "brand", _brand_to_api, ("name",),
                        product_column=Product.brand_id, shown_in_products=("name",))
SUPPLIERS = ReferenceStore(Supplier, "supplier", _supplier_to_api, ("name",),
                           product_column=Product.supplier_id, shown_in_products=("name",))
VAT_RATES = ReferenceStore(
    VatRate, "VAT rate", _vat_rate_to_api, ("name", "country_code"),
    to_db=_vat_rate_to_db, product_column=Product.vat_rate_id,
    shown_in_products=("name", "rate", "country_code"),
)
WAREHOUSES = WarehouseStore(Warehouse, "warehouse", _warehouse_to_api, ("code",))


def default_warehouse_id(org_id: int) -> int:
    row = Warehouse.get(Warehouse.org_id == org_id, Warehouse.is_default == True)  # noqa: E712
    return int(row.id)
