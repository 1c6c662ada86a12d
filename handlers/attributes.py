"""Product attribute definitions: /api/product-attributes and /api/product-attributes/{id}."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from handlers import schemas
from handlers.base import BaseHandler
from handlers.fields import ONE_LINE, Body, Name
from handlers.spec import LIMIT, PAGE, id_param, operation
from handlers.util import listing, path_id
from store import attributes
from store.values import check_text

AttributeType = Literal["text", "number", "boolean", "select", "multiselect", "date"]


def _code(value: str) -> str:
    if not attributes.CODE.fullmatch(value):
        raise ValueError("must start with a lower-case letter and hold only lower-case letters,"
                         " digits and underscores (at most 64)")
    return value


def _unique(options: list[str] | None) -> list[str] | None:
    if options is not None:
        seen: set[str] = set()
        for option in options:
            if option in seen:
                raise ValueError(f"'{option}' is listed twice")
            seen.add(option)
    return options


Code = Annotated[str, AfterValidator(_code), Field(json_schema_extra={"pattern": f"^{attributes.CODE.pattern}$"})]
Option = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
                   AfterValidator(check_text), ONE_LINE]
Options = Annotated[list[Option] | None, Field(max_length=1000), AfterValidator(_unique)]
Unit = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32),
                 AfterValidator(check_text), ONE_LINE]


class AttributePatch(Body):
    """Any subset of the create fields (PUT and PATCH alike)."""

    name: Name = None  # type: ignore[assignment]
    code: Code = None  # type: ignore[assignment]
    type: AttributeType = None  # type: ignore[assignment]
    options: Options = None
    unit: Unit | None = None
    is_required: bool = None  # type: ignore[assignment]
    is_variant_axis: bool = None  # type: ignore[assignment]


class AttributeCreate(AttributePatch):
    name: Name
    type: AttributeType
    is_required: bool = False
    is_variant_axis: bool = False


class AttributeListHandler(BaseHandler):
    """GET (paginated, by name) and POST /api/product-attributes."""

    @operation(data=schemas.AttributePage, query=(PAGE, LIMIT))
    def get(self) -> None:
        """List attributes

        Attribute definitions, ordered by name.
        """
        page, limit = self.page_args()
        items, total = self.db.quick(attributes.list_attributes, self.org_id, page, limit)
        self.reply(listing("product_attributes", items, page, limit, total))

    @operation(data=schemas.Attribute, status=(201,), body=AttributeCreate)
    async def post(self) -> None:
        """Create an attribute

        `name` and `type` are required; `code` is made from the name when left out;
        `options` are required for the select types and refused for the others.
        """
        body = self.json_body(AttributeCreate)
        data = body.model_dump(exclude_unset=True)
        data.setdefault("is_required", False)
        data.setdefault("is_variant_axis", False)
        self.reply(await self.db.write(attributes.create_attribute, self.org_id, data), status=201)


class AttributeHandler(BaseHandler):
    """GET, PUT/PATCH (any subset of fields) and DELETE /api/product-attributes/{id}."""

    path_params = (id_param("id", "attribute"),)

    @operation(data=schemas.Attribute)
    def get(self, raw_id: str) -> None:
        """Get an attribute"""
        self.reply(self.db.quick(attributes.get_attribute, self.org_id, path_id(raw_id, "attribute")))

    # Updates and deletes may look through every product's values (is the attribute in
    # use? which products lose it?), which takes long at a large catalog.

    @operation(data=schemas.Attribute, body=AttributePatch)
    async def patch(self, raw_id: str) -> None:
        """Update an attribute (PUT and PATCH alike)

        Any subset of the create fields. A change that would strand values products
        or variants hold (a new type or code, a removed option in use) is a 400.
        """
        attribute_id = path_id(raw_id, "attribute")
        data = self.json_body(AttributePatch).model_dump(exclude_unset=True)
        self.reply(await self.db.write(attributes.update_attribute, self.org_id, attribute_id, data,
                                       long=True))

    put = patch

    @operation(data=schemas.DeletedAttribute, errors=(400,))
    async def delete(self, raw_id: str) -> None:
        """Delete an attribute

        Removes its values from every product and variant; answers the attribute with
        how many products and variants changed.
        """
        attribute_id = path_id(raw_id, "attribute")
        self.reply(await self.db.write(attributes.delete_attribute, self.org_id, attribute_id, long=True))
