"""Control characters in text: refused in every text field of every body, query string
and form with a 400 naming the field; tab and line breaks kept where text is multi-line.

Control characters are Unicode's Cc: C0 (U+0000-U+001F), DEL and C1 (U+007F-U+009F).
A NUL cuts a string short in C code that reads it (exports, shop plugins, terminals),
the others corrupt CSV, logs and screens. Multi-line text (descriptions, short
descriptions, text attribute values) keeps tab, LF and CR.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

import pytest

from store.db import Database
from tests.factories import draw, multipart, post_product, upload

BAD = ["\x00", "\x01", "\x1b", "\x1f", "\x7f", "\x85", "\x9f"]
LINE_BREAKS = ["\n", "\r\n", "\t"]


@dataclass(frozen=True)
class TextField:
    """Where a text field is sent: `path` (with `{product}` and the like filled in by
    the fixture), the rest of a valid body, the field's place in the body, and whether
    its text may hold tab and line breaks."""

    method: str
    path: str
    body: dict[str, Any]
    field: str  # as the error names it
    multiline: bool = False

    def with_value(self, value: str) -> dict[str, Any]:
        body = dict(self.body)
        if self.field.startswith("channels[0]."):
            body["channels"] = [{"value": "web", self.field.removeprefix("channels[0]."): value}]
        elif self.field.startswith("options"):
            body["options"] = [value]
        elif self.field.startswith("attributes."):
            body["attributes"] = {self.field.removeprefix("attributes."): value}
        else:
            body[self.field] = value
        return body


FIELDS = [
    TextField("POST", "/api/products", {"sku": "NEW-1"}, "name"),
    TextField("POST", "/api/products", {"name": "New", "sku": "NEW-1"}, "description", True),
    TextField("POST", "/api/products", {"name": "New", "sku": "NEW-1"}, "short_description", True),
    TextField("POST", "/api/products", {"name": "New", "sku": "NEW-1"}, "attributes.material", True),
    TextField("PATCH", "/api/products/{product}", {}, "name"),
    TextField("PATCH", "/api/products/{product}", {}, "description", True),
    TextField("PUT", "/api/products/{product}/translations/ro", {}, "name"),
    TextField("PUT", "/api/products/{product}/translations/ro", {}, "description", True),
    TextField("PUT", "/api/products/{product}/translations/ro", {}, "short_description", True),
    TextField("POST", "/api/products/{product}/variants", {"sku": "V-1"}, "name"),
    TextField("PATCH", "/api/products/{product}/media/{media}", {}, "alt_text"),
    TextField("POST", "/api/categories", {}, "name"),
    TextField("POST", "/api/categories", {"name": "Shoes"}, "description", True),
    TextField("PUT", "/api/categories/{category}", {}, "name"),
    TextField("POST", "/api/product-attributes", {"type": "text"}, "name"),
    TextField("POST", "/api/product-attributes", {"name": "Size", "type": "number"}, "unit"),
    TextField("POST", "/api/product-attributes", {"name": "Fit", "type": "select"}, "options[0]"),
    TextField("POST", "/api/brands", {}, "name"),
    TextField("POST", "/api/brands", {"name": "Acme"}, "description", True),
    TextField("POST", "/api/suppliers", {}, "name"),
    TextField("POST", "/api/suppliers", {"name": "Acme"}, "email"),
    TextField("POST", "/api/suppliers", {"name": "Acme"}, "phone"),
    TextField("POST", "/api/vat-rates", {"rate": "19", "country_code": "RO"}, "name"),
    TextField("POST", "/api/warehouses", {"code": "W2"}, "name"),
    TextField("POST", "/api/warehouses", {"name": "Second"}, "code"),
    TextField("PUT", "/api/channels", {}, "channels[0].label"),
    TextField("PUT", "/api/channels", {}, "channels[0].description", True),
]


def contains(data: Any, value: str) -> bool:
    if isinstance(data, dict):
        return any(contains(item, value) for item in data.values())
    if isinstance(data, list):
        return any(contains(item, value) for item in data)
    return data == value


def message(text: str, multiline: bool) -> str:
    where = next(i for i, ch in enumerate(text) if ch in "".join(BAD) + ("" if multiline else "\t\n\r"))
    kinds = "control characters other than tab and line breaks" if multiline else "control characters"
    return f"must not contain {kinds} (U+{ord(text[where]):04X} at character {where + 1})"


async def _path(api: Any, where: TextField) -> str:
    """The field's path, with what it needs made: a product (with an image for a media
    path), a category, the text attribute `material`."""
    ids: dict[str, int] = {}
    if "{product}" in where.path:
        ids["product"] = (await post_product(api, "Lamp", "LAMP-1"))["id"]
    if "{media}" in where.path:
        ids["media"] = (await upload(api, ids["product"], draw(1))).data["id"]
    if "{category}" in where.path:
        ids["category"] = (await api.post("/api/categories", {"name": "Lamps"})).data["id"]
    if where.field.startswith("attributes."):
        assert (await api.post("/api/product-attributes", {"name": "Material", "code": "material",
                                                           "type": "text"})).code == 201
    return where.path.format(**ids)


def _rows(db: Database) -> tuple[int, ...]:
    tables = ("product", "product_variant", "product_translation", "category", "product_attribute",
              "brand", "supplier", "vat_rate", "warehouse")
    return tuple(db.execute_sql(f"SELECT count(*) FROM {table}").fetchone()[0] for table in tables)


@pytest.mark.parametrize("bad", BAD, ids=[f"U+{ord(ch):04X}" for ch in BAD])
@pytest.mark.parametrize("where", FIELDS, ids=[f"{f.method} {f.path} {f.field}" for f in FIELDS])
async def test_control_characters_are_a_400_naming_the_field(db: Database, api: Any, where: TextField,
                                                             bad: str) -> None:
    path = await _path(api, where)
    before = _rows(db)
    value = f"Lamp{bad}shade"
    response = await api.call(where.method, path, where.with_value(value))
    assert response.code == 400, response.body
    assert response.error == f"{where.field}: {message(value, where.multiline)}"
    assert _rows(db) == before


@pytest.mark.parametrize("breaks", LINE_BREAKS, ids=["LF", "CRLF", "tab"])
@pytest.mark.parametrize("where", FIELDS, ids=[f"{f.method} {f.path} {f.field}" for f in FIELDS])
async def test_tab_and_line_breaks_only_where_text_is_multi_line(api: Any, where: TextField, breaks: str) -> None:
    path = await _path(api, where)
    value = f"First line{breaks}second line"
    response = await api.call(where.method, path, where.with_value(value))
    if where.multiline:
        assert response.code in (200, 201), response.body
        assert contains(response.data, value), response.body
    else:
        assert response.code == 400, response.body
        assert response.error == f"{where.field}: {message(value, False)}"


async def test_multi_line_text_is_kept_exactly(api: Any) -> None:
    text = "Care:\r\n\t- wash cold\n\t- dry flat"
    created = await post_product(api, "Shirt", "SH-1", description=text, short_description=text)
    shown = (await api.get(f"/api/products/{created['id']}")).data
    assert shown["description"] == shown["short_description"] == text


@pytest.mark.parametrize("query, name", [
    ("search=lamp%00shade", "search"), ("search=lamp%0Ashade", "search"), ("search=%7F", "search"),
    ("updated_since=2026-01-01%00", "updated_since"), ("locale=ro%00", "locale"),
])
async def test_control_characters_in_the_query_string_are_a_400(api: Any, query: str, name: str) -> None:
    response = await api.get(f"/api/products?{query}")
    assert response.code == 400, response.body
    value = urllib.parse.parse_qs(query)[name][0]
    assert response.error == f"{name}: {message(value, False)}"


async def test_control_characters_in_a_form_field_are_a_400(db: Database, api: Any) -> None:
    product = await post_product(api, "Lamp", "LAMP-1")
    body, content_type = multipart({"alt_text": "Front\x00view"}, {"file": ("a.png", draw(2))})
    response = await api.call("POST", f"/api/products/{product['id']}/media", raw=body,
                              headers={"Content-Type": content_type})
    assert response.code == 400, response.body
    assert response.error == f"alt_text: {message('Front' + chr(0) + 'view', False)}"
    assert db.execute_sql("SELECT count(*) FROM media").fetchone()[0] == 0


async def test_a_media_url_body_refuses_them_before_fetching(api: Any) -> None:
    product = await post_product(api, "Lamp", "LAMP-1")
    response = await api.post(f"/api/products/{product['id']}/media",
                              {"file_url": "http://x.test/a.png", "alt_text": "a\nb"})
    assert response.code == 400 and response.error == f"alt_text: {message('a' + chr(10) + 'b', False)}"


@pytest.mark.parametrize("field, line", [
    ("name", {"sku": "B-1", "name": "Bulk\x00lamp"}),
    ("description", {"sku": "B-1", "name": "Bulk", "description": "a\x1bb"}),
    ("categories[0]", {"sku": "B-1", "name": "Bulk", "categories": ["Lamps\x00 > Desk"]}),
    ("vat_rate", {"sku": "B-1", "name": "Bulk", "vat_rate": "Standard\x00"}),
    ("stock_levels[0].warehouse_name", {"sku": "B-1", "name": "Bulk",
                                        "stock_levels": [{"warehouse_code": "MAIN", "warehouse_name": "M\x00",
                                                          "quantity": 1}]}),
])
async def test_a_bulk_line_refuses_them_as_a_body_does(db: Database, api: Any, field: str,
                                                       line: dict[str, Any]) -> None:
    import json

    response = await api.call("POST", "/api/products/bulk", raw=json.dumps(line).encode() + b"\n",
                              headers={"Content-Type": "application/x-ndjson"})
    assert response.code == 200, response.body
    (result,) = response.data["results"]
    assert result["status"] == "failed" and result["error"].startswith(f"{field}: must not contain control"), result
    assert db.execute_sql("SELECT count(*) FROM product").fetchone()[0] == 0
