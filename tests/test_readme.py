"""Every `curl` example of the README, run in order against a fresh `serve --demo`,
answers what the README says it does.

The commands are taken from the README's ```sh blocks as they are written (a command
goes on over the next lines while a line ends in `\\` or a quote is open), with these
changes only: the server's address (a free port instead of 8080), `-s -w` to read the
status, and the media example's
`https://example.com/lamp.jpg` and the webhook example's URL, served from a local
address instead (the server runs with `--allow-private-urls`), because a test must not
need the internet. `lamp.jpg`
and `photo.jpg` are demo photos in the working directory, and `feed.ndjson` the README's
feed; `photo.jpg` is product 1's
own photo, so image search must find product 1 first. A demo of MICROPIM_DEMO_COUNT
products (tests only) keeps it quick: product 1 is its first T-shirt either way.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import pathlib
import re
import shlex
import subprocess
import threading
from typing import Any, Callable, Iterator

import pytest

from search.demo.photos import product_photo
from tests.test_cli import Server, base_env, free_port, servers  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
README_BASE = "http://127.0.0.1:8080"
README_FILE_URL = "https://example.com/lamp.jpg"
README_HOOK_URL = "https://shop.example.com/hooks/pim"


def curl_commands(text: str) -> list[str]:
    """Every `curl` command of the text's ```sh blocks, as written: a command goes on
    over the next lines while a line ends in `\\` or a quote is open."""
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        current: list[str] = []
        for line in block.splitlines():
            current.append(line)
            command = "\n".join(current)
            if line.endswith("\\") or not _complete(command):
                continue
            if command.startswith("curl "):
                commands.append(command)
            current = []
    return commands


def _complete(command: str) -> bool:
    try:
        shlex.split(command)
    except ValueError:  # "No closing quotation"
        return False
    return True


Check = Callable[[Any, dict[str, Any]], None]


def _active_five(data: Any, seen: dict[str, Any]) -> None:
    assert len(data["products"]) == 5 and {p["status"] for p in data["products"]} == {"active"}


def _mugs_on_the_web(data: Any, seen: dict[str, Any]) -> None:
    assert data["products"], "the demo has mugs on the web channel"
    for product in data["products"]:
        assert "web" in product["publishing_channels"]
        assert "mug" in (product["name"] + product["description"]).lower()


def _product_1(data: Any, seen: dict[str, Any]) -> None:
    assert data["id"] == 1 and data["sku"] == "TSH-0001" and "T-Shirt" in data["name"]


def _created(data: Any, seen: dict[str, Any]) -> None:
    assert (data["name"], data["sku"], data["price"], data["stock"], data["ean"], data["publishing_channels"]) \
        == ("Linen Shirt", "LIN-001", "49.9000", 12, "5941234567899", ["web"])
    seen["created"] = data["id"]


def _by_barcode(data: Any, seen: dict[str, Any]) -> None:
    assert data["id"] == seen["created"] and data["matched_variant"] is None


def _new_price(data: Any, seen: dict[str, Any]) -> None:
    assert data["id"] == 1 and data["price"] == "44.9000"


def _stock(data: Any, seen: dict[str, Any]) -> None:
    levels = {level["warehouse_code"]: level["quantity"] for level in data["stock_levels"]}
    assert levels == {"MAIN": 5, "CLJ": 7} and data["stock"] == 12


def _channels(data: Any, seen: dict[str, Any]) -> None:
    assert "web" in [channel["value"] for channel in data["channels"]]


def _archived(data: Any, seen: dict[str, Any]) -> None:
    assert data["id"] == 2 and data["status"] == "archived"


def _by_skus(data: Any, seen: dict[str, Any]) -> None:
    matched = {p["sku"]: [v["sku"] for v in p["matched_variants"]] for p in data["products"]}
    assert matched == {"TSH-0001": [], "TSH-ESSENTIAL": ["TSH-ESSENTIAL-BLA-M"]}


def _by_ean(data: Any, seen: dict[str, Any]) -> None:
    assert [p["id"] for p in data["products"]] == [1]
    assert sum(level["quantity"] for level in data["products"][0]["stock_levels"]) == 12


def _changed_since(data: Any, seen: dict[str, Any]) -> None:
    products = data["products"]
    assert products and [p["updated_at"] for p in products] == sorted(p["updated_at"] for p in products)
    assert {"stock_levels", "variants"} <= set(products[0]) and products[-1]["id"] == 2  # archived last


def _imported(data: Any, seen: dict[str, Any]) -> None:
    assert (data["created"], data["updated"], data["unchanged"], data["failed"]) == (1, 1, 0, 0)
    assert [(r["line"], r["sku"], r["status"]) for r in data["results"]] == \
        [(1, "LIN-002", "created"), (2, "TSH-0001", "updated")]


def _archived_events(data: Any, seen: dict[str, Any]) -> None:
    events = data["events"]
    assert [(e["type"], e["object_id"], e["data"]["status"]) for e in events] == [("product.archived", 2, "archived")]
    assert data["next_after"] == events[-1]["id"]


def _webhook(data: Any, seen: dict[str, Any]) -> None:
    assert (data["events"], data["description"], data["status"]) == (["product.*", "stock.updated"], "Shop sync", "active")
    assert data["secret"].startswith("whsec_") and data["url"] == seen["hook_url"]


def _translated(data: Any, seen: dict[str, Any]) -> None:
    assert (data["locale"], data["name"]) == ("de-AT", "Schwarzes Bio-Leiberl")


def _found_translated(data: Any, seen: dict[str, Any]) -> None:
    assert [(p["id"], p["name"]) for p in data["products"]] == [(1, "Schwarzes Bio-Leiberl")]


def _fetched_media(data: Any, seen: dict[str, Any]) -> None:
    assert data["product_id"] == 1 and data["alt_text"] == "Lamp, front"
    assert data["source_url"] == seen["file_url"] and data["format"] == "jpeg"


def _uploaded_media(data: Any, seen: dict[str, Any]) -> None:
    assert data["product_id"] == 1 and data["position"] == 0 and data["source_url"] is None


def _found_by_photo(data: Any, seen: dict[str, Any]) -> None:
    assert data["total"] == len(data["products"]) == 5
    assert data["products"][0]["id"] == 1 and data["products"][0]["score"] > 0.95


# (method, path, status, check), in the README's order.
EXPECTED: list[tuple[str, str, int, Check]] = [
    ("GET", "/api/products?status=active&limit=5", 200, _active_five),
    ("GET", "/api/products?search=mug&channel=web", 200, _mugs_on_the_web),
    ("GET", "/api/products/1", 200, _product_1),
    ("POST", "/api/products", 201, _created),
    ("GET", "/api/products/barcode/5941234567899", 200, _by_barcode),
    ("PATCH", "/api/products/1", 200, _new_price),
    ("PUT", "/api/products/1/stock", 200, _stock),
    ("GET", "/api/channels", 200, _channels),
    ("DELETE", "/api/products/2", 200, _archived),
    ("GET", "/api/products?sku=TSH-0001,TSH-ESSENTIAL-BLA-M", 200, _by_skus),
    ("GET", "/api/products?ean=5940000000011&include=stock_levels", 200, _by_ean),
    ("GET", "/api/products?updated_since=2026-01-01T00:00:00Z&sort=updated_at&limit=100"
     "&include=stock_levels,variants", 200, _changed_since),
    ("PUT", "/api/products/1/translations/de-AT", 201, _translated),
    ("GET", "/api/products?search=leiberl&locale=de-AT", 200, _found_translated),
    ("POST", "/api/products/bulk?create_references=true", 200, _imported),
    ("GET", "/api/events?type=product.archived&limit=10", 200, _archived_events),
    ("POST", "/api/webhooks", 201, _webhook),
    ("POST", "/api/products/1/media", 201, _fetched_media),
    ("POST", "/api/products/1/media", 201, _uploaded_media),
    ("POST", "/api/products/image-search", 200, _found_by_photo),
]


def _method_and_path(command: str) -> tuple[str, str]:
    method = re.search(r"-X (\w+)", command)
    form = " -F " in command or "--data-binary " in command
    url = re.search(re.escape(README_BASE) + r"(/[^\s']*)", command)
    assert url, command
    return (method.group(1) if method else "POST" if form or " -d " in command else "GET"), url.group(1)


def test_the_readme_lists_the_examples_this_test_checks() -> None:
    found = [_method_and_path(command) for command in curl_commands(README)]
    assert found == [(method, path) for method, path, _, _ in EXPECTED]


@pytest.fixture
def files_server(tmp_path: pathlib.Path) -> Iterator[str]:
    """A local web server for the media example's file_url; answers its base URL."""
    folder = tmp_path / "web"
    folder.mkdir()
    (folder / "lamp.jpg").write_bytes(product_photo("Desk Lamp", "Navy", 7))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_every_curl_example_answers_what_the_readme_says(tmp_path: pathlib.Path, servers: list[Server],
                                                          files_server: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = Server(["--demo", "--allow-private-urls", "--db", str(tmp_path / "demo.db"), "--port", str(port)],
                    base_env(MICROPIM_DEMO_COUNT="20"))
    servers.append(server)
    key = server.wait_for(r"^Demo API key: (mpk_\S+)$", timeout=120).group(1)
    work = tmp_path / "cwd"
    work.mkdir()
    (work / "lamp.jpg").write_bytes(product_photo("Desk Lamp", "Sand", 11))
    feed = re.search(r"```ndjson\n(.*?)```", README, re.S)
    assert feed, "the README shows the bulk example's feed"
    (work / "feed.ndjson").write_text(feed.group(1))
    (work / "photo.jpg").write_bytes(product_photo("T-Shirt", "Black", 0))  # product 1's photo
    seen: dict[str, Any] = {"file_url": f"{files_server}/lamp.jpg", "hook_url": f"{files_server}/hooks/pim"}
    env = {**os.environ, "KEY": key}

    commands = curl_commands(README)
    assert len(commands) == len(EXPECTED)
    for command, (method, path, status, check) in zip(commands, EXPECTED):
        runnable = (command.replace(README_BASE, base).replace(README_FILE_URL, seen["file_url"])
                    .replace(README_HOOK_URL, seen["hook_url"])
                    .replace("curl ", "curl -sS -w '\\n%{http_code}' ", 1))
        done = subprocess.run(["bash", "-c", runnable], cwd=work, env=env, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, (command, done.stderr)
        body, _, code = done.stdout.rpartition("\n")
        answer = json.loads(body)
        assert (int(code), answer["status"]) == (status, 1), (method, path, answer)
        check(answer["data"], seen)
