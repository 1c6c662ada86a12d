"""The photo index through a `kill -9` of the server: what was committed is searched
after the restart, what was deleted stays gone, and `micropim reindex` on the file
while a server runs is followed by that server."""

from __future__ import annotations

import json
import pathlib
import signal
import urllib.request
import uuid
from typing import Any

import pytest

from search.demo import photos
from tests.test_cli import Server, create_key, free_port, new_database, run, servers  # noqa: F401

pytestmark = pytest.mark.slow


def call(base: str, key: str, method: str, path: str, body: Any = None, *,
         files: dict[str, bytes] | None = None) -> Any:
    headers = {"X-API-KEY": key}
    data = None
    if files is not None:
        boundary = uuid.uuid4().hex
        parts = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="p.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n".encode() + content + b"\r\n" for name, content in files.items())
        data = parts + f"--{boundary}--\r\n".encode()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())["data"]


def start(servers: list[Server], db: pathlib.Path) -> tuple[Server, str]:
    port = free_port()
    server = Server(["--db", str(db), "--port", str(port)])
    servers.append(server)
    server.wait_for(r"^MicroPIM listening on ")
    return server, f"http://127.0.0.1:{port}"


def found(base: str, key: str, photo: bytes) -> list[int]:
    return [p["id"] for p in call(base, key, "POST", "/api/products/image-search", files={"image": photo})["products"]]


def test_the_index_after_a_kill_is_what_was_committed(tmp_path: pathlib.Path, servers: list[Server]) -> None:
    db = new_database(tmp_path / "pim.db")
    key = create_key(db)
    server, base = start(servers, db)
    looks = [("Mug", "Navy"), ("Boots", "Red"), ("Cap", "Sand"), ("Desk Lamp", "Olive")]
    shots = [photos.product_photo(kind, colour, 70 + i) for i, (kind, colour) in enumerate(looks)]
    ids = []
    for i, shot in enumerate(shots):
        product = call(base, key, "POST", "/api/products", {"name": f"P{i}", "sku": f"P-{i}"})
        call(base, key, "POST", f"/api/products/{product['id']}/media", files={"file": shot})
        ids.append(product["id"])
    gone = call(base, key, "GET", f"/api/products/{ids[3]}/media")["media"][0]["id"]
    call(base, key, "DELETE", f"/api/products/{ids[3]}/media/{gone}")
    assert found(base, key, shots[0])[0] == ids[0]
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=15)

    server, base = start(servers, db)
    for product_id, shot in zip(ids[:3], shots[:3]):
        assert found(base, key, shot)[0] == product_id
    assert ids[3] not in found(base, key, shots[3])
    similar = call(base, key, "GET", f"/api/products/{ids[0]}/similar")["products"]
    assert sorted(p["id"] for p in similar) == sorted(ids[1:3])

    # A reindex by another process on the same file: the server follows it.
    done = run("reindex", "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert found(base, key, shots[1])[0] == ids[1]
