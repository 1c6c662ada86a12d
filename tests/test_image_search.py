"""Image search through the API: products found by altered copies of their pictures.

Products get their images through the media routes, so these tests also cover the
wiring: the embedding written with the media, removed with it, rebuilt by `reindex`.
Pictures are drawn with Pillow from a seed: distinct scenes of shapes and stripes.
"""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
from typing import Any, Callable

import pytest
from PIL import Image, ImageDraw, ImageOps

from search import vectors
from store.db import Database
from tests.test_cli import ROOT, SCRIPT, base_env
from tests.factories import bomb_png, multipart, upload

SEARCH = "/api/products/image-search"


def scene(seed: int, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A distinct, asymmetric picture: a background, stripes and a dozen shapes."""
    rng = random.Random(seed)
    colour = lambda: (rng.randrange(256), rng.randrange(256), rng.randrange(256))  # noqa: E731
    image = Image.new("RGB", size, colour())
    pen = ImageDraw.Draw(image)
    w, h = size
    step = rng.randrange(12, 40)
    stripe = colour()
    for x in range(0, w, step * 2):
        pen.rectangle([x, 0, x + step // 2, h // rng.randrange(2, 5)], fill=stripe)
    for _ in range(12):
        x, y = rng.randrange(w), rng.randrange(h)
        dx, dy = rng.randrange(20, w // 2), rng.randrange(20, h // 2)
        kind = rng.randrange(3)
        if kind == 0:
            pen.ellipse([x, y, x + dx, y + dy], fill=colour())
        elif kind == 1:
            pen.rectangle([x, y, x + dx, y + dy], fill=colour())
        else:
            pen.polygon([(x, y), (x + dx, y + rng.randrange(dy)), (x + rng.randrange(dx), y + dy)],
                        fill=colour())
    return image


def encode(image: Image.Image, fmt: str = "PNG", **save: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def crop(image: Image.Image) -> Image.Image:
    w, h = image.size
    return image.crop((w // 10, h // 10, w - w // 10, h - h // 10))


def pad_white(image: Image.Image) -> Image.Image:
    w, h = image.size
    canvas = Image.new("RGB", (w + w // 2, h + h // 2), (255, 255, 255))
    canvas.paste(image, (w // 4, h // 4))
    return canvas


ALTERATIONS: dict[str, Callable[[Image.Image], bytes]] = {
    "same": lambda im: encode(im),
    "crop": lambda im: encode(crop(im)),
    "resize": lambda im: encode(im.resize((im.width // 3, im.height // 3))),
    "jpeg q40": lambda im: encode(im, "JPEG", quality=40),
    "white padding": lambda im: encode(pad_white(im)),
    "flip": lambda im: encode(ImageOps.mirror(im)),
    "webp, smaller": lambda im: encode(im.resize((240, 180)), "WEBP", quality=60),
}

CATALOG = 12


async def search(api: Any, data: bytes, **fields: str) -> Any:
    body, content_type = multipart(fields, {"image": ("query.bin", data)})
    return await api.call("POST", SEARCH, raw=body, headers={"Content-Type": content_type})


async def _add_catalog(api: Any) -> dict[int, int]:
    found = {}
    for seed in range(CATALOG):
        product = (await api.post("/api/products", {"name": f"Item {seed}", "sku": f"IMG-{seed}",
                                                    "status": "active"})).data["id"]
        assert (await upload(api, product, encode(scene(seed)))).code == 201
        found[seed] = product
    return found


@pytest.fixture
def catalog(api: Any, io_loop: Any) -> dict[int, int]:
    """CATALOG products, each with one picture added through the API: seed -> product id."""
    return dict(io_loop.run_sync(lambda: _add_catalog(api), timeout=120))


async def test_an_altered_copy_finds_its_product_first(api: Any, catalog: dict[int, int]) -> None:
    misses = []
    for alteration, alter in ALTERATIONS.items():
        for seed in (0, 5, 11):
            response = await search(api, alter(scene(seed)))
            assert response.code == 200, response.body
            results = response.data["products"]
            if results[0]["id"] != catalog[seed] or not results[0]["score"] > results[1]["score"]:
                misses.append((alteration, seed, [(p["id"], p["score"]) for p in results[:3]]))
    assert misses == []


async def test_results_are_products_with_scores_best_first(api: Any, catalog: dict[int, int]) -> None:
    response = await search(api, encode(scene(3)))
    data = response.data
    assert set(data) == {"products", "total"}
    assert data["total"] == len(data["products"]) == 10  # the default limit
    scores = [product["score"] for product in data["products"]]
    assert scores == sorted(scores, reverse=True)
    assert 0.99 <= scores[0] <= 1.0
    first = data["products"][0]
    assert first["sku"] == "IMG-3" and first["images"] and first["id"] == catalog[3]
    assert len({product["id"] for product in data["products"]}) == 10


async def test_limit_bounds_the_answer(api: Any, catalog: dict[int, int]) -> None:
    for limit in ("1", "3", "50"):
        by_form = (await search(api, encode(scene(1)), limit=limit)).data
        assert by_form["total"] == min(int(limit), CATALOG)
        body, content_type = multipart({}, {"image": ("q.png", encode(scene(1)))})
        by_query = await api.call("POST", f"{SEARCH}?limit={limit}", raw=body,
                                  headers={"Content-Type": content_type})
        assert by_query.data == by_form


@pytest.mark.parametrize("limit, message", [
    ("0", "limit: must be between 1 and 50"),
    ("51", "limit: must be between 1 and 50"),
    ("-1", "limit: must be between 1 and 50"),
    ("ten", "limit: must be an integer"),
    ("1.5", "limit: must be an integer"),
    ("1_0", "limit: must be an integer"),
])
async def test_a_bad_limit_is_400(api: Any, limit: str, message: str) -> None:
    response = await search(api, encode(scene(1)), limit=limit)
    assert response.code == 400 and response.error == message
    body, content_type = multipart({}, {"image": ("q.png", encode(scene(1)))})
    response = await api.call("POST", f"{SEARCH}?limit={limit}", raw=body,
                              headers={"Content-Type": content_type})
    assert response.code == 400 and response.error == message


@pytest.mark.parametrize("fields, files, message", [
    ({}, {}, "image: is required"),
    ({}, {"file": ("q.png", b"x")}, "image: is required; file: unknown field"),
    ({"image": "x"}, {}, "image: must be a file part (with a filename)"),
    ({"sort": "x"}, {"image": ("q.png", b"")}, "sort: unknown field"),
    ({}, {"image": ("q.txt", b"plain text")}, "image: not an image in an accepted format (JPEG, PNG, WebP or GIF)"),
    ({}, {"image": ("q.png", bomb_png())}, "image: the image has more than 50 megapixels"),
    ({}, {"image": ("q.jpg", encode(scene(1), "JPEG")[:3000])}, "image: the image cannot be decoded"),
    ({}, {"image": ("q.bmp", encode(scene(1), "BMP"))},
     "image: not an image in an accepted format (JPEG, PNG, WebP or GIF)"),
])
async def test_bad_query_images_are_400(api: Any, fields: dict[str, str], files: dict[str, Any],
                                        message: str) -> None:
    body, content_type = multipart(fields, files)
    response = await api.call("POST", SEARCH, raw=body, headers={"Content-Type": content_type})
    assert response.code == 400
    assert response.error.startswith(message), response.error


async def test_a_query_that_is_not_multipart_is_400(api: Any) -> None:
    response = await api.post(SEARCH, {"image": "http://example.com/a.png"})
    assert response.code == 400
    assert response.error == "image: send the image as multipart/form-data in a field named image"


async def test_a_query_image_over_20_mb_is_400(api: Any) -> None:
    body, content_type = multipart({}, {"image": ("q.png", b"\0" * (25 * 1024 * 1024))})
    response = await api.call("POST", SEARCH, raw=body, headers={"Content-Type": content_type})
    assert response.code == 400 and response.error == "image: the file is larger than 20 MB"


async def test_an_empty_index_finds_nothing(api: Any) -> None:
    response = await search(api, encode(scene(1)))
    assert response.code == 200 and response.data == {"products": [], "total": 0}


async def test_archived_products_are_left_out(api: Any, catalog: dict[int, int]) -> None:
    assert (await api.delete(f"/api/products/{catalog[4]}")).code == 200
    results = (await search(api, encode(scene(4)), limit="50")).data["products"]
    assert catalog[4] not in {product["id"] for product in results}
    assert len(results) == CATALOG - 1


async def test_one_entry_per_product(api: Any, catalog: dict[int, int]) -> None:
    await upload(api, catalog[6], encode(crop(scene(6))))
    await upload(api, catalog[6], encode(scene(6), "JPEG", quality=70))
    results = (await search(api, encode(scene(6)), limit="50")).data["products"]
    ids = [product["id"] for product in results]
    assert ids[0] == catalog[6] and len(ids) == len(set(ids)) == CATALOG


async def test_deleting_media_removes_it_from_the_index(db: Database, api: Any,
                                                        catalog: dict[int, int]) -> None:
    product = catalog[7]
    media_id = (await api.get(f"/api/products/{product}/media")).data["media"][0]["id"]
    assert (await api.delete(f"/api/products/{product}/media/{media_id}")).code == 200
    results = (await search(api, encode(scene(7)), limit="50")).data["products"]
    assert product not in {p["id"] for p in results} and len(results) == CATALOG - 1
    assert db.execute_sql("SELECT count(*) FROM image_embedding WHERE media_id = ?",
                          (media_id,)).fetchone()[0] == 0


async def test_other_organizations_are_never_seen(api: Any, other_api: Any, catalog: dict[int, int]) -> None:
    theirs = (await other_api.post("/api/products", {"name": "Copy", "sku": "COPY-1",
                                                     "status": "active"})).data["id"]
    await upload(other_api, theirs, encode(scene(2)))
    mine = (await search(api, encode(scene(2)), limit="50")).data["products"]
    assert theirs not in {p["id"] for p in mine} and mine[0]["id"] == catalog[2]
    their_results = (await search(other_api, encode(scene(2)), limit="50")).data["products"]
    assert [p["id"] for p in their_results] == [theirs]


async def test_media_writes_its_embedding_in_the_same_transaction(db: Database, api: Any,
                                                                  catalog: dict[int, int]) -> None:
    counts = db.execute_sql(
        "SELECT (SELECT count(*) FROM media), (SELECT count(*) FROM image_embedding)").fetchone()
    assert counts == (CATALOG, CATALOG)


async def test_a_stale_index_answers_503_until_reindexed(
    db: Database, api: Any, catalog: dict[int, int], db_path: str
) -> None:
    """As after a model change: the index holds vectors of another model."""
    with db.writing():
        vectors.reset_index(db, 1280, "another-model")
        db.execute_sql("INSERT INTO image_embedding (media_id, org_id, product_id, vector)"
                       " SELECT id, org_id, product_id, zeroblob(1280) FROM media LIMIT 1")
    response = await search(api, encode(scene(1)))
    assert response.code == 503
    assert "run `micropim reindex`" in response.error
    added = await upload(api, catalog[1], encode(scene(40)))
    assert added.code == 503
    assert db.execute_sql("SELECT count(*) FROM media").fetchone()[0] == CATALOG  # nothing stored

    env = base_env(MICROPIM_MODEL_CACHE=os.environ["MICROPIM_MODEL_CACHE"])
    result = subprocess.run([sys.executable, SCRIPT, "reindex", "--db", db_path], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"reindex [{'#' * 30}] {CATALOG}/{CATALOG} images (100%)" in result.stderr
    assert result.stdout.strip().splitlines()[-1] == f"reindexed {CATALOG} images (0 skipped)"
    response = await search(api, encode(crop(scene(9))))
    assert response.code == 200 and response.data["products"][0]["id"] == catalog[9]


def test_reindex_of_a_missing_database_exits_2(tmp_path: Any) -> None:
    result = subprocess.run([sys.executable, SCRIPT, "reindex", "--db", str(tmp_path / "nope.db")],
                            cwd=ROOT, env=base_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    missing = tmp_path / "nope.db"
    assert result.stderr.strip() == (f"micropim: error: no database at {missing} (point --db at one,"
                                     f" or create it: micropim serve --db {missing})")
    assert not missing.exists()
