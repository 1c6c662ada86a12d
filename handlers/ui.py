"""The web UI: one HTML page at `/` and its files under `/ui/`, from `static/ui/`;
and where the `static` package's files are (`static_root`, `missing_files`).

The UI is plain HTML, CSS and JavaScript modules that talk to the same REST API as every
other client, with the key the user signs in with. Nothing here touches the store.
The files have no version in their names, so browsers revalidate them on every load
(a 304 costs one round trip) instead of keeping a stale copy after an upgrade.
"""

from __future__ import annotations

import importlib.resources
import os
import pathlib
import urllib.parse

import tornado.web

from handlers.public import PublicFileHandler

#: Files the server cannot do without, relative to `static_root()`: the web UI's page
#: and entry script, the API reference page and the Swagger UI it runs.
REQUIRED_FILES = ("ui/index.html", "ui/js/app.js", "docs/index.html", "docs/docs.js",
                  "vendor/swagger-ui/swagger-ui-bundle.js", "vendor/swagger-ui/swagger-ui.css")


def static_root() -> str:
    """The directory of the `static` package, wherever it was installed (a clone, an
    editable install, a wheel in site-packages). Tornado serves files from a directory,
    so a package that is not one on disk (imported from a zip) counts as missing."""
    try:
        root = importlib.resources.files("static")
    except ModuleNotFoundError:
        return ""
    return str(root) if isinstance(root, pathlib.Path) and root.is_dir() else ""


def missing_files() -> list[str]:
    """The `REQUIRED_FILES` that are not there (all of them when the package is not),
    as paths to show an operator; empty when the UI and /docs can be served."""
    root = static_root()
    if not root:
        return ["static/ (the package of the web UI files)"]
    return [os.path.join(root, name) for name in REQUIRED_FILES
            if not os.path.isfile(os.path.join(root, name))]


def content_security_policy(public_url: str) -> str:
    """Only our own origin for code, styles and calls. Product images are shown from the
    public media URL (`--public-url`), which an operator may put on another host (a CDN
    or proxy in front of `/media/`), so that origin is allowed for images too."""
    parts = urllib.parse.urlsplit(public_url)
    media_origin = f" {parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src 'self' data: blob:{media_origin}",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def _secure(handler: tornado.web.RequestHandler) -> None:
    policy = content_security_policy(getattr(handler.application, "public_url", ""))
    handler.set_header("Content-Security-Policy", policy)
    handler.set_header("X-Content-Type-Options", "nosniff")
    handler.set_header("Referrer-Policy", "same-origin")
    handler.set_header("Cache-Control", "no-cache")


class UIFileHandler(PublicFileHandler):
    """GET / (index.html) and /ui/{file}: the UI's page, scripts and styles.

    No key: the files hold no catalog data; the page asks for the key and sends it
    with each API call. Anything else under /ui/ is a plain-text 404.
    """

    def set_default_headers(self) -> None:
        _secure(self)

    def parse_url_path(self, url_path: str) -> str:
        # No file name holds a NUL, and the os.path calls that look the file up raise
        # ValueError ("embedded null byte") on one: a 404, not a 500.
        if "\x00" in url_path:
            raise tornado.web.HTTPError(404)
        return str(super().parse_url_path(url_path))

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", "no-cache")


class UIPageHandler(UIFileHandler):
    """GET /: the web UI's one page; the part after `#` picks the screen."""

    async def get(self, path: str = "", include_body: bool = True) -> None:
        await super().get("index.html", include_body)

    async def head(self, path: str = "") -> None:
        await self.get(path, include_body=False)
