"""Webhooks: /api/webhooks and its sub-resources. The rows are `store.webhooks`; the
deliveries, and every change to a webhook while they run, go through the application's
`search.webhooks.WebhookSender`, so a worker never sends with a stale URL or secret."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from handlers import schemas
from handlers.base import BaseHandler
from handlers.fields import MAX_ID, ONE_LINE, Body
from handlers.spec import LIMIT, PAGE, IntParam, id_param, operation
from handlers.util import listing, path_id
from store import events, webhooks
from store.values import check_text

WebhookUrl = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048),
                       Field(description="http or https; the host must resolve to public addresses"
                                         " unless the server runs with --allow-private-urls")]
Pattern = Annotated[str, StringConstraints(min_length=1, max_length=64),
                    Field(examples=["product.*", "stock.updated", "*"])]
Patterns = Annotated[list[Pattern], Field(min_length=1, max_length=len(events.TYPES),
                                          description="Event types (`stock.updated`), kinds (`product.*`) or `*`")]
Description = Annotated[str, StringConstraints(max_length=500), AfterValidator(check_text), ONE_LINE]
DELIVERIES_LIMIT = IntParam("limit", "Attempts to answer, newest first.", 1, webhooks.DELIVERIES_LIMIT_MAX, 20)


class WebhookPatch(Body):
    """Any subset of the fields; `enabled: true` makes a failing or disabled webhook
    active again, resuming from its first undelivered event."""

    url: WebhookUrl = None  # type: ignore[assignment]
    events: Patterns = None  # type: ignore[assignment]
    description: Description = None  # type: ignore[assignment]
    enabled: bool = None  # type: ignore[assignment]


class WebhookCreate(Body):
    url: WebhookUrl
    events: Patterns
    description: Description = ""


class Redeliver(Body):
    after: Annotated[int, Field(ge=0, le=MAX_ID, description="Deliver again every event after this id")]


WEBHOOK_ID = id_param("id", "webhook")


class WebhookBase(BaseHandler):
    def webhook_id(self, raw_id: str) -> int:
        return path_id(raw_id, "webhook")

    async def checked(self, data: dict[str, Any]) -> dict[str, Any]:
        """The URL as it will be requested; the event patterns are the store's to check."""
        if "url" in data:
            data["url"] = await self.app.webhooks.check_url(data["url"])
        return data


class WebhookListHandler(WebhookBase):
    """GET and POST /api/webhooks."""

    @operation(data=schemas.WebhookPage, query=(PAGE, LIMIT))
    def get(self) -> None:
        """List webhooks

        The organization's webhooks, oldest first (never their secrets).
        """
        page, limit = self.page_args()
        items, total = self.db.quick(webhooks.list_webhooks, self.org_id, page, limit)
        self.reply(listing("webhooks", items, page, limit, total))

    @operation(data=schemas.WebhookWithSecret, status=(201,), body=WebhookCreate)
    async def post(self) -> None:
        """Create a webhook

        It receives the events committed from now on whose type matches `events`, one
        signed POST each, in order. The answer holds the signing `secret`: the only time
        it is shown (`rotate-secret` makes a new one).
        """
        data = await self.checked(self.json_body(WebhookCreate).model_dump())
        self.reply(await self.app.webhooks.change(None, webhooks.create_webhook, self.org_id, data), status=201)


class WebhookHandler(WebhookBase):
    """GET, PATCH and DELETE /api/webhooks/{id}."""

    path_params = (WEBHOOK_ID,)

    @operation(data=schemas.Webhook)
    def get(self, raw_id: str) -> None:
        """Get a webhook"""
        self.reply(self.db.quick(webhooks.get_webhook, self.org_id, self.webhook_id(raw_id)))

    @operation(data=schemas.Webhook, body=WebhookPatch)
    async def patch(self, raw_id: str) -> None:
        """Update a webhook

        Any subset of `url`, `events`, `description` and `enabled`.
        """
        webhook_id = self.webhook_id(raw_id)
        self.db.quick(webhooks.get_webhook, self.org_id, webhook_id)  # a 404 before the URL's lookup
        data = await self.checked(self.json_body(WebhookPatch).model_dump(exclude_unset=True))
        self.reply(await self.app.webhooks.change(webhook_id, webhooks.update_webhook, self.org_id, webhook_id, data))

    @operation(data=schemas.Webhook)
    async def delete(self, raw_id: str) -> None:
        """Delete a webhook

        Deliveries stop at once; answers the webhook as it was.
        """
        webhook_id = self.webhook_id(raw_id)
        self.reply(await self.app.webhooks.change(webhook_id, webhooks.delete_webhook, self.org_id, webhook_id))


