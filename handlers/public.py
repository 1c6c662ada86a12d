"""What the routes outside the API share: the docs page, the web UI's files, media files.

They answer without a key and without the envelope, so their errors are one line of
plain text (`not found`), as the OpenAPI document declares them, rather than
Tornado's HTML page; a 405 says which methods the path has (`Allow`), as every 405
must. `PublicFileHandler` serves a folder's files: anything that is not one of them
(a folder, a path outside it) is simply not found, never a 403 that tells folders
from missing files.
"""

from __future__ import annotations

from typing import Any

import tornado.web

from handlers.spec import allow_header


class PublicHandler(tornado.web.RequestHandler):
    """Base of a page or file outside the API: plain-text errors, `Allow` on 405."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if status_code == 404:
            message = "not found"
        elif status_code == 400 and isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            message = exc.log_message  # says which parameter is wrong
        else:
            message = self._reason.lower()
        if status_code == 405:
            self.set_header("Allow", allow_header(type(self)))
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.clear_header("Cache-Control")  # an error is not kept like the file would be
        self.finish(message + "\n")


class PublicFileHandler(PublicHandler, tornado.web.StaticFileHandler):
    """A folder's files (tornado's StaticFileHandler), with the errors above."""

    async def get(self, path: str, include_body: bool = True) -> None:
        try:
            await super().get(path, include_body)
        except tornado.web.HTTPError as exc:
            if exc.status_code == 403:  # a folder, or outside the folder: not a file we serve
                raise tornado.web.HTTPError(404) from None
            raise
