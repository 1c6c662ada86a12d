"""Text search through `GET /api/products?search=`: ranking, matching, filters, pages.

Ranking facts are checked against orders the data makes unambiguous; where a test
relies on one product outranking another by bm25, it first asserts that premise.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest

from store.db import Database
from store.products import text
from store.products.query import LISTED
from tests.factories import post_product

EAN13 = "4006381333931"
EAN13_B = "5901234123457"


async def create(api: Any, name: str, sku: str, **fields: Any) -> int:
    return int((await post_product(api, name, sku, **fields))["id"])


async def search(api: Any, words: str, query: str = "", limit: int = 100, page: int = 1) -> Any:
    """The data of one page of search results."""
    quoted = urllib.parse.quote(words)
    response = await api.get(f"/api/products?search={quoted}&limit={limit}&page={page}&{query}")
    assert response.code == 200, response.body
    return response.data


async def found(api: Any, words: str, query: str = "") -> list[int]:
    return [p["id"] for p in (await search(api, words, query))["products"]]


def bm25_order(db: Database, org_id: int, words: str) -> list[int]:
    """The index's own relevance order, without the exact SKU/EAN rule."""
    match = text.match_expression(text.words_expression(words) or "", org_id, LISTED)
    rows = db.execute_sql(
        f"SELECT rowid FROM product_fts WHERE product_fts MATCH ? ORDER BY {text.BM25}, rowid DESC",
        (match,),
    )
    return [row[0] for row in rows]


# ---- ranking -------------------------------------------------------------------------

async def test_name_match_ranks_above_description_only_match(api: Any) -> None:
    shirt = await create(api, "Linen Shirt", "LIN-1")
    # Newer, so recency alone would put it first.
    trousers = await create(api, "Summer Trousers", "TRO-1",
                            description="Pairs well with a linen shirt.")
    assert await found(api, "shirt") == [shirt, trousers]
    assert await found(api, "linen shirt") == [shirt, trousers]
    data = await search(api, "shirt")
    assert data["pagination"] == {"current_page": 1, "total_pages": 1, "total_items": 2,
                                  "items_per_page": 100}


async def test_exact_sku_comes_first(db: Database, api: Any, org_id: int) -> None:
    better = await create(api, "WX 9", "WX-9-WX-9", description="WX 9, the WX 9 you know.")
    exact = await create(api, "Plain box", "WX-9", ean=EAN13)
    await create(api, "Unrelated", "ZZ-1")
    assert bm25_order(db, org_id, "WX-9") == [better, exact]  # the words favour the other one
    assert await found(api, "WX-9") == [exact, better]
    assert await found(api, "  WX-9  ") == [exact, better]
    assert await found(api, "WX 9") == [better, exact]  # not the exact SKU: plain ranking
    assert (await search(api, "WX-9"))["pagination"]["total_items"] == 2


async def test_exact_ean_comes_first(db: Database, api: Any, org_id: int) -> None:
    exact = await create(api, "Bottle", "BOT-1", ean=EAN13)
    better = await create(api, f"Bottle {EAN13}", f"{EAN13}-B", description=f"Code {EAN13}.")
    assert bm25_order(db, org_id, EAN13) == [better, exact]
    assert await found(api, EAN13) == [exact, better]
    assert (await search(api, EAN13))["pagination"]["total_items"] == 2


async def test_exact_upc_a_is_found_by_its_ean_13_form(api: Any) -> None:
    upc = "036000291452"  # a UPC-A; "0" + it is the same code as an EAN-13
    exact = await create(api, "Tape", "TAPE-1", ean=upc)
    await create(api, "Other tape", "TAPE-2", description="0" + upc)
    assert (await found(api, "0" + upc))[0] == exact


async def test_exact_sku_wins_over_exact_ean(api: Any) -> None:
    by_ean = await create(api, "Jar", "JAR-1", ean=EAN13_B)
    by_sku = await create(api, "Lid", EAN13_B)
    assert await found(api, EAN13_B) == [by_sku, by_ean]


