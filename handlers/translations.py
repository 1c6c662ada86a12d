"""Product translations: list, read, create-or-replace and delete one locale."""

from __future__ import annotations

from handlers.base import BaseHandler
from handlers.fields import Body, LongText, Name, ShortText, Slug
from handlers.util import path_id
from store import translations
from store.errors import BadRequest
from store.values import canonical_locale


def parse_locale(raw: str) -> str:
    """A locale from the path or the query string, in canonical case; 400 naming it."""
    try:
        return canonical_locale(raw)
    except ValueError as exc:
        raise BadRequest(f"locale: {exc}") from None


class TranslationIn(Body):
    """A locale's texts. Lengths are those of the product's own fields."""

    name: Name | None = None
    description: LongText | None = None
    short_description: ShortText | None = None
    slug: Slug = None


class TranslationListHandler(BaseHandler):
    """GET /api/products/{id}/translations: every locale with its fields."""

    def get(self, raw_id: str) -> None:
        product_id = path_id(raw_id, "product")
        self.reply(translations.list_translations(self.org_id, product_id))


class TranslationHandler(BaseHandler):
    """GET, PUT (create or replace) and DELETE /api/products/{id}/translations/{locale}."""

    def _path(self, raw_id: str, raw_locale: str) -> tuple[int, str]:
        """The path from left to right: a product that is not there is a 404 whatever
        the locale or the body say; then a bad locale is a 400."""
        product_id = path_id(raw_id, "product")
        translations.require_product(self.org_id, product_id)
        return product_id, parse_locale(raw_locale)

    def get(self, raw_id: str, raw_locale: str) -> None:
        product_id, locale = self._path(raw_id, raw_locale)
        self.reply(translations.get_translation(self.org_id, product_id, locale))

    def put(self, raw_id: str, raw_locale: str) -> None:
        product_id, locale = self._path(raw_id, raw_locale)
        data = self.json_body(TranslationIn).model_dump(exclude_unset=True)
        found, created = translations.put_translation(self.org_id, product_id, locale, data)
        self.reply(found, status=201 if created else 200)

    def delete(self, raw_id: str, raw_locale: str) -> None:
        product_id, locale = self._path(raw_id, raw_locale)
        self.reply(translations.delete_translation(self.org_id, product_id, locale))
