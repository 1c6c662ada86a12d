"""Browser tests' support: a real `micropim serve`, a small catalog, and Chromium.

The server runs as a subprocess on a database in a temporary folder, exactly as a user
starts it; the catalog is written through the API. Chromium is Debian's (`/usr/bin/chromium`,
installed by `.ci/run`), driven by Playwright's Python client; nothing downloads a browser.

Fixtures (tests/conftest.py): `site` (the server, once per session), `browser` (once per
module: see its docstring), `page` (a fresh signed-in tab per test) and `signed_out_page`.
"""

from __future__ import annotations

import json
import os
import pathlib
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.test_cli import WAIT, Server, base_env, create_key, free_port

ROOT = pathlib.Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("MICROPIM_CHROMIUM", "/usr/bin/chromium")
# As the machine's own check starts it: no sandbox as root, and no calls home, which a
# closed network refuses many at a time.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
KEY_STORAGE = "micropim.key"  # the sessionStorage entry static/ui/js/api.js reads


class ApiCallFailed(AssertionError):
    pass


@dataclass
class Site:
    """A running server with one organization and its key."""

    url: str
    key: str
    server: Server
    seeded: dict[str, Any] = field(default_factory=dict)

    def call(self, method: str, path: str, body: Any = None, *, key: str | None = None,
             form: dict[str, tuple[str, bytes, str] | str] | None = None) -> Any:
        """One API call; answers `data`, raises ApiCallFailed on an error envelope."""
        headers = {"X-API-KEY": key or self.key}
        data = None
        if form is not None:
            boundary = uuid.uuid4().hex
            data = _multipart(form, boundary)
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=WAIT) as response:
                envelope = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise ApiCallFailed(f"{method} {path}: {error.code} {error.read()[:300]!r}") from None
        if envelope.get("status") != 1:
            raise ApiCallFailed(f"{method} {path}: {envelope}")
        return envelope["data"]


def _multipart(form: dict[str, tuple[str, bytes, str] | str], boundary: str) -> bytes:
    parts: list[bytes] = []
    for name, value in form.items():
        if isinstance(value, tuple):
            filename, content, content_type = value
            head = (f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                    f"Content-Type: {content_type}\r\n\r\n")
            parts.append(f"--{boundary}\r\n{head}".encode() + content + b"\r\n")
        else:
            head = f'Content-Disposition: form-data; name="{name}"\r\n\r\n'
            parts.append(f"--{boundary}\r\n{head}{value}\r\n".encode())
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def start_site(folder: pathlib.Path) -> Site:
    """`micropim serve` on a new database in `folder`, with generous rate limits."""
    db = folder / "ui.db"
    key = create_key(db, "Browser Test Shop")
    port = free_port()
    env = base_env()
    if "MICROPIM_MODEL_CACHE" in os.environ:  # the image model, built once per machine
        env["MICROPIM_MODEL_CACHE"] = os.environ["MICROPIM_MODEL_CACHE"]
    url = f"http://127.0.0.1:{port}"
    server = Server(["--db", str(db), "--port", str(port), "--public-url", url,
                     "--read-limit", "100000", "--write-limit", "100000"], env)
    server.wait_for(r"^MicroPIM listening on ")
    site = Site(url=url, key=key, server=server)
    seed(site)
    return site


def seed(site: Site) -> None:
    """A small catalog every browser test can rely on (tests add their own rows too)."""
    brands = [site.call("POST", "/api/brands", {"name": name})["id"] for name in ("Nordwind", "Lumen")]
    site.call("PUT", "/api/channels", {"channels": [{"value": v} for v in ("web", "mobile", "marketplace")]})
    apparel = site.call("POST", "/api/categories", {"name": "Apparel"})["id"]
    tops = site.call("POST", "/api/categories", {"name": "Tops", "parent_id": apparel})["id"]
    shirts = site.call("POST", "/api/categories", {"name": "T-Shirts", "parent_id": tops})["id"]
    home = site.call("POST", "/api/categories", {"name": "Home", "parent_id": None})["id"]
    mugs = site.call("POST", "/api/categories", {"name": "Mugs", "parent_id": home})["id"]
    site.call("POST", "/api/product-attributes", {"name": "Colour", "type": "select",
                                                  "options": ["Black", "White", "Red"]})
    products = []
    for n in range(1, 31):
        shirt = n % 2 == 1
        products.append(site.call("POST", "/api/products", {
            "name": f"{'Cotton Shirt' if shirt else 'Stoneware Mug'} {n:02d}",
            "sku": f"{'SHI' if shirt else 'MUG'}-{n:03d}",
            "price": f"{10 + n}.90",
            "stock": n,
            "status": "draft" if n % 5 == 0 else "active",
            "brand_id": brands[n % 2],
            "category_ids": [shirts if shirt else mugs],
            "publishing_channels": ["web", "mobile"] if n % 3 else ["marketplace"],
            "attributes": {"colour": ["Black", "White", "Red"][n % 3]},
        })["id"])
    site.seeded.update(brands=brands, categories={
        "Apparel": apparel, "Tops": tops, "T-Shirts": shirts, "Home": home, "Mugs": mugs,
    }, products=products)


def unique() -> str:
    """A word no other row holds: letters only, so the search sees it as one word."""
    return "Q" + "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:7])


def product(site: Site, prefix: str, name: str, **fields: Any) -> dict[str, Any]:
    """An active product named "{prefix} {name}" with a SKU made from both."""
    body = {"name": f"{prefix} {name}", "sku": f"{prefix}-{name.replace(' ', '-')}".upper(),
            "status": "active", **fields}
    answer: dict[str, Any] = site.call("POST", "/api/products", body)
    return answer


def screenshot(page: Any, name: str) -> pathlib.Path:
    """Save what the page shows now as tests/artifacts/{name}.png, for a reviewer."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
