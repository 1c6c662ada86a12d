"""The demo catalog: a few hundred believable products that show every feature.

Brands, suppliers, VAT rates, two warehouses, a three-level category tree, attributes
of every type, simple and variable products (colour x size, with a photo per colour),
translations in Romanian and German (the default texts are English), stock in both
warehouses, valid EANs, publishing channels, and a Pillow-drawn photo of every product
stored and indexed through the same path as the media API (`search.pipeline`), so
image search works. It lives above the store because it needs the image model.

Seeding runs in three stages, each of which only adds what is missing, looked up by
natural keys (a brand by name, a category by parent and name, a product by SKU, a
product's photos by whether it has any media). A start interrupted half-way (Ctrl-C
during the images) is finished by the next one, never duplicated. Every product is
drawn from its own seeded generator, so what a resumed start adds is exactly what the
first one would have.

Only a seed that completed every stage writes the completion marker (a `demo_seed`
row, migration 9) once its last stage is done; from then on the catalog is the user's:
a later start sees the marker and leaves the catalog alone (an image deleted or
a brand renamed stays so). A seed that did not complete (photos refused because the
image model changed, an interrupted start) leaves no marker, and the next start
resumes. The demo key is no marker: every start replaces it (`issue_key`), complete or
not.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import random
import time
import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterator, Sequence, TextIO

import numpy as np

from search.demo.photos import init_worker, render
from search.model import ImageModels
from search.pipeline import store_image
from search.vectors import StaleIndex
from store import attributes, categories, orgs, translations, variants
from store.db import Database
from store.media import MediaFiles
from store.models import Brand, Supplier, VatRate, Warehouse
from store.products import stock, write
from store.reference import BRANDS, SUPPLIERS, VAT_RATES, WAREHOUSES
from store.values import ean_check_digit, utcnow

DEMO_ORG = "Demo Store"
KEY_LABEL = "demo"
PRODUCT_BATCH = 50  # products per write transaction (each commit is an fsync)
IMAGE_BATCH = 12  # products whose photos are drawn, embedded and stored together
WORKERS = max(1, min(4, len(os.sched_getaffinity(0))))  # processes drawing photos: the cores we may use
POOL_MIN = 60  # photos below which they are drawn in this process

BRAND_NAMES = [
    ("Nordwind", "Scandinavian basics, made to be worn for years."),
    ("Carpathia", "Outdoor gear from the Romanian mountains."),
    ("Urban Loom", "City clothing in organic cotton."),
    ("Aroma & Co", "Tableware for slow mornings."),
    ("Stride Lab", "Shoes engineered for everyday miles."),
    ("Lumen", "Lighting with a light touch."),
    ("Kettle Bros", "Kitchen classics since 1998."),
    ("Fjord Outdoor", "Packs and bottles for wet weather."),
]
SUPPLIER_ROWS = [
    ("Textile Partners SRL", "orders@textile-partners.example", "+40 264 555 010"),
    ("Ceramica Est", "sales@ceramica-est.example", "+40 21 555 0199"),
    ("EuroFoot GmbH", "b2b@eurofoot.example", "+49 89 5550 1200"),
    ("BrightHome Distribution", "hello@brighthome.example", "+40 31 555 0777"),
]
# (name, rate %, country): the first is what the demo products use.
VAT_ROWS = [("Standard Rate", "21", "RO"), ("Reduced Rate", "11", "RO"),
            ("Standard Rate", "19", "DE"), ("Reduced Rate", "7", "DE")]
SECOND_WAREHOUSE = ("Cluj warehouse", "CLJ")
# Root > group > leaf; products sit in the leaves (and a few in "Gifts" too).
TREE: dict[str, dict[str, list[str]]] = {
    "Apparel": {"Tops": ["T-Shirts", "Sweaters"], "Outerwear": ["Jackets"], "Headwear": ["Caps"]},
    "Footwear": {"Sport": ["Sneakers"], "Outdoor": ["Boots"]},
    "Home & Kitchen": {"Drinkware": ["Mugs & Cups", "Bottles"], "Lighting": ["Desk Lamps"]},
    "Bags & Travel": {"Bags": ["Backpacks"]},
}
GIFTS = "Gifts"
CHANNELS = ["web", "mobile", "marketplace", "social", "email"]
CHANNEL_SETS = [["web", "mobile"], ["web"], ["web", "mobile", "marketplace"],
                ["web", "marketplace"], ["web", "mobile", "social", "email"]]
# (English, Romanian, German)
COLOURS = [("Black", "negru", "Schwarz"), ("White", "alb", "Weiß"), ("Navy", "bleumarin", "Marineblau"),
           ("Forest Green", "verde închis", "Waldgrün"), ("Burgundy", "vișiniu", "Bordeaux"),
           ("Sand", "nisipiu", "Sand"), ("Sky Blue", "bleu", "Himmelblau"),
           ("Charcoal", "gri antracit", "Anthrazit"), ("Mustard", "muștar", "Senfgelb"),
           ("Coral", "coral", "Koralle")]
EXTRA_COLOURS = [("Red", "roșu", "Rot"), ("Olive", "oliv", "Oliv")]
SIZES = ["XS", "S", "M", "L", "XL", "XXL"]
FEATURES = ["Recycled materials", "Vegan", "Fair trade", "Machine washable", "Lifetime warranty"]
MATERIALS = ["Organic cotton", "Merino wool", "Recycled polyester", "Leather", "Canvas",
             "Stoneware", "Enamel", "Stainless steel", "Glass", "Aluminium"]
ATTRIBUTES: list[dict[str, Any]] = [
    {"name": "Colour", "code": "colour", "type": "select",
     "options": [c[0] for c in COLOURS + EXTRA_COLOURS], "is_variant_axis": True},
    {"name": "Size", "code": "size", "type": "select", "options": SIZES, "is_variant_axis": True},
    {"name": "EU size", "code": "eu_size", "type": "number", "is_variant_axis": True},
    {"name": "Style", "code": "style", "type": "text"},
    {"name": "Material", "code": "material", "type": "select", "options": MATERIALS},
    {"name": "Capacity", "code": "capacity", "type": "number", "unit": "ml"},
    {"name": "Power", "code": "power", "type": "number", "unit": "W"},
    {"name": "Dishwasher safe", "code": "dishwasher_safe", "type": "boolean"},
    {"name": "Waterproof", "code": "waterproof", "type": "boolean"},
    {"name": "Features", "code": "features", "type": "multiselect", "options": FEATURES},
    {"name": "Launch date", "code": "launch_date", "type": "date"},
]


@dataclass(frozen=True)
class Kind:
    """A kind of product: its names in three languages, where it goes, what it costs."""

    noun: tuple[str, str, str]  # English, Romanian, German
    prefix: str  # of its SKUs
    leaf: str
    prices: tuple[int, int]
    supplier: int
    styles: list[tuple[str, str, str]]
    materials: list[str]
    blurb: tuple[str, str, str]


KINDS = [
    Kind(("T-Shirt", "Tricou", "T-Shirt"), "TSH", "T-Shirts", (14, 39), 0,
         [("Organic Cotton", "din bumbac organic", "Bio-Baumwoll"), ("Classic", "clasic", "Klassik"),
          ("Slim Fit", "slim fit", "Slim-Fit"), ("Oversized", "oversized", "Oversize")],
         ["Organic cotton", "Recycled polyester"],
         ("Soft, breathable and cut to keep its shape wash after wash.",
          "Moale, respirabil și croit să-și păstreze forma după fiecare spălare.",
          "Weich, atmungsaktiv und formstabil, Wäsche für Wäsche.")),
    Kind(("Sweater", "Pulover", "Pullover"), "SWE", "Sweaters", (39, 120), 0,
         [("Merino Wool", "din lână merinos", "Merinowoll"), ("Cable Knit", "tricotat", "Zopfstrick"),
          ("Crew Neck", "cu guler rotund", "Rundhals")],
         ["Merino wool", "Organic cotton"],
         ("Warm without bulk, for cold mornings and long evenings.",
          "Călduros fără să fie voluminos, pentru diminețile reci.",
          "Warm ohne aufzutragen, für kalte Morgen und lange Abende.")),
    Kind(("Jacket", "Geacă", "Jacke"), "JAC", "Jackets", (79, 260), 0,
         [("Rain", "de ploaie", "Regen"), ("Quilted", "matlasată", "Stepp"),
          ("Softshell", "softshell", "Softshell"), ("Denim", "din denim", "Denim")],
         ["Recycled polyester", "Canvas"],
         ("Keeps wind and rain out and fits over a sweater.",
          "Ține vântul și ploaia departe și încape peste un pulover.",
          "Hält Wind und Regen ab und passt über einen Pullover.")),
    Kind(("Sneakers", "Pantofi sport", "Sneaker"), "SNK", "Sneakers", (59, 180), 2,
         [("Running", "de alergare", "Lauf"), ("Court", "court", "Court"), ("Trail", "de trail", "Trail"),
          ("Canvas", "din pânză", "Canvas")],
         ["Canvas", "Leather", "Recycled polyester"],
         ("Cushioned, light and grippy on wet pavement.",
          "Amortizați, ușori și cu aderență pe asfalt ud.",
          "Gedämpft, leicht und griffig auf nassem Asphalt.")),
    Kind(("Boots", "Ghete", "Stiefel"), "BOT", "Boots", (89, 240), 2,
         [("Chelsea", "Chelsea", "Chelsea"), ("Hiking", "de drumeție", "Wander"),
          ("Winter", "de iarnă", "Winter")],
         ["Leather"],
         ("Full-grain leather on a sole that can be resoled.",
          "Piele integrală pe o talpă care se poate înlocui.",
          "Vollnarbenleder auf einer Sohle, die sich erneuern lässt.")),
    Kind(("Mug", "Cană", "Tasse"), "MUG", "Mugs & Cups", (8, 29), 1,
         [("Stoneware", "din gresie", "Steingut"), ("Enamel", "emailată", "Emaille"),
          ("Travel", "de călătorie", "Reise"), ("Espresso", "espresso", "Espresso")],
         ["Stoneware", "Enamel"],
         ("Holds the heat and feels good in the hand.",
          "Păstrează căldura și stă bine în mână.",
          "Hält warm und liegt gut in der Hand.")),
    Kind(("Water Bottle", "Sticlă de apă", "Trinkflasche"), "BTL", "Bottles", (12, 45), 3,
         [("Insulated", "izotermă", "Thermo"), ("Glass", "din sticlă", "Glas"),
          ("Sport", "sport", "Sport")],
         ["Stainless steel", "Glass", "Aluminium"],
         ("Leak-proof, cold for 24 hours, hot for 12.",
          "Etanșă, rece 24 de ore, caldă 12.",
          "Auslaufsicher, 24 Stunden kalt, 12 Stunden heiß.")),
    Kind(("Desk Lamp", "Lampă de birou", "Schreibtischlampe"), "LMP", "Desk Lamps", (25, 140), 3,
         [("LED", "LED", "LED"), ("Adjustable", "reglabilă", "Gelenk"),
          ("Minimalist", "minimalistă", "Design")],
         ["Aluminium", "Stainless steel"],
         ("Warm, flicker-free light where you need it.",
          "Lumină caldă, fără pâlpâire, acolo unde ai nevoie.",
          "Warmes, flimmerfreies Licht, wo Sie es brauchen.")),
    Kind(("Backpack", "Rucsac", "Rucksack"), "BPK", "Backpacks", (35, 150), 0,
         [("Commuter", "urban", "Pendler"), ("Daypack", "de zi", "Tages"),
          ("Roll-Top", "roll-top", "Rolltop")],
         ["Canvas", "Recycled polyester"],
         ("A padded laptop sleeve and pockets where your hands expect them.",
          "Compartiment căptușit pentru laptop și buzunare la îndemână.",
          "Gepolstertes Laptopfach und Taschen genau dort, wo man sie sucht.")),
    Kind(("Cap", "Șapcă", "Kappe"), "CAP", "Caps", (12, 35), 0,
         [("Baseball", "baseball", "Baseball"), ("Wool", "din lână", "Woll"),
          ("Trucker", "trucker", "Trucker")],
         ["Organic cotton", "Merino wool"],
         ("Adjustable strap, one size fits most.",
          "Curea reglabilă, o mărime potrivită pentru majoritatea.",
          "Verstellbarer Riemen, eine Größe für fast alle.")),
]
KIND_BY_NOUN = {kind.noun[0]: kind for kind in KINDS}

# Variable products: (kind, style, brand, colours, axis, axis values, base price)
VARIABLE: list[tuple[str, tuple[str, str, str], int, list[str], str | None, list[Any], str]] = [
    ("T-Shirt", ("Essential", "Essential", "Essential"), 0, ["Black", "White", "Navy"], "size",
     ["S", "M", "L", "XL"], "24.99"),
    ("Sweater", ("Merino Crew", "merinos cu guler rotund", "Merino-Rundhals"), 0,
     ["Charcoal", "Burgundy", "Sand"], "size", ["S", "M", "L", "XL"], "89.00"),
    ("Sneakers", ("Everyday Runner", "Everyday Runner", "Everyday Runner"), 4, ["White", "Black", "Sky Blue"],
     "eu_size", [39, 40, 41, 42, 43, 44], "119.00"),
    ("Boots", ("Trail Chelsea", "Trail Chelsea", "Trail Chelsea"), 1, ["Black", "Sand"], "eu_size",
     [40, 41, 42, 43, 44, 45], "169.00"),
    ("Cap", ("Six-Panel", "Six-Panel", "Six-Panel"), 2, ["Navy", "Forest Green", "Mustard", "Coral"],
     None, [], "19.99"),
    ("Water Bottle", ("Insulated", "izotermă", "Thermo"), 7,
     ["Black", "White", "Sky Blue", "Forest Green"], None, [], "29.90"),
    ("Backpack", ("Commuter", "urban", "Pendler"), 7, ["Black", "Navy", "Olive"],
     None, [], "99.00"),
    ("Mug", ("Stoneware", "din gresie", "Steingut"), 3, ["White", "Sand", "Red"],
     None, [], "14.50"),
]


# ---- progress ------------------------------------------------------------------------------

class Progress:
    """Stage lines and counts on a stream: on a terminal a count redraws in place, in a
    log (a pipe, a file) it is one line per tenth, so the log stays short."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out
        self.tty = bool(out is not None and out.isatty())
        self._shown = -1
        self._open = False

    def stage(self, text: str) -> None:
        self._end_count()
        self._write(text + "\n")

    def count(self, what: str, done: int, total: int) -> None:
        share = 100 if total == 0 else 100 * done // total
        line = f"  {what}: {done}/{total} ({share}%)"
        if self.tty:
            self._write("\r" + line)
            self._open = done < total
            if not self._open:
                self._write("\n")
        elif share // 10 != self._shown:
            self._write(line + "\n")
        self._shown = -1 if done >= total else share // 10

    def _end_count(self) -> None:
        if self._open:
            self._write("\n")
            self._open = False
        self._shown = -1

    def _write(self, text: str) -> None:
        if self.out is not None:
            self.out.write(text)
            self.out.flush()


