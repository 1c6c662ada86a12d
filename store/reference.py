"""What products reference: brands, suppliers, VAT rates and warehouses.

The four share one shape (list, get, create, update, delete within an organization),
so one `ReferenceStore` serves them, configured with the model, how a row looks in the
API, which fields must be unique, and what stops a delete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import peewee as pw

from store.db import Database
from store.errors import BadRequest, NotFound
from store.models import Brand, OrgModel, Product, StockLevel, Supplier, VatRate, Warehouse
from store.values import money_from_db, money_to_db, utcnow


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


def _count_products(db: Database, column: pw.Field, row_id: int) -> int:
    return int(Product.select().where(column == row_id).count(db))


@dataclass(frozen=True)
class ReferenceStore:
    model: type[OrgModel]
    noun: str
    to_api: Callable[[Any], dict[str, Any]]
    unique: tuple[str, ...]  # fields that together are unique per organization
    order_by: str = "name"
    to_db: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda data: data)
    product_column: pw.Field | None = None  # products using a row block its delete

    @property
    def shown_in_products(self) -> tuple[str, ...]:
        """The fields the product object shows of this row (the model says)."""
        return tuple(getattr(self.model, "SHOWN_IN_PRODUCTS", ()))

    def _row(self, db: Database, org_id: int, row_id: int) -> Any:
        row = self.model.select().where(
            self.model.id == row_id, self.model.org_id == org_id).get_or_none(db)
        if row is None:
            raise NotFound(f"{self.noun} {row_id} not found")
        return row

    def list(self, db: Database, org_id: int, page: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        query = self.model.select().where(self.model.org_id == org_id)
        total = query.count(db)
        rows = query.order_by(getattr(self.model, self.order_by), self.model.id).paginate(page, limit)
        return [self.to_api(row) for row in rows.execute(db)], total

    def get(self, db: Database, org_id: int, row_id: int) -> dict[str, Any]:
        return self.to_api(self._row(db, org_id, row_id))

    def _check_unique(self, db: Database, org_id: int, values: dict[str, Any], row_id: int | None) -> None:
        query = self.model.select().where(self.model.org_id == org_id)
        for name in self.unique:
            query = query.where(getattr(self.model, name) == values[name])
        if row_id is not None:
            query = query.where(self.model.id != row_id)
        if query.exists(db):
            shown = ", ".join(f"{name} '{values[name]}'" for name in self.unique)
            raise BadRequest(f"{self.unique[0]}: a {self.noun} with {shown} already exists")

    def create(self, db: Database, org_id: int, data: dict[str, Any]) -> dict[str, Any]:
        data = self.to_db(dict(data))
        self._check_unique(db, org_id, data, None)
        self._before_write(db, org_id, data)
        row_id = self.model.insert(org_id=org_id, **data).execute(db)
        return self.get(db, org_id, int(row_id))

    def update(self, db: Database, org_id: int, row_id: int, data: dict[str, Any]) -> dict[str, Any]:
        data = self.to_db(dict(data))
        row = self._row(db, org_id, row_id)
        merged = {name: getattr(row, name) for name in self.unique} | data
        self._check_unique(db, org_id, merged, row_id)
        self._before_write(db, org_id, data, row)
        now = utcnow()
        self.model.update(**data, updated_at=now).where(self.model.id == row_id).execute(db)
        if self.product_column is not None and set(data) & set(self.shown_in_products):
            # The products showing this row have changed as far as a client can
            # tell: move their updated_at, so that an incremental sync picks them
            # up and their cached JSON (keyed by updated_at) is not served again.
            Product.update(updated_at=now).where(
                self.product_column == row_id, Product.org_id == org_id
            ).execute(db)
        return self.get(db, org_id, row_id)

    def delete(self, db: Database, org_id: int, row_id: int) -> dict[str, Any]:
        row = self._row(db, org_id, row_id)
        self._before_delete(db, row)
        shown = self.to_api(row)
        self.model.delete().where(self.model.id == row_id).execute(db)
        return shown

    def _before_write(self, db: Database, org_id: int, data: dict[str, Any], row: Any = None) -> None:
        """Hook for rules beyond uniqueness; see `WarehouseStore`."""

    def _before_delete(self, db: Database, row: Any) -> None:
        if self.product_column is not None:
            used = _count_products(db, self.product_column, row.id)
            if used:
                plural = "product uses" if used == 1 else "products use"
                raise BadRequest(
                    f"id: {used} {plural} this {self.noun}; reassign them before deleting it"
                )


class WarehouseStore(ReferenceStore):
    """Warehouses: exactly one default per organization; stock blocks a delete."""

    def _before_write(self, db: Database, org_id: int, data: dict[str, Any], row: Any = None) -> None:
        if data.get("is_default") is True:
            Warehouse.update(is_default=False, updated_at=utcnow()).where(
                Warehouse.org_id == org_id, Warehouse.is_default == True  # noqa: E712
            ).execute(db)
        elif data.get("is_default") is False and row is not None and row.is_default:
            raise BadRequest("is_default: make another warehouse the default instead")

    def _before_delete(self, db: Database, row: Any) -> None:
        if row.is_default:
            raise BadRequest("id: the default warehouse cannot be deleted")
        held = StockLevel.select().where(
            StockLevel.warehouse_id == row.id, StockLevel.quantity > 0
        ).count(db)
        if held:
            plural = "product has" if held == 1 else "products have"
            raise BadRequest(f"id: {held} {plural} stock in this warehouse; move it first")
        StockLevel.delete().where(StockLevel.warehouse_id == row.id).execute(db)


BRANDS = ReferenceStore(Brand, "brand", _brand_to_api, ("name",), product_column=Product.brand)
SUPPLIERS = ReferenceStore(Supplier, "supplier", _supplier_to_api, ("name",),
                           product_column=Product.supplier)
VAT_RATES = ReferenceStore(VatRate, "VAT rate", _vat_rate_to_api, ("name", "country_code"),
                           to_db=_vat_rate_to_db, product_column=Product.vat_rate)
WAREHOUSES = WarehouseStore(Warehouse, "warehouse", _warehouse_to_api, ("code",))


def default_warehouse_id(db: Database, org_id: int) -> int:
    return int(db.execute_sql("SELECT id FROM warehouse WHERE org_id = ? AND is_default",
                              (org_id,)).fetchone()[0])