async def test_exact_sku_that_matches_no_word_is_still_found(api: Any) -> None:
    # Punctuation only: no word for the index, but the SKU is exact.
    odd = await create(api, "Odd one", "+++")
    await create(api, "Other", "OTHER-1")
    assert await found(api, "+++") == [odd]
    assert (await search(api, "+++"))["pagination"]["total_items"] == 1
    assert await found(api, "---") == []


# ---- matching ------------------------------------------------------------------------

async def test_prefix_matching_on_the_last_word(api: Any) -> None:
    shirt = await create(api, "Linen Shirt", "LIN-1")
    await create(api, "Linen Trousers", "LIN-2")
    assert await found(api, "shi") == [shirt]
    assert await found(api, "sh") == [shirt]
    assert await found(api, "SHIR") == [shirt]
    assert await found(api, "linen shi") == [shirt]
    # Only the word being typed is a prefix; earlier words are whole.
    assert await found(api, "shi linen") == []
    assert await found(api, "shirts") == []


async def test_diacritics_do_not_matter(api: Any) -> None:
    cafe = await create(api, "Café Crème", "CAF-1")
    cup = await create(api, "Ceașcă roșie", "CUP-1")
    latte = await create(api, "Cafe latte", "LAT-1")
    assert sorted(await found(api, "cafe")) == [cafe, latte]
    assert sorted(await found(api, "CAFÉ")) == [cafe, latte]
    assert await found(api, "creme") == [cafe]
    assert await found(api, "café crème") == [cafe]
    assert await found(api, "ceasca rosie") == [cup]
    assert await found(api, "Ceașcă") == [cup]


async def test_every_word_must_match(api: Any) -> None:
    linen_shirt = await create(api, "Linen Shirt", "A-1")
    cotton_shirt = await create(api, "Cotton Shirt", "A-2")
    linen_trousers = await create(api, "Linen Trousers", "A-3", description="Not a shirt... or is it?")
    assert await found(api, "linen shirt") == [linen_shirt, linen_trousers]
    assert await found(api, "shirt linen") == [linen_shirt, linen_trousers]
    assert await found(api, "cotton shirt") == [cotton_shirt]
    assert await found(api, "cotton linen") == []


async def test_sku_and_description_words_are_searched(api: Any) -> None:
    by_sku = await create(api, "Plain", "ZEBRA-77")
    by_short = await create(api, "Plain too", "P-2", short_description="Striped like a zebra")
    by_description = await create(api, "Plain three", "P-3", description="<p>zebra print</p>")
    assert sorted(await found(api, "zebra")) == [by_sku, by_short, by_description]
    assert await found(api, "zebra 77") == [by_sku]


async def test_hidden_index_columns_are_not_searchable(api: Any, org_id: int) -> None:
    # Organization and status are tokens in the index; words must not hit them.
    await create(api, "Linen Shirt", "LIN-1", status="active")
    assert await found(api, f"o{org_id}") == []
    assert await found(api, "active") == []
    assert await found(api, "draft") == []


@pytest.mark.parametrize("words", [
    '"', 'shirt"', "shirt*", "shirt OR trousers", "NEAR(shirt trousers)", "sku:shirt",
    "(shirt", "shirt AND", "-shirt", "^shirt", "{name}: x", "'; DROP TABLE product; --",
    "🙂", "x" * 200, " ".join(["shirt"] * 30),
])
async def test_query_syntax_is_never_an_error(api: Any, words: str) -> None:
    shirt = await create(api, "Linen Shirt", "LIN-1")
    result = await found(api, words)
    assert result in ([], [shirt])
    if words in ("shirt*", 'shirt"', "(shirt", "^shirt", "-shirt", " ".join(["shirt"] * 30)):
        assert result == [shirt]


async def test_changes_reach_the_index(api: Any) -> None:
    product = await create(api, "Linen Shirt", "LIN-1")
    await api.patch(f"/api/products/{product}", {"name": "Wool Jumper", "description": "warm"})
    assert await found(api, "shirt") == []
    assert await found(api, "jumper warm") == [product]
    await api.patch(f"/api/products/{product}", {"sku": "NEW-SKU", "ean": EAN13})
    assert await found(api, "NEW-SKU") == [product]
    assert await found(api, EAN13) == [product]
    assert await found(api, "LIN-1") == []