# ---- the plan: every product as it should be ------------------------------------------------

@dataclass(frozen=True)
class Photo:
    kind: str
    colour: str
    seed: int
    view: int
    alt_text: str
    variant_skus: tuple[str, ...] = ()


@dataclass
class Planned:
    """One product to create: its create fields and what goes with it."""

    sku: str
    fields: dict[str, Any]
    second_stock: int | None = None  # units in the second warehouse
    texts: dict[str, dict[str, str]] = field(default_factory=dict)  # locale -> fields
    variants: list[dict[str, Any]] = field(default_factory=list)
    photos: list[Photo] = field(default_factory=list)


def ean(n: int) -> str:
    """A valid EAN-13 in GS1 Romania's range (594), unique per n."""
    body = f"594{n:09d}"
    return body + str(ean_check_digit(body))


def _texts(kind: Kind, brand: str, style: tuple[str, str, str], colour: tuple[str, str, str] | None,
           ) -> dict[str, dict[str, str]]:
    """Name, descriptions per language ("en" is the product's own text)."""
    en_colour = f" – {colour[0]}" if colour else ""
    ro_colour = f" – {colour[1]}" if colour else ""
    de_colour = f" – {colour[2]}" if colour else ""
    in_en = f" in {colour[0].lower()}" if colour else ""
    in_ro = f", culoare {colour[1]}" if colour else ""
    in_de = f" in {colour[2]}" if colour else ""
    de_noun = f"{style[2]}-{kind.noun[2]}"  # a hyphenated compound: "Regen-Jacke"
    return {
        "en": {"name": f"{brand} {style[0]} {kind.noun[0]}{en_colour}",
               "short_description": f"{style[0]} {kind.noun[0].lower()}{in_en}",
               "description": f"<p>{style[0]} {kind.noun[0].lower()}{in_en} by {brand}. {kind.blurb[0]}</p>"},
        "ro": {"name": f"{kind.noun[1]} {style[1]} {brand}{ro_colour}",
               "short_description": f"{kind.noun[1]} {style[1]}{in_ro}",
               "description": f"<p>{kind.noun[1]} {style[1]}{in_ro}, de la {brand}. {kind.blurb[1]}</p>"},
        "de": {"name": f"{brand} {de_noun}{de_colour}",
               "short_description": f"{de_noun}{in_de}",
               "description": f"<p>{de_noun}{in_de} von {brand}. {kind.blurb[2]}</p>"},
    }


