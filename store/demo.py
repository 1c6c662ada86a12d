"""The demo catalog: a few hundred believable products for a newcomer to explore.

Deterministic (seeded), and idempotent: seeding an organization that already has
products does nothing.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Callable

from store import attributes, categories, orgs, products, variants
from store.db import writing
from store.models import Product
from store.reference import BRANDS, SUPPLIERS, VAT_RATES, WAREHOUSES
from store.values import ean_check_digit

DEMO_ORG = "Demo Store"

BRAND_NAMES = ["Nordwind", "Carpathia", "Urban Loom", "Aroma & Co", "Stride Lab", "Lumen",
               "Kettle Bros", "Fjord Outdoor"]
SUPPLIERS_ = [("Textile Partners SRL", "orders@textile-partners.example"),
              ("Ceramica Est", "sales@ceramica-est.example"),
              ("EuroFoot GmbH", "b2b@eurofoot.example"),
              ("BrightHome Distribution", "hello@brighthome.example")]
TREE = {
    "Apparel": ["T-Shirts", "Sweaters", "Jackets"],
    "Footwear": ["Sneakers", "Boots"],
    "Home & Kitchen": ["Mugs & Cups", "Bottles", "Lighting"],
    "Accessories": ["Bags", "Caps"],
}
# (noun, leaf category, price range, supplier index, variants of the name)
KINDS = [
    ("T-Shirt", "T-Shirts", (14, 39), 0, ["Organic Cotton", "Classic", "Slim Fit", "Oversized"]),
    ("Sweater", "Sweaters", (39, 120), 0, ["Merino Wool", "Cable Knit", "Crew Neck"]),
    ("Jacket", "Jackets", (79, 260), 0, ["Rain", "Quilted", "Softshell", "Denim"]),
    ("Sneakers", "Sneakers", (59, 180), 2, ["Running", "Court", "Trail", "Canvas"]),
    ("Boots", "Boots", (89, 240), 2, ["Chelsea", "Hiking", "Winter"]),
    ("Mug", "Mugs & Cups", (8, 29), 1, ["Stoneware", "Enamel", "Travel", "Espresso"]),
    ("Water Bottle", "Bottles", (12, 45), 3, ["Insulated", "Glass", "Sport"]),
    ("Desk Lamp", "Lighting", (25, 140), 3, ["LED", "Adjustable", "Minimalist"]),
    ("Backpack", "Bags", (35, 150), 0, ["Commuter", "Daypack", "Roll-Top"]),
    ("Cap", "Caps", (12, 35), 0, ["Baseball", "Wool", "Trucker"]),
]
COLOURS = ["Black", "White", "Navy", "Forest Green", "Burgundy", "Sand", "Sky Blue",
           "Charcoal", "Mustard", "Coral"]
CHANNEL_SETS = [["web", "mobile"], ["web"], ["web", "mobile", "marketplace"],
                ["web", "marketplace"], ["web", "mobile", "social", "email"]]


def demo_org_id() -> int:
    return orgs.get_or_create_org(DEMO_ORG)


def _ean(n: int) -> str:
    body = f"594{n:09d}"  # 594: GS1 Romania
    return body + str(ean_check_digit(body))


def _variable_product(org_id: int, rng: random.Random, brand: int, supplier: int, vat: int,
                      category: int) -> None:
    """One T-shirt sold in colours and sizes, to show variants."""
    attributes.create_attribute(org_id, {"name": "Size", "type": "select",
                                         "options": ["S", "M", "L", "XL"], "is_variant_axis": True})
    shirt = products.create_product(org_id, {
        "name": "Nordwind Essential T-Shirt", "sku": "TSH-ESSENTIAL", "price": Decimal("24.99"),
        "status": "active", "brand_id": brand, "supplier_id": supplier, "vat_rate_id": vat,
        "category_ids": [category], "publishing_channels": ["web", "mobile"],
        "attributes": {"style": "Essential"},
    })
    for i, colour in enumerate(["Black", "White", "Navy"]):
        for j, size in enumerate(["S", "M", "L", "XL"]):
            variants.create_variant(org_id, shirt["id"], {
                "sku": f"TSH-ESSENTIAL-{colour[:3].upper()}-{size}", "price": Decimal("24.99"),
                "stock_quantity": rng.randrange(0, 30), "ean": _ean(1000 + 4 * i + j),
                "attributes": {"colour": colour, "size": size},
            })


def seed(count: int = 300, progress: Callable[[str], None] = lambda _: None) -> int:
    """Create the demo catalog unless it exists; answers the number of products created."""
    org_id = demo_org_id()
    if Product.select().where(Product.org_id == org_id).exists():
        progress("Demo catalog already present.")
        return 0
    rng = random.Random(2026)
    with writing():
        progress("Creating brands, suppliers, VAT rates, warehouses and categories…")
        brands = [BRANDS.create(org_id, {"name": name})["id"] for name in BRAND_NAMES]
        suppliers = [SUPPLIERS.create(org_id, {"name": name, "email": email})["id"]
                     for name, email in SUPPLIERS_]
        vat = VAT_RATES.create(org_id, {"name": "Standard Rate", "rate": Decimal("19"), "country_code": "RO"})
        VAT_RATES.create(org_id, {"name": "Reduced Rate", "rate": Decimal("9"), "country_code": "RO"})
        VAT_RATES.create(org_id, {"name": "Standard Rate", "rate": Decimal("19"), "country_code": "DE"})
        second = WAREHOUSES.create(org_id, {"name": "Cluj warehouse", "code": "CLJ"})["id"]
        leaves: dict[str, int] = {}
        for root_name, children in TREE.items():
            root = categories.create_category(org_id, {"name": root_name})["id"]
            for child in children:
                leaves[child] = categories.create_category(org_id, {"name": child, "parent_id": root})["id"]
        orgs.set_channels(org_id, [{"value": v} for v in ("web", "mobile", "marketplace")])
        attributes.create_attribute(org_id, {"name": "Colour", "type": "select", "options": COLOURS,
                                             "is_variant_axis": True})
        attributes.create_attribute(org_id, {"name": "Style", "type": "text"})

        progress(f"Creating {count} products…")
        for n in range(count):
            noun, leaf, (low, high), supplier, styles = KINDS[n % len(KINDS)]
            colour = COLOURS[(n // len(KINDS)) % len(COLOURS)]
            style = styles[(n // (len(KINDS) * len(COLOURS))) % len(styles)]
            brand = rng.randrange(len(brands))
            price = Decimal(rng.randrange(low, high)) + Decimal("0.99")
            status = rng.choices(["active", "draft", "out_of_stock", "archived"], [80, 10, 6, 4])[0]
            product = products.create_product(org_id, {
                "name": f"{BRAND_NAMES[brand]} {style} {noun} – {colour}",
                "sku": f"{noun[:3].upper()}-{n + 1:04d}",
                "description": f"<p>{style} {noun.lower()} in {colour.lower()} by "
                               f"{BRAND_NAMES[brand]}. Made to last, easy to care for.</p>",
                "short_description": f"{style} {noun.lower()}, {colour.lower()}",
                "price": price,
                "sale_price": (price * Decimal("0.8")).quantize(Decimal("0.01")) if n % 7 == 0 else None,
                "cost_price": (price * Decimal("0.45")).quantize(Decimal("0.01")),
                "status": status,
                "stock": 0 if status == "out_of_stock" else rng.randrange(0, 120),
                "ean": _ean(n + 1),
                "brand_id": brands[brand],
                "supplier_id": suppliers[supplier],
                "vat_rate_id": vat["id"],
                "category_ids": [leaves[leaf]],
                "publishing_channels": CHANNEL_SETS[n % len(CHANNEL_SETS)],
                "product_condition": "refurbished" if n % 41 == 0 else "new",
                "attributes": {"colour": colour, "style": style},
            })
            if status != "out_of_stock" and n % 3 == 0:
                products.set_stock_levels(org_id, product["id"],
                                          [{"warehouse_id": second, "quantity": rng.randrange(1, 60)}])
            if (n + 1) % 100 == 0:
                progress(f"  {n + 1}/{count} products")
        _variable_product(org_id, rng, brands[0], suppliers[0], vat["id"], leaves["T-Shirts"])
    progress("Demo catalog ready.")
    return count