# ---- filters and scope ---------------------------------------------------------------

async def test_search_with_filters(api: Any) -> None:
    acme = (await api.post("/api/brands", {"name": "Acme"})).data["id"]
    a = await create(api, "Shirt A", "A", status="active", brand_id=acme, publishing_channels=["web"])
    b = await create(api, "Shirt B", "B", status="active", publishing_channels=["mobile"])
    c = await create(api, "Shirt C", "C", brand_id=acme, publishing_channels=["web", "mobile"])
    d = await create(api, "Shirt D", "D", status="out_of_stock", brand_id=acme)
    await create(api, "Trousers", "E", status="active", brand_id=acme, publishing_channels=["web"])
    assert sorted(await found(api, "shirt")) == [a, b, c, d]
    assert sorted(await found(api, "shirt", "status=active")) == [a, b]
    assert await found(api, "shirt", "status=draft") == [c]
    assert await found(api, "shirt", "status=out_of_stock") == [d]
    assert sorted(await found(api, "shirt", f"brand={acme}")) == [a, c, d]
    assert sorted(await found(api, "shirt", "channel=web")) == [a, c]
    assert sorted(await found(api, "shirt", "channel=mobile")) == [b, c]
    assert await found(api, "shirt", f"brand={acme}&channel=web&status=active") == [a]
    assert await found(api, "shirt", "brand=999") == []
    data = await search(api, "shirt", f"brand={acme}", limit=2)
    assert data["pagination"] == {"current_page": 1, "total_pages": 2, "total_items": 3, "items_per_page": 2}
    # The exact-SKU rule obeys the filters too.
    assert await found(api, "B", f"brand={acme}") == []
    assert await found(api, "A", "status=draft") == []


async def test_archived_products_only_with_status_archived(api: Any) -> None:
    live = await create(api, "Linen Shirt", "LIVE-1")
    old = await create(api, "Linen Shirt old", "OLD-1", ean=EAN13)
    await api.delete(f"/api/products/{old}")
    assert await found(api, "shirt") == [live]
    assert await found(api, "OLD-1") == []
    assert await found(api, EAN13) == []
    assert (await search(api, "shirt"))["pagination"]["total_items"] == 1
    assert await found(api, "shirt", "status=archived") == [old]
    assert await found(api, "OLD-1", "status=archived") == [old]
    assert await found(api, EAN13, "status=archived") == [old]


async def test_search_stays_in_the_organization(api: Any, other_api: Any) -> None:
    mine = await create(api, "Linen Shirt", "MINE-1")
    await create(other_api, "Linen Shirt", "THEIRS-1", ean=EAN13)
    await create(other_api, "Shirt deluxe", "THEIRS-2")
    assert await found(api, "shirt") == [mine]
    assert (await search(api, "shirt"))["pagination"]["total_items"] == 1
    assert await found(api, "THEIRS-1") == []
    assert await found(api, EAN13) == []
    assert await found(api, "shirt", "sort=name") == [mine]
    assert await found(api, "deluxe") == []


# ---- pages ---------------------------------------------------------------------------

async def _mug_catalog(api: Any) -> list[int]:
    """Seven matches of "mug" with mixed relevance, one of them the exact SKU."""
    ids = [
        await create(api, "Mug", "M-1"),
        await create(api, "Plate", "M-2", description="matches the mug"),
        await create(api, "Mug Mug", "M-3", description="mug"),
        await create(api, "Bowl", "mug"),
        await create(api, "Travel Mug", "M-5"),
        await create(api, "Cup", "M-6", description="a mug, really"),
        await create(api, "Mugs", "M-7"),  # a prefix match
    ]
    await create(api, "Spoon", "M-8")
    return ids


