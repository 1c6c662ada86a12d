"""The image model: safe weight loading, the ImageNet oracle, embeddings, preprocessing,
the .onnx cache and an operator's own model.

The built-in model is built once per machine (MICROPIM_MODEL_CACHE, see conftest.py)
and loaded once per run by the session's `ImageModels` (the `image_models` fixture).
"""

from __future__ import annotations

import hashlib
import io
import os
import pathlib
import pickle
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from onnx import TensorProto, helper
from PIL import Image, ImageDraw

import micropim
from search import model as image_model
from search.lite0 import weights_path
from search.imaging import upright_image
from search.model import ImageModel, ImageModels, to_rgb, trim_border
from search.pipeline import QUERY_DECODE_SIDE
from search.torchweights import MAGIC_NUMBER, UnsafeWeights, load_state_dict
from store.errors import BadRequest
from tests.factories import bomb_png

COFFEE = pathlib.Path(__file__).parent / "data" / "coffee.jpg"
ESPRESSO = 967


@pytest.fixture(scope="module")
def model(image_models: ImageModels) -> ImageModel:
    return image_models.get()


def product_image(colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (300, 300),
                  background: tuple[int, ...] = (255, 255, 255)) -> Image.Image:
    """A product-like picture: a shape and a stripe on a plain background."""
    mode = "RGBA" if len(background) == 4 else "RGB"
    image = Image.new(mode, size, background)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w * 0.2, h * 0.15, w * 0.8, h * 0.85), fill=colour)
    draw.rectangle((w * 0.35, h * 0.4, w * 0.65, h * 0.5), fill=(20, 20, 120))
    return image


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


# ---- the restricted unpickler --------------------------------------------------------

class _Exploit:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (os.system, (f"touch {self.marker}",))


def _legacy_file(path: pathlib.Path, payload: Any) -> None:
    """A legacy torch file whose state_dict pickle is `payload`."""
    with open(path, "wb") as file:
        pickle.dump(MAGIC_NUMBER, file, protocol=2)
        pickle.dump(1001, file, protocol=2)
        pickle.dump({"protocol_version": 1001, "little_endian": True}, file, protocol=2)
        pickle.dump(payload, file, protocol=2)
        pickle.dump([], file, protocol=2)


@pytest.mark.parametrize("where", ["state_dict", "header"])
def test_a_pickle_naming_os_system_is_refused_and_nothing_runs(tmp_path: pathlib.Path, where: str) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    if where == "state_dict":
        _legacy_file(path, {"weight": _Exploit(str(marker))})
    else:
        path.write_bytes(pickle.dumps(_Exploit(str(marker)), protocol=2))
    with pytest.raises(UnsafeWeights, match="refusing to load global (posix|os).system"):
        load_state_dict(str(path))
    assert not marker.exists()


@pytest.mark.parametrize("module, name", [
    ("builtins", "eval"), ("builtins", "getattr"), ("subprocess", "Popen"),
    ("torch", "load"), ("torch._utils", "_rebuild_parameter"), ("collections", "namedtuple"),
])
def test_any_global_beyond_a_state_dict_is_refused(tmp_path: pathlib.Path, module: str, name: str) -> None:
    path = tmp_path / "evil.pth"
    raw = bytearray()
    for value in (MAGIC_NUMBER, 1001, {"little_endian": True}):
        raw += pickle.dumps(value, protocol=2)
    raw += b"\x80\x02c" + f"{module}\n{name}\n".encode() + b")R."  # GLOBAL, call with ()
    path.write_bytes(bytes(raw))
    with pytest.raises(UnsafeWeights, match=f"{module}.{name}"):
        load_state_dict(str(path))


def test_a_file_that_is_not_legacy_torch_is_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "other.pth"
    path.write_bytes(pickle.dumps(12345, protocol=2))
    with pytest.raises(UnsafeWeights, match="magic"):
        load_state_dict(str(path))


