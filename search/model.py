"""The image model: pictures in, L2-normalised embeddings out (onnxruntime on the CPU).

The built-in model is EfficientNet-Lite0 (ImageNet), built once from the weights
package into an .onnx file cached in the user's cache directory (`user_cache_dir()`,
see `search/lite0.py`); an
operator can bring their own ONNX model instead (`serve --image-model PATH`). An
application's `ImageModels` loads the one it was given, once.

Preprocessing (what measured best for product photos, see README "Image model and vector index"):
transparency composited over white, RGB; a uniform border (studio white) trimmed when
at least 60 % of the border pixels share its colour; shorter side to 256 (bicubic),
centre crop 224; `(x - 127) / 128`. The embedding is the 1280-d head feature map
GeM-pooled (p = 3), L2-normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from typing import Sequence

import numpy as np
import onnxruntime as ort
from PIL import Image

from search.imaging import working_copy

log = logging.getLogger("micropim.search")

RESIZE = 256
CROP = 224
# Bumped whenever the built-in graph or how it is written changes: the cache file
# name carries it, so an upgrade never loads an .onnx built by an older version.
BUILD_VERSION = "lite0-v2"
EMBEDDING_KEY = "micropim.embedding"  # metadata naming the embedding output
TRIM_SHARE = 0.6  # share of border pixels that must match for a border to be trimmed
TRIM_TOLERANCE = 24  # per channel, so JPEG noise around studio white still matches
TRIM_SIDE = 256  # the border is looked for on a copy this big
BATCH = 16


def _threads() -> int:
    """Intra-op threads: all cores on a small server (one embed at a time is the
    common case, and the threads do not spin, so they leave the CPU to HTTP when
    idle), at most 4 since a small CNN gains little beyond that."""
    return max(1, min(4, os.cpu_count() or 1))


# ---- preprocessing -------------------------------------------------------------------

def to_rgb(image: Image.Image) -> Image.Image:
    """RGB, with anything transparent composited over white (a product cut out on a
    transparent background looks like the same product shot on studio white)."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def _shrink(image: Image.Image) -> Image.Image:
    """Cheaply bring a huge image near the working size (box reduce), so trimming
    and resizing never handle tens of megapixels; in a mode the steps after take
    (a palette, 1-bit or 16-bit picture is converted a band at a time)."""
    factor = max(1, min(image.size) // (2 * RESIZE))
    return working_copy(image, factor)


def trim_border(image: Image.Image) -> Image.Image:
    """Crop a uniform border away when at least 60 % of the border pixels match its
    colour (the median border colour, within a tolerance); otherwise unchanged.

    The border is found on a copy at most 256 px on a side (box-reduced), then each
    edge exactly in a narrow band of the full picture: 10x faster on an 800 px photo
    than working on all of it."""
    width, height = image.size
    factor = -(-max(width, height) // TRIM_SIDE)  # ceiling division
    small = image.reduce(factor) if factor > 1 else image
    pixels = np.asarray(small, dtype=np.int16)
    if pixels.ndim != 3 or min(pixels.shape[:2]) < 3:
        return image
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    colour = np.median(border, axis=0).astype(np.int16)
    if (np.abs(border - colour).max(axis=1) <= TRIM_TOLERANCE).mean() < TRIM_SHARE:
        return image
    content = np.abs(pixels - colour).max(axis=2) > TRIM_TOLERANCE
    # A row or column is content when more than a sliver of it differs, so that
    # stray JPEG noise does not stop the trim.
    rows = np.flatnonzero(content.sum(axis=1) > content.shape[1] // 200)
    cols = np.flatnonzero(content.sum(axis=0) > content.shape[0] // 200)
    if not rows.size or not cols.size:
        return image  # all border: nothing to centre on
    box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    if factor > 1:
        box = _refine(image, colour, box, width / small.width, height / small.height)
    return image if box == (0, 0, width, height) else image.crop(box)


def _content(region: Image.Image, colour: np.ndarray, axis: int) -> np.ndarray:
    """Indexes of the columns (axis 0) or rows (axis 1) of `region` that are content."""
    pixels = np.asarray(region, dtype=np.int16)
    differs = np.abs(pixels - colour).max(axis=2) > TRIM_TOLERANCE
    return np.flatnonzero(differs.sum(axis=axis) > differs.shape[axis] // 200)


def _refine(image: Image.Image, colour: np.ndarray, small_box: tuple[int, int, int, int],
            sx: float, sy: float) -> tuple[int, int, int, int]:
    """The exact full-size crop box, from the box found on the small copy: each edge
    is looked for in a band a few small-copy pixels wide around where it must be."""
    width, height = image.size
    bx, by = int(np.ceil(sx)) + 1, int(np.ceil(sy)) + 1
    left = max(0, int((small_box[0] - 1) * sx))
    right = min(width, int(np.ceil((small_box[2] + 1) * sx)))
    top = max(0, int((small_box[1] - 1) * sy))
    bottom = min(height, int(np.ceil((small_box[3] + 1) * sy)))
    cols = _content(image.crop((left, top, min(right, left + 3 * bx), bottom)), colour, 0)
    new_left = left + int(cols[0]) if cols.size else left
    start = max(new_left, right - 3 * bx)
    cols = _content(image.crop((start, top, right, bottom)), colour, 0)
    new_right = start + int(cols[-1]) + 1 if cols.size else right
    rows = _content(image.crop((new_left, top, new_right, min(bottom, top + 3 * by))), colour, 1)
    new_top = top + int(rows[0]) if rows.size else top
    start = max(new_top, bottom - 3 * by)
    rows = _content(image.crop((new_left, start, new_right, bottom)), colour, 1)
    new_bottom = start + int(rows[-1]) + 1 if rows.size else bottom
    return new_left, new_top, new_right, new_bottom


def resize_crop(image: Image.Image, size: int = CROP, resize: int = RESIZE) -> Image.Image:
    """Shorter side to `resize` (bicubic), then the centre `size` x `size`.

    Done as one resize of the source box that the crop keeps, never of the whole
    image: scaling a 30000 x 1 strip's shorter side to 256 would first make a
    7,680,000 x 256 image (6 GB)."""
    width, height = image.size
    side = min(width, height) * size / resize  # source pixels the crop covers
    left, top = (width - side) / 2, (height - side) / 2
    return image.resize((size, size), Image.Resampling.BICUBIC,
                        box=(left, top, left + side, top + side), reducing_gap=3.0)


def preprocess(image: Image.Image, size: int = CROP) -> np.ndarray:
    """One image as the model's (3, size, size) float32 input."""
    image = to_rgb(_shrink(image))  # shrink first: compositing 49 MP over white costs GBs
    # Twice: a photo on a coloured backdrop pasted onto white loses the white first,
    # then the backdrop, and ends up cropped like the photo alone.
    image = trim_border(trim_border(image))
    pixels = np.asarray(resize_crop(image, size, round(size * RESIZE / CROP)), dtype=np.float32)
    return ((pixels - 127.0) / 128.0).transpose(2, 0, 1)


# ---- the model -----------------------------------------------------------------------

class ImageModel:
    """An ONNX image model and the name of the output used as the embedding."""

    def __init__(self, onnx_bytes: bytes) -> None:
        self.digest = hashlib.sha256(onnx_bytes).hexdigest()
        options = ort.SessionOptions()
        options.intra_op_num_threads = _threads()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Spinning threads would burn the cores the HTTP server needs between runs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
        first = self.session.get_inputs()[0]
        self.input_name = first.name
        shape = first.shape
        self.size = shape[2] if len(shape) == 4 and isinstance(shape[2], int) else CROP
        outputs = {o.name: o for o in self.session.get_outputs()}
        named = self.session.get_modelmeta().custom_metadata_map.get(EMBEDDING_KEY)
        self.output = named if named in outputs else self.session.get_outputs()[0].name
        # The embedding size: from the declared shape, or by running one blank image.
        declared = outputs[self.output].shape
        if len(declared) == 2 and isinstance(declared[1], int):
            self.dim = int(declared[1])
        else:
            self.dim = int(self._run(np.zeros((1, 3, self.size, self.size), np.float32)).shape[1])

    def _run(self, batch: np.ndarray) -> np.ndarray:
        out = np.asarray(self.session.run([self.output], {self.input_name: batch})[0], np.float32)
        if out.ndim == 4:  # a feature map: average-pool it
            out = out.mean(axis=(2, 3))
        return out.reshape(out.shape[0], -1)

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        """(n, dim) float32 L2-normalised embeddings. Thread-safe; CPU-heavy, so call it
        off the event loop."""
        if not images:
            return np.zeros((0, self.dim), np.float32)
        chunks = []
        for start in range(0, len(images), BATCH):
            batch = np.stack([preprocess(im, self.size) for im in images[start:start + BATCH]])
            chunks.append(self._run(batch))
        vectors = np.concatenate(chunks)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)

    def classify(self, images: Sequence[Image.Image]) -> np.ndarray:
        """ImageNet class probabilities (built-in model only): the test oracle."""
        batch = np.stack([preprocess(im, self.size) for im in images])
        logits = self.session.run(["logits"], {self.input_name: batch})[0]
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return np.asarray(exp / exp.sum(axis=1, keepdims=True), np.float32)


# ---- the built-in model's cache ------------------------------------------------------

def _weights_key() -> str:
    """Names the cache file: the builder version and a hash of the weights file."""
    from search.lite0 import weights_path

    digest = hashlib.sha256()
    with open(weights_path(), "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return f"{BUILD_VERSION}-{digest.hexdigest()[:16]}"


def _write_atomically(path: str, data: bytes) -> None:
    """Write to a temporary file beside `path`, fsync, rename over it."""
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def builtin_onnx(cache_dir: str) -> bytes:
    """The built-in model's .onnx bytes, from the cache when its recorded hash still
    matches, else built from the weights and cached (file and hash written atomically;
    a torn, corrupt or stale cache is simply rebuilt)."""
    path = os.path.join(cache_dir, f"micropim-efficientnet-{_weights_key()}.onnx")
    try:
        with open(path, "rb") as file:
            data = file.read()
        with open(path + ".sha256") as file:
            expected = file.read().strip()
        if hashlib.sha256(data).hexdigest() == expected:
            return data
        log.warning("image model cache %s does not match its hash; rebuilding", path)
    except FileNotFoundError:
        pass
    from search.lite0 import build_onnx

    log.info("building the image model into %s", path)
    data = build_onnx()
    try:
        os.makedirs(cache_dir, exist_ok=True)
        _write_atomically(path, data)
        _write_atomically(path + ".sha256", hashlib.sha256(data).hexdigest().encode() + b"\n")
    except OSError as exc:  # a read-only directory: run from memory, build again next time
        log.warning("cannot cache the image model in %s: %s", cache_dir, exc)
    return data


# ---- the model an application uses ----------------------------------------------------

def user_cache_dir() -> str:
    """Where the built-in .onnx is cached unless told otherwise: `$XDG_CACHE_HOME/micropim`,
    or `~/.cache/micropim` (the XDG base directory rules: a relative XDG_CACHE_HOME
    is ignored). One directory per user, whatever database a command is pointed at."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "micropim")


class ImageModels:
    """The image model of one application: an operator's ONNX file (`path`) or, when
    None, the built-in one built once into `cache_dir` (None: `user_cache_dir()`).
    Loaded on first use, once; thread-safe. Tests hand one to every application they
    make, so the model is loaded once per test run, not once per test."""

    def __init__(self, path: str | None = None, cache_dir: str | None = None) -> None:
        self.path = path
        self.cache_dir = cache_dir or user_cache_dir()
        self._lock = threading.Lock()
        self._model: ImageModel | None = None

    def get(self) -> ImageModel:
        with self._lock:
            if self._model is None:
                if self.path is not None:
                    with open(self.path, "rb") as file:
                        self._model = ImageModel(file.read())
                else:
                    self._model = ImageModel(builtin_onnx(self.cache_dir))
                log.info("image model %s loaded (%d-d)", self._model.digest[:12], self._model.dim)
            return self._model
