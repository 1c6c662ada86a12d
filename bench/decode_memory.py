"""Image decoding memory: the drill of issue 14 (item 3), replayed against a real server.

Run from the repository root:

    .venv/bin/python bench/decode_memory.py [--micropim PATH] [--skip NAME ...]

For each picture below and each of a media upload (`POST /api/products/{id}/media`),
an image search and two image searches at once, starts `micropim serve` on a fresh
database in a temporary directory (see `bench/connections.py`), makes a key and a
product, loads the image model with a small search, then sends the request(s) and
prints the answer, the seconds it took, the server's RSS before and its peak RSS
during the request (`VmHWM` of /proc/PID/status, reset through /proc/PID/clear_refs
just before), and the difference:

- `strip`: a 1 x 49,000,000 grey PNG (95 KB): under the 50-megapixel cap, one side far
  past any photo's (the drill's file);
- `photo`: a 50-megapixel (8660 x 5773) JPEG photo of about 15 MB;
- `rgba`: a 50-megapixel RGBA PNG, the largest decode a non-JPEG takes;
- `palette`: a 50-megapixel palette PNG (a mode Image.reduce does not take).

`--micropim PATH` runs another checkout's `micropim.py`, which is how the figures before
a change are taken: `git archive BASE | tar -x -C /tmp/base` and
`--micropim /tmp/base/micropim.py`.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import zlib
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from connections import Server  # noqa: E402


# ---- pictures -----------------------------------------------------------------------------

def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def plain_png(width: int, height: int, colour_type: int, channels: int, palette: bytes = b"") -> bytes:
    """A PNG of identical rows (a gradient across each), compressed row by row, so a
    file of tens of megapixels is made without holding them."""
    row = b"\0" + bytes((x * 255 // max(1, width - 1)) % 256 for x in range(width) for _ in range(channels))
    packer = zlib.compressobj(6)
    per_call = max(1, (1 << 20) // len(row))  # rows per compress call: about 1 MB
    parts = [packer.compress(row * min(per_call, height - start)) for start in range(0, height, per_call)]
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    extra = _chunk(b"PLTE", palette) if palette else b""
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + extra
            + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b""))


def photo_jpeg(width: int = 8660, height: int = 5773, quality: int = 88) -> bytes:
    """A photo-like JPEG: smooth light and shade with grain, as a camera's is (about
    15 MB, under the 20 MB cap)."""
    from PIL import Image, ImageChops

    light = Image.linear_gradient("L").resize((width, height))
    shade = Image.radial_gradient("L").resize((width, height))
    grain = Image.effect_noise((width, height), 30)
    image = Image.merge("RGB", (ImageChops.add(light, grain, 2, -64), shade, grain))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def pictures() -> dict[str, bytes]:
    return {
        "strip": plain_png(1, 49_000_000, 0, 1),
        "photo": photo_jpeg(),
        "rgba": plain_png(8660, 5773, 6, 4),
        "palette": plain_png(8660, 5773, 3, 1, bytes(range(256)) * 3),
    }


# ---- the server's memory --------------------------------------------------------------------

def status_kb(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="f"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode() + data + f"\r\n--{boundary}--\r\n".encode())
    return body, f"multipart/form-data; boundary={boundary}"


def post(url: str, key: str, body: bytes, content_type: str) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"X-API-KEY": key, "Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        answer = json.loads(error.read() or b"{}")
        return error.code, str(answer.get("error", ""))[:90]


def measure(pid: int, requests: list[Callable[[], tuple[int, str]]]) -> tuple[list[tuple[int, str]], float, int, int]:
    """Run the requests at once; answers, seconds, RSS before and peak RSS (MB)."""
    time.sleep(0.5)  # let the previous request's memory go back
    before = status_kb(pid, "VmRSS")
    reset_peak(pid)
    answers: list[tuple[int, str]] = [(0, "")] * len(requests)

    def run(i: int) -> None:
        answers[i] = requests[i]()

    start = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    return answers, seconds, before // 1024, status_kb(pid, "VmHWM") // 1024


def prepare(server: Server, micropim: Path, workdir: Path) -> tuple[str, str, int]:
    """A key and a product on the running server, and its image model loaded (so its
    memory is in every "before"): answers the base URL, the key and the product id."""
    db = workdir / f"db-{server.port}.db"
    made_key = subprocess.run([sys.executable, str(micropim), "create-key", "--org", "Bench", "--db", str(db)],
                              capture_output=True, text=True, check=True, cwd=micropim.parent)
    key = made_key.stdout.strip().splitlines()[-1]
    base = f"http://127.0.0.1:{server.port}"
    request = urllib.request.Request(f"{base}/api/products", method="POST",
                                     data=b'{"name": "Bench", "sku": "BENCH-1", "status": "active"}',
                                     headers={"X-API-KEY": key})
    with urllib.request.urlopen(request) as response:
        product = int(json.loads(response.read())["data"]["id"])
    post(f"{base}/api/products/image-search", key, *multipart("image", plain_png(64, 64, 0, 1)))
    return base, key, product


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--micropim", type=Path, default=ROOT / "micropim.py")
    parser.add_argument("--skip", action="append", default=[], help="a picture to leave out")
    args = parser.parse_args(argv)

    made = {name: data for name, data in pictures().items() if name not in args.skip}
    for name, data in made.items():
        print(f"{name}: {len(data) / 1e6:.2f} MB file")
    print(f"{'picture':8} {'request':13} {'answer':62} {'s':>6} {'RSS MB':>7} {'peak MB':>8} {'+MB':>6}")
    for name, data in made.items():
        for label, field, path, count in (("media upload", "file", "/api/products/{product}/media", 1),
                                          ("image search", "image", "/api/products/image-search", 1),
                                          ("2 searches", "image", "/api/products/image-search", 2)):
            # A fresh server for each: memory the allocator kept from an earlier request
            # would be reused unseen, and the peak would look smaller than it is.
            with tempfile.TemporaryDirectory() as tmp:
                server = Server(args.micropim.resolve(), Path(tmp), [])
                try:
                    base, key, product = prepare(server, args.micropim, Path(tmp))
                    body = multipart(field, data)
                    url = base + path.format(product=product)
                    answers, seconds, before, peak = measure(server.pid, [lambda: post(url, key, *body)] * count)
                finally:
                    server.stop()
            shown = "; ".join(f"{code} {error}".strip() for code, error in dict.fromkeys(answers))
            print(f"{name:8} {label:13} {shown[:62]:62} {seconds:6.2f} {before:7d} {peak:8d} {peak - before:6d}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