def test_a_storage_cut_short_is_refused(tmp_path: pathlib.Path) -> None:
    source = pathlib.Path(weights_path()).read_bytes()
    path = tmp_path / "short.pth"
    path.write_bytes(source[: len(source) - 1000])
    with pytest.raises(UnsafeWeights, match="ends inside a storage"):
        load_state_dict(str(path))


def test_the_weights_load_as_numpy_arrays() -> None:
    sd = load_state_dict(weights_path())
    assert len(sd) == 296
    assert sd["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert sd["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert sd["_fc.weight"].shape == (1000, 1280)
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    assert np.isfinite(sd["_conv_head.weight"]).all()
    assert sd["_bn0.running_var"].min() >= 0


# ---- the model -----------------------------------------------------------------------

def test_the_coffee_photo_is_an_espresso(model: ImageModel) -> None:
    probabilities = model.classify([Image.open(COFFEE)])[0]
    assert int(probabilities.argmax()) == ESPRESSO
    assert probabilities[ESPRESSO] > 0.9


def test_embeddings_are_unit_vectors_of_the_model_size(model: ImageModel) -> None:
    images = [
        Image.open(COFFEE),
        product_image().convert("L"),
        product_image().convert("P"),
        product_image(background=(255, 255, 255, 0)),
        Image.new("RGB", (7, 5), (10, 200, 10)),
        product_image(size=(3000, 200)),
    ]
    vectors = model.embed(images)
    assert model.dim == 1280 and model.output == "gem"  # named in the .onnx metadata
    assert vectors.shape == (len(images), 1280) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert model.embed([]).shape == (0, 1280)


def test_batches_embed_like_single_images(model: ImageModel) -> None:
    images = [product_image((i * 12 % 256, 90, 200 - i * 7)) for i in range(BATCH_PLUS)]
    together = model.embed(images)
    alone = np.concatenate([model.embed([image]) for image in images[:3]])
    assert np.allclose(together[:3], alone, atol=1e-4)


BATCH_PLUS = image_model.BATCH + 2  # two batches


def test_similar_pictures_are_closer_than_different_ones(model: ImageModel) -> None:
    coffee = Image.open(COFFEE)
    original, smaller, mirrored, red, blue = model.embed([
        coffee, coffee.resize((300, 200)), coffee.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        product_image((200, 30, 30)), product_image((30, 60, 200)),
    ])
    assert cosine(original, smaller) > 0.95
    assert cosine(original, mirrored) > 0.95
    assert cosine(original, red) < 0.5
    assert cosine(red, blue) < cosine(original, smaller)


# ---- preprocessing -------------------------------------------------------------------

def test_transparency_is_composited_over_white(model: ImageModel) -> None:
    cut_out = product_image(background=(0, 0, 0, 0))  # transparent black around the shape
    rgb = to_rgb(cut_out)
    assert rgb.mode == "RGB" and rgb.getpixel((2, 2)) == (255, 255, 255)
    assert rgb.getpixel((150, 150)) == cut_out.getpixel((150, 150))[:3]
    palette = cut_out.convert("RGB").convert("P")
    palette.info["transparency"] = palette.getpixel((2, 2))
    assert to_rgb(palette).getpixel((2, 2)) == (255, 255, 255)
    on_white, cut = model.embed([product_image(), cut_out])
    assert cosine(on_white, cut) > 0.999


def test_a_uniform_border_is_trimmed() -> None:
    canvas = Image.new("RGB", (250, 200), (255, 255, 255))
    ImageDraw.Draw(canvas).rectangle((60, 90, 140, 190), fill=(0, 0, 0))
    trimmed = trim_border(canvas)
    assert trimmed.size == (81, 101)  # the black box, the white around it gone


def test_a_large_picture_is_trimmed_exactly() -> None:
    canvas = Image.new("RGB", (2000, 1200), (255, 255, 255))
    ImageDraw.Draw(canvas).rectangle((600, 300, 1399, 999), fill=(0, 90, 0))
    trimmed = trim_border(canvas)
    assert trimmed.size == (800, 700)
    assert (np.asarray(trimmed) == (0, 90, 0)).all()


def test_a_border_of_another_uniform_colour_is_trimmed_too() -> None:
    canvas = Image.new("RGB", (200, 200), (40, 160, 40))
    ImageDraw.Draw(canvas).rectangle((50, 60, 99, 129), fill=(250, 250, 0))
    assert trim_border(canvas).size == (50, 70)


def test_a_busy_border_is_left_alone() -> None:
    noise = np.random.default_rng(1).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    image = Image.fromarray(noise)
    assert trim_border(image) is image
    # 60 % is the bar: a border only half plain stays.
    half = Image.new("RGB", (100, 100), (255, 255, 255))
    ImageDraw.Draw(half).rectangle((0, 0, 99, 49), fill=(0, 0, 0))
    assert trim_border(half) is half
    plain = Image.new("RGB", (50, 50), (255, 255, 255))
    assert trim_border(plain) is plain


def test_white_padding_barely_moves_the_embedding(model: ImageModel) -> None:
    image = product_image((30, 140, 90), size=(240, 300))
    padded = Image.new("RGB", (700, 500), (255, 255, 255))
    padded.paste(image, (300, 120))
    a, b = model.embed([image, padded])
    assert cosine(a, b) > 0.98


def test_a_photo_on_a_backdrop_padded_with_white_embeds_like_the_photo(model: ImageModel) -> None:
    photo = product_image((200, 120, 40), size=(260, 300), background=(40, 60, 160))
    padded = Image.new("RGB", (600, 420), (255, 255, 255))
    padded.paste(photo, (40, 90))
    a, b = model.embed([photo, padded])
    assert cosine(a, b) > 0.99


def _query_image(data: bytes) -> Image.Image:
    """A query photo as image search decodes it (search.pipeline)."""
    return upright_image(data, "image", QUERY_DECODE_SIDE)


def test_large_jpegs_are_decoded_at_reduced_size() -> None:
    buffer = io.BytesIO()
    product_image(size=(4000, 3000)).save(buffer, "JPEG", quality=80)
    image = _query_image(buffer.getvalue())
    assert image.size == (1000, 750)  # 1/4 scale: still at least 512 on the short side
    assert min(_query_image(buffer.getvalue()).size) >= QUERY_DECODE_SIDE


def test_decode_refuses_what_is_not_an_image_or_too_big() -> None:
    with pytest.raises(BadRequest, match="not an image in an accepted format"):
        _query_image(b"GIF89a not really")
    with pytest.raises(BadRequest, match="more than 50 megapixels"):
        _query_image(bomb_png())
    buffer = io.BytesIO()
    product_image(size=(300, 300)).save(buffer, "PNG")
    assert _query_image(buffer.getvalue()).size == (300, 300)


def test_exif_orientation_is_applied() -> None:
    image = product_image(size=(300, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    assert _query_image(buffer.getvalue()).size == (200, 300)


# ---- the cache -----------------------------------------------------------------------

def _cached_files(folder: pathlib.Path) -> list[pathlib.Path]:
    return sorted(folder.glob("micropim-efficientnet-*.onnx"))


def test_the_onnx_is_cached_checked_by_hash_and_rebuilt_when_corrupt(
        tmp_path: pathlib.Path, model: ImageModel) -> None:
    built = image_model.builtin_onnx(str(tmp_path))
    (path,) = _cached_files(tmp_path)
    assert path.read_bytes() == built
    assert hashlib.sha256(built).hexdigest() == model.digest  # same build as the shared cache
    assert (tmp_path / (path.name + ".sha256")).read_text().strip() == model.digest
    assert not list(tmp_path.glob(".tmp-*"))  # written atomically: no leftovers

    path.write_bytes(built[:1000] + b"garbage" + built[1007:])  # corrupt, same size
    assert image_model.builtin_onnx(str(tmp_path)) == built
    assert path.read_bytes() == built

    path.unlink()  # a sidecar without its model
    assert image_model.builtin_onnx(str(tmp_path)) == built
    (tmp_path / (path.name + ".sha256")).write_text("0" * 64)  # a stale hash
    assert image_model.builtin_onnx(str(tmp_path)) == built
    assert (tmp_path / (path.name + ".sha256")).read_text().strip() == model.digest


def test_the_model_loads_once_per_image_models(image_models: ImageModels, model: ImageModel) -> None:
    assert image_models.get() is model


def test_the_cache_is_the_users_not_beside_the_database(settings: micropim.Settings, tmp_path: pathlib.Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    app = micropim.make_app(replace(settings, image_models=None))  # the built-in model, its own cache
    try:
        assert app.images.models.cache_dir == str(tmp_path / "xdg" / "micropim")
    finally:
        app.close()
    app = micropim.make_app(replace(settings, image_models=None, model_cache=str(tmp_path / "mine")))
    try:
        assert app.images.models.cache_dir == str(tmp_path / "mine")
    finally:
        app.close()


def test_the_user_cache_follows_xdg(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert image_model.user_cache_dir() == str(tmp_path / "xdg" / "micropim")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # not absolute: ignored, as the spec says
    assert image_model.user_cache_dir() == str(tmp_path / "home" / ".cache" / "micropim")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert image_model.user_cache_dir() == str(tmp_path / "home" / ".cache" / "micropim")


def test_settings_choose_an_operator_model(settings: micropim.Settings, tmp_path: pathlib.Path,
                                           image_models: ImageModels, model: ImageModel) -> None:
    path = tmp_path / "mine.onnx"
    _tiny_model(path)
    app = micropim.make_app(replace(settings, image_model=str(path), image_models=None))
    try:
        assert app.images.models.get().dim == 8
    finally:
        app.close()
    assert image_models.get() is not None and image_models.get().dim == 1280


def test_serve_refuses_a_missing_model_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SystemExit) as stopped:
        micropim.main(["serve", "--db", str(tmp_path / "x.db"), "--image-model", str(tmp_path / "none.onnx")])
    assert stopped.value.code == 2
    assert not (tmp_path / "x.db").exists()


# ---- an operator's own model ---------------------------------------------------------

def _tiny_model(path: pathlib.Path, size: int = 32) -> None:
    """An ONNX 'model' whose embedding is a 4-d map: 8 channels from a 1x1 conv."""
    weight = helper.make_tensor("w", TensorProto.FLOAT, [8, 3, 1, 1],
                                np.arange(24, dtype=np.float32).tolist())
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w"], ["features"]),
         helper.make_node("Relu", ["features"], ["map"])],
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 3, size, size])],
        [helper.make_tensor_value_info("map", TensorProto.FLOAT, ["n", 8, size, size])],
        [weight],
    )
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx_model.ir_version = 8
    path.write_bytes(onnx_model.SerializeToString())


def test_an_operator_model_is_used_with_its_own_size_and_digest(
        tmp_path: pathlib.Path, image_models: ImageModels, model: ImageModel) -> None:
    path = tmp_path / "mine.onnx"
    _tiny_model(path)
    mine = ImageModels(str(path)).get()
    assert mine is not model
    assert mine.dim == 8 and mine.size == 32
    assert mine.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    vectors = mine.embed([product_image(), Image.open(COFFEE)])
    assert vectors.shape == (2, 8)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert image_models.get().digest == model.digest


@pytest.mark.parametrize("size", [(30000, 1), (1, 30000), (20000, 3)])
def test_a_thin_strip_embeds_without_blowing_up(model: ImageModel, size: tuple[int, int]) -> None:
    """A 167-byte 30000 x 1 PNG once became a 7,680,000 x 256 image (6 GB) before the
    centre crop; only the cropped box is resized now."""
    from search.model import resize_crop

    strip = Image.new("RGB", size, (180, 40, 40))
    assert resize_crop(strip).size == (224, 224)
    vector = model.embed([strip])[0]
    assert vector.shape == (model.dim,) and np.isfinite(vector).all()
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4
