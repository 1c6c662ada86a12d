"""Categories: list, tree, CRUD, move, children, and the products assigned to them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from handlers import schemas
from handlers.base import BaseHandler, to_json
from handlers.fields import MAX_ID, Body, Id, LongText, Name, Slug
from handlers.params import INCLUDE, SORT, SUBCATEGORIES
from handlers.spec import LIMIT, PAGE, IntParam, id_param, operation
from handlers.util import listing, pagination, path_id
from store import categories
from store.products.query import ProductQuery

Position = Annotated[int, Field(ge=0, le=2_147_483_647)]
PARENT_ID = IntParam("parent_id", "List only this category's children, in position order"
                     " (0: the top-level categories)", 0, MAX_ID)
CATEGORY_ID = id_param("id", "category")


class CategoryPatch(Body):
    """Any subset of the create fields; `parent_id: null` moves it to the top level."""

    name: Name = None  # type: ignore[assignment]
    description: LongText = None  # type: ignore[assignment]
    parent_id: Id | None = None
    slug: Slug = None


class CategoryCreate(CategoryPatch):
    name: Name


class CategoryMove(Body):
    parent_id: Id | None  # required; null is the top level
    position: Position | None = None  # None: last


class ProductIds(Body):
    product_ids: Annotated[list[Id], Field(max_length=1000)]


def _category_id(raw_id: str) -> int:
    return path_id(raw_id, "category")


async def _list(handler: BaseHandler, parent_id: int | None) -> None:
    """Every category (of one parent), or one page with `page` and/or `limit`: the
    contract lists categories without pages, so a plugin reading them once sees them all."""
    # Off the loop: a category's subtree count reads its subtree's links.
    if "page" in handler.request.arguments or "limit" in handler.request.arguments:
        page, limit = handler.page_args()
        items, total = await handler.db.read(categories.list_categories, handler.org_id, parent_id, page, limit)
        handler.reply(listing("categories", items, page, limit, total))
        return
    items, total = await handler.db.read(categories.list_categories, handler.org_id, parent_id, 1, None)
    handler.reply(listing("categories", items, 1, max(total, 1), total))


class CategoryListHandler(BaseHandler):
    """GET /api/categories (paginated; `parent_id=0` for the top level) and POST."""

    @operation(data=schemas.CategoryPage, query=(PARENT_ID, PAGE, LIMIT))
    async def get(self) -> None:
        """List categories

        All categories in id order, or one parent's children in position order: every
        one of them, or one page with `page` and/or `limit`.
        """
        await _list(self, self.arg(PARENT_ID))

    @operation(data=schemas.Category, status=(201,), body=CategoryCreate)
    async def post(self) -> None:
        """Create a category

        Goes last among its siblings; the slug is made from the name unless given.
        """
        body = self.json_body(CategoryCreate).model_dump(exclude_unset=True)
        self.reply(await self.db.write(categories.create_category, self.org_id, body), status=201)


class CategoryTreeHandler(BaseHandler):
    """GET /api/categories/tree: every category, `children` nested in position order."""

    @operation(data=schemas.CategoryTree)
    async def get(self) -> None:
        """The category tree

        Every category, the roots with `children` nested to any depth in position order.
        """
        tree = await self.db.read(categories.category_tree, self.org_id)
        self.reply({"categories": tree})


class CategoryHandler(BaseHandler):
    """GET, PUT (any subset of fields) and DELETE /api/categories/{id}."""

    path_params = (CATEGORY_ID,)

    @operation(data=schemas.Category)
    async def get(self, raw_id: str) -> None:
        """Get a category"""
        self.reply(await self.db.read(categories.get_category, self.org_id, _category_id(raw_id)))

    # A rename or a delete touches every product of the category (their JSON shows
    # it): 0.6-0.9 s for 100k products.
    @operation(data=schemas.Category, body=CategoryPatch)
    async def put(self, raw_id: str) -> None:
        """Update a category

        Any subset of the create fields; omitted ones keep their values. Another
        `parent_id` puts it last among its new siblings.
        """
        category_id = _category_id(raw_id)
        body = self.json_body(CategoryPatch).model_dump(exclude_unset=True)
        self.reply(await self.db.write(categories.update_category, self.org_id, category_id, body, long=True))

    @operation(data=schemas.Category)
    async def delete(self, raw_id: str) -> None:
        """Delete a category

        Its children move up to its parent, its product links go; the products stay.
        Answers the category as it was.
        """
        self.reply(await self.db.write(categories.delete_category, self.org_id, _category_id(raw_id),
                                       long=True))


class CategoryChildrenHandler(BaseHandler):
    """GET /api/categories/{id}/children: as `GET /api/categories?parent_id={id}`."""

    path_params = (CATEGORY_ID,)

    @operation(data=schemas.CategoryPage, query=(PAGE, LIMIT))
    async def get(self, raw_id: str) -> None:
        """Direct child categories

        The same answer as `GET /api/categories?parent_id={id}`.
        """
        category_id = _category_id(raw_id)
        self.db.quick(categories.require_category, self.org_id, category_id)  # 404 rather than an empty list
        await _list(self, category_id)


class CategoryMoveHandler(BaseHandler):
    """POST /api/categories/{id}/move `{"parent_id": 5, "position": 0}`."""

    path_params = (CATEGORY_ID,)

    @operation(data=schemas.Category, body=CategoryMove)
    async def post(self, raw_id: str) -> None:
        """Move a category

        Re-parents (`parent_id: null` is the top level) and re-orders; without
        `position`, or past the end, it goes last. Under itself or a descendant: 400.
        """
        category_id = _category_id(raw_id)
        self.db.quick(categories.require_category, self.org_id, category_id)  # a 404 before the body
        body = self.json_body(CategoryMove)
        self.reply(await self.db.write(categories.move_category, self.org_id, category_id,
                                       body.parent_id, body.position))


class CategoryProductsHandler(BaseHandler):
    """GET (a product list page, archived left out) and POST (assign) on
    /api/categories/{id}/products."""

    path_params = (CATEGORY_ID,)

    @operation(data=schemas.CategoryProductPage, query=(SUBCATEGORIES, SORT, PAGE, LIMIT, INCLUDE))
    async def get(self, raw_id: str) -> None:
        """Products in a category

        A page shaped like `GET /api/products`; archived products left out.
        `include=stock_levels,variants` as on the product list.
        """
        category_id = _category_id(raw_id)
        page, limit = self.page_args()
        query = ProductQuery(
            category=category_id,
            include_subcategories=self.arg(SUBCATEGORIES),
            sort=self.arg(SORT),
            page=page,
            limit=limit,
            include=self.arg(INCLUDE) or (),
        )
        items, total = await self.db.read(categories.category_products_json, self.org_id, category_id, query)
        pages = to_json(pagination(page, limit, total))
        self.reply_raw(f'{{"products":[{",".join(items)}],"pagination":{pages}}}')

    @operation(data=schemas.Category, body=ProductIds)
    async def post(self, raw_id: str) -> None:
        """Assign products to a category

        Idempotent; if any id is not a product of the organization, nothing is
        assigned. Answers the category with its new `product_count`.
        """
        category_id = _category_id(raw_id)
        self.db.quick(categories.require_category, self.org_id, category_id)  # a 404 before the body
        body = self.json_body(ProductIds)
        self.reply(await self.db.write(categories.assign_products, self.org_id, category_id,
                                       body.product_ids))


class CategoryProductHandler(BaseHandler):
    """DELETE /api/categories/{id}/products/{productId}: unlink one product."""

    path_params = (CATEGORY_ID, id_param("productId", "product"))

    @operation(data=schemas.Category)
    async def delete(self, raw_id: str, raw_product_id: str) -> None:
        """Take a product out of a category

        Idempotent: a product not in the category answers 200. Answers the category.
        """
        category_id = _category_id(raw_id)
        product_id = path_id(raw_product_id, "product")
        self.reply(await self.db.write(categories.remove_product, self.org_id, category_id, product_id))