def _extra_attributes(kind: Kind, rng: random.Random) -> dict[str, Any]:
    """The attributes that fit the kind: capacity for drinkware, power for lamps..."""
    values: dict[str, Any] = {"material": rng.choice(kind.materials)}
    if kind.prefix in ("MUG", "BTL"):
        values["capacity"] = rng.choice([90, 250, 350, 500, 750, 1000])
        values["dishwasher_safe"] = kind.prefix == "MUG" or rng.random() < 0.5
    if kind.prefix == "LMP":
        values["power"] = rng.choice([5, Decimal("7.5"), 9, 12])
    if kind.prefix in ("JAC", "BOT", "BPK"):
        values["waterproof"] = rng.random() < 0.7
    if rng.random() < 0.6:
        values["features"] = sorted(rng.sample(FEATURES, rng.randrange(1, 3)), key=FEATURES.index)
    if rng.random() < 0.5:
        year, month, day = rng.randrange(2024, 2027), rng.randrange(1, 13), rng.randrange(1, 29)
        values["launch_date"] = f"{year}-{month:02d}-{day:02d}"
    return values


def _locales(n: int) -> tuple[str, ...]:
    """Most products speak both, some one, a few neither: the fallback shows."""
    return {7: ("ro",), 8: ("de",), 9: ()}.get(n % 10, ("ro", "de"))


