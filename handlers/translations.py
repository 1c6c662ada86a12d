"""Product translations: list, read, create-or-replace and delete one locale."""

from __future__ import annotations

from handlers import schemas
from handlers.base import BaseHandler
from handlers.fields import Body, LongText, Name, ShortText, Slug
from handlers.params import PRODUCT_ID, parse_locale
from handlers.spec import PathParam, operation
from handlers.util import path_id
from store import translations
from store.products.read import require_product

LOCALE_PATH = PathParam("locale", {"type": "string", "examples": ["de-AT"]},
                        "A BCP 47 language tag: language, optional script and region")


class TranslationIn(Body):
    """A locale's texts. Lengths are those of the product's own fields."""

    name: Name | None = None
    description: LongText | None = None
    short_description: ShortText | None = None
    slug: Slug = None


class TranslationListHandler(BaseHandler):
    """GET /api/products/{id}/translations: every locale with its fields."""

    path_params = (PRODUCT_ID,)

    @operation(data=schemas.TranslationList)
    def get(self, raw_id: str) -> None:
        """List a product's translations

        Every locale of the product, sorted; a field that is not translated is null.
        """
        product_id = path_id(raw_id, "product")
        self.reply(self.db.quick(translations.list_translations, self.org_id, product_id))


class TranslationHandler(BaseHandler):
    """GET, PUT (create or replace) and DELETE /api/products/{id}/translations/{locale}."""

    path_params = (PRODUCT_ID, LOCALE_PATH)

    def _path(self, raw_id: str, raw_locale: str) -> tuple[int, str]:
        """The path from left to right: a product that is not there is a 404 whatever
        the locale or the body say; then a bad locale is a 400."""
        product_id = path_id(raw_id, "product")
        self.db.quick(require_product, self.org_id, product_id)
        return product_id, parse_locale(raw_locale)

    @operation(data=schemas.Translation)
    def get(self, raw_id: str, raw_locale: str) -> None:
        """Get one translation"""
        product_id, locale = self._path(raw_id, raw_locale)
        self.reply(self.db.quick(translations.get_translation, self.org_id, product_id, locale))

    @operation(data=schemas.Translation, status=(200, 201), body=TranslationIn)
    async def put(self, raw_id: str, raw_locale: str) -> None:
        """Create or replace a translation

        Replaces the whole translation (201 when the locale is new, 200 when replaced);
        a field not sent is not translated. At least one field is required.
        """
        product_id, locale = self._path(raw_id, raw_locale)
        data = self.json_body(TranslationIn).model_dump(exclude_unset=True)
        found, created = await self.db.write(translations.put_translation, self.org_id, product_id,
                                             locale, data)
        self.reply(found, status=201 if created else 200)

    @operation(data=schemas.Translation)
    async def delete(self, raw_id: str, raw_locale: str) -> None:
        """Delete a translation

        Answers the translation as it was.
        """
        product_id, locale = self._path(raw_id, raw_locale)
        self.reply(await self.db.write(translations.delete_translation, self.org_id, product_id, locale))
