"""Request parameters more than one handler module reads: the product in the path, the
locale of a read, the list order and subtree switch of product lists, and the
relations a product list or read may include."""

from __future__ import annotations

from handlers.spec import BoolParam, ChoiceParam, ListParam, TextParam, id_param
from store.errors import BadRequest
from store.products.query import SORTS
from store.products.relations import INCLUDES
from store.values import canonical_locale


def parse_locale(raw: str) -> str:
    """A locale from the path or the query string, in canonical case; 400 naming it."""
    try:
        return canonical_locale(raw)
    except ValueError as exc:
        raise BadRequest(f"locale: {exc}") from None


LOCALE = TextParam("locale", "Answer the translated texts of this BCP 47 locale (`de-AT`), each"
                   " falling back on its own to the parent locale, then the default text",
                   convert=parse_locale, extra={"examples": ["de-AT"]})
PRODUCT_ID = id_param("id", "product")
SORT = ChoiceParam("sort", "Order; `-` for descending, ties broken by id (default: id)",
                   tuple(f"{sign}{key}" for key in SORTS for sign in ("", "-")))
SUBCATEGORIES = BoolParam("include_subcategories",
                          "With a category: take its descendants too (only `true` or `false`)")
INCLUDE = ListParam("include", "Add these to each product, separated by commas: `stock_levels`"
                    " (as `GET /api/products/{id}/stock` shows them) and `variants` (as"
                    " `GET /api/products/{id}/variants` lists them)", choices=INCLUDES)