class WebhookRotateHandler(WebhookBase):
    """POST /api/webhooks/{id}/rotate-secret."""

    path_params = (WEBHOOK_ID,)

    @operation(data=schemas.WebhookWithSecret)
    async def post(self, raw_id: str) -> None:
        """Rotate a webhook's secret

        A new signing secret, used from the next request on; the old one stops at once.
        Answers the webhook with the new `secret`, shown only now.
        """
        webhook_id = self.webhook_id(raw_id)
        self.reply(await self.app.webhooks.change(webhook_id, webhooks.rotate_secret, self.org_id, webhook_id))


class WebhookTestHandler(WebhookBase):
    """POST /api/webhooks/{id}/test."""

    path_params = (WEBHOOK_ID,)

    @operation(data=schemas.WebhookPing)
    async def post(self, raw_id: str) -> None:
        """Send a test ping

        POSTs `{"type": "ping", "webhook_id": …, "occurred_at": …}`, signed like an event,
        and answers how the receiver answered (also kept with the deliveries). A ping is
        not an event: it is not in the feed and is never retried.
        """
        webhook_id = self.webhook_id(raw_id)
        self.reply(await self.app.webhooks.ping(webhook_id, self.org_id))


class WebhookDeliveriesHandler(WebhookBase):
    """GET /api/webhooks/{id}/deliveries."""

    path_params = (WEBHOOK_ID,)

    @operation(data=schemas.WebhookDeliveries, query=(DELIVERIES_LIMIT,))
    def get(self, raw_id: str) -> None:
        """List a webhook's recent deliveries

        Its last attempts, newest first: the event (null for a ping), the try, the time,
        the receiver's HTTP status (null when it did not answer), the duration and the error.
        """
        deliveries = self.db.quick(webhooks.list_deliveries, self.org_id, self.webhook_id(raw_id),
                                   self.arg(DELIVERIES_LIMIT))
        self.reply({"deliveries": deliveries})


class WebhookRedeliverHandler(WebhookBase):
    """POST /api/webhooks/{id}/redeliver."""

    path_params = (WEBHOOK_ID,)

    @operation(data=schemas.Webhook, body=Redeliver, errors=(400,))
    async def post(self, raw_id: str) -> None:
        """Deliver events again

        Every kept event after `after` that the webhook subscribes to is sent again, in
        order (a receiver that lost its data). Also makes a failing webhook active.
        """
        webhook_id = self.webhook_id(raw_id)
        self.db.quick(webhooks.get_webhook, self.org_id, webhook_id)  # a 404 before the body's 400
        after = self.json_body(Redeliver).after
        self.reply(await self.app.webhooks.change(webhook_id, webhooks.redeliver, self.org_id, webhook_id, after))


ROUTES = (
    ("", WebhookListHandler),
    (r"/{ID}", WebhookHandler),
    (r"/{ID}/rotate-secret", WebhookRotateHandler),
    (r"/{ID}/test", WebhookTestHandler),
    (r"/{ID}/deliveries", WebhookDeliveriesHandler),
    (r"/{ID}/redeliver", WebhookRedeliverHandler),
)


def routes(id_pattern: str) -> list[tuple[str, type[BaseHandler]]]:
    """The webhook routes; the item's sub-resources before it (a walk of the table deletes last)."""
    table = [(f"/api/webhooks{suffix.replace('{ID}', id_pattern)}", handler) for suffix, handler in ROUTES]
    return [table[0], *table[2:], table[1]]
