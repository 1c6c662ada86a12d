"""The application context: what every handler reaches as `self.application`.

`micropim.make_app()` builds one `Application` from the settings, as tornado's blog
demo hands its handlers the database: the `Database` (its threads, caches and media
URLs), the image side (`Images`: model, fetcher, compute threads), the import jobs, the
rate limiter and the OpenAPI document. Nothing a handler needs comes from a module-level global,
so two applications in one process (tests make one per test) never share state.
"""

from __future__ import annotations

from typing import Any

import tornado.web

from handlers.imports import ImportJobs
from handlers.openapi import check_declarations, document_text
from handlers.ratelimit import RateLimiter
from search.pipeline import Images
from store.db import Database


class Application(tornado.web.Application):
    def __init__(self, routes: list[Any], *, db: Database, images: Images,
                 rate_limiter: RateLimiter, public_url: str, bulk_limit_bytes: int,
                 **tornado_settings: Any) -> None:
        super().__init__(routes, **tornado_settings)
        check_declarations(self)  # a route whose declaration does not fit stops here
        self.db = db
        self.images = images
        self.rate_limiter = rate_limiter
        self.public_url = public_url
        self.bulk_limit_bytes = bulk_limit_bytes  # the largest feed a bulk route takes
        self.imports = ImportJobs(db, images)
        self._openapi_document: str | None = None

    @property
    def openapi_document(self) -> str:
        """The OpenAPI document of this application's routes, built on first use (the
        declarations were checked when the application was made)."""
        if self._openapi_document is None:
            self._openapi_document = document_text(self)
        return self._openapi_document

    def close(self) -> None:
        """Stop the compute threads, the query pool and the writer, and close the database
        (an import job running stops after its batch)."""
        self.imports.stop()
        self.images.close()
        self.db.close()
