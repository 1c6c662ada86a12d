"""The change feed: `GET /api/events`. The events themselves are written by the store
(`store.events`), in the transaction of the change they describe."""

from __future__ import annotations

from handlers import schemas
from handlers.base import BaseHandler
from handlers.fields import MAX_ID
from handlers.spec import ChoiceParam, IntParam, ListParam, operation
from store import events
from store.errors import ApiError

AFTER = IntParam("after", "Answer the events after this id: the `next_after` of the page before"
                 " (absent: from the oldest event kept)", 0, MAX_ID)
FEED_LIMIT = IntParam("limit", "Events per page.", 1, events.FEED_LIMIT_MAX, 100)
BEFORE = IntParam("before", "Only the events before this id (with `order=newest`: the page after"
                  " the last one shown)", 1, MAX_ID)
ORDER = ChoiceParam("order", "oldest (default): oldest first, for consumers that follow the feed;"
                    " newest: newest first, for a screen of recent activity", ("oldest", "newest"))
TYPE = ListParam("type", "Only events of these types: a type (`stock.updated`), a kind (`product.*`)"
                 " or `*`, separated by commas", max_items=len(events.TYPES))


class EventFeedHandler(BaseHandler):
    """GET /api/events."""

    @operation(data=schemas.EventFeed, query=(AFTER, FEED_LIMIT, TYPE, BEFORE, ORDER), errors=(410,))
    async def get(self) -> None:
        """Read the change feed

        Every committed change, oldest first: its event is written in the change's own
        transaction, so none is lost and none describes a change that did not happen.
        Store `next_after` and send it as `after` next time to see every event once, in
        order. Events are kept for the server's `--event-retention-days`; a cursor older
        than that answers 410 with the oldest id kept. `order=newest` with `before`
        pages back through recent activity instead.
        """
        patterns = self.arg(TYPE)
        types = events.types_of(events.check_patterns("type", list(patterns))) if patterns else None
        after, limit = self.arg(AFTER), self.arg(FEED_LIMIT)
        try:
            page = await self.db.read(events.feed_json, self.org_id, after, limit, types,
                                      self.arg(BEFORE), self.arg(ORDER) == "newest")
        except events.Expired as gone:
            oldest = ("none is kept" if gone.oldest_id is None
                      else f"the oldest kept is {gone.oldest_id}: resync, then read from after={gone.oldest_id - 1}")
            raise ApiError(410, f"after: the events up to {gone.removed_through} are no longer kept; {oldest}") from None
        self.reply_raw(page)
