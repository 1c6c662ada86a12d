"""The application context: what every handler reaches as `self.application`.

`micropim.make_app()` builds one `Application` from the settings, as tornado's blog
demo hands its handlers the database: the `Database` (its threads, caches and media
URLs), the image side (`Images`: model, fetcher, compute threads), the import jobs, the
rate limiter and the OpenAPI document. Nothing a handler needs comes from a module-level global,
so two applications in one process (tests make one per test) never share state.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import tornado.web

from handlers.imports import ImportJobs
from handlers.openapi import check_declarations, document_text
from handlers.ratelimit import RateLimiter
from search.pipeline import Images
from search.webhooks import WebhookSender
from store import events
from store.db import Database

log = logging.getLogger("micropim.events")


class Application(tornado.web.Application):
    def __init__(self, routes: list[Any], *, db: Database, images: Images,
                 rate_limiter: RateLimiter, public_url: str, bulk_limit_bytes: int,
                 webhooks: WebhookSender, event_retention_days: int = 30, **tornado_settings: Any) -> None:
        super().__init__(routes, **tornado_settings)
        check_declarations(self)  # a route whose declaration does not fit stops here
        self.db = db
        self.images = images
        self.rate_limiter = rate_limiter
        self.public_url = public_url
        self.bulk_limit_bytes = bulk_limit_bytes  # the largest feed a bulk route takes
        self.event_retention = dt.timedelta(days=event_retention_days)
        self.webhooks = webhooks  # delivery, started with the server's loop
        self.imports = ImportJobs(db, images)
        self._openapi_document: str | None = None

    @property
    def openapi_document(self) -> str:
        """The OpenAPI document of this application's routes, built on first use (the
        declarations were checked when the application was made)."""
        if self._openapi_document is None:
            self._openapi_document = document_text(self)
        return self._openapi_document

    def _event_cutoff(self) -> str:
        moment = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - self.event_retention
        return moment.isoformat(timespec="microseconds") + "Z"

    def remove_old_events_now(self) -> None:
        """Remove the events older than the retention, on this thread (at start)."""
        with self.db.writing():
            removed = events.remove_older_than(self.db, self._event_cutoff())
        if removed:
            log.info("removed %d events older than %d days", removed, self.event_retention.days)

    async def remove_old_events(self) -> None:
        """The same on the writer thread, while serving (hourly)."""
        try:
            removed = await self.db.write(events.remove_older_than, self._event_cutoff(), long=True)
        except Exception:  # the next hour tries again; serving goes on
            log.exception("removing old events failed")
            return
        if removed:
            log.info("removed %d events older than %d days", removed, self.event_retention.days)

    def close(self) -> None:
        """Stop the compute threads, the query pool and the writer, and close the database
        (an import job running stops after its batch)."""
        self.imports.stop()
        self.images.close()
        self.db.close()
