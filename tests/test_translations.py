"""Product translations: the routes, `?locale=` reads with field-by-field fallback,
`available_translations`, `updated_at`, the text search, ETags, slugs and migration 4.

Cross-organization cases for the routes are in test_tenancy.py (PATH_CALLS).
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest

from store import migrations, orgs
from store.db import Database, open_database
from store.products import query as product_query, read as product_read
from tests.factories import count_queries, post_product

EAN = "5940000000011"


async def create(api: Any, name: str = "Linen Shirt", sku: str = "LIN-1", **fields: Any) -> dict[str, Any]:
    return await post_product(api, name, sku, **{
        "description": "<p>Made of linen</p>", "short_description": "A linen shirt", **fields})


async def put(api: Any, product_id: int, locale: str, body: Any, code: int | None = None) -> Any:
    response = await api.put(f"/api/products/{product_id}/translations/{locale}", body)
    if code is not None:
        assert response.code == code, response.body
    return response


async def read(api: Any, product_id: int, locale: str | None = None) -> dict[str, Any]:
    query = f"?locale={urllib.parse.quote(locale)}" if locale else ""
    response = await api.get(f"/api/products/{product_id}{query}")
    assert response.code == 200, response.body
    return dict(response.data)


def texts(product: dict[str, Any]) -> tuple[str, str, str, str]:
    return (product["name"], product["description"], product["short_description"], product["slug"])


async def search_ids(api: Any, words: str, query: str = "") -> list[int]:
    response = await api.get(f"/api/products?search={urllib.parse.quote(words)}&{query}")
    assert response.code == 200, response.body
    return [p["id"] for p in response.data["products"]]


# ---- the routes ------------------------------------------------------------------------

async def test_put_creates_with_201_then_replaces_with_200(api: Any) -> None:
    product = await create(api)
    created = await put(api, product["id"], "ro", {
        "name": "Cămașă de in", "description": "<p>Din in</p>"}, 201)
    assert created.data == {
        "locale": "ro", "name": "Cămașă de in", "description": "<p>Din in</p>",
        "short_description": None, "slug": "camasa-de-in",
        "created_at": created.data["created_at"], "updated_at": created.data["created_at"],
    }
    # PUT replaces the whole translation: what is not sent is no longer translated.
    replaced = await put(api, product["id"], "ro", {"short_description": "Cămașă"}, 200)
    assert replaced.data["name"] is None and replaced.data["description"] is None
    assert replaced.data["slug"] is None
    assert replaced.data["short_description"] == "Cămașă"
    assert replaced.data["created_at"] == created.data["created_at"]
    assert replaced.data["updated_at"] > created.data["updated_at"]
    listed = (await api.get(f"/api/products/{product['id']}/translations")).data
    assert listed == {"product_id": product["id"], "translations": [replaced.data], "total": 1}


async def test_list_get_and_delete(api: Any) -> None:
    product = await create(api)
    pid = product["id"]
    path = f"/api/products/{pid}/translations"
    assert (await api.get(path)).data == {"product_id": pid, "translations": [], "total": 0}
    for locale in ("ro", "de-AT", "de", "zh-Hant-TW"):
        await put(api, pid, locale, {"name": f"Name {locale}"}, 201)
    listed = (await api.get(path)).data
    assert [t["locale"] for t in listed["translations"]] == ["de", "de-AT", "ro", "zh-Hant-TW"]
    assert listed["total"] == 4

    one = await api.get(f"{path}/de-at")  # any case finds the canonical locale
    assert one.code == 200 and one.data["name"] == "Name de-AT"
    deleted = await api.delete(f"{path}/DE-AT")
    assert deleted.code == 200 and deleted.data == one.data
    gone = await api.get(f"{path}/de-AT")
    assert gone.code == 404
    assert gone.error == f"product {pid} has no translation for locale de-AT"
    again = await api.delete(f"{path}/de-AT")
    assert again.code == 404 and again.error == gone.error
    assert [t["locale"] for t in (await api.get(path)).data["translations"]] == ["de", "ro", "zh-Hant-TW"]


async def test_a_missing_product_is_a_404_before_the_locale_or_body_are_looked_at(api: Any) -> None:
    for method, path, body in (
        ("GET", "/api/products/999/translations", None),
        ("GET", "/api/products/999/translations/ro", None),
        ("GET", "/api/products/999/translations/not_a_locale", None),
        ("PUT", "/api/products/999/translations/not_a_locale", {"bogus": 1}),
        ("DELETE", "/api/products/999/translations/ro", None),
    ):
        response = await api.call(method, path, body)
        assert response.code == 404, (method, path)
        assert response.error == "product 999 not found"


# ---- fallback --------------------------------------------------------------------------

async def test_localized_reads_fall_back_field_by_field(api: Any) -> None:
    product = await create(api)
    pid = product["id"]
    default = texts(product)
    await put(api, pid, "de", {"name": "Leinenhemd", "short_description": "Ein Leinenhemd"}, 201)
    await put(api, pid, "de-AT", {"description": "<p>Aus Leinen, Österreich</p>"}, 201)

    assert texts(await read(api, pid, "de")) == (
        "Leinenhemd", default[1], "Ein Leinenhemd", "leinenhemd")
    # de-AT: its own description, then de for name, short description and slug.
    assert texts(await read(api, pid, "de-AT")) == (
        "Leinenhemd", "<p>Aus Leinen, Österreich</p>", "Ein Leinenhemd", "leinenhemd")
    assert texts(await read(api, pid, "de-at")) == texts(await read(api, pid, "de-AT"))
    # A region never falls back to a sibling region, only to its language.
    assert texts(await read(api, pid, "de-CH")) == texts(await read(api, pid, "de"))
    for other in ("fr", "fr-FR", "en"):
        assert texts(await read(api, pid, other)) == default
    # Without a locale nothing is translated; with one, nothing but the four texts is.
    plain = await read(api, pid)
    assert texts(plain) == default
    assert plain["available_translations"] == ["de", "de-AT"]
    localized = await read(api, pid, "de-AT")
    assert {k: v for k, v in localized.items() if k not in product_read.TRANSLATED} == {
        k: v for k, v in plain.items() if k not in product_read.TRANSLATED}


async def test_script_and_region_fall_back_step_by_step(api: Any) -> None:
    product = await create(api)
    pid = product["id"]
    await put(api, pid, "zh", {"name": "亚麻衬衫", "description": "zh", "short_description": "zh"}, 201)
    await put(api, pid, "zh-Hant", {"name": "亞麻襯衫", "description": "zh-Hant"}, 201)
    await put(api, pid, "zh-Hant-TW", {"description": "zh-Hant-TW"}, 201)
    localized = await read(api, pid, "zh-hant-tw")
    assert (localized["name"], localized["description"], localized["short_description"]) == (
        "亞麻襯衫", "zh-Hant-TW", "zh")
    # The slug of a non-Latin name: slugify keeps ASCII only, so it falls to "item".
    assert localized["slug"] == "item"


async def test_the_list_barcode_lookup_and_search_read_in_a_locale(api: Any) -> None:
    shirt = await create(api, ean=EAN)
    plain = await create(api, "Wool Scarf", "SCA-1")
    await put(api, shirt["id"], "ro", {"name": "Cămașă de in"}, 201)

    listed = (await api.get("/api/products?locale=ro")).data["products"]
    assert [p["name"] for p in listed] == ["Cămașă de in", "Wool Scarf"]
    assert listed[1] == await read(api, plain["id"])
    found = (await api.get(f"/api/products/barcode/{EAN}?locale=ro")).data
    assert found["name"] == "Cămașă de in" and found["stock_levels"]
    searched = (await api.get("/api/products?search=camasa&locale=ro")).data["products"]
    assert [(p["id"], p["name"], p["slug"]) for p in searched] == [
        (shirt["id"], "Cămașă de in", "camasa-de-in")]
    # Without a locale, a search by the translated name answers the default texts.
    assert (await api.get("/api/products?search=camasa")).data["products"][0]["name"] == "Linen Shirt"


# ---- locales ---------------------------------------------------------------------------

@pytest.mark.parametrize("given, canonical", [
    ("en", "en"), ("EN", "en"), ("ro", "ro"), ("de-at", "de-AT"), ("de-AT", "de-AT"),
    ("zh-hant-tw", "zh-Hant-TW"), ("ZH-HANT", "zh-Hant"), ("sr-latn", "sr-Latn"),
    ("es-419", "es-419"), ("fil", "fil"), ("haw-US", "haw-US"),
])
async def test_good_locales_are_stored_in_canonical_case(api: Any, given: str, canonical: str) -> None:
    product = await create(api)
    created = await put(api, product["id"], given, {"name": "Translated"}, 201)
    assert created.data["locale"] == canonical
    assert (await read(api, product["id"]))["available_translations"] == [canonical]
    assert (await read(api, product["id"], given))["name"] == "Translated"
    # Another spelling of the same locale replaces it, it does not add a second one.
    await put(api, product["id"], canonical.swapcase(), {"name": "Again"}, 200)
    assert (await read(api, product["id"]))["available_translations"] == [canonical]


BAD_LOCALES = [
    "e", "english", "de_AT", "de-", "-de", "de--AT", "de-A", "de-AUT", "de-1234", "de-AT-x",
    "de-AT-1996", "x-private", "en-Latn-US-u-ca-buddhist", "d3", "12", "ünü", "de AT", "de-Ä",
    "ｅｎ", "zh-Hant-TW-TW",
]


@pytest.mark.parametrize("locale", BAD_LOCALES)
async def test_bad_locales_are_400s_naming_locale_and_write_nothing(api: Any, locale: str) -> None:
    product = await create(api)
    quoted = urllib.parse.quote(locale)
    message = "locale: must be a BCP 47 language tag such as en, ro, de-AT or zh-Hant-TW"
    for method, path in (("PUT", f"/api/products/{product['id']}/translations/{quoted}"),
                         ("GET", f"/api/products/{product['id']}/translations/{quoted}"),
                         ("DELETE", f"/api/products/{product['id']}/translations/{quoted}"),
                         ("GET", f"/api/products/{product['id']}?locale={quoted}"),
                         ("GET", f"/api/products?locale={quoted}"),
                         ("GET", f"/api/products?search=linen&locale={quoted}"),
                         ("GET", f"/api/products/barcode/{EAN}?locale={quoted}")):
        response = await api.call(method, path, {"name": "Translated"} if method == "PUT" else None)
        assert response.code == 400, (method, path, response.body)
        assert response.error == message
    assert await read(api, product["id"]) == product


# ---- validation ------------------------------------------------------------------------

BAD_BODIES: list[tuple[Any, str]] = [
    ({}, "body: give at least one of name, description, short_description, slug"),
    ({"name": None, "slug": None}, "body: give at least one of name, description, short_description, slug"),
    ({"description": "", "short_description": ""},
     "body: give at least one of name, description, short_description, slug"),
    ({"name": "X", "title": "X"}, "title: unknown field"),
    ({"locale": "de"}, "locale: unknown field"),
    ({"name": 5}, "name: must be a string"),
    ({"name": ["X"]}, "name: must be a string"),
    ({"description": True}, "description: must be a string"),
    ({"short_description": {"x": 1}}, "short_description: must be a string"),
    ({"slug": 1}, "slug: must be a string"),
    ({"name": ""}, "name: must not be empty"),
    ({"name": "   "}, "name: must not be empty"),
    ({"name": "x" * 256}, "name: must be at most 255 characters"),
    ({"description": "x" * 65536}, "description: must be at most 65535 characters"),
    ({"short_description": "x" * 2001}, "short_description: must be at most 2000 characters"),
    ({"slug": "x" * 201}, "slug: must be at most 200 characters"),
    ({"slug": "Not A Slug"}, "slug: must be lower-case letters, digits and single hyphens"),
    ({"slug": ""}, "slug: must not be empty"),
    ({"name": 5, "slug": "A"}, "name: must be a string; slug: must be lower-case letters, digits and single hyphens"),
    ([{"name": "X"}], "body: must be a JSON object"),
    ("name", "body: must be a JSON object"),
]


@pytest.mark.parametrize("body, message", BAD_BODIES)
async def test_bad_bodies_are_400s_naming_the_field_and_write_nothing(
    api: Any, body: Any, message: str
) -> None:
    product = await create(api)
    await put(api, product["id"], "de", {"name": "Leinenhemd"}, 201)
    before = await read(api, product["id"])
    translations_before = (await api.get(f"/api/products/{product['id']}/translations")).data
    for locale in ("ro", "de"):  # a new translation, and one that exists
        response = await put(api, product["id"], locale, body)
        assert response.code == 400, response.body
        assert response.error == message
    assert await read(api, product["id"]) == before
    assert (await api.get(f"/api/products/{product['id']}/translations")).data == translations_before


@pytest.mark.parametrize("raw, message", [
    (b"", "body: a JSON body is required"),
    (b"{", "body: malformed JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    (b'{"name": NaN}', "body: malformed JSON: NaN is not valid JSON"),
    (b"\xff\xfe", "body: must be UTF-8 encoded JSON"),
])
async def test_malformed_or_empty_bodies_are_400s(api: Any, raw: bytes, message: str) -> None:
    product = await create(api)
    response = await api.put(f"/api/products/{product['id']}/translations/ro", raw=raw)
    assert response.code == 400
    assert response.error == message
    assert (await read(api, product["id"]))["available_translations"] == []


# ---- available_translations and updated_at ---------------------------------------------

async def test_available_translations_lists_the_stored_locales_sorted(api: Any) -> None:
    product = await create(api)
    pid = product["id"]
    assert product["available_translations"] == []  # the default texts are no locale
    for locale in ("ro", "en", "de-AT", "de"):
        await put(api, pid, locale, {"name": f"In {locale}"}, 201)
    expected = ["de", "de-AT", "en", "ro"]
    assert (await read(api, pid))["available_translations"] == expected
    assert (await read(api, pid, "ro"))["available_translations"] == expected
    listed = (await api.get("/api/products")).data["products"]
    assert listed[0]["available_translations"] == expected
    await api.delete(f"/api/products/{pid}/translations/de-AT")
    assert (await read(api, pid))["available_translations"] == ["de", "en", "ro"]


async def test_writing_and_deleting_a_translation_moves_updated_at(api: Any) -> None:
    product = await create(api)
    pid = product["id"]
    stamps = [product["updated_at"]]

    async def changed_since(since: str) -> list[int]:
        query = urllib.parse.urlencode({"updated_since": since})
        return [p["id"] for p in (await api.get(f"/api/products?{query}")).data["products"]]

    for step in (
        lambda: put(api, pid, "ro", {"name": "Cămașă"}, 201),
        lambda: put(api, pid, "ro", {"name": "Cămașă de in"}, 200),
        lambda: api.delete(f"/api/products/{pid}/translations/ro"),
    ):
        await step()
        now = (await read(api, pid))["updated_at"]
        assert now > stamps[-1]
        assert await changed_since(now) == [pid]
        stamps.append(now)
    # A refused write moves nothing.
    await put(api, pid, "ro", {"name": 5}, 400)
    await api.delete(f"/api/products/{pid}/translations/ro")  # 404: already gone
    assert (await read(api, pid))["updated_at"] == stamps[-1]


# ---- slugs -----------------------------------------------------------------------------

async def test_translated_slugs_are_unique_per_organization_and_locale(
    api: Any, other_api: Any
) -> None:
    first = await create(api, "Shirt A", "A-1")
    second = await create(api, "Shirt B", "B-1")
    assert (await put(api, first["id"], "de", {"name": "Hemd"}, 201)).data["slug"] == "hemd"
    assert (await put(api, second["id"], "de", {"name": "Hemd"}, 201)).data["slug"] == "hemd-2"
    # Another locale, or the same product again, does not clash.
    assert (await put(api, second["id"], "fr", {"name": "Hemd"}, 201)).data["slug"] == "hemd"
    assert (await put(api, first["id"], "de", {"name": "Hemd!"}, 200)).data["slug"] == "hemd"
    # An explicit slug is kept as given, and refused when taken in that locale.
    taken = await put(api, second["id"], "de", {"name": "Hemd", "slug": "hemd"}, 400)
    assert taken.error == "slug: slug 'hemd' is already taken in locale de"
    assert (await read(api, second["id"], "de"))["slug"] == "hemd-2"
    own = await put(api, second["id"], "de", {"name": "Hemd", "slug": "blaues-hemd"}, 200)
    assert own.data["slug"] == "blaues-hemd"
    # Slugs repeat freely across organizations.
    theirs = await create(other_api, "Shirt A", "A-1")
    assert (await put(other_api, theirs["id"], "de", {"name": "Hemd"}, 201)).data["slug"] == "hemd"


async def test_a_translation_without_name_or_slug_keeps_the_default_slug(api: Any) -> None:
    product = await create(api)
    created = await put(api, product["id"], "ro", {"description": "Din in"}, 201)
    assert created.data["slug"] is None
    assert (await read(api, product["id"], "ro"))["slug"] == product["slug"]


async def listed_slugs(api: Any, locale: str) -> dict[int, str]:
    response = await api.get(f"/api/products?locale={locale}&limit=100")
    assert response.code == 200, response.body
    return {p["id"]: p["slug"] for p in response.data["products"]}


async def test_a_translated_slug_cannot_be_a_default_slug_another_product_shows(api: Any) -> None:
    shirt = await create(api, "Shirt", "S-1")
    tee = await create(api, "Tee", "T-1")
    assert shirt["slug"] == "shirt"
    taken = await put(api, tee["id"], "ro", {"name": "Tricou", "slug": "shirt"}, 400)
    assert taken.error == "slug: slug 'shirt' is already taken in locale ro"
    assert (await api.get(f"/api/products/{tee['id']}/translations")).data["total"] == 0
    assert (await read(api, tee["id"]))["updated_at"] == tee["updated_at"]
    # A generated slug steps aside instead.
    assert (await put(api, tee["id"], "ro", {"name": "Shirt"}, 201)).data["slug"] == "shirt-2"
    assert await listed_slugs(api, "ro") == {shirt["id"]: "shirt", tee["id"]: "shirt-2"}
    # Once the shirt shows a slug of its own in ro, its default slug is free there.
    await put(api, shirt["id"], "ro", {"name": "Cămașă"}, 201)
    assert (await put(api, tee["id"], "ro", {"name": "Tricou", "slug": "shirt"}, 200)).data["slug"] == "shirt"
    assert await listed_slugs(api, "ro") == {shirt["id"]: "camasa", tee["id"]: "shirt"}
    # Other locales still show the shirt's default slug.
    assert (await put(api, tee["id"], "fr", {"name": "Shirt"}, 201)).data["slug"] == "shirt-2"


async def test_translated_slugs_count_what_a_locale_falls_back_to(api: Any) -> None:
    first = await create(api, "Shirt A", "A-1")
    second = await create(api, "Shirt B", "B-1")
    await put(api, first["id"], "de", {"name": "Hemd"}, 201)
    # In de-AT the first product shows its de slug, so the second cannot show it too.
    assert (await put(api, second["id"], "de-AT", {"name": "Hemd"}, 201)).data["slug"] == "hemd-2"
    taken = await put(api, second["id"], "de-AT", {"name": "Hemd", "slug": "hemd"}, 400)
    assert taken.error == "slug: slug 'hemd' is already taken in locale de-AT"
    # The other way round: a de slug that a third product would show in de-AT too, where
    # the first has a slug of its own.
    await put(api, first["id"], "de-AT", {"name": "Hemd", "slug": "hemd-at"}, 201)
    third = await create(api, "Shirt C", "C-1")
    taken = await put(api, third["id"], "de", {"slug": "hemd-at"}, 400)
    assert taken.error == "slug: slug 'hemd-at' is already taken in locale de-AT"
    # Fine for the second, which shows a de-AT slug of its own.
    assert (await put(api, second["id"], "de", {"slug": "hemd-at"}, 201)).data["slug"] == "hemd-at"
    assert await listed_slugs(api, "de-AT") == {
        first["id"]: "hemd-at", second["id"]: "hemd-2", third["id"]: "shirt-c"}
    assert await listed_slugs(api, "de") == {
        first["id"]: "hemd", second["id"]: "hemd-at", third["id"]: "shirt-c"}


async def test_dropping_a_translated_slug_must_not_show_a_taken_one(api: Any) -> None:
    shirt = await create(api, "Shirt", "S-1")
    tee = await create(api, "Tee", "T-1")
    await put(api, shirt["id"], "ro", {"name": "Cămașă"}, 201)
    await put(api, tee["id"], "ro", {"slug": "shirt"}, 201)
    # Without its ro slug the shirt would show "shirt" in ro, as the tee does.
    message = ("slug: without a slug of its own in locale ro the product would show"
               " slug 'shirt', which another product shows in locale ro; give a slug")
    replaced = await put(api, shirt["id"], "ro", {"description": "Din in"}, 400)
    assert replaced.error == message
    deleted = await api.delete(f"/api/products/{shirt['id']}/translations/ro")
    assert deleted.code == 400 and deleted.error == message
    assert (await read(api, shirt["id"], "ro"))["slug"] == "camasa"
    # Once the tee moves, both go through.
    await put(api, tee["id"], "ro", {"slug": "tricou"}, 200)
    assert (await put(api, shirt["id"], "ro", {"description": "Din in"}, 200)).data["slug"] is None
    assert (await api.delete(f"/api/products/{shirt['id']}/translations/ro")).code == 200
    assert await listed_slugs(api, "ro") == {shirt["id"]: "shirt", tee["id"]: "tricou"}


async def test_a_default_slug_cannot_be_a_slug_another_product_shows_in_a_locale(api: Any) -> None:
    tee = await create(api, "Tee", "T-1")
    shirt = await create(api, "Shirt", "S-1")
    await put(api, tee["id"], "ro", {"name": "Tricou"}, 201)
    patched = await api.patch(f"/api/products/{shirt['id']}", {"slug": "tricou"})
    assert patched.code == 400
    assert patched.error == "slug: slug 'tricou' is already taken: another product shows it in locale ro"
    created = await api.post("/api/products", {"name": "Other", "sku": "O-1", "slug": "tricou"})
    assert created.code == 400 and created.error == patched.error
    # A generated default slug steps aside.
    third = await create(api, "Tricou", "R-1")
    assert third["slug"] == "tricou-2"
    # The tee itself may take it, and so may a product with a ro slug of its own.
    assert (await api.patch(f"/api/products/{tee['id']}", {"slug": "tricou"})).code == 200
    assert (await api.patch(f"/api/products/{tee['id']}", {"slug": "tee"})).code == 200
    await put(api, shirt["id"], "ro", {"name": "Cămașă"}, 201)
    ok = await api.patch(f"/api/products/{shirt['id']}", {"slug": "tricou"})
    assert ok.code == 200, ok.body
    assert await listed_slugs(api, "ro") == {
        tee["id"]: "tricou", shirt["id"]: "camasa", third["id"]: "tricou-2"}


async def test_the_default_slug_check_is_one_indexed_query(db: Database, api: Any) -> None:
    shirt = await create(api, "Shirt", "S-1")
    for locale in ("de", "fr", "ro"):
        await put(api, shirt["id"], locale, {"name": f"Shirt {locale}"}, 201)
    tee = await create(api, "Tee", "T-1")
    with count_queries(db) as seen:
        assert (await api.patch(f"/api/products/{tee['id']}", {"slug": "tee-2"})).code == 200
    checks = [sql for sql in seen if "slug_locale" in sql]
    assert len(checks) == 1, seen
    plan = " ".join(str(row[-1]) for row in db.execute_sql(
        f"EXPLAIN QUERY PLAN {checks[0]}").fetchall())
    assert "product_translation_slug" in plan and "SCAN t " not in plan + " ", plan


# ---- search ----------------------------------------------------------------------------

async def test_search_finds_translated_names_and_descriptions(api: Any) -> None:
    shirt = await create(api)
    scarf = await create(api, "Wool Scarf", "SCA-1", description="Warm", short_description="Soft")
    await put(api, shirt["id"], "de", {"name": "Leinenhemd", "description": "Aus feinem Leinen"}, 201)
    await put(api, scarf["id"], "ro", {"name": "Fular de lână", "short_description": "Călduros"}, 201)

    assert await search_ids(api, "leinenhemd") == [shirt["id"]]
    assert await search_ids(api, "leinenh") == [shirt["id"]]  # the last word is a prefix
    assert await search_ids(api, "feinem") == [shirt["id"]]
    assert await search_ids(api, "lana") == [scarf["id"]]  # diacritics ignored
    assert await search_ids(api, "calduros") == [scarf["id"]]
    assert await search_ids(api, "fular", "sort=name") == [scarf["id"]]
    assert await search_ids(api, "linen") == [shirt["id"]]  # the default text still
    data = (await api.get("/api/products?search=fular&locale=ro")).data
    assert [(p["name"], p["short_description"], p["description"]) for p in data["products"]] == [
        ("Fular de lână", "Călduros", "Warm")]

    # Changing the product's own text re-indexes it with its translations.
    await api.patch(f"/api/products/{shirt['id']}", {"name": "Flax Shirt"})
    assert await search_ids(api, "leinenhemd") == [shirt["id"]]
    assert await search_ids(api, "flax") == [shirt["id"]]
    # Replacing and deleting a translation takes its words out of the index.
    await put(api, shirt["id"], "de", {"name": "Flachshemd"}, 200)
    assert await search_ids(api, "leinenhemd") == []
    assert await search_ids(api, "feinem") == []
    assert await search_ids(api, "flachshemd") == [shirt["id"]]
    await api.delete(f"/api/products/{shirt['id']}/translations/de")
    assert await search_ids(api, "flachshemd") == []
    assert await search_ids(api, "flax") == [shirt["id"]]
    # Archiving a product still hides it, translated words included.
    await api.delete(f"/api/products/{scarf['id']}")
    assert await search_ids(api, "fular") == []
    assert await search_ids(api, "fular", "status=archived") == [scarf["id"]]


async def test_a_translated_name_ranks_like_a_name(api: Any) -> None:
    described = await create(api, "Summer Trousers", "TRO-1", description="Pairs with a hemd")
    named = await create(api, "Plain Top", "TOP-1")
    await put(api, named["id"], "de", {"name": "Hemd"}, 201)
    # The older product comes first only by relevance (bm25 weights name 4, description 1).
    assert await search_ids(api, "hemd") == [named["id"], described["id"]]


async def test_bulk_import_indexes_alongside_translations(db: Database, api: Any, org_id: int) -> None:
    shirt = await create(api)
    await put(api, shirt["id"], "de", {"name": "Leinenhemd"}, 201)
    from bench.loader import bulk_import  # was store.products.bulk_import

    count = bulk_import(db, org_id, [
        {"name": f"Imported Hemd {n}", "sku": f"IMP-{n}", "status": "active"} for n in range(3)])
    assert count == 3
    assert len(await search_ids(api, "hemd")) == 3
    assert await search_ids(api, "leinenhemd") == [shirt["id"]]
    # The row triggers are back after the load: translations still reach the index.
    imported = (await search_ids(api, "imported"))[0]
    await put(api, imported, "ro", {"name": "Cămașă importată"}, 201)
    assert await search_ids(api, "importata") == [imported]


def test_migration_4_keeps_an_existing_index_and_indexes_new_translations(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_path = str(tmp_path / "old.db")  # not the `db_path` fixture: a copy of a migrated file
    everything = list(migrations.MIGRATIONS)
    monkeypatch.setattr(migrations, "MIGRATIONS", [m for m in everything if m[0] < 4])
    db = open_database(db_path)
    with db.writing():
        org = orgs.get_or_create_org(db, "Old")
    # The store of today reads translations; write the row as the old schema stood.
    product_id = db.execute_sql(
        "INSERT INTO product (org_id, sku, slug, name, status, created_at, updated_at)"
        " VALUES (?, 'LIN-1', 'linen-shirt', 'Linen Shirt', 'active', '2026-01-01', '2026-01-01')",
        (org,),
    ).lastrowid
    db.close()

    monkeypatch.setattr(migrations, "MIGRATIONS", everything)
    db = open_database(db_path)
    try:
        from store import translations

        def found(words: str) -> list[int]:
            items, _ = product_query.list_products_json(db, org, product_query.ProductQuery(search=words))
            return [json.loads(item)["id"] for item in items]

        assert found("linen") == [product_id]
        with db.writing():
            translations.put_translation(db, org, product_id, "de", {"name": "Leinenhemd"})
        assert found("leinenhemd") == [product_id]
        assert found("linen") == [product_id]
        assert product_read.get_product(db, org, product_id, "de")["name"] == "Leinenhemd"
    finally:
        db.close()


# ---- ETag, cache, query count ------------------------------------------------------------

async def test_etag_and_304_for_localized_reads(api: Any) -> None:
    product = await create(api, ean=EAN)
    pid = product["id"]
    await put(api, pid, "ro", {"name": "Cămașă de in"}, 201)
    for path in (f"/api/products/{pid}?locale=ro", "/api/products?locale=ro",
                 f"/api/products/barcode/{EAN}?locale=ro", "/api/products?search=camasa&locale=ro"):
        first = await api.get(path)
        etag = first.headers["Etag"]
        again = await api.get(path, headers={"If-None-Match": etag})
        assert again.code == 304 and again.raw == b"", path
    localized = (await api.get(f"/api/products/{pid}?locale=ro")).headers["Etag"]
    default = (await api.get(f"/api/products/{pid}")).headers["Etag"]
    assert localized != default
    # The default ETag does not match the localized read, nor the other way round.
    assert (await api.get(f"/api/products/{pid}?locale=ro", headers={"If-None-Match": default})).code == 200
    assert (await api.get(f"/api/products/{pid}", headers={"If-None-Match": localized})).code == 200

    await put(api, pid, "ro", {"name": "Cămașă albă"}, 200)
    changed = await api.get(f"/api/products/{pid}?locale=ro", headers={"If-None-Match": localized})
    assert changed.code == 200 and changed.data["name"] == "Cămașă albă"
    # The default read shows the product's updated_at, which moved: a new ETag too.
    assert (await api.get(f"/api/products/{pid}", headers={"If-None-Match": default})).code == 200


async def test_the_cache_never_serves_one_locale_for_another(api: Any) -> None:
    product = await create(api)
    pid = product["id"]
    await put(api, pid, "ro", {"name": "Cămașă"}, 201)
    await put(api, pid, "de", {"name": "Hemd"}, 201)
    for _ in range(2):  # the second round is served from the cache
        assert (await read(api, pid))["name"] == "Linen Shirt"
        assert (await read(api, pid, "ro"))["name"] == "Cămașă"
        assert (await read(api, pid, "de"))["name"] == "Hemd"
        assert (await read(api, pid, "de-AT"))["name"] == "Hemd"
        names = [p["name"] for p in (await api.get("/api/products?locale=de")).data["products"]]
        assert names == ["Hemd"]


async def test_a_localized_list_does_not_query_per_row(db: Database, api: Any, org_id: int) -> None:
    for n in range(20):
        created = await create(api, f"Shirt {n}", f"SH-{n}")
        await put(api, created["id"], "de", {"name": f"Hemd {n}"}, 201)
        await put(api, created["id"], "de-AT", {"description": f"Beschreibung {n}"}, 201)

    async def statements(query: str) -> int:
        db.product_json.clear()  # build every product, not read the cache
        with count_queries(db) as seen:
            response = await api.get(f"/api/products?{query}")
        assert response.code == 200
        # FTS5 reads its own configuration table once per connection: not ours to count.
        return len([sql for sql in seen if "product_fts_config" not in sql])

    small = await statements("locale=de-AT&limit=2")
    large = await statements("locale=de-AT&limit=20")
    assert small == large, "one query per row"
    assert large <= 5  # transaction, count, page of keys, the products, end
    assert await statements("search=hemd&locale=de-AT&limit=2") == await statements(
        "search=hemd&locale=de-AT&limit=20")
    data = (await api.get("/api/products?locale=de-AT&limit=20")).data["products"]
    assert [p["name"] for p in data] == [f"Hemd {n}" for n in range(20)]
    assert [p["description"] for p in data] == [f"Beschreibung {n}" for n in range(20)]
