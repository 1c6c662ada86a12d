"""Query parameters are as strict as bodies: one an operation does not declare, or one
sent twice, is a 400 naming it, on every route of the API and on the public media
files; the pages for browsers (the web UI, /docs) ignore query strings.

The walk enumerates `micropim.routes()`, so a route added to the table is covered
without editing this file.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import micropim
from handlers.spec import ListParam, check_query
from store.db import Database
from store.errors import BadRequest
from tests.factories import draw, upload
from tests.test_contract import fill, implements, sample_ids  # noqa: F401  (a fixture)

API_ROUTES = [(route[0], route[1]) for route in micropim.routes() if route[0].startswith("/api/")]
CASES = [(pattern, handler, method) for pattern, handler in API_ROUTES
         for method in ("GET", "POST", "PUT", "PATCH", "DELETE") if implements(handler, method)]


@pytest.mark.parametrize("pattern, handler, method", CASES,
                         ids=[f"{method} {pattern}" for pattern, _, method in CASES])
async def test_every_api_route_refuses_an_unknown_query_parameter(
    api: Any, sample_ids: dict[str, int], pattern: str, handler: Any, method: str,  # noqa: F811
) -> None:
    path = fill(pattern, sample_ids, 1)
    body: Any = {} if method in ("POST", "PUT", "PATCH") else None
    response = await api.call(method, f"{path}?limt=5", body)
    assert response.code == 400, (method, path, response.raw[:200])
    assert response.error == "limt: unknown query parameter"
    if method == "GET":
        head = await api.call("HEAD", f"{path}?limt=5")
        assert head.code == 400 and head.raw == b""


async def test_the_issues_examples(api: Any) -> None:
    for sku in ("TSH-0001", "TSH-0002"):
        assert (await api.post("/api/products", {"name": sku, "sku": sku})).code == 201
    assert (await api.get("/api/products?limt=5")).error == "limt: unknown query parameter"
    both = await api.get("/api/products?limt=5&serch=x")
    assert both.error == "limt: unknown query parameter; serch: unknown query parameter"
    # A declared parameter under another case is not that parameter either.
    assert (await api.get("/api/products?Limit=5")).error == "Limit: unknown query parameter"
    for path in ("/api/products", "/api/products?", "/api/products?limit=5&page=1&locale=de",
                 "/api/products?status="):
        assert (await api.get(path)).code == 200, path


async def test_a_parameter_sent_twice_is_refused(api: Any) -> None:
    response = await api.get("/api/products?limit=5&limit=6")
    assert response.error == "limit: sent more than once"
    response = await api.get("/api/products?status=active&status=draft")
    assert response.error == "status: sent more than once; send one list separated by commas"


async def test_a_parameter_without_a_name_is_refused(api: Any) -> None:
    response = await api.get("/api/products?=5")
    assert response.error == "(a parameter without a name): unknown query parameter"


async def test_the_key_and_the_method_are_checked_before_the_parameters(api: Any, anon: Any) -> None:
    assert (await anon.get("/api/products?limt=5")).code == 401
    assert (await api.call("PUT", "/api/products?limt=5", {})).code == 405
    assert (await api.get("/api/products?limt=5")).code == 400


async def test_an_upload_with_an_unknown_query_parameter_stores_nothing(api: Any, db: Database) -> None:
    product = (await api.post("/api/products", {"name": "Lamp", "sku": "LAMP"})).data
    response = await upload(api, product["id"], draw(3), alt_text="Front")
    assert response.code == 201
    # A form field in the query string is not the form field.
    response = await api.call("POST", f"/api/products/{product['id']}/media?alt_text=Back",
                              raw=b"", headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert response.code == 400
    assert json.loads(response.raw)["error"] == "alt_text: unknown query parameter"
    assert db.execute_sql("SELECT count(*) FROM media").fetchone()[0] == 1


async def test_the_document_is_strict_too(anon: Any) -> None:
    assert (await anon.get("/api/openapi.json")).code == 200
    response = await anon.get("/api/openapi.json?format=yaml")
    assert response.code == 400 and response.error == "format: unknown query parameter"


async def test_public_media_files_refuse_unknown_parameters_in_plain_text(api: Any, anon: Any) -> None:
    product = (await api.post("/api/products", {"name": "Lamp", "sku": "LAMP"})).data
    media = json.loads((await upload(api, product["id"], draw(4))).raw)["data"]
    path = media["url"].removeprefix("http://pim.test")
    assert (await anon.get(path)).code == 200
    assert (await anon.get(f"{path}?w=160")).code == 200
    for query, message in (("width=160", b"width: unknown query parameter\n"),
                           ("w=160&w=320", b"w: sent more than once\n")):
        for method in ("GET", "HEAD"):
            response = await anon.call(method, f"{path}?{query}")
            assert response.code == 400, (method, query)
            assert response.headers["Content-Type"].startswith("text/plain")
            assert response.raw == (message if method == "GET" else b"")


async def test_pages_for_browsers_ignore_query_strings(app: Any, anon: Any) -> None:
    """A bookmark with tracking tags must not break a page; the one parameter such a
    file reads, the docs files' cache-busting `?v=`, is in the document."""
    for path in ("/?utm_source=mail", "/ui/icon.svg?x=1", "/docs?from=ui", "/docs/docs.js?v=1&x=2"):
        assert (await anon.get(path)).code == 200, path
    document = json.loads(app.openapi_document)
    names = [p["name"] for p in document["paths"]["/docs/{file}"]["get"].get("parameters", [])
             if p["in"] == "query"]
    assert names == ["v"]


def test_every_api_operation_documents_the_400(app: Any) -> None:
    document = json.loads(app.openapi_document)
    for template, item in document["paths"].items():
        if template.startswith("/api/") or template.startswith("/media/"):
            for method, op in item.items():
                assert "400" in op["responses"], (method, template)


def test_list_parameters_are_documented_as_comma_separated(app: Any) -> None:
    document = json.loads(app.openapi_document)
    params = {p["name"]: p for p in document["paths"]["/api/products"]["get"]["parameters"]}
    for name in ("status", "sku", "ean", "include"):
        assert params[name]["style"] == "form" and params[name]["explode"] is False, name
        assert params[name]["schema"]["type"] == "array", name
    assert params["status"]["schema"]["items"]["enum"] == ["draft", "active", "archived", "out_of_stock", "any"]


def test_check_query_names_every_problem() -> None:
    listed = ListParam("status", "", choices=("a", "b"))
    check_query({"status": [b"a,b"]}, (listed,))
    with pytest.raises(BadRequest, match="^x: unknown query parameter; status: sent more than once; send"):
        check_query({"x": [b""], "status": [b"a", b"b"]}, (listed,))
