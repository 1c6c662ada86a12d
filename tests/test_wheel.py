"""`pip install .` as a new user does it: the wheel holds the web UI, and a server
started from it serves `/`, the UI's modules and `/docs`.

The wheel is built from a copy of what the build reads, installed with `--no-deps`
into a fresh virtual environment that borrows this one's dependencies (a `.pth` file
naming its site-packages: nothing is downloaded, and this repository is not on the new
environment's path, so every file served comes from the installed wheel).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import site
import subprocess
import sys
import urllib.request
import zipfile

import pytest

from tests.test_cli import Server, base_env, free_port, servers  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD_INPUTS = ("micropim.py", "setup.cfg", "pyproject.toml", "README.md", "handlers", "search", "store", "static")


def _pip(*args: str, timeout: float = 300) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _static_files() -> set[str]:
    """Every file of the repository's static/ that the wheel must carry."""
    return {f"static/{path.relative_to(ROOT / 'static').as_posix()}" for path in (ROOT / "static").rglob("*")
            if path.is_file() and "__pycache__" not in path.parts}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A fresh virtual environment with the wheel installed; answers its directory."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    _pip("wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(source))
    (wheel,) = (work / "dist").glob("micropim-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert _static_files() <= names, sorted(_static_files() - names)

    env_dir = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, timeout=120)
    _pip("--python", str(env_dir / "bin" / "python"), "install", "--no-deps", "--no-index", "-q", str(wheel))
    (new_site,) = (env_dir / "lib").glob("python3*/site-packages")
    # This environment's dependencies (tornado, peewee, onnxruntime...), after the
    # wheel's own files on the path. A plain path line: the .pth files there (this
    # checkout's editable install) are not run.
    (new_site / "borrowed-dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
    return env_dir


def _env() -> dict[str, str]:
    env = base_env()
    env.pop("PYTHONPATH", None)
    return env


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read()


def test_the_installed_wheel_serves_the_ui_and_the_docs(installed: pathlib.Path, tmp_path: pathlib.Path,
                                                       servers: list[Server]) -> None:
    python = str(installed / "bin" / "python")
    where = subprocess.run([python, "-c", "import handlers.ui; print(handlers.ui.static_root())"],
                           cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip().startswith(str(installed)), where.stdout  # not this checkout's

    port = free_port()
    server = Server(["--db", str(tmp_path / "pim.db"), "--port", str(port)], _env(),
                    [str(installed / "bin" / "micropim")])
    servers.append(server)
    server.wait_for(r"^MicroPIM listening on ")
    base = f"http://127.0.0.1:{port}"
    status, page = _get(f"{base}/")
    assert status == 200 and b'<script type="module"' in page
    status, module = _get(f"{base}/ui/js/app.js")
    assert status == 200 and b"import" in module
    status, docs = _get(f"{base}/docs")
    assert status == 200 and b"swagger-ui" in docs
    status, bundle = _get(f"{base}/docs/swagger-ui/swagger-ui-bundle.js")
    assert status == 200 and len(bundle) > 100_000
    status, _ = _get(f"{base}/api/openapi.json")
    assert status == 200
    assert server.stop() == 0


def test_an_install_without_the_ui_files_refuses_to_start(installed: pathlib.Path, tmp_path: pathlib.Path) -> None:
    (new_site,) = (installed / "lib").glob("python3*/site-packages")
    page = new_site / "static" / "docs" / "index.html"
    kept = page.read_bytes()
    page.unlink()
    try:
        result = subprocess.run([str(installed / "bin" / "micropim"), "serve", "--db", str(tmp_path / "pim.db"),
                                 "--port", str(free_port())], cwd=tmp_path, env=_env(),
                                capture_output=True, text=True, timeout=60)
    finally:
        page.write_bytes(kept)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"micropim: error: the web UI files are missing ({page}); reinstall micropim"]
    assert not (tmp_path / "pim.db").exists()
    assert os.listdir(tmp_path) == []