def _simple(n: int, brand_ids: list[int], supplier_ids: list[int], vat_id: int,
            leaves: dict[str, int], gifts: int) -> Planned:
    """The n-th simple product, from its own generator (the same on every start)."""
    rng = random.Random(2026_000 + n)
    kind = KINDS[n % len(KINDS)]
    colour = COLOURS[(n // len(KINDS)) % len(COLOURS)]
    style = kind.styles[(n // (len(KINDS) * len(COLOURS))) % len(kind.styles)]
    brand = rng.randrange(len(BRAND_NAMES))
    price = Decimal(rng.randrange(*kind.prices)) + Decimal("0.99")
    status = rng.choices(["active", "draft", "out_of_stock", "archived"], [80, 10, 6, 4])[0]
    texts = _texts(kind, BRAND_NAMES[brand][0], style, colour)
    sku = f"{kind.prefix}-{n + 1:04d}"
    category_ids = [leaves[kind.leaf]] + ([gifts] if kind.prefix in ("MUG", "CAP") and n % 3 == 0 else [])
    fields: dict[str, Any] = {
        **texts["en"], "sku": sku, "price": price,
        "sale_price": (price * Decimal("0.8")).quantize(Decimal("0.01")) if n % 7 == 0 else None,
        "cost_price": (price * Decimal("0.45")).quantize(Decimal("0.01")),
        "status": status, "stock": 0 if status == "out_of_stock" else rng.randrange(0, 120),
        "ean": ean(n + 1), "brand_id": brand_ids[brand], "supplier_id": supplier_ids[kind.supplier],
        "vat_rate_id": vat_id, "category_ids": category_ids,
        "publishing_channels": CHANNEL_SETS[n % len(CHANNEL_SETS)],
        "product_condition": "refurbished" if n % 41 == 0 else "new",
        "attributes": {"colour": colour[0], "style": style[0], **_extra_attributes(kind, rng)},
    }
    name = texts["en"]["name"]
    photos = [Photo(kind.noun[0], colour[0], n, 0, name)]
    if n % 12 == 0:  # a second shot: lists show several media, search takes the best
        photos.append(Photo(kind.noun[0], colour[0], n, 1, name + " (side view)"))
    return Planned(
        sku=sku, fields=fields,
        second_stock=None if status == "out_of_stock" or n % 3 == 2 else rng.randrange(1, 60),
        texts={locale: texts[locale] for locale in _locales(n)}, photos=photos,
    )


def _variable(i: int, brand_ids: list[int], supplier_ids: list[int], vat_id: int,
              leaves: dict[str, int]) -> Planned:
    """The i-th variable product: a variant per colour (and size), a photo per colour."""
    noun, style, brand, colours, axis, values, base = VARIABLE[i]
    rng = random.Random(2026_900 + i)
    kind = KIND_BY_NOUN[noun]
    brand_name = BRAND_NAMES[brand][0]
    texts = _texts(kind, brand_name, style, None)
    sku = f"{kind.prefix}-{style[0].split()[0].upper()}"
    planned = Planned(sku=sku, fields={
        **texts["en"], "sku": sku, "price": Decimal(base), "status": "active",
        "product_type": "variable", "brand_id": brand_ids[brand],
        "supplier_id": supplier_ids[kind.supplier], "vat_rate_id": vat_id,
        "category_ids": [leaves[kind.leaf]], "publishing_channels": ["web", "mobile", "marketplace"],
        "attributes": {"style": style[0], **_extra_attributes(kind, rng)},
    }, texts={"ro": texts["ro"], "de": texts["de"]})
    for colour in colours:
        skus = []
        for value in values or [None]:
            suffix = f"{colour.replace(' ', '')[:3].upper()}" + (f"-{value}" if value is not None else "")
            variant_values: dict[str, Any] = {"colour": colour}
            if axis is not None:
                variant_values[axis] = value
            skus.append(f"{sku}-{suffix}")
            planned.variants.append({
                "sku": skus[-1], "ean": ean(100_000 + i * 1000 + len(planned.variants)),
                "stock_quantity": rng.randrange(0, 40), "attributes": variant_values,
            })
        seed = zlib.crc32(f"{sku}/{colour}".encode())
        planned.photos.append(Photo(noun, colour, seed, 0, f"{texts['en']['name']} in {colour.lower()}",
                                    tuple(skus)))
    return planned


# ---- stage 1: what products refer to ---------------------------------------------------------

@dataclass
class References:
    brands: list[int]
    suppliers: list[int]
    vat: int
    second_warehouse: int
    leaves: dict[str, int]
    gifts: int


def _get_or_create(find: Callable[[], Any], create: Callable[[], dict[str, Any]]) -> int:
    row = find()
    return int(row.id) if row is not None else int(create()["id"])


def _category(db: Database, org_id: int, name: str, parent_id: int | None) -> int:
    """The category called `name` under `parent_id`, created last among its siblings if missing."""
    row = db.execute_sql(
        "SELECT id FROM category WHERE org_id = ? AND name = ? AND parent_id IS ? ORDER BY id LIMIT 1",
        (org_id, name, parent_id),
    ).fetchone()
    if row is not None:
        return int(row[0])
    return int(categories.create_category(db, org_id, {"name": name, "parent_id": parent_id})["id"])


def _references(db: Database, org_id: int) -> References:
    """Brands, suppliers, VAT rates, the second warehouse, the tree, channels and
    attributes: each found by its natural key or created."""
    brands = [_get_or_create(
        lambda: Brand.select().where(Brand.org_id == org_id, Brand.name == name).get_or_none(db),
        lambda: BRANDS.create(db, org_id, {"name": name, "description": text}),
    ) for name, text in BRAND_NAMES]
    suppliers = [_get_or_create(
        lambda: Supplier.select().where(Supplier.org_id == org_id, Supplier.name == name).get_or_none(db),
        lambda: SUPPLIERS.create(db, org_id, {"name": name, "email": email, "phone": phone}),
    ) for name, email, phone in SUPPLIER_ROWS]
    vat_ids = [_get_or_create(
        lambda: VatRate.select().where(VatRate.org_id == org_id, VatRate.name == name,
                                       VatRate.country_code == country).get_or_none(db),
        lambda: VAT_RATES.create(db, org_id, {"name": name, "rate": Decimal(rate), "country_code": country}),
    ) for name, rate, country in VAT_ROWS]
    second = _get_or_create(
        lambda: Warehouse.select().where(Warehouse.org_id == org_id,
                                         Warehouse.code == SECOND_WAREHOUSE[1]).get_or_none(db),
        lambda: WAREHOUSES.create(db, org_id, {"name": SECOND_WAREHOUSE[0], "code": SECOND_WAREHOUSE[1]}),
    )
    leaves: dict[str, int] = {}
    for root_name, groups in TREE.items():
        root = _category(db, org_id, root_name, None)
        for group_name, leaf_names in groups.items():
            group = _category(db, org_id, group_name, root)
            for leaf in leaf_names:
                leaves[leaf] = _category(db, org_id, leaf, group)
    gifts = _category(db, org_id, GIFTS, None)
    if not db.execute_sql("SELECT 1 FROM channel WHERE org_id = ?", (org_id,)).fetchone():
        orgs.set_channels(db, org_id, [{"value": value} for value in CHANNELS])
    existing = {str(code) for (code,) in
                db.execute_sql("SELECT code FROM product_attribute WHERE org_id = ?", (org_id,))}
    for definition in ATTRIBUTES:
        if definition["code"] not in existing:
            attributes.create_attribute(db, org_id, definition)
    return References(brands, suppliers, vat_ids[0], second, leaves, gifts)


def plan(count: int, refs: References) -> list[Planned]:
    """Every product of a demo of `count` simple products (and the variable ones)."""
    simple = [_simple(n, refs.brands, refs.suppliers, refs.vat, refs.leaves, refs.gifts)
              for n in range(count)]
    variable = [_variable(i, refs.brands, refs.suppliers, refs.vat, refs.leaves)
                for i in range(len(VARIABLE))]
    return simple + variable


# ---- stage 2: products ---------------------------------------------------------------------

def _present(db: Database, org_id: int, planned: list[Planned]) -> dict[str, int]:
    """The planned products already there: SKU -> id."""
    by_sku = {str(sku): int(pid) for pid, sku in
              db.execute_sql("SELECT id, sku FROM product WHERE org_id = ?", (org_id,))}
    return {item.sku: by_sku[item.sku] for item in planned if item.sku in by_sku}


def _create(db: Database, org_id: int, planned: Planned, second_warehouse: int) -> None:
    """One product with its stock, translations and variants (in the caller's transaction)."""
    product_id = write.create_product(db, org_id, planned.fields)["id"]
    if planned.second_stock is not None:
        stock.set_stock_levels(db, org_id, product_id,
                               [{"warehouse_id": second_warehouse, "quantity": planned.second_stock}])
    for locale, texts in planned.texts.items():
        translations.put_translation(db, org_id, product_id, locale, texts)
    for variant in planned.variants:
        variants.create_variant(db, org_id, product_id, variant)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _products(db: Database, org_id: int, planned: list[Planned], refs: References,
              progress: Progress) -> int:
    """Create the planned products that are missing; answers how many were created."""
    present = _present(db, org_id, planned)
    missing = [p for p in planned if p.sku not in present]
    progress.stage(f"Products: {len(planned) - len(missing)} present, creating {len(missing)}…")
    done = 0
    for batch in _chunks(missing, PRODUCT_BATCH):
        with db.writing():
            for item in batch:
                _create(db, org_id, item, refs.second_warehouse)
        done += len(batch)
        progress.count("products", done, len(missing))
    return len(missing)


# ---- stage 3: photos -------------------------------------------------------------------------

def _without_media(db: Database, org_id: int) -> set[int]:
    return {int(pid) for (pid,) in db.execute_sql(
        "SELECT p.id FROM product p WHERE p.org_id = ?"
        " AND NOT EXISTS (SELECT 1 FROM media m WHERE m.product_id = p.id)", (org_id,))}


def _store_photos(db: Database, org_id: int, product_id: int, photos: list[Photo],
                  files: list[MediaFiles], embeddings: np.ndarray, digest: str) -> None:
    """Add a product's photos with their embeddings, and point its variants at the photo
    of their colour (in the caller's transaction)."""
    variant_ids = {str(sku): int(vid) for vid, sku in db.execute_sql(
        "SELECT id, sku FROM product_variant WHERE product_id = ?", (product_id,))}
    for photo, stored, vector in zip(photos, files, embeddings):
        created = store_image(db, org_id, product_id, stored, vector, digest, photo.alt_text)
        for sku in photo.variant_skus:
            if sku in variant_ids:
                variants.update_variant(db, org_id, product_id, variant_ids[sku], {"media_id": created["id"]})


def _drawer(total: int) -> concurrent.futures.Executor:
    """Where photos are drawn. Drawing is mostly Pillow calls that hold the GIL, so
    for the full demo worker processes (spawned: they share none of this process's
    threads or connections) draw on every core while this process embeds and writes;
    a few dozen photos are not worth starting them (about a second). Spawned workers
    import the caller's main module, so a script that seeds the full demo keeps its
    work under `if __name__ == "__main__":`, as micropim.py and bench/demo.py do."""
    if total < POOL_MIN or WORKERS < 2:
        return concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="micropim-demo")
    return concurrent.futures.ProcessPoolExecutor(
        WORKERS, mp_context=multiprocessing.get_context("spawn"), initializer=init_worker,
        initargs=(os.getpid(),))


def _photos(db: Database, models: ImageModels, org_id: int, planned: list[Planned],
            progress: Progress) -> int:
    """Draw, embed and store the photos of every planned product that has none; each
    batch of products is one transaction, so an interruption loses at most a batch."""
    ids = _present(db, org_id, planned)
    bare = _without_media(db, org_id)
    pending = [(ids[p.sku], p) for p in planned if ids.get(p.sku) in bare]
    total = sum(len(p.photos) for _, p in pending)
    if not pending:
        progress.stage("Photos: every product has its photos.")
        return 0
    progress.stage(f"Photos: drawing, embedding and storing {total} images…")
    model = models.get()
    done = 0
    pool = _drawer(total)
    try:
        def submit(batch: Sequence[tuple[int, Planned]]) -> list[concurrent.futures.Future[Any]]:
            return [pool.submit(render, photo.kind, photo.colour, photo.seed, photo.view)
                    for _, item in batch for photo in item.photos]

        batches = list(_chunks(pending, IMAGE_BATCH))
        ahead = submit(batches[0])
        for i, batch in enumerate(batches):
            rendered = [future.result() for future in ahead]
            if i + 1 < len(batches):  # the next batch draws while this one is embedded
                ahead = submit(batches[i + 1])
            embeddings = model.embed([upright for _, upright in rendered])
            with db.writing():
                start = 0
                for product_id, item in batch:
                    end = start + len(item.photos)
                    _store_photos(db, org_id, product_id, item.photos,
                                  [stored for stored, _ in rendered[start:end]],
                                  embeddings[start:end], model.digest)
                    start = end
            done += len(rendered)
            progress.count("images", done, total)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return done


# ---- the whole seed, and the key ---------------------------------------------------------------

@dataclass
class Outcome:
    products: int = 0  # created by this seed
    images: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # per stage
    skipped: bool = False  # the catalog was complete already
    complete: bool = False  # every stage done (now or before): the marker is written


def demo_org_id(db: Database) -> int:
    with db.writing():
        return orgs.get_or_create_org(db, DEMO_ORG)


def is_complete(db: Database, org_id: int) -> bool:
    """Whether a seed of this organization has completed (a `demo_seed` row)."""
    cursor = db.execute_sql("SELECT 1 FROM demo_seed WHERE org_id = ?", (org_id,))
    return cursor.fetchone() is not None


def _mark_complete(db: Database, org_id: int) -> None:
    """Record that every stage is done, so that later starts leave the catalog alone."""
    with db.writing():
        db.execute_sql("INSERT OR IGNORE INTO demo_seed (org_id, completed_at) VALUES (?, ?)",
                       (org_id, utcnow()))


def seed(db: Database, models: ImageModels, count: int = 300, progress: Progress | None = None) -> Outcome:
    """Create whatever the demo catalog is missing (all of it on a new database), unless
    a seed has completed before; `Outcome.complete` says whether it is complete now.
    The photos are embedded with `models`, which must be the model the server searches
    with."""
    progress = progress or Progress()
    outcome = Outcome()
    began = time.perf_counter()
    org_id = demo_org_id(db)
    if is_complete(db, org_id):
        progress.stage("Demo catalog already present.")
        outcome.skipped = outcome.complete = True
        return outcome
    progress.stage("Demo catalog: brands, suppliers, VAT rates, warehouses, categories, attributes…")
    with db.writing():
        refs = _references(db, org_id)
    planned = plan(count, refs)
    outcome.seconds["references"] = time.perf_counter() - began

    mark = time.perf_counter()
    outcome.products = _products(db, org_id, planned, refs, progress)
    outcome.seconds["products"] = time.perf_counter() - mark

    mark = time.perf_counter()
    try:
        outcome.images = _photos(db, models, org_id, planned, progress)
        outcome.complete = True
    except StaleIndex as exc:  # the operator changed the model: products stay, photos wait
        progress.stage(f"Photos not added: {exc}")
    outcome.seconds["images"] = time.perf_counter() - mark

    total = time.perf_counter() - began
    if not outcome.complete:
        progress.stage(f"Demo catalog incomplete: {len(planned)} products ({outcome.products} new),"
                       f" {outcome.images} new images, in {total:.1f} s; the next start adds the rest.")
        return outcome
    _mark_complete(db, org_id)
    progress.stage(f"Demo catalog ready: {len(planned)} products ({outcome.products} new),"
                   f" {outcome.images} new images, in {total:.1f} s.")
    return outcome


def issue_key(db: Database, org_id: int) -> str:
    """A new demo key, replacing the previous one: every start prints a usable key
    (keys are stored hashed, so an old one cannot be shown again) and keys do not
    pile up. Keys made with `create-key` for the demo organization are left alone."""
    with db.writing():
        orgs.delete_keys(db, org_id, KEY_LABEL)
        return orgs.create_key(db, org_id, label=KEY_LABEL)