@pytest.mark.parametrize("sort", ["", "sort=name", "sort=-id"])
async def test_search_pages_are_consistent(api: Any, sort: str) -> None:
    ids = await _mug_catalog(api)
    everything = await found(api, "mug", sort)
    assert sorted(everything) == sorted(ids)
    if not sort:
        assert everything[0] == ids[3]  # the exact SKU
    for limit in range(1, 9):
        pages: list[int] = []
        total_pages = -(-len(ids) // limit)
        for page in range(1, total_pages + 2):
            data = await search(api, "mug", sort, limit=limit, page=page)
            assert data["pagination"] == {"current_page": page, "total_pages": total_pages,
                                          "total_items": 7, "items_per_page": limit}
            pages += [p["id"] for p in data["products"]]
        assert pages == everything, limit


async def test_search_page_past_the_end(api: Any) -> None:
    await _mug_catalog(api)
    assert await search(api, "mug", limit=5, page=3) == {
        "products": [],
        "pagination": {"current_page": 3, "total_pages": 2, "total_items": 7, "items_per_page": 5},
    }
    assert await search(api, "teapot") == {
        "products": [],
        "pagination": {"current_page": 1, "total_pages": 0, "total_items": 0, "items_per_page": 100},
    }


# ---- the ranked window ---------------------------------------------------------------

async def _window_catalog(api: Any, exact_at: int | None, brand: int | None) -> list[int]:
    """Eight "shirt" products, 1..8 oldest to newest; 1 and 6 match by name.

    Equal-length texts keep the description-only matches tied in bm25, so their order
    is the newest-first tie-break. Product `exact_at` has the SKU "shirt".
    """
    ids = []
    for n in range(1, 9):
        name = f"Shirt {n}" if n in (1, 6) else f"Item {n}"
        sku = "shirt" if n == exact_at else f"S-{n}"
        ids.append(await create(api, name, sku, description="goes with a shirt", brand_id=brand))
    return ids


@pytest.mark.parametrize("window, exact_at, expected", [
    (3, None, [8, 7, 6, 5, 4, 3, 2, 1]),  # more matches than the window: newest first
    (3, 2, [2, 8, 7, 6, 5, 4, 3, 1]),  # the exact hit first, then newest first
    (3, 7, [7, 8, 6, 5, 4, 3, 2, 1]),
    (7, 6, [6, 1, 8, 7, 5, 4, 3, 2]),  # the other 7 fit in the window: ranked
    (7, 3, [3, 6, 1, 8, 7, 5, 4, 2]),
    (8, None, [6, 1, 8, 7, 5, 4, 3, 2]),  # exactly the window: ranked
])
@pytest.mark.parametrize("filtered", [False, True])
async def test_ranked_window_pages_are_consistent_and_complete(
    api: Any, monkeypatch: pytest.MonkeyPatch, window: int, exact_at: int | None,
    expected: list[int], filtered: bool,
) -> None:
    monkeypatch.setattr(text, "RANK_WINDOW", window)
    brand = (await api.post("/api/brands", {"name": "Acme"})).data["id"] if filtered else None
    ids = await _window_catalog(api, exact_at, brand)
    query = ""
    if filtered:
        # A newer match outside the filter must neither be listed nor counted.
        await create(api, "Shirt 9", "S-9", description="goes with a shirt")
        query = f"brand={brand}"
    order = [ids[n - 1] for n in expected]
    assert await found(api, "shirt", query) == order
    for limit in range(1, 10):
        pages: list[int] = []
        total_pages = -(-8 // limit)
        for page in range(1, total_pages + 2):
            data = await search(api, "shirt", query, limit=limit, page=page)
            assert data["pagination"]["total_items"] == 8
            assert data["pagination"]["total_pages"] == total_pages
            pages += [p["id"] for p in data["products"]]
        assert pages == order, limit


async def test_without_the_window_every_match_is_ranked(api: Any) -> None:
    ids = await _window_catalog(api, None, None)
    expected = [6, 1, 8, 7, 5, 4, 3, 2]  # name matches first, ties newest first
    assert await found(api, "shirt") == [ids[n - 1] for n in expected]
